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
 *
 * Every message is bounded, in both directions (`ChannelBounds`, clamped to hard ceilings): the
 * JSON header is parsed into the receiving thread's heap, and a skill worker's heap is small, so
 * an unbounded header (a list-dir of 300k long names was ~90 MB) made V8 abort the whole process
 * while parsing it. `send` refuses a message over the bounds with a ResourceLimitError
 * (`message_size`) before anything is written or posted; `read` never throws on a malformed or
 * oversized message, it returns a `{ t: 'malformed' }` header the caller turns into a typed failure.
 */
import { Buffer } from 'node:buffer';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { ResourceLimitError } from '../errors.js';

/** Int32 slots of the control block. */
const SEQ_TO_WORKER = 0;
const SEQ_TO_MAIN = 1;
const VIA = 2; // 0 = inline in the data region, 1 = on the port
const JSON_LEN = 3;
const BIN_LEN = 4;
const WORKER_FLAG = 5; // set by the worker: an instance is ready for the next invocation
const CONTROL_BYTES = 64;
/** The control block's layout, for the channel's own tests (which forge what a broken peer writes). */
export const CHANNEL_LAYOUT = { SEQ_TO_WORKER, SEQ_TO_MAIN, VIA, JSON_LEN, BIN_LEN, CONTROL_BYTES } as const;

export const DEFAULT_REGION_BYTES = 256 * 1024;
/** Atomics.load polls before sleeping (a few microseconds). */
const SPIN_LIMIT = 4000;

/**
 * Ceilings no configuration can raise. The header one keeps a parsed header well inside a skill
 * worker's 64 MiB JS heap (a UTF-8 byte can be a UTF-16 unit: <= 16 MiB of string, plus objects);
 * payloads are ArrayBuffers outside that heap.
 */
export const HARD_MAX_HEADER_BYTES = 8 * 1024 * 1024;
export const HARD_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/** Byte bounds of one message on a channel (both ends use the same). */
export interface ChannelBounds {
  /** UTF-8 bytes of the JSON header. */
  maxHeaderBytes: number;
  /** Header + payload bytes. */
  maxMessageBytes: number;
}

/** `bounds` clamped to the hard ceilings (the default: the ceilings themselves). */
export function channelBounds(bounds?: Partial<ChannelBounds>): ChannelBounds {
  const clamp = (v: number | undefined, hard: number) => (v !== undefined && v >= 0 && v < hard ? Math.floor(v) : hard);
  const maxMessageBytes = clamp(bounds?.maxMessageBytes, HARD_MAX_MESSAGE_BYTES);
  return { maxHeaderBytes: Math.min(clamp(bounds?.maxHeaderBytes, HARD_MAX_HEADER_BYTES), maxMessageBytes), maxMessageBytes };
}

/** Every message header names its type in `t` (protocol.ts has the unions of each direction). */
export interface WireMessage {
  t: string;
}
/** Any header: the default of an end nobody typed (tests, the benchmark). */
export type AnyMessage = WireMessage & Record<string, unknown>;

export interface Message<H extends WireMessage = AnyMessage> {
  header: H;
  payload?: Uint8Array | undefined;
  /** `JSON.stringify(header)`, when the sender already made it (measuring a reply needs it). */
  json?: string | undefined;
}

/** A message the channel could not read: `read` returns it instead of throwing (see `malformed`). */
export interface MalformedMsg {
  t: 'malformed';
  message: string;
}

/** What a message would cost on the wire, and whether it is over `bounds` (and which part). */
export interface Measured {
  json: string;
  headerBytes: number;
  payloadBytes: number;
  over?: Oversize | undefined;
}

/** How far over the channel's bounds a message was. */
export interface Oversize {
  part: 'header' | 'message';
  bytes: number;
  max: number;
}

export function measure(header: object, payload: Uint8Array | undefined, bounds: ChannelBounds, json?: string): Measured {
  const text = json ?? JSON.stringify(header);
  const headerBytes = Buffer.byteLength(text);
  const payloadBytes = payload ? payload.byteLength : 0;
  const m: Measured = { json: text, headerBytes, payloadBytes };
  if (headerBytes > bounds.maxHeaderBytes) m.over = { part: 'header', bytes: headerBytes, max: bounds.maxHeaderBytes };
  else if (headerBytes + payloadBytes > bounds.maxMessageBytes) {
    m.over = { part: 'message', bytes: headerBytes + payloadBytes, max: bounds.maxMessageBytes };
  }
  return m;
}

/** The sentence for a message over its bounds. */
export function overMessage(what: string, over: NonNullable<Measured['over']>): string {
  return over.part === 'header'
    ? `${what}: its JSON part of ${over.bytes} bytes is over the ${over.max}-byte limit of one message between the host and a skill`
    : `${what}: ${over.bytes} bytes is over the ${over.max}-byte limit of one message between the host and a skill`;
}

