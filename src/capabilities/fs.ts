/**
 * The fs capability: the six operations behind the `fs` interface. Three layers, each in its
 * own file:
 * - decision: the fs guard (guards/fs-guard.ts), pure, on the *canonical* path;
 * - resolution: which canonical path that is, and the canonical roots (fs-paths.ts);
 * - action: only after the guard said yes, on a descriptor pinned to what was checked
 *   (fs-pinned.ts `withPinned`); errno -> guest error in fs-errors.ts.
 * This file strings them together per operation and bounds what one call may cost.
 *
 * ## Synchronous system calls (on purpose)
 * Every system call here is made synchronously (`fs.*Sync`). An allowed call is served in the
 * skill's own worker thread (fs-local.ts runs these same operations there, straight through);
 * the host's main thread runs them for the calls the worker hands over (denials, limits) and for
 * direct users of `createFsCapability`, whose methods keep their `Promise<CapResult>` signature
 * but resolve as soon as the call is done. Why this is the right trade:
 * - a host call is served while the guest's worker thread is blocked waiting for the answer, so
 *   only latency matters. As `fs/promises` calls, one read was a chain of ~7 hops through libuv's
 *   thread pool (0.2-1.2 ms, more under load, and the pool is shared with DNS and zlib); the same
 *   system calls made synchronously take tens of microseconds (BENCHMARKS.md);
 * - sizes are bounded: a single read or write is at most `maxFileBytes` (16 MiB by default), a
 *   write is refused before any I/O when the data is larger, and a read stops at the limit;
 * - the roots are local directories chosen by the operator.
 * The cost: the event loop is blocked while a system call runs (all other skills' host calls,
 * timers and the MCP/CLI front end wait meanwhile). The operations that make many calls or move
 * many bytes are bounded and sliced so one host call never holds the loop for more than a few
 * ms (measured here without slicing: list-dir of 200k entries ~1.4 s, make-dir of 1000
 * components 0.1-0.3 s, a 16 MiB write 5-96 ms): reads and writes go in 1 MiB / 256 KiB system
 * calls, list-dir reads at most `maxDirEntries` + 1 names and lstats them, make-dir creates one
 * component at a time, each yielding to the event loop every SLICE_MS (time-slice.ts). One
 * system call is not divided: on a healthy local disk that is microseconds (under heavy load
 * here, an ext4 mkdir reached ~10 ms).
 * Operators: do not put a root on a slow or unreliable network filesystem (NFS, SMB, sshfs, any
 * FUSE mount): a stalled server blocks the skill's worker (allowed calls) or the host's event
 * loop (a denial the host re-checks) for as long as that call takes.
 */
import {
  constants as C,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  opendirSync,
  openSync,
  readSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
  type Dir,
  type Stats,
} from 'node:fs';
import { posix } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { checkPathSyntax, decideFs, FsRule, type FsDecision, type FsOperation, type FsPolicy } from '../guards/fs-guard.js';
import { DEFAULT_INVOKER_LIMITS } from '../limits.js';
import { denied, fail, fromErrno, ok, type Fail } from './fs-errors.js';
import { canonicalRoots, errnoCode, realpath, resolveFor, rootsFrom, type Resolved, type RootsData } from './fs-paths.js';
import { closeQuietly, withPinned, type Pinned, type Steps } from './fs-pinned.js';
import { TimeSlice } from './time-slice.js';
import type { CallContext, CapResult, EntryKind, FsEntry } from './types.js';

export interface FsCapability {
  /** What it decides against (the skill's worker serves allowed calls from the same: fs-local.ts). */
  readonly settings: FsSettings;
  readFile(path: string, ctx?: CallContext): Promise<CapResult<Uint8Array>>;
  writeFile(path: string, data: Uint8Array, ctx?: CallContext): Promise<CapResult<void>>;
  listDir(path: string, ctx?: CallContext): Promise<CapResult<FsEntry[]>>;
  stat(path: string, ctx?: CallContext): Promise<CapResult<FsEntry>>;
  remove(path: string, ctx?: CallContext): Promise<CapResult<void>>;
  makeDir(path: string, ctx?: CallContext): Promise<CapResult<void>>;
}

