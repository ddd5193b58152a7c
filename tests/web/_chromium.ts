// A headless Chromium driven over the Chrome DevTools Protocol, with no
// dependency: Deno's own WebSocket talks to the endpoint Chromium prints on
// stderr ("DevTools listening on ws://127.0.0.1:<port>/devtools/browser/<id>").
//
//   await using browser = await launchChromium();
//   const page = await browser.newPage();
//   await page.goto("http://127.0.0.1:<port>/");
//   const value = await page.evaluate<number>("mqttTest.run()"); // awaited, returned by value
//   page.errors // console errors, uncaught exceptions, unhandled rejections
//
// Chromium comes from Debian's `chromium` package (tests/_helpers/ensure_chromium.sh
// installs it); set CHROMIUM to use another binary. It runs headless with a
// fresh profile in a temporary directory (removed on dispose), without the
// sandbox (CI runs as root), with every background service off, and with a
// host resolver that resolves no name at all: the only traffic is to the
// loopback addresses the test gives it.
//
// Why not puppeteer-core: inside `deno test` (sanitizers on) a small driver on
// Deno.Command and the global WebSocket closes every resource it opens and
// awaits the browser's exit, needs no npm package, and speaks the handful of
// CDP methods the tests use.

const CANDIDATES = ["/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"];
const LAUNCH_TIMEOUT_MS = 15_000;
const COMMAND_TIMEOUT_MS = 20_000;

/** How to install Chromium, for the error when it is missing. */
export const INSTALL_HINT =
  "install Chromium: `sh tests/_helpers/ensure_chromium.sh` (as root: apt-get install -y chromium), " +
  "or set CHROMIUM=/path/to/chromium";

/** The flags every launch uses (plus --user-data-dir and --remote-debugging-port). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-extensions",
  "--disable-default-apps",
  "--disable-domain-reliability",
  "--disable-client-side-phishing-detection",
  "--disable-breakpad",
  "--no-pings",
  "--disable-dev-shm-usage",
  "--metrics-recording-only",
  // No name resolves: nothing can leave the machine by name.
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

/** The Chromium binary: $CHROMIUM, else the first of the Debian paths that exists. */
export function chromiumPath(): string {
  const env = Deno.env.get("CHROMIUM");
  if (env !== undefined && env !== "") return env;
  for (const p of CANDIDATES) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not there
    }
  }
  throw new Error(
    `Chromium is not installed (looked for ${CANDIDATES.join(", ")}): ${INSTALL_HINT}`,
  );
}

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
  method: string;
}

type Listener = (params: Record<string, unknown>, sessionId: string | undefined) => void;

/** One CDP connection: commands with ids, events to listeners. */
class Cdp {
  #ws: WebSocket;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Map<string, Set<Listener>>();
  #closed: Promise<void>;
  #error: Error | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#closed = new Promise((resolve) => {
      ws.addEventListener("close", () => {
        this.#error ??= new Error("the DevTools connection closed");
        for (const p of this.#pending.values()) p.reject(this.#error);
        this.#pending.clear();
        resolve();
      });
    });
    ws.addEventListener("message", (e) => this.#onMessage(String(e.data)));
  }

  static open(url: string): Promise<Cdp> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const cdp = new Cdp(ws);
      const onError = () => reject(new Error(`cannot open the DevTools WebSocket ${url}`));
      ws.addEventListener("error", onError, { once: true });
      ws.addEventListener("open", () => {
        ws.removeEventListener("error", onError);
        resolve(cdp);
      }, { once: true });
    });
  }

  #onMessage(text: string): void {
    const msg = JSON.parse(text) as {
      id?: number;
      result?: Record<string, unknown>;
      error?: { code: number; message: string; data?: string };
      method?: string;
      params?: Record<string, unknown>;
      sessionId?: string;
    };
    if (msg.id !== undefined) {
      const p = this.#pending.get(msg.id);
      if (p === undefined) return;
      this.#pending.delete(msg.id);
      if (msg.error !== undefined) {
        const detail = msg.error.data === undefined ? "" : ` (${msg.error.data})`;
        p.reject(new Error(`${p.method}: ${msg.error.message}${detail}`));
      } else {
        p.resolve(msg.result ?? {});
      }
      return;
    }
    if (msg.method !== undefined) {
      for (const fn of this.#listeners.get(msg.method) ?? []) fn(msg.params ?? {}, msg.sessionId);
    }
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    timeoutMs = COMMAND_TIMEOUT_MS,
  ): Promise<Record<string, unknown>> {
    if (this.#ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(
        this.#error ?? new Error(`${method}: the DevTools connection is closed`),
      );
    }
    const id = this.#nextId++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#ws.send(JSON.stringify({ id, method, params, sessionId }));
    }).finally(() => clearTimeout(timer));
  }

  on(method: string, fn: Listener): () => void {
    let set = this.#listeners.get(method);
    if (set === undefined) this.#listeners.set(method, set = new Set());
    set.add(fn);
    return () => set.delete(fn);
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CONNECTING || this.#ws.readyState === WebSocket.OPEN) {
      this.#ws.close();
    }
    await this.#closed;
  }
}