export function createChannelBuffer(regionBytes = DEFAULT_REGION_BYTES): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + regionBytes);
}

type Side = 'main' | 'worker';

/**
 * One end of the channel. Both ends share the buffer; each writes only its own counter. `Send`
 * and `Receive` are the message unions of each direction (protocol.ts: the host's end is
 * `ChannelEnd<HostToWorker, WorkerToHost>`, the worker's the reverse).
 */
export class ChannelEnd<Send extends WireMessage = AnyMessage, Receive extends WireMessage = AnyMessage> {
  private readonly ctrl: Int32Array;
  private readonly data: Buffer;
  private readonly mySeq: number;
  private readonly peerSeq: number;
  private seen: number;
  private cancelled = false;
  readonly bounds: ChannelBounds;

  constructor(
    sab: SharedArrayBuffer,
    private readonly port: MessagePort,
    side: Side,
    bounds?: Partial<ChannelBounds>,
  ) {
    this.bounds = channelBounds(bounds);
    this.ctrl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.data = Buffer.from(sab, CONTROL_BYTES);
    this.mySeq = side === 'main' ? SEQ_TO_WORKER : SEQ_TO_MAIN;
    this.peerSeq = side === 'main' ? SEQ_TO_MAIN : SEQ_TO_WORKER;
    this.seen = Atomics.load(this.ctrl, this.peerSeq);
  }

  /**
   * Writes `msg` for the peer. Over the bounds it throws ResourceLimitError (`message_size`) and
   * sends nothing: the turn stays with this end, which can send something smaller instead.
   */
  send(msg: Message<Send>): void {
    const payload = msg.payload;
    const m = measure(msg.header, payload, this.bounds, msg.json);
    if (m.over) throw new ResourceLimitError('message_size', m.over.max, overMessage(`a ${msg.header.t} message`, m.over));
    const json = m.json;
    const binLen = m.payloadBytes;
    if (m.headerBytes + binLen <= this.data.byteLength) {
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
  receiveSync(): Received<Receive>;
  /** With a timeout (ms): `undefined` when nothing came in time. */
  receiveSync(timeoutMs: number): Received<Receive> | undefined;
  receiveSync(timeoutMs?: number): Received<Receive> | undefined {
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
  async receive(): Promise<Received<Receive> | undefined> {
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

  /**
   * The peer's message; never throws (see `malformed`). Its header is checked to be an object
   * with a string `t`; the peer is trusted to send only `Receive`s (the host's answers to a
   * `t` it does not know are in worker-handle.ts and worker-thread.ts).
   */
  private read(): Received<Receive> {
    this.seen = Atomics.load(this.ctrl, this.peerSeq);
    let json: string;
    let payload: Uint8Array | undefined;
    if (this.ctrl[VIA] === 1) {
      const got = receiveMessageOnPort(this.port);
      if (!got) return malformed('a message was announced on the port but none arrived');
      const m = got.message as { json?: unknown; payload?: unknown } | null;
      if (!m || typeof m.json !== 'string') return malformed('a message on the port has no JSON header');
      if (m.payload !== undefined && !(m.payload instanceof Uint8Array)) return malformed('a message on the port has a payload that is not bytes');
      json = m.json;
      payload = m.payload;
      // The sender enforces the bounds; a receiver does not trust that it did.
      if (json.length > this.bounds.maxHeaderBytes || json.length + (payload?.byteLength ?? 0) > this.bounds.maxMessageBytes) {
        return malformed(`a message of ${json.length + (payload?.byteLength ?? 0)} bytes is over the channel's bounds`);
      }
    } else {
      const jsonLen = this.ctrl[JSON_LEN]!;
      const binLen = this.ctrl[BIN_LEN]!;
      if (!(jsonLen >= 0 && binLen >= 0 && jsonLen + binLen <= this.data.byteLength)) {
        return malformed(`a message announces ${jsonLen} + ${binLen} bytes in a ${this.data.byteLength}-byte region`);
      }
      json = this.data.toString('utf8', 0, jsonLen);
      // Copy the payload out: the region is reused by the next message.
      payload = binLen ? new Uint8Array(this.data.subarray(jsonLen, jsonLen + binLen)) : undefined;
    }
    let header: unknown;
    try {
      header = JSON.parse(json);
    } catch (e) {
      return malformed(`a message header is not JSON (${e instanceof Error ? e.name : 'error'})`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header) || typeof (header as { t?: unknown }).t !== 'string') {
      return malformed('a message header is not an object with a type');
    }
    return { header: header as Receive, payload };
  }
}

/** What an end receives: a message of the peer's union, or one it could not read. */
export type Received<Receive extends WireMessage> = Message<Receive> | Message<MalformedMsg>;

/** What `read` returns for a message it cannot use: the caller fails the invocation, typed. */
function malformed(message: string): Message<MalformedMsg> {
  return { header: { t: 'malformed', message: `channel: ${message}` } };
}
