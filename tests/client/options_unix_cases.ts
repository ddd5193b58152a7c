/**
 * parseBrokerUrl() and isTlsUrl() of src/client/options.ts for
 * `unix:///path/to/socket` broker URLs (a broker on a Unix domain socket).
 * Shared by tests/client/options_unix_test.ts (Deno.test) and
 * bun-tests/transport_unix.test.ts (bun:test). No broker, no I/O.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MqttError } from "../../src/errors.ts";
import { isTlsUrl, parseBrokerUrl, resolveOptions } from "../../src/client/options.ts";
// The runtime entry installs the check of unix: URLs (the web entry has no Unix transport).
import "../../mod.ts";

/** One case, run by either test runner. */
export interface OptionsUnixCase {
  name: string;
  fn: () => void;
}

/** Asserts `invalid-broker-url` for `raw`, with and without a dial, naming none of `secrets`. */
function rejectsUrl(raw: string, secrets: string[] = []): void {
  for (const hasDial of [false, true]) {
    assert.throws(() => parseBrokerUrl(raw, hasDial), (err: unknown) => {
      assert.ok(err instanceof MqttError, `${raw}: expected an MqttError, got ${String(err)}`);
      assert.equal(err.code, "invalid-broker-url", `${raw}: ${err.message}`);
      for (const s of secrets) assert.ok(!err.message.includes(s), `${raw}: names "${s}"`);
      return true;
    });
  }
}

export const optionsUnixCases: OptionsUnixCase[] = [
  {
    name: "parseBrokerUrl() accepts unix:///path without a dial and adds no port",
    fn() {
      for (const hasDial of [false, true]) {
        const url = parseBrokerUrl("unix:///run/mosquitto/mqtt.sock", hasDial);
        assert.equal(url.protocol, "unix:");
        assert.equal(url.hostname, "");
        assert.equal(url.port, "");
        assert.equal(url.pathname, "/run/mosquitto/mqtt.sock");
        assert.equal(url.href, "unix:///run/mosquitto/mqtt.sock");
      }
      // Any case of the scheme, a percent-encoded path, a path of two leading slashes.
      assert.equal(parseBrokerUrl("UNIX:///tmp/x.sock", false).href, "unix:///tmp/x.sock");
      assert.equal(
        parseBrokerUrl("unix:///tmp/my%20broker.sock", false).pathname,
        "/tmp/my%20broker.sock",
      );
      assert.equal(parseBrokerUrl("unix:////tmp/x.sock", false).pathname, "//tmp/x.sock");
    },
  },
  {
    name: "resolveOptions() takes unix:// in broker and brokers",
    fn() {
      const one = resolveOptions({ broker: "unix:///tmp/a.sock" });
      assert.deepEqual(one.brokers.map((u) => u.href), ["unix:///tmp/a.sock"]);
      const many = resolveOptions({ brokers: ["unix:///tmp/a.sock", "mqtt://h"] });
      assert.deepEqual(many.brokers.map((u) => u.href), ["unix:///tmp/a.sock", "mqtt://h:1883"]);
    },
  },
  {
    name: "parseBrokerUrl() rejects a unix: URL that names a host with invalid-broker-url",
    fn() {
      rejectsUrl("unix://tmp/mqtt.sock"); // two slashes: "tmp" is a host
      rejectsUrl("unix://localhost/tmp/mqtt.sock");
      rejectsUrl("unix://127.0.0.1/tmp/mqtt.sock");
      rejectsUrl("unix://alice:s3cr3t-pw@host/tmp/mqtt.sock", ["s3cr3t-pw", "alice"]);
      // Credentials without a host do not parse; they are not repeated either.
      rejectsUrl("unix://alice:s3cr3t-pw@/tmp/mqtt.sock", ["s3cr3t-pw", "alice"]);
    },
  },
  {
    name: "parseBrokerUrl() rejects a unix: URL without a socket path with invalid-broker-url",
    fn() {
      rejectsUrl("unix://");
      rejectsUrl("unix:///");
    },
  },
  {
    name: "parseBrokerUrl() rejects unix: URLs not of the form unix:///absolute/path",
    fn() {
      rejectsUrl("unix:/tmp/mqtt.sock"); // no authority
      rejectsUrl("unix:tmp/mqtt.sock"); // a relative path
      rejectsUrl("unix:///tmp/mqtt.sock?x=1"); // a query
      rejectsUrl("unix:///tmp/mqtt.sock#x"); // a fragment
      rejectsUrl("unix:///tmp/%zz.sock"); // a malformed percent-encoding
      rejectsUrl("unix:///tmp/a%00b.sock"); // a NUL byte
      rejectsUrl(`unix:///tmp/${"s".repeat(103)}`); // 108 bytes: longer than sun_path holds
    },
  },
  {
    name: "isTlsUrl() is false for unix:",
    fn() {
      assert.equal(isTlsUrl(new URL("unix:///tmp/mqtt.sock")), false);
    },
  },
];
