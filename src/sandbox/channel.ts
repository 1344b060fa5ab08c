/**
 * The call channel between the host (main thread) and a skill worker.
 *
 * Strictly half-duplex ping-pong over one SharedArrayBuffer: whoever holds the turn writes a
 * message into the shared data region, bumps its sequence counter and notifies. The worker
 * blocks in `Atomics.wait` (a guest's host call is synchronous); the main thread awaits with
 * `Atomics.waitAsync`, so no postMessage is on the hot path. A message that does not fit the
 * region goes through a MessagePort instead and is picked up synchronously with
 * `receiveMessageOnPort`, so size is never a correctness problem, only a speed one.
 *
 * A message is a JSON header plus an optional binary payload (file contents, HTTP bodies), so
 * bytes never pass through JSON.
 */
import { Buffer } from 'node:buffer';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

/** Int32 slots of the control block. */
const SEQ_TO_WORKER = 0;
const SEQ_TO_MAIN = 1;
const VIA = 2; // 0 = inline in the data region, 1 = on the port
const JSON_LEN = 3;
const BIN_LEN = 4;
const WORKER_FLAG = 5; // set by the worker: an instance is ready for the next invocation
const CONTROL_BYTES = 64;

export const DEFAULT_REGION_BYTES = 256 * 1024;
/** Atomics.load polls before sleeping (a few microseconds). */
const SPIN_LIMIT = 4000;

export interface Message {
  header: Record<string, unknown>;
  payload?: Uint8Array | undefined;
}

export function createChannelBuffer(regionBytes = DEFAULT_REGION_BYTES): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + regionBytes);
}

type Side = 'main' | 'worker';

/** One end of the channel. Both ends share the buffer; each writes only its own counter. */
export class ChannelEnd {
  private readonly ctrl: Int32Array;
  private readonly data: Buffer;
  private readonly mySeq: number;
  private readonly peerSeq: number;
  private seen: number;
  private cancelled = false;

  constructor(
    sab: SharedArrayBuffer,
    private readonly port: MessagePort,
    side: Side,
  ) {
    this.ctrl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.data = Buffer.from(sab, CONTROL_BYTES);
    this.mySeq = side === 'main' ? SEQ_TO_WORKER : SEQ_TO_MAIN;
    this.peerSeq = side === 'main' ? SEQ_TO_MAIN : SEQ_TO_WORKER;
    this.seen = Atomics.load(this.ctrl, this.peerSeq);
  }

  send(msg: Message): void {
    const json = JSON.stringify(msg.header);
    const payload = msg.payload;
    const binLen = payload ? payload.byteLength : 0;
    const room = this.data.byteLength - binLen;
    // Cheap upper bound first; measure exactly only when it might not fit.
    const fits = room >= 0 && (json.length * 3 <= room || Buffer.byteLength(json) <= room);
    if (fits) {
      const jsonLen = this.data.write(json, 0, 'utf8');
      if (payload && binLen) this.data.set(payload, jsonLen);
      this.ctrl[VIA] = 0;
      this.ctrl[JSON_LEN] = jsonLen;
      this.ctrl[BIN_LEN] = binLen;
    } else {
      this.port.postMessage({ json, payload });
      this.ctrl[VIA] = 1;
    }
    Atomics.add(this.ctrl, this.mySeq, 1);
    Atomics.notify(this.ctrl, this.mySeq);
  }

  /** Worker side: announce whether an instance is ready (read by the pool to pick a worker). */
  setFlag(on: boolean): void {
    Atomics.store(this.ctrl, WORKER_FLAG, on ? 1 : 0);
  }

  /** Main side: the worker's flag. */
  peerFlag(): boolean {
    return Atomics.load(this.ctrl, WORKER_FLAG) === 1;
  }

  /** True when the peer has written a message this end has not read yet. */
  hasMessage(): boolean {
    return Atomics.load(this.ctrl, this.peerSeq) !== this.seen;
  }

  /**
   * Worker side: block until the peer's next message. A short spin first: a host call's reply
   * usually comes within microseconds, and waking from a futex costs far more than that.
   */
  receiveSync(): Message;
  /** With a timeout (ms): `undefined` when nothing came in time. */
  receiveSync(timeoutMs: number): Message | undefined;
  receiveSync(timeoutMs?: number): Message | undefined {
    for (let spins = 0; spins < SPIN_LIMIT; spins++) {
      if (this.hasMessage()) return this.read();
    }
    for (;;) {
      if (this.hasMessage()) return this.read();
      const r = Atomics.wait(this.ctrl, this.peerSeq, this.seen, timeoutMs);
      if (r === 'timed-out' && !this.hasMessage()) return undefined;
    }
  }

  /**
   * Main side: resolve on the peer's next message without blocking the event loop, or with
   * `undefined` once `cancel()` was called (the worker was terminated).
   */
  async receive(): Promise<Message | undefined> {
    for (;;) {
      if (this.cancelled) return undefined;
      if (this.hasMessage()) return this.read();
      const w = Atomics.waitAsync(this.ctrl, this.peerSeq, this.seen);
      if (w.async) await w.value;
    }
  }

  /** Wake and end a pending `receive()`; used when the peer is gone. */
  cancel(): void {
    this.cancelled = true;
    Atomics.notify(this.ctrl, this.peerSeq);
  }

  private read(): Message {
    this.seen = Atomics.load(this.ctrl, this.peerSeq);
    if (this.ctrl[VIA] === 1) {
      const got = receiveMessageOnPort(this.port);
      if (!got) throw new Error('channel: message announced on the port but none arrived');
      const m = got.message as { json: string; payload?: Uint8Array };
      return { header: JSON.parse(m.json) as Record<string, unknown>, payload: m.payload };
    }
    const jsonLen = this.ctrl[JSON_LEN]!;
    const binLen = this.ctrl[BIN_LEN]!;
    const header = JSON.parse(this.data.toString('utf8', 0, jsonLen)) as Record<string, unknown>;
    // Copy the payload out: the region is reused by the next message.
    const payload = binLen ? new Uint8Array(this.data.subarray(jsonLen, jsonLen + binLen)) : undefined;
    return { header, payload };
  }
}
