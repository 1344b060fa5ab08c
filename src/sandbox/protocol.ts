/**
 * The wire between the host (worker-handle.ts, main thread) and a skill worker
 * (worker-thread.ts): every message shape, one discriminated union per direction, and one
 * call/reply shape per host function. The channel (channel.ts) is generic over these unions.
 */

import type { ChannelBounds, Oversize } from './channel.js';
import type { FsEntry, GuestError, NetHeader } from '../capabilities/types.js';
import type { LocalFsSpec } from '../capabilities/fs-local.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * The reserved command a worker sends right after every instantiation, with 32 CSPRNG bytes (hex)
 * as args, to key the guest's randomness; guest/random.js answers SEED_ACK. NUL keeps it out of
 * any manifest's command names.
 */
export const SEED_COMMAND = '\u0000agentos:seed';
export const SEED_ACK = 'agentos:seeded';

/** What a worker is started with (workerData). */
export interface WorkerBoot {
  sab: SharedArrayBuffer;
  port: import('node:worker_threads').MessagePort;
  /** URL of the transpiled instantiation module: a data: URL of the bytes the loader verified. */
  jsUrl: string;
  /** Core modules compiled in the main thread, by the file name the JS asks for. */
  modules: Record<string, WebAssembly.Module>;
  /** Re-instantiate after every invocation so no state crosses invocations. */
  freshInstance: boolean;
  /** Memory cap in bytes (the compiled modules carry it as their maximum too). */
  memoryBytes: number;
  /** Why the instance cannot be reset to its post-instantiation snapshot; undefined: it can. */
  notResettable?: string | undefined;
  /** No core module can write a table after instantiation (code-facts.ts): tables need no restore. */
  tablesFixed: boolean;
  maxLogLines: number;
  maxLogBytes: number;
  /** A result longer than this (UTF-16 units, a lower bound on bytes) is not sent. */
  maxResultBytes: number;
  /** Byte bounds of every message on the channel (the host's end uses the same). */
  bounds: ChannelBounds;
  /** The invocation's host-call and I/O counts, shared with the host's end (tally.ts). */
  tally: SharedArrayBuffer;
  /** Set when the skill may use fs: allowed fs calls are served in the worker (fs-local.ts). */
  fs?: LocalFsSpec | undefined;
}

// ---- host functions: what each call carries and what its reply's `v` is ----

/** A request as it crosses: its body travels as the message's payload. */
export interface WireRequest {
  method: string;
  url: string;
  headers: NetHeader[];
}

/**
 * Every host function by name: the fields of its call, and the JSON value of its ok reply (bytes
 * — a file read, a response body — travel as the payload).
 */
export interface HostFunctionShapes {
  'net.fetch': { call: { req: WireRequest }; value: { status: number; headers: NetHeader[] } };
  'fs.read-file': { call: { path: string }; value: undefined };
  'fs.write-file': { call: { path: string }; value: undefined };
  'fs.list-dir': { call: { path: string }; value: FsEntry[] };
  'fs.stat': { call: { path: string }; value: FsEntry };
  'fs.remove': { call: { path: string }; value: undefined };
  'fs.make-dir': { call: { path: string }; value: undefined };
}
export type HostFn = keyof HostFunctionShapes;

/** The call message of host function `F` (a union over `F`: `CallOf<HostFn>` discriminates on `fn`). */
export type CallOf<F extends HostFn> = { [K in F]: { t: 'call'; fn: K } & HostFunctionShapes[K]['call'] }[F];
/** The JSON value of an ok reply to `F`. */
export type ReplyValue<F extends HostFn> = HostFunctionShapes[F]['value'];

/**
 * A call as the guest made it was over the channel's bounds and was not sent: this is all that
 * crosses (no path, no data), and the host answers `limit`.
 */
export interface OversizeCallMsg {
  t: 'call';
  fn: HostFn;
  oversize: Oversize;
}
export type CallMsg = CallOf<HostFn> | OversizeCallMsg;

// ---- host -> worker ----
export interface InvokeMsg {
  t: 'invoke';
  command: string;
  args: string;
  /** Invocations of one session may run on the instance the previous one left (see invoker). */
  session?: string | undefined;
}
export type ReplyMsg =
  | { t: 'reply'; ok: true; /** JSON-able value (the binary part travels as the payload). */ v?: unknown }
  | { t: 'reply'; ok: false; err: GuestError };
export type HostToWorker = InvokeMsg | ReplyMsg;

// ---- worker -> host ----
export interface ReadyMsg {
  t: 'ready';
  instantiateMs: number;
  /** 'snapshot': fresh state by resetting to the post-instantiation snapshot; else why it re-instantiates. */
  freshBy: string;
}
export interface BootFailedMsg {
  t: 'boot-failed';
  message: string;
}
export interface LogLine {
  level: LogLevel;
  message: string;
}
export type DoneMsg =
  | { t: 'done'; ok: true; result: string; logs: LogLine[]; logsDropped: number }
  | {
      t: 'done';
      ok: false;
      /**
       * guest: the skill returned/threw an error; trap: the instance trapped; memory: out of
       * memory; result_size: the result was over the cap and was not sent; channel: a reply from
       * the host could not be read (the guest was given `failed`).
       */
      kind: 'guest' | 'trap' | 'memory' | 'result_size' | 'channel';
      message: string;
      logs: LogLine[];
      logsDropped: number;
    };
export type WorkerToHost = ReadyMsg | BootFailedMsg | CallMsg | DoneMsg;

/** Either end: a message the channel could not read (see channel.ts `malformed`). */
export type { MalformedMsg } from './channel.js';
