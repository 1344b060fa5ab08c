/**
 * Allowed fs calls served in the skill's own worker thread, with no round trip to the host.
 *
 * Why: a call served by the host costs two thread wake-ups and two notifies (the worker's call
 * wakes the main thread's event loop, the reply wakes the worker) plus the syscalls made on a
 * thread that just woke: ~135 µs per call (BENCHMARKS.md, issue 15), against ~20 µs for the same
 * steps in a running thread. The fs capability's system calls are synchronous anyway (fs.ts), and
 * this thread is the one that waits for them.
 *
 * Same decision, same checks: the worker runs the very operations of fs.ts on the settings the
 * host's capability was made with (canonical roots, protected paths, limits), the guard's pure
 * decision first and the pinned open after it. Only two outcomes are answered here: success, and
 * a failure that is the guest's own business (not-found, invalid, an I/O error). Everything the
 * host must see goes to the host as before, which decides again, audits and records it:
 * - a denial (the guard's, or the pinned open's "changed during the check"),
 * - a limit (file size, directory entries, the invocation's host-call and I/O caps, a reply over
 *   the channel's bounds),
 * - writes (write-file, remove, make-dir) where /proc/self/fd is missing: there a post-create
 *   check can deny after a file was made, and a second try by the host would see it.
 * A call handed over has had no effect here: denials come before any change, the I/O cap is
 * checked before a write, and a read changes nothing.
 */
import { measure, type ChannelBounds } from '../sandbox/channel.js';
import { answerWith, type HostAnswer } from '../sandbox/host-function.js';
import type { CallOf } from '../sandbox/protocol.js';
import type { InvocationTally } from '../sandbox/tally.js';
import type { FsHostFn } from './fs-host.js';
import { fsOperations, type FsSettings } from './fs.js';
import { hasProcFd, type Steps } from './fs-pinned.js';
import type { CapResult, GuestError } from './types.js';

/** What a worker needs to serve fs calls itself (plain data, sent at boot). */
export interface LocalFsSpec {
  settings: FsSettings;
  maxHostCalls: number;
  maxIoBytes: number;
}

/** An answer given here: the reply's value and bytes, or the guest error. Undefined: ask the host. */
export type LocalAnswer = { ok: true; v?: unknown; payload?: Uint8Array | undefined } | { ok: false; err: GuestError };

export type LocalFs = (call: CallOf<FsHostFn>, payload: Uint8Array | undefined) => LocalAnswer | undefined;

/** Runs `steps` straight through: in the skill's own thread there is no event loop to give turns to. */
function straight<T>(steps: Steps<T>): T {
  let r = steps.next();
  while (!r.done) r = steps.next(false);
  return r.value;
}

const CHANGES: ReadonlySet<FsHostFn> = new Set(['fs.write-file', 'fs.remove', 'fs.make-dir']);

export function createLocalFs(spec: LocalFsSpec, tally: InvocationTally, bounds: ChannelBounds): LocalFs {
  const ops = fsOperations(spec.settings);
  const changesHere = hasProcFd();

  /** The outcome of one call, and the I/O bytes it counts. */
  function run(call: CallOf<FsHostFn>, payload: Uint8Array | undefined): { r: CapResult<HostAnswer<FsHostFn>>; io: number } | undefined {
    switch (call.fn) {
      case 'fs.read-file': {
        const r = straight(ops.readFile(call.path));
        return r.ok ? { r: { ok: true, value: { payload: r.value } }, io: r.value.byteLength } : { r, io: 0 };
      }
      case 'fs.write-file': {
        const data = payload ?? new Uint8Array(0);
        // The host counts a write's bytes before writing: over the cap, it must be the one to refuse.
        if (tally.ioBytes + data.byteLength > spec.maxIoBytes) return undefined;
        return { r: answerWith(straight(ops.writeFile(call.path, data)), () => ({})), io: data.byteLength };
      }
      // The same answers as the host's (fs-host.ts): entries as the reply's value, nothing else.
      case 'fs.list-dir':
        return { r: answerWith(straight(ops.listDir(call.path)), (v) => ({ v })), io: 0 };
      case 'fs.stat':
        return { r: answerWith(straight(ops.stat(call.path)), (v) => ({ v })), io: 0 };
      case 'fs.remove':
        return { r: answerWith(straight(ops.remove(call.path)), () => ({})), io: 0 };
      case 'fs.make-dir':
        return { r: answerWith(straight(ops.makeDir(call.path)), () => ({})), io: 0 };
      default:
        return undefined;
    }
  }

  return (call, payload) => {
    if (tally.hostCalls + 1 > spec.maxHostCalls) return undefined;
    if (CHANGES.has(call.fn) && !changesHere) return undefined;
    const done = run(call, payload);
    if (!done) return undefined;
    const { r, io } = done;
    if (!r.ok) {
      if (r.denial || r.limit || r.error.tag === 'denied' || r.error.tag === 'limit') return undefined;
      if (measure({ t: 'reply', ok: false, err: r.error }, undefined, bounds).over) return undefined;
      tally.hostCalls += 1;
      tally.ioBytes += io;
      return { ok: false, err: r.error };
    }
    if (tally.ioBytes + io > spec.maxIoBytes) return undefined;
    if (measure({ t: 'reply', ok: true, v: r.value.v }, r.value.payload, bounds).over) return undefined;
    tally.hostCalls += 1;
    tally.ioBytes += io;
    return { ok: true, v: r.value.v, payload: r.value.payload };
  };
}
