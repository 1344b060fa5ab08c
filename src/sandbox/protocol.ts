/** Message shapes on the channel between the host and a skill worker (see channel.ts). */

import type { GuestError } from '../capabilities/types.js';

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
  maxLogLines: number;
  maxLogBytes: number;
  /** A result longer than this (UTF-16 units, a lower bound on bytes) is not sent. */
  maxResultBytes: number;
  /** Byte bounds of every message on the channel (the host's end uses the same). */
  bounds: import('./channel.js').ChannelBounds;
}

// host -> worker
export interface InvokeMsg {
  t: 'invoke';
  command: string;
  args: string;
  /** Invocations of one session may run on the instance the previous one left (see invoker). */
  session?: string | undefined;
}
export interface ReplyMsg {
  t: 'reply';
  ok: boolean;
  /** JSON-able value (the binary part travels as the payload). */
  v?: unknown;
  err?: GuestError;
}

// worker -> host
export interface ReadyMsg {
  t: 'ready';
  instantiateMs: number;
}
export interface BootFailedMsg {
  t: 'boot-failed';
  message: string;
}
export type HostFn =
  | 'net.fetch'
  | 'fs.read-file'
  | 'fs.write-file'
  | 'fs.list-dir'
  | 'fs.stat'
  | 'fs.remove'
  | 'fs.make-dir';
export interface CallMsg {
  t: 'call';
  fn: HostFn;
  /** fs: the path; net: the request without its body. */
  path?: string;
  req?: { method: string; url: string; headers: { name: string; value: string }[] };
  /**
   * The call as the guest made it was over the channel's bounds and was not sent: this is all
   * that crosses (no path, no data), and the host answers `limit`.
   */
  oversize?: { part: 'header' | 'message'; bytes: number; max: number };
}
/** Either end: a message the channel could not read (see channel.ts `malformed`). */
export interface MalformedMsg {
  t: 'malformed';
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