export interface FsCapabilityOptions {
  /** Largest file read-file returns / write-file accepts (default: DEFAULT_INVOKER_LIMITS.maxFileBytes, 16 MiB). */
  maxFileBytes?: number | undefined;
  /** Most entries one list-dir returns; a directory with more is a `dir_entries` limit (default: DEFAULT_INVOKER_LIMITS.maxDirEntries, 10 000). */
  maxDirEntries?: number | undefined;
  /** The host policy's allowedRoots / deniedPaths, re-checked on the canonical roots. */
  allowedRoots?: string[] | undefined;
  deniedPaths?: string[] | undefined;
  /**
   * Directories the host keeps for itself (registry.protectedPaths): a root inside one is not
   * usable, and every path inside one is denied even under a root that contains it.
   */
  protectedPaths?: readonly string[] | undefined;
}

/** Largest single read(2) / write(2): each system call stays well under a time slice. */
const READ_CHUNK = 1024 * 1024;
const WRITE_CHUNK = 256 * 1024;
/** Directory entries the kernel hands over per getdents batch. */
const DIR_BUFFER = 256;

type Result<T> = CapResult<T>;

function kindOf(st: Stats): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

const entry = (name: string, st: Stats): FsEntry => ({ name, kind: kindOf(st), size: st.size });

/** Scratch byte for the end-of-file probe of readFile (synchronous use only, never escapes). */
const probe = new Uint8Array(1);

const aborted = (): Fail => fail('failed', 'the invocation was aborted');

/**
 * A turn for the event loop when `slice` is used up (the driver decides what a turn is); true
 * if the invocation was aborted meanwhile.
 */
function* turnIfDue(slice: TimeSlice): Steps<boolean> {
  if (!slice.due()) return false;
  const abortedMeanwhile = yield;
  slice.restart();
  return abortedMeanwhile;
}

/**
 * Writes all of `data` (at most maxFileBytes, checked by the caller) in WRITE_CHUNK pieces,
 * yielding between slices. Not stopped by an abort: a bounded write finishes rather than leave
 * a half-written file.
 */
function* writeAll(fd: number, data: Uint8Array): Steps<void> {
  const slice = new TimeSlice();
  let at = 0;
  while (at < data.length) {
    yield* turnIfDue(slice);
    at += writeSync(fd, data, at, Math.min(data.length - at, WRITE_CHUNK), null);
  }
}

/**
 * Everything one fs capability decides against, fixed when it is made: plain data, so the skill's
 * worker can serve allowed calls from the very same settings (fs-local.ts).
 */
export interface FsSettings {
  read: boolean;
  write: boolean;
  roots: RootsData;
  maxFileBytes: number;
  maxDirEntries: number;
}

/** The settings of a capability for `policy`: the roots canonicalised now (a root that does not exist now is not usable later either). */
export function fsSettings(policy: FsPolicy, opts: FsCapabilityOptions = {}): FsSettings {
  const { usable, unusable, protected: protectedDirs } = canonicalRoots(policy.roots, opts);
  return {
    read: policy.read,
    write: policy.write,
    roots: { usable, unusable, protected: protectedDirs },
    maxFileBytes: opts.maxFileBytes ?? DEFAULT_INVOKER_LIMITS.maxFileBytes,
    maxDirEntries: opts.maxDirEntries ?? DEFAULT_INVOKER_LIMITS.maxDirEntries,
  };
}

/** The six operations as steps (see `Steps`): run by `createFsCapability` here and by fs-local.ts in a worker. */
export interface FsOperations {
  readFile(path: string, ctx?: CallContext): Steps<Result<Uint8Array>>;
  writeFile(path: string, data: Uint8Array, ctx?: CallContext): Steps<Result<void>>;
  listDir(path: string, ctx?: CallContext): Steps<Result<FsEntry[]>>;
  stat(path: string, ctx?: CallContext): Steps<Result<FsEntry>>;
  remove(path: string, ctx?: CallContext): Steps<Result<void>>;
  makeDir(path: string, ctx?: CallContext): Steps<Result<void>>;
}

