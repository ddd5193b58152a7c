/**
 * endpoint() and unixSocketPath() of src/transport/_endpoint.ts: where the
 * Deno, Bun and Node adapters dial, for `unix:///path/to/socket` URLs. Shared
 * by tests/transport/endpoint_test.ts (Deno.test) and
 * bun-tests/transport_unix.test.ts (bun:test). No I/O.
 *
 * @module
 */

import assert from "node:assert/strict";
import { endpoint, unixSocketPath } from "../../src/transport/_endpoint.ts";

/** One case, run by either test runner. */
export interface EndpointCase {
  name: string;
  fn: () => void;
}

export const endpointCases: EndpointCase[] = [
  {
    name: "endpoint() resolves unix:///path to the socket path, with no TLS and no port",
    fn() {
      const ep = endpoint(new URL("unix:///run/mosquitto/mqtt.sock"), {});
      assert.deepEqual(ep, {
        host: "/run/mosquitto/mqtt.sock",
        port: 0,
        address: "/run/mosquitto/mqtt.sock",
        tls: undefined,
        unix: "/run/mosquitto/mqtt.sock",
      });
    },
  },
  {
    name: "endpoint() of a TCP URL has no socket path",
    fn() {
      const ep = endpoint(new URL("mqtt://127.0.0.1:1883"), {});
      assert.equal(ep.unix, undefined);
      assert.equal(ep.address, "127.0.0.1:1883");
    },
  },
  {
    name: "unixSocketPath() percent-decodes the path",
    fn() {
      const cases: [string, string][] = [
        ["unix:///tmp/my%20broker%25.sock", "/tmp/my broker%.sock"],
        ["unix:///tmp/my broker.sock", "/tmp/my broker.sock"], // URL encodes the space
        ["unix:///tmp/%C3%BCn%C3%AF.sock", "/tmp/ünï.sock"],
        ["unix:///tmp/a%3Fb%23c", "/tmp/a?b#c"],
        ["unix:////tmp/x.sock", "//tmp/x.sock"],
      ];
      for (const [url, path] of cases) assert.equal(unixSocketPath(new URL(url)), path, url);
    },
  },
  {
    name:
      "unixSocketPath() takes a path of 107 bytes and refuses 108 (Linux's sun_path), naming its length",
    fn() {
      const longest = `/tmp/${"s".repeat(102)}`; // 107 bytes
      assert.equal(unixSocketPath(new URL(`unix://${longest}`)), longest);
      assert.throws(
        () => unixSocketPath(new URL(`unix://${longest}s`)),
        (err: unknown) => err instanceof TypeError && /108 bytes.*at most 107/.test(err.message),
      );
      // Counted in bytes, not characters: 54 two-byte characters are 108 bytes.
      assert.throws(() => unixSocketPath(new URL(`unix:///${"ü".repeat(54)}`)), TypeError);
    },
  },
  {
    name: "endpoint() throws TypeError for a unix: URL with a host, no path or TLS settings",
    fn() {
      const bad = [
        "unix://tmp/mqtt.sock",
        "unix://localhost/tmp/mqtt.sock",
        "unix://",
        "unix:///",
        "unix:/tmp/mqtt.sock",
        "unix:///tmp/mqtt.sock?q",
        "unix:///tmp/%zz",
        "unix:///tmp/a%00b",
      ];
      for (const url of bad) assert.throws(() => endpoint(new URL(url), {}), TypeError, url);
      assert.throws(
        () => endpoint(new URL("unix:///tmp/mqtt.sock"), { tls: {} }),
        TypeError,
        "TLS settings",
      );
    },
  },
];
