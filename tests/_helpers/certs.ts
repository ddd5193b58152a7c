// Test certificates made with the openssl CLI: a CA, a server certificate for
// `localhost` and 127.0.0.1, a client certificate for mutual TLS, a second,
// unrelated CA whose trust must not let the server certificate through, a
// client certificate of that CA (which a broker trusting only the first CA
// rejects), and a server certificate of the first CA for another name.
//
// Runtime-neutral (node:child_process, node:fs, node:path) so that the same
// helper serves `deno test` and `bun test`. Keys are EC P-256: fast to make and
// accepted by rustls (Deno), BoringSSL (Bun) and OpenSSL (mosquitto, Node).

import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A certificate (or CA) and its private key, as paths and PEM text. */
export interface CertPair {
  /** Path of the PEM certificate. */
  certPath: string;
  /** Path of the PEM private key (PKCS#8). */
  keyPath: string;
  /** The PEM certificate. */
  cert: string;
  /** The PEM private key. */
  key: string;
}

/** Everything {@linkcode makeCerts} made. */
export interface Certs {
  /** Directory holding the files. */
  dir: string;
  /** The CA that signed `server` and `client`. */
  ca: CertPair;
  /** Server certificate: CN and SAN `localhost`, SAN IP 127.0.0.1, serverAuth. */
  server: CertPair;
  /** Client certificate for mutual TLS (CN `mqttv5-test-client`), clientAuth. */
  client: CertPair;
  /** A CA that signed only `otherClient`: trusting only it must fail verification. */
  otherCa: CertPair;
  /** A client certificate signed by `otherCa` (CN `mqttv5-stranger`): a broker trusting `ca` rejects it. */
  otherClient: CertPair;
  /** A server certificate signed by `ca` for `wrong-name.invalid` only (no IP SAN). */
  wrongName: CertPair;
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd }, (error, _stdout, stderr) => {
      if (error) {
        reject(
          new Error(`openssl ${args[0]} failed: ${stderr || error.message}`, { cause: error }),
        );
      } else {
        resolve();
      }
    });
  });
}

async function pair(dir: string, name: string): Promise<CertPair> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const [cert, key] = await Promise.all([
    readFile(certPath, "utf8"),
    readFile(keyPath, "utf8"),
  ]);
  return { certPath, keyPath, cert, key };
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function makeCa(dir: string, name: string, cn: string): Promise<void> {
  await openssl([
    "req",
    "-x509",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "3650",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-addext",
    "subjectKeyIdentifier=hash",
  ], dir);
}

async function makeLeaf(
  dir: string,
  name: string,
  cn: string,
  extensions: string[],
  ca = "ca",
): Promise<void> {
  await openssl([
    "req",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${cn}`,
  ], dir);
  await writeFile(join(dir, `${name}.ext`), extensions.join("\n") + "\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "825",
    "-sha256",
    "-extfile",
    `${name}.ext`,
  ], dir);
}

/**
 * Generates the test PKI in `dir` (created if missing) with the openssl CLI.
 *
 * @param dir Where to write `ca.crt`, `server.crt`, `client.crt`, `other-ca.crt`,
 *   `other-client.crt`, `wrong-name.crt` and their keys.
 * @returns Paths and PEM strings of every certificate and key.
 */
export async function makeCerts(dir: string): Promise<Certs> {
  await mkdir(dir, { recursive: true });
  await Promise.all([
    makeCa(dir, "ca", "mqttv5 test CA"),
    makeCa(dir, "other-ca", "mqttv5 unrelated test CA"),
  ]);
  const leaf = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "subjectKeyIdentifier=hash",
    "authorityKeyIdentifier=keyid",
  ];
  // Sequential: both use -CAcreateserial on the same serial file.
  await makeLeaf(dir, "server", "localhost", [
    ...leaf,
    "extendedKeyUsage=serverAuth",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  await makeLeaf(dir, "client", "mqttv5-test-client", [...leaf, "extendedKeyUsage=clientAuth"]);
  await makeLeaf(dir, "wrong-name", "wrong-name.invalid", [
    ...leaf,
    "extendedKeyUsage=serverAuth",
    "subjectAltName=DNS:wrong-name.invalid",
  ]);
  await makeLeaf(
    dir,
    "other-client",
    "mqttv5-stranger",
    [...leaf, "extendedKeyUsage=clientAuth"],
    "other-ca",
  );
  const [ca, server, client, otherCa, otherClient, wrongName] = await Promise.all([
    pair(dir, "ca"),
    pair(dir, "server"),
    pair(dir, "client"),
    pair(dir, "other-ca"),
    pair(dir, "other-client"),
    pair(dir, "wrong-name"),
  ]);
  return { dir, ca, server, client, otherCa, otherClient, wrongName };
}