export function fsOperations(settings: FsSettings): FsOperations {
  const { maxFileBytes, maxDirEntries } = settings;
  const rs = rootsFrom(settings.roots);
  const guardPolicy: FsPolicy = { read: settings.read, write: settings.write, roots: rs.usable, protected: rs.protected };

  function fromDecision(op: FsOperation, shown: string, d: Extract<FsDecision, { allow: false }>): Fail {
    if (d.kind === 'invalid') return fail('invalid', d.reason);
    let reason = d.reason;
    if ((d.rule === FsRule.outsideRoots || d.rule === FsRule.noRoots) && rs.unusable.length > 0) {
      reason += `; unusable roots: ${rs.unusable.join(', ')}`;
    }
    return denied(op, shown, d.rule, reason);
  }

  /** Syntax, abort, resolution and the decision. */
  function prepare(op: FsOperation, path: string, ctx: CallContext | undefined, follow: boolean): Fail | Resolved {
    if (ctx?.signal?.aborted) return aborted();
    const syntax = checkPathSyntax(path);
    if (syntax) return fail('invalid', syntax.reason);
    const r = resolveFor(path, follow);
    const d = decideFs(guardPolicy, op, r.candidate, path);
    if (!d.allow) return fromDecision(op, path, d);
    return r;
  }

  function statusFail(op: FsOperation, shown: string, r: Resolved): Fail {
    if (r.status === 'error') return fromErrno(r.code, shown);
    if (r.dotdotAfterMissing) {
      return fail('invalid', `${JSON.stringify(shown)} uses ".." after a component that does not exist`);
    }
    if (r.status === 'dangling' && (op === 'write-file' || op === 'make-dir')) {
      return denied(
        op,
        shown,
        FsRule.danglingSymlink,
        `${JSON.stringify(shown)} goes through a symbolic link whose target does not exist; refusing to create through it`,
      );
    }
    return fromErrno('ENOENT', shown);
  }

  function tooBig(path: string): Fail {
    const message = `${JSON.stringify(path)} is larger than the ${maxFileBytes}-byte file limit`;
    return { ok: false, error: { tag: 'limit', val: message }, limit: { limit: 'io_bytes', max: maxFileBytes, message } };
  }

  function tooManyEntries(path: string): Fail {
    const message = `${JSON.stringify(path)} has more than ${maxDirEntries} entries, the list-dir limit`;
    return { ok: false, error: { tag: 'limit', val: message }, limit: { limit: 'dir_entries', max: maxDirEntries, message } };
  }

  // -------------------------------------------------------------------------------------------
  // The operations: synchronous system calls on pinned descriptors; the long ones (read, write,
  // list-dir, make-dir) yield to the event loop every few ms (TimeSlice), so one call never holds
  // the main thread.

  function* readFileOp(path: string, ctx?: CallContext): Steps<Result<Uint8Array>> {
    const op: FsOperation = 'read-file';
    const r = prepare(op, path, ctx, true);
    if ('ok' in r) return r;
    if (r.status !== 'exists') return statusFail(op, path, r);
    return yield* withPinned(rs, op, path, r.candidate, C.O_RDONLY | C.O_NONBLOCK, function* (o) {
      const st = fstatSync(o.fd);
      if (st.isDirectory()) return fromErrno('EISDIR', path);
      if (!st.isFile()) return fail('failed', `${JSON.stringify(path)} is not a regular file`);
      if (st.size > maxFileBytes) return tooBig(path);
      // Sized by fstat (exact in the usual case, so the result is not copied); every read is at
      // most maxFileBytes. A one-byte probe sees end of file, or that the file grew meanwhile.
      let buf = new Uint8Array(st.size);
      let total = 0;
      const slice = new TimeSlice();
      for (;;) {
        if (yield* turnIfDue(slice)) return aborted();
        if (total < buf.length) {
          const n = readSync(o.fd, buf, total, Math.min(buf.length - total, READ_CHUNK), null);
          if (n === 0) break;
          total += n;
          continue;
        }
        if (readSync(o.fd, probe, 0, 1, null) === 0) break;
        if (total + 1 > maxFileBytes) return tooBig(path);
        const grown = new Uint8Array(Math.min(Math.max(2 * buf.length, 64 * 1024), maxFileBytes));
        grown.set(buf);
        grown[total] = probe[0]!;
        total += 1;
        buf = grown;
      }
      return ok(total === buf.length ? buf : buf.slice(0, total));
    });
  }

  function* writeFileOp(path: string, data: Uint8Array, ctx?: CallContext): Steps<Result<void>> {
    const op: FsOperation = 'write-file';
    const r = prepare(op, path, ctx, true);
    if ('ok' in r) return r;
    if (!(data instanceof Uint8Array)) return fail('invalid', 'data must be bytes');
    if (data.byteLength > maxFileBytes) return tooBig(path);
    if (path.length > 1 && path.endsWith('/')) return fail('invalid', `${JSON.stringify(path)} ends with "/", which names a directory`);

    if (r.status === 'exists') {
      // No O_TRUNC by path: truncate only through the verified descriptor.
      return yield* withPinned(rs, op, path, r.candidate, C.O_WRONLY | C.O_NONBLOCK, function* (o) {
        const st = fstatSync(o.fd);
        if (!st.isFile()) return fail('failed', `${JSON.stringify(path)} is not a regular file`);
        ftruncateSync(o.fd, 0);
        yield* writeAll(o.fd, data);
        return ok(undefined);
      });
    }
    if (r.status !== 'missing' || r.dotdotAfterMissing) return statusFail(op, path, r);
    if (r.missing > 1) return fail('not-found', `the parent directory of ${JSON.stringify(path)} does not exist`);

    const created = function* (dir: Pinned): Steps<Result<void>> {
      let fd: number | undefined;
      try {
        fd = openSync(`${dir.via}/${posix.basename(r.candidate)}`, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK, 0o644);
        if (!dir.proc) {
          let real: string | null;
          try {
            real = realpath(r.candidate);
          } catch {
            real = null;
          }
          if (real === null || !rs.contains(real)) {
            return denied(op, path, FsRule.changedDuringCheck, `${JSON.stringify(path)} moved outside the skill's fs roots while it was being created`);
          }
        }
        yield* writeAll(fd, data);
        return ok(undefined);
      } finally {
        if (fd !== undefined) closeQuietly(fd);
      }
    };
    return yield* withPinned(rs, op, path, posix.dirname(r.candidate), C.O_RDONLY | C.O_DIRECTORY, created, (code) =>
      code === 'EEXIST' || code === 'ELOOP'
        ? fail('failed', `${JSON.stringify(path)} appeared while it was being created (changed concurrently)`)
        : fromErrno(code, path),
    );
  }

  /**
   * Names are counted as they are read: a directory over maxDirEntries is read only that far
   * (a skill can plant hundreds of thousands of entries), and nothing is lstat'd then.
   */
  function* listDirOp(path: string, ctx?: CallContext): Steps<Result<FsEntry[]>> {
    const op: FsOperation = 'list-dir';
    const r = prepare(op, path, ctx, true);
    if ('ok' in r) return r;
    if (r.status !== 'exists') return statusFail(op, path, r);
    return yield* withPinned(rs, op, path, r.candidate, C.O_RDONLY | C.O_DIRECTORY | C.O_NONBLOCK, function* (o) {
      let dir: Dir | undefined;
      try {
        const slice = new TimeSlice();
        dir = opendirSync(o.via, { bufferSize: DIR_BUFFER });
        const names: string[] = [];
        for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
          if (names.length === maxDirEntries) return tooManyEntries(path);
          names.push(d.name);
          if (yield* turnIfDue(slice)) return aborted();
        }
        const out: FsEntry[] = [];
        const prefix = `${o.via}/`;
        for (const name of names) {
          if (yield* turnIfDue(slice)) return aborted();
          let st: Stats;
          try {
            st = lstatSync(prefix + name);
          } catch {
            continue; // vanished between readdir and lstat
          }
          out.push(entry(name, st));
        }
        out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        return ok(out);
      } finally {
        try {
          dir?.closeSync();
        } catch {
          // already closed
        }
      }
    });
  }

  function* statOp(path: string, ctx?: CallContext): Steps<Result<FsEntry>> {
    const op: FsOperation = 'stat';
    const r = prepare(op, path, ctx, false);
    if ('ok' in r) return r;
    if (r.status !== 'exists') return statusFail(op, path, r);
    const name = r.candidate === '/' ? '/' : posix.basename(r.candidate);
    const parent = posix.dirname(r.candidate);
    if (r.candidate === '/' || !rs.contains(parent)) {
      // The target is a root itself: its parent is outside, open the root (never a symlink).
      return yield* withPinned(rs, op, path, r.candidate, C.O_RDONLY | C.O_NONBLOCK, (o) => ok(entry(name, fstatSync(o.fd))));
    }
    return yield* withPinned(rs, op, path, parent, C.O_RDONLY | C.O_DIRECTORY, (dir) => ok(entry(name, lstatSync(`${dir.via}/${name}`))));
  }

  function* removeOp(path: string, ctx?: CallContext): Steps<Result<void>> {
    const op: FsOperation = 'remove';
    const r = prepare(op, path, ctx, false);
    if ('ok' in r) return r;
    if (r.status !== 'exists') return statusFail(op, path, r);
    // decideFs refused removing a root, so the parent is a root or inside one.
    return yield* withPinned(rs, op, path, posix.dirname(r.candidate), C.O_RDONLY | C.O_DIRECTORY, (dir) => {
      const target = `${dir.via}/${posix.basename(r.candidate)}`;
      if (lstatSync(target).isDirectory()) rmdirSync(target);
      else unlinkSync(target);
      return ok(undefined);
    });
  }

  /** One component at a time (up to ~2000 in a 4096-byte path), yielding between slices. */
  function* makeDirOp(path: string, ctx?: CallContext): Steps<Result<void>> {
    const op: FsOperation = 'make-dir';
    const r = prepare(op, path, ctx, true);
    if ('ok' in r) return r;
    if (r.status === 'exists') {
      try {
        const st = statSync(r.candidate);
        return st.isDirectory() ? ok(undefined) : fail('failed', `${JSON.stringify(path)} exists and is not a directory`);
      } catch (e) {
        return fromErrno(errnoCode(e), path);
      }
    }
    if (r.status !== 'missing' || r.dotdotAfterMissing) return statusFail(op, path, r);

    const parts = r.candidate.split('/').filter((c) => c !== '');
    const rest = parts.slice(parts.length - r.missing);
    let current = `/${parts.slice(0, parts.length - r.missing).join('/')}`;
    const slice = new TimeSlice();
    for (const comp of rest) {
      yield* turnIfDue(slice);
      const made = yield* withPinned(rs, op, path, current, C.O_RDONLY | C.O_DIRECTORY, (dir): Result<void> => {
        const target = `${dir.via}/${comp}`;
        try {
          mkdirSync(target, 0o755);
        } catch (e) {
          if (errnoCode(e) !== 'EEXIST') throw e;
          if (!lstatSync(target).isDirectory()) return fail('failed', `a component of ${JSON.stringify(path)} exists and is not a directory`);
        }
        return ok(undefined);
      });
      if (!made.ok) return made;
      current = current === '/' ? `/${comp}` : `${current}/${comp}`;
    }
    return ok(undefined);
  }

  return { readFile: readFileOp, writeFile: writeFileOp, listDir: listDirOp, stat: statOp, remove: removeOp, makeDir: makeDirOp };
}