/** What a failed `evaluate` reports: the page's exception. */
function describeException(details: Record<string, unknown>): string {
  const exception = details.exception as { description?: string; value?: unknown } | undefined;
  return exception?.description ?? String(exception?.value ?? details.text ?? "exception");
}

/** A page (a tab) of the browser. */
export class Page {
  readonly #cdp: Cdp;
  readonly sessionId: string;
  readonly targetId: string;
  /** Console errors and assertions, uncaught exceptions and unhandled rejections, log errors. */
  readonly errors: string[] = [];
  /** Every console message, `type: text`, for diagnostics. */
  readonly console: string[] = [];
  #off: (() => void)[] = [];

  constructor(cdp: Cdp, targetId: string, sessionId: string) {
    this.#cdp = cdp;
    this.targetId = targetId;
    this.sessionId = sessionId;
    const mine = (fn: (p: Record<string, unknown>) => void): Listener => (p, s) => {
      if (s === sessionId) fn(p);
    };
    this.#off.push(
      cdp.on(
        "Runtime.consoleAPICalled",
        mine((p) => {
          const args = (p.args as { value?: unknown; description?: string }[] | undefined) ?? [];
          const text = args.map((a) => a.description ?? String(a.value)).join(" ");
          this.console.push(`${p.type}: ${text}`);
          if (p.type === "error" || p.type === "assert") {
            this.errors.push(`console.${p.type}: ${text}`);
          }
        }),
      ),
      cdp.on(
        "Runtime.exceptionThrown",
        mine((p) => {
          const d = p.exceptionDetails as Record<string, unknown>;
          // text: "Uncaught" or "Uncaught (in promise)" (an unhandled rejection).
          this.errors.push(`${d.text ?? "Uncaught"}: ${describeException(d)}`);
        }),
      ),
      cdp.on(
        "Log.entryAdded",
        mine((p) => {
          const e = p.entry as { level: string; source: string; text: string; url?: string };
          if (e.level === "error") {
            this.errors.push(`log (${e.source}): ${e.text}${e.url ? ` [${e.url}]` : ""}`);
          }
        }),
      ),
    );
  }

  /** Sends a CDP command to this page's session. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.#cdp.send(method, params, this.sessionId);
  }

  /** Listens to a CDP event of this page. */
  on(method: string, fn: (params: Record<string, unknown>) => void): () => void {
    const off = this.#cdp.on(method, (p, s) => {
      if (s === this.sessionId) fn(p);
    });
    this.#off.push(off);
    return off;
  }

  /**
   * Navigates and waits for the load event.
   *
   * @returns The browser's monotonic clock at the load event, in seconds (on
   * Linux, CLOCK_MONOTONIC: the clock Chromium aligns throttled timers to),
   * and `performance.now()` here when the event arrived.
   */
  async goto(url: string): Promise<{ monotonicSeconds: number; at: number }> {
    let off: (() => void) | undefined;
    const loaded = new Promise<{ monotonicSeconds: number; at: number }>((resolve) => {
      off = this.on("Page.loadEventFired", (p) => {
        resolve({ monotonicSeconds: p.timestamp as number, at: performance.now() });
      });
    });
    try {
      const r = await this.send("Page.navigate", { url });
      if (typeof r.errorText === "string") throw new Error(`cannot load ${url}: ${r.errorText}`);
      return await withTimeout(loaded, COMMAND_TIMEOUT_MS, `${url} did not load`);
    } finally {
      off?.();
    }
  }

  /**
   * Evaluates `expression` in the page, awaits it if it is a promise, and
   * returns its value (JSON-serializable values only). A thrown exception or
   * a rejection rejects with its description.
   */
  async evaluate<T>(expression: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<T> {
    const r = await this.#cdp.send(
      "Runtime.evaluate",
      { expression, awaitPromise: true, returnByValue: true },
      this.sessionId,
      timeoutMs,
    );
    if (r.exceptionDetails !== undefined) {
      throw new Error(
        `in the page: ${describeException(r.exceptionDetails as Record<string, unknown>)}`,
      );
    }
    return (r.result as { value: T }).value;
  }

  /** Stops listening. */
  detach(): void {
    for (const off of this.#off) off();
    this.#off = [];
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A running headless Chromium, from {@linkcode launchChromium}. */
export interface Chromium extends AsyncDisposable {
  /** The browser's product string, e.g. `Chrome/156.0.8078.129`. */
  readonly version: string;
  /** Opens a tab on about:blank with Runtime, Page and Log enabled. */
  newPage(): Promise<Page>;
  /** Sends a browser-level CDP command. */
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The last lines Chromium wrote to stderr. */
  stderr(): string;
}

/**
 * Starts headless Chromium with a fresh profile and connects to its DevTools
 * endpoint.
 *
 * @param extraFlags Flags after the standard ones (e.g. `--enable-features=...`).
 * @returns The browser; dispose it to close it, await its exit and delete the profile.
 * @throws {Error} When Chromium is missing (the message says how to install it) or does not start.
 */
export async function launchChromium(extraFlags: string[] = []): Promise<Chromium> {
  const path = chromiumPath();
  const profile = await Deno.makeTempDir({ prefix: "mqttv5-chromium-" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(path, {
      args: [
        ...CHROMIUM_FLAGS,
        ...extraFlags,
        `--user-data-dir=${profile}`,
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    await Deno.remove(profile, { recursive: true });
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`Chromium is not installed (${path} not found): ${INSTALL_HINT}`, {
        cause: err,
      });
    }
    throw err;
  }
  // If this process dies without closing Chromium, its stdin pipe closes and
  // the watchdog kills Chromium (as broker.ts does for mosquitto); it checks
  // the process name so that it never kills a recycled pid.
  const pid = child.pid;
  const watchdog = new Deno.Command("sh", {
    args: ["-c", `read _; [ "$(cat /proc/${pid}/comm 2>/dev/null)" = chromium ] && kill -9 ${pid}`],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Read stderr to the end (so Chromium never blocks on it), keeping the tail.
  const tail: string[] = [];
  let endpoint: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => (endpoint = resolve));
  const drained = (async () => {
    let buffered = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const m = /^DevTools listening on (ws:\/\/\S+)/.exec(line);
        if (m !== null) endpoint(m[1]);
        tail.push(line);
        if (tail.length > 50) tail.shift();
      }
    }
  })();
  const exited = child.status;
  const stderr = () => tail.join("\n");
  let cdp: Cdp | undefined;
  const shutdown = async () => {
    // The watchdog goes first, so that it can never kill a recycled pid.
    try {
      watchdog.kill("SIGKILL");
    } catch {
      // already gone
    }
    await watchdog.status;
    await watchdog.stdin.close().catch(() => {});
    if (cdp !== undefined) {
      await cdp.send("Browser.close", {}, undefined, 5000).catch(() => {});
      await cdp.close();
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 5000);
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await exited;
    clearTimeout(timer);
    await drained;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    const url = await withTimeout(
      Promise.race([
        listening,
        exited.then((s) => {
          throw new Error(`Chromium (${path}) exited with code ${s.code} before it listened`);
        }),
      ]),
      LAUNCH_TIMEOUT_MS,
      "Chromium did not listen",
    );
    cdp = await Cdp.open(url);
  } catch (err) {
    await shutdown();
    throw new Error(`${(err as Error).message}; its stderr ends:\n${stderr()}`, { cause: err });
  }
  const browser = cdp;
  const { product } = await browser.send("Browser.getVersion") as { product: string };
  let disposed = false;
  return {
    version: product,
    stderr,
    send: (method, params) => browser.send(method, params),
    async newPage() {
      const { targetId } = await browser.send("Target.createTarget", { url: "about:blank" }) as {
        targetId: string;
      };
      const { sessionId } = await browser.send("Target.attachToTarget", {
        targetId,
        flatten: true,
      }) as { sessionId: string };
      const page = new Page(browser, targetId, sessionId);
      await Promise.all([
        page.send("Runtime.enable"),
        page.send("Page.enable"),
        page.send("Log.enable"),
      ]);
      return page;
    },
    async [Symbol.asyncDispose]() {
      if (disposed) return;
      disposed = true;
      await shutdown();
    },
  };
}
