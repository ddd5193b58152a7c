/**
 * {@linkcode Persistence}: the client's side of the session store. It runs
 * the store writes the session engines ask for (write-ahead: a packet goes
 * out only once its record has landed), reads the store before the first
 * CONNECT, reconciles it with memory after a failure, and turns a failed
 * write into a stop that looks like a crash to the broker (so the will fires).
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import * as InboundStoreOp from "../session/_inbound_store_op.ts";
import * as Qos2State from "../session/_qos2_state.ts";
import * as FlowState from "../session/_flow_state.ts";
import * as StoreOp from "../session/_store_op.ts";
import { newFlow } from "../session/outbound.ts";
import type { SessionStore } from "../session/store.ts";
import { type Core, noop, type OutEntry } from "./core.ts";
import * as StoreState from "./_store_state.ts";

/** Where the store stands against memory: {@linkcode StoreState} (constants in _store_state.ts). */
type StoreState = typeof StoreState[keyof typeof StoreState];
type StoreOp = typeof StoreOp[keyof typeof StoreOp];
type InboundStoreOp = typeof InboundStoreOp[keyof typeof InboundStoreOp];

/** Runs the session's store writes and keeps the store and memory in step. */
export class Persistence {
  readonly #core: Core;
  readonly #store: SessionStore | undefined;
  #state: StoreState = StoreState.Unloaded;

  /** @param core The client's shared state. */
  constructor(core: Core) {
    this.#core = core;
    this.#store = core.options.store;
  }

  /**
   * A store write the outbound session asks for.
   *
   * @param op The write.
   * @param e The flow.
   * @returns True when done (or no store); false when it lands later.
   */
  outbound(op: StoreOp, e: OutEntry): boolean {
    const store = this.#store;
    if (store === undefined) return true;
    const id = e.packet.packetId as number;
    if (op === StoreOp.Delete) {
      this.#run(() => store.deleteOutbound(id));
      return true;
    }
    const stored = op === StoreOp.Put
      ? this.#run(() => store.putOutbound(id, e.packet), e)
      : this.#run(() => store.releaseOutbound(id));
    if (stored === undefined) return true;
    stored.then((ok) => {
      if (ok) this.#core.out.stored(e);
    });
    return false;
  }

  /**
   * A store write the inbound session asks for.
   *
   * @param op The write.
   * @param id The packet identifier.
   * @returns True when done (or no store); false when it lands later.
   */
  inbound(op: InboundStoreOp, id: number): boolean {
    const store = this.#store;
    if (store === undefined) return true;
    const stored = this.#run(() =>
      op === InboundStoreOp.Put ? store.putInbound(id) : store.deleteInbound(id)
    );
    if (stored === undefined) return true;
    const inb = this.#core.in;
    const connection = inb.connection;
    stored.then((ok) => {
      if (ok) inb.stored(op, id, connection);
    });
    return false;
  }

  /** The broker has no session: forget the inbound QoS 2 receipts. */
  clearInbound(): void {
    const store = this.#store;
    if (store !== undefined) this.#run(() => store.clearInbound());
  }

  /**
   * Runs one store mutation. Returns undefined when it completed synchronously
   * (and succeeded), or a promise of whether it succeeded. A failure stops the
   * connection as a crash would and fails `entry`, if given.
   */
  #run(op: () => void | Promise<void>, entry?: OutEntry): Promise<boolean> | undefined {
    let r: void | Promise<void>;
    try {
      r = op();
    } catch (err) {
      this.#failed(err, entry);
      return Promise.resolve(false);
    }
    if (r === undefined || typeof (r as Promise<void>).then !== "function") return undefined;
    return (r as Promise<void>).then(() => true, (err) => {
      this.#failed(err, entry);
      return false;
    });
  }

  #failed(cause: unknown, entry: OutEntry | undefined): void {
    const core = this.#core;
    const err = cause instanceof MqttError && cause.code === "store-failed"
      ? cause
      : new MqttError("store-failed", "session store write failed", { cause });
    core.log?.error("session store write failed", { error: err.message });
    // Never stored, so never sent: the caller learns it was not published.
    if (entry !== undefined) core.out.storeFailed(entry, err);
    if (this.#state === StoreState.Failed) return;
    this.#state = StoreState.Failed;
    core.observe("onConnectError", () => core.options.onConnectError?.(err));
    // Stop as a crash would: close without DISCONNECT, so every broker publishes the will.
    // (DISCONNECT 0x80 should do the same per [MQTT-3.14.4-3], but mosquitto 2.0.11
    // discards the will on every DISCONNECT except reason 0x04: measured.)
    const link = core.link;
    if (link !== null && link.connack !== null) core.supervisor.linkDown(link, err, false);
  }

  /**
   * Before a CONNECT: reads the store (restoring flows a previous process
   * left) or reconciles it with memory after a failure.
   *
   * @throws {MqttError} `store-failed` when the store cannot be read.
   */
  async ready(): Promise<void> {
    const store = this.#store;
    if (store === undefined || this.#state === StoreState.Loaded) return;
    try {
      if (this.#state === StoreState.Failed) await store.recover?.();
      if (this.#state === StoreState.Unloaded) await this.#load(store);
      else await this.#reconcile(store);
    } catch (cause) {
      throw new MqttError("store-failed", "could not read the session store", { cause });
    }
    this.#state = StoreState.Loaded;
  }

  async #load(store: SessionStore): Promise<void> {
    const core = this.#core;
    const saved = await store.load();
    for (const r of saved.outbound) {
      // A flow of a previous process: nobody awaits it, the session completes it.
      const flow = newFlow({ ...r.packet, packetId: r.packetId }, null) as OutEntry;
      flow.state = r.stage === "pubrel" ? FlowState.AwaitingComp : FlowState.AwaitingAck;
      flow.unsent = false;
      flow.checkedBy = undefined;
      flow.abandoned = true;
      flow.resolve = noop;
      flow.reject = noop;
      core.out.restore(flow);
    }
    for (const id of saved.inbound) core.in.restore(id);
  }

  /** After a failure, memory is the truth: put back what is missing, drop what is stale. */
  async #reconcile(store: SessionStore): Promise<void> {
    const core = this.#core;
    const saved = await store.load();
    const stored = new Set(saved.outbound.map((r) => r.packetId));
    for (const r of saved.outbound) {
      if (core.out.get(r.packetId) === undefined) await store.deleteOutbound(r.packetId);
    }
    for (const e of [...core.out.all()]) {
      const id = e.packet.packetId;
      if (id !== undefined && !stored.has(id)) {
        await store.putOutbound(id, e.packet);
        if (e.state === FlowState.AwaitingComp) await store.releaseOutbound(id);
      }
    }
    const inbound = new Set(saved.inbound);
    for (const id of inbound) {
      const st = core.in.qos2(id);
      if (st === Qos2State.Recording) core.in.markRecorded(id); // its record did land
      else if (st !== Qos2State.Recorded) await store.deleteInbound(id);
    }
    for (const [id, st] of [...core.in.qos2States()]) {
      if (st === Qos2State.Recording || (st === Qos2State.Recorded && !inbound.has(id))) {
        await store.putInbound(id);
        core.in.markRecorded(id);
      }
    }
  }
}