/**
 * Runs `steps` on the main thread: each yield gives the event loop a turn (setImmediate) and
 * resumes with whether `signal` aborted meanwhile. `async`: an unexpected throw becomes a
 * rejected promise, never a synchronous exception in the caller.
 */
async function onEventLoop<T>(steps: Steps<T>, signal: AbortSignal | undefined): Promise<T> {
  let r = steps.next();
  while (!r.done) {
    await nextTurn();
    r = steps.next(signal?.aborted ?? false);
  }
  return r.value;
}

export function createFsCapability(policy: FsPolicy, opts: FsCapabilityOptions = {}): FsCapability {
  const settings = fsSettings(policy, opts);
  const ops = fsOperations(settings);
  return {
    settings,
    readFile: (path, ctx) => onEventLoop(ops.readFile(path, ctx), ctx?.signal),
    writeFile: (path, data, ctx) => onEventLoop(ops.writeFile(path, data, ctx), ctx?.signal),
    listDir: (path, ctx) => onEventLoop(ops.listDir(path, ctx), ctx?.signal),
    stat: (path, ctx) => onEventLoop(ops.stat(path, ctx), ctx?.signal),
    remove: (path, ctx) => onEventLoop(ops.remove(path, ctx), ctx?.signal),
    makeDir: (path, ctx) => onEventLoop(ops.makeDir(path, ctx), ctx?.signal),
  };
}
