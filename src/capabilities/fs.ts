/**
 * The I/O behind the `fs` interface: done only after the fs guard said yes on the *canonical*
 * path, then pinned to what was checked as far as Node allows.
 *
 * ## Roots
 * The manifest's roots are canonicalised once, when the capability is created (realpath). A root
 * that does not exist then (or is not a syntactically valid absolute path, or that the host
 * policy's `allowedRoots` / `deniedPaths` rule out once canonical) is simply not usable: paths
 * under it are denied as outside the roots, and the denial says which roots were unusable.
 * Creating the directory later does not make it usable for this capability instance (a root's
 * meaning must not change under a running skill; create the roots before starting the host).
 * The host's own directories (`protectedPaths`: agentos home, store, cache, host package) are
 * carved out of every root: a root inside one is unusable, and any path inside one is denied
 * (`fs.protected_path`) even under a root that contains it, including what an opened descriptor
 * turns out to be.
 *
 * ## Resolution (what the guard decides on)
 * - Follow ops (read-file, write-file, list-dir, make-dir): `realpath` of the whole path, so
 *   absolute/relative/chained symlinks, `..` after a symlink (kernel semantics: the link's
 *   target's parent) and a trailing slash after a link to a directory all resolve as the kernel
 *   would.
 * - No-follow ops (stat, remove): realpath of the parent + the final name, so the decision is on
 *   the link itself (stat reports `symlink`, remove removes the link, never its target). A
 *   trailing slash, or a final `.` / `..`, means "follow", as in POSIX.
 * - A path that does not exist (yet): the deepest existing ancestor is realpath'd and the rest is
 *   appended. The decision is taken on that candidate first, so a path outside the roots is always
 *   `denied` whether or not it exists (no existence oracle outside the roots). Then:
 *     `..` in the part that does not exist            -> invalid (cannot be resolved)
 *     the first missing component exists per lstat     -> a dangling symlink: its target is read
 *                                                         (readlink, up to 40 hops) and the decision
 *                                                         is on where it would lead; if that is
 *                                                         inside, write-file / make-dir are still
 *                                                         denied (never create through a link),
 *                                                         other ops get not-found
 *     more than one missing component (write-file)     -> not-found (no implicit parents)
 *   make-dir creates every missing component (mkdir -p), one at a time.
 *
 * ## Closing the check-to-use gap
 * After the decision, nothing is done by path again where a descriptor can be used instead:
 * - the canonical target (or its parent directory, for creates/removes/lstat) is opened with
 *   O_NOFOLLOW (a final component swapped for a symlink since the check fails with ELOOP), and
 *   the opened descriptor's real path (`readlink /proc/self/fd/N`) must still be inside a root;
 * - creation, removal and lstat then go through `/proc/self/fd/<dir>/<name>`: the kernel resolves
 *   that relative to the *opened* directory (an openat() emulation), with O_CREAT|O_EXCL|O_NOFOLLOW
 *   for new files, so a dangling symlink planted as the final component can never be followed;
 * - existing files are opened without O_TRUNC and truncated through the verified descriptor, so
 *   a refused write leaves the target untouched; reads and writes use the verified descriptor;
 *   directories are listed through `/proc/self/fd/N`.
 *
 * Residual risk (documented, not closable from Node without openat2/RESOLVE_BENEATH):
 * - between the decision and the open, an *intermediate* directory can be swapped for a symlink
 *   by another local process; the post-open /proc check catches this for the object we open,
 *   but an `open` of an existing file could already have had side effects that O_NONBLOCK does
 *   not prevent (e.g. opening a device or FIFO outside the roots; we never open with O_TRUNC or
 *   O_CREAT by path, so no file outside is created or truncated);
 * - a verified directory can be *renamed* out of the roots by another process after the check
 *   (the skill itself has no rename); what we then create lands in the moved directory;
 * - hard links inside a root to files outside it cannot be told apart from ordinary files;
 * - without /proc (macOS, or /proc not mounted) the post-open check falls back to realpath of
 *   the path, and creation is by path with O_EXCL|O_NOFOLLOW: the intermediate-swap race is open.
 * The skill cannot create symlinks or rename, so exploiting any of these needs a cooperating
 * process on the host.
 *
 * Error messages name only the path as the skill gave it, never canonical paths (which could
 * name places outside the roots) or raw Node error messages.
 *
 * ## Synchronous system calls (on purpose)
 * Every system call here is made synchronously (`fs.*Sync`), on the host's main thread. The
 * methods keep their `Promise<CapResult>` signature but resolve as soon as the call is done.
 * Why this is the right trade here:
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
 * FUSE mount): a stalled server blocks the whole host's event loop for as long as that call
 * takes, where the asynchronous version only stalled thread-pool threads.
 */
import {
  closeSync,
  constants as C,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  opendirSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
  type Dir,
  type Stats,
} from 'node:fs';
import { posix } from 'node:path';
import { checkPathSyntax, decideFs, FsRule, isWithinRoot, type FsDecision, type FsOperation, type FsPolicy } from '../guards/fs-guard.js';
import { checkRootsAgainstPolicy } from '../policy.js';
import { TimeSlice } from './time-slice.js';
import type { CallContext, CapResult, Denial, EntryKind, FsEntry } from './types.js';

export interface FsCapability {
  readFile(path: string, ctx?: CallContext): Promise<CapResult<Uint8Array>>;
  writeFile(path: string, data: Uint8Array, ctx?: CallContext): Promise<CapResult<void>>;
  listDir(path: string, ctx?: CallContext): Promise<CapResult<FsEntry[]>>;
  stat(path: string, ctx?: CallContext): Promise<CapResult<FsEntry>>;
  remove(path: string, ctx?: CallContext): Promise<CapResult<void>>;
  makeDir(path: string, ctx?: CallContext): Promise<CapResult<void>>;
}

export interface FsCapabilityOptions {
  /** Largest file read-file returns / write-file accepts (default 16 MiB). */
  maxFileBytes?: number | undefined;
  /** Most entries one list-dir returns; a directory with more is a `dir_entries` limit (default 10 000). */
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

export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_DIR_ENTRIES = 10_000;
/** Largest single read(2) / write(2): each system call stays well under a time slice. */
const READ_CHUNK = 1024 * 1024;
const WRITE_CHUNK = 256 * 1024;
/** Directory entries the kernel hands over per getdents batch. */
const DIR_BUFFER = 256;

type Fail = Extract<CapResult<never>, { ok: false }>;
type Result<T> = CapResult<T>;

interface Roots {
  usable: string[];
  /** Human notes on roots that could not be used. */
  unusable: string[];
}

type Status = 'exists' | 'missing' | 'dangling' | 'error';
interface Resolved {
  /** Canonical path the guard decides on (lexically normalised where it does not exist). */
  candidate: string;
  status: Status;
  /** Components of `candidate` below its deepest existing ancestor. */
  missing: number;
  /** `..` appeared in the part that does not exist. */
  dotdotAfterMissing: boolean;
  code?: string | undefined;
}

/**
 * realpath(3) through libuv, as `fs.promises.realpath` does (the JS `realpathSync` is a
 * different, component-by-component emulation).
 */
const realpath = (p: string): string => realpathSync.native(p);

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = (tag: 'not-found' | 'invalid' | 'limit' | 'failed', val: string): Fail => ({ ok: false, error: { tag, val } });

const errnoCode = (e: unknown): string => ((e as NodeJS.ErrnoException | null)?.code ?? 'EIO');

/** Map an errno to a guest error that names only the path as given. */
function fromErrno(code: string | undefined, shown: string): Fail {
  const p = JSON.stringify(shown);
  switch (code) {
    case 'ENOENT':
      return fail('not-found', `no such file or directory: ${p}`);
    case 'ENOTDIR':
      return fail('failed', `a component of ${p} is not a directory`);
    case 'EISDIR':
      return fail('failed', `${p} is a directory`);
    case 'ENOTEMPTY':
      return fail('failed', `directory ${p} is not empty (remove is not recursive)`);
    case 'EEXIST':
      return fail('failed', `${p} already exists`);
    case 'EACCES':
    case 'EPERM':
      return fail('failed', `permission denied by the host operating system: ${p}`);
    case 'ELOOP':
      return fail('failed', `too many levels of symbolic links: ${p}`);
    case 'ENAMETOOLONG':
      return fail('invalid', `path too long: ${p}`);
    case 'EMFILE':
    case 'ENFILE':
      return fail('failed', 'too many open files on the host');
    case 'ENOSPC':
    case 'EDQUOT':
      return fail('failed', 'no space left on the host device');
    case 'EROFS':
      return fail('failed', `${p} is on a read-only file system`);
    default:
      return fail('failed', `I/O error (${code ?? 'unknown'}) on ${p}`);
  }
}

function kindOf(st: Stats): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** close(2), ignoring errors (the descriptor is gone either way). */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // ignore
  }
}

/** Scratch byte for the end-of-file probe of readFile (synchronous use only, never escapes). */
const probe = new Uint8Array(1);

export function createFsCapability(policy: FsPolicy, opts: FsCapabilityOptions = {}): FsCapability {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const maxDirEntries = opts.maxDirEntries ?? DEFAULT_MAX_DIR_ENTRIES;
  // Canonicalised once, now: a root that does not exist now is not usable later either.
  let rs: Roots;
  try {
    rs = canonicalRoots(policy.roots, opts);
  } catch {
    rs = { usable: [], unusable: policy.roots.map((r) => `${JSON.stringify(r)} (cannot be resolved)`) };
  }
  const usable = rs.usable;
  const protectedDirs = (opts.protectedPaths ?? []).map((p) => resolveLenient(p).candidate);
  // Also used on what an opened descriptor really is: a protected directory is never "inside".
  const insideRoots = (real: string): boolean =>
    usable.some((root) => isWithinRoot(root, real)) && !protectedDirs.some((p) => isWithinRoot(p, real));

  function denied(op: FsOperation, shown: string, rule: string, reason: string): Fail {
    const denial: Denial = { capability: 'fs', target: shown, operation: op, reason, rule };
    return { ok: false, error: { tag: 'denied', val: reason }, denial };
  }

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
    if (ctx?.signal?.aborted) return fail('failed', 'the invocation was aborted');
    const syntax = checkPathSyntax(path);
    if (syntax) return fail('invalid', syntax.reason);
    const r = follow || followsAnyway(path) ? resolveLenient(path) : resolveParent(path);
    const d = decideFs({ read: policy.read, write: policy.write, roots: usable, protected: protectedDirs }, op, r.candidate, path);
    if (!d.allow) return fromDecision(op, path, d);
    return r;
  }

  interface Pinned {
    fd: number;
    /** Path that reaches the opened object: /proc/self/fd/N, or the canonical path without /proc. */
    via: string;
    /** `via` goes through /proc/self/fd (else: the path-based fallback). */
    proc: boolean;
  }

  /**
   * Open `canonical` with O_NOFOLLOW and verify the descriptor is still inside a root.
   * Returns a Fail (denied when it moved, errno-mapped otherwise); on success the caller closes.
   */
  function openPinned(op: FsOperation, shown: string, canonical: string, flags: number): Fail | Pinned {
    let fd: number;
    try {
      fd = openSync(canonical, flags | C.O_NOFOLLOW);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ELOOP') {
        return denied(op, shown, FsRule.changedDuringCheck, `${JSON.stringify(shown)} was replaced by a symbolic link after it was checked`);
      }
      return fromErrno(code, shown);
    }
    const proc = hasProcFd();
    const via = proc ? `/proc/self/fd/${fd}` : canonical;
    let real: string | null;
    try {
      real = proc ? readlinkSync(via) : realpath(canonical);
    } catch {
      real = null;
    }
    if (real === null || !insideRoots(real)) {
      closeQuietly(fd);
      return denied(op, shown, FsRule.changedDuringCheck, `${JSON.stringify(shown)} moved outside the skill's fs roots while it was being opened`);
    }
    return { fd, via, proc };
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

  const aborted = (): Fail => fail('failed', 'the invocation was aborted');

  // -------------------------------------------------------------------------------------------
  // The operations: synchronous system calls; the long ones (read, write, list-dir, make-dir)
  // yield to the event loop every few ms (TimeSlice), so one call never holds the main thread.

  async function readFileOp(path: string, ctx?: CallContext): Promise<Result<Uint8Array>> {
    const op: FsOperation = 'read-file';
    const r = prepare(op, path, ctx, true);
    if ('ok' in r) return r;
    if (r.status !== 'exists') return statusFail(op, path, r);
    const o = openPinned(op, path, r.candidate, C.O_RDONLY | C.O_NONBLOCK);
    if ('ok' in o) return o;
    try {
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
        if (slice.due() && (await slice.yield(ctx?.signal))) return aborted();
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
    } catch (e) {
      return fromErrno(errnoCode(e), path);
    } finally {
      closeQuietly(o.fd);
    }
  }

  /**
   * Writes all of `data` (at most maxFileBytes, checked by the caller) in WRITE_CHUNK pieces,
   * yielding between slices. Not stopped by an abort: a bounded write finishes rather than leave
   * a half-written file.
   */
  async function writeAll(fd: number, data: Uint8Array): Promise<void> {
    const slice = new TimeSlice();
    let at = 0;
    while (at < data.length) {
      if (slice.due()) await slice.yield();
      at += writeSync(fd, data, at, Math.min(data.length - at, WRITE_CHUNK), null);
    }
  }

  async function writeFileOp(path: string, data: Uint8Array, ctx?: CallContext): Promise<Result<void>> {
    const op: FsOperation = 'write-file';
    const r = prepare(op, path, ctx, true);
    if ('ok' in r) return r;
    if (!(data instanceof Uint8Array)) return fail('invalid', 'data must be bytes');
    if (data.byteLength > maxFileBytes) return tooBig(path);
    if (path.length > 1 && path.endsWith('/')) return fail('invalid', `${JSON.stringify(path)} ends with "/", which names a directory`);

    if (r.status === 'exists') {
      // No O_TRUNC by path: truncate only through the verified descriptor.
      const o = openPinned(op, path, r.candidate, C.O_WRONLY | C.O_NONBLOCK);
      if ('ok' in o) return o;
      try {
        const st = fstatSync(o.fd);
        if (!st.isFile()) return fail('failed', `${JSON.stringify(path)} is not a regular file`);
        ftruncateSync(o.fd, 0);
        await writeAll(o.fd, data);
        return ok(undefined);
      } catch (e) {
        return fromErrno(errnoCode(e), path);
      } finally {
        closeQuietly(o.fd);
      }
    }
    if (r.status !== 'missing' || r.dotdotAfterMissing) return statusFail(op, path, r);
    if (r.missing > 1) return fail('not-found', `the parent directory of ${JSON.stringify(path)} does not exist`);

    const dir = openPinned(op, path, posix.dirname(r.candidate), C.O_RDONLY | C.O_DIRECTORY);
    if ('ok' in dir) return dir;
    let fd: number | undefined;
    try {
      const target = `${dir.via}/${posix.basename(r.candidate)}`;
      fd = openSync(target, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK, 0o644);
      if (!dir.proc) {
        let real: string | null;
        try {
          real = realpath(r.candidate);
        } catch {
          real = null;
        }
        if (real === null || !insideRoots(real)) {
          return denied(op, path, FsRule.changedDuringCheck, `${JSON.stringify(path)} moved outside the skill's fs roots while it was being created`);
        }
      }
      await writeAll(fd, data);
      return ok(undefined);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EEXIST' || code === 'ELOOP') {
        return fail('failed', `${JSON.stringify(path)} appeared while it was being created (changed concurrently)`);
      }
      return fromErrno(code, path);
    } finally {
      if (fd !== undefined) closeQuietly(fd);
      closeQuietly(dir.fd);
    }
  }

  /**
   * Names are counted as they are read: a directory over maxDirEntries is read only that far
   * (a skill can plant hundreds of thousands of entries), and nothing is lstat'd then.
   */
  async function listDirOp(path: string, ctx?: CallContext): Promise<Result<FsEntry[]>> {
    const op: FsOperation = 'list-dir';
    const r = prepare(op, path, ctx, true);
    if ('ok' in r) return r;
    if (r.status !== 'exists') return statusFail(op, path, r);
    const o = openPinned(op, path, r.candidate, C.O_RDONLY | C.O_DIRECTORY | C.O_NONBLOCK);
    if ('ok' in o) return o;
    let dir: Dir | undefined;
    try {
      const slice = new TimeSlice();
      dir = opendirSync(o.via, { bufferSize: DIR_BUFFER });
      const names: string[] = [];
      for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
        if (names.length === maxDirEntries) return tooManyEntries(path);
        names.push(d.name);
        if (slice.due() && (await slice.yield(ctx?.signal))) return aborted();
      }
      const out: FsEntry[] = [];
      const prefix = `${o.via}/`;
      for (const name of names) {
        if (slice.due() && (await slice.yield(ctx?.signal))) return aborted();
        let st: Stats;
        try {
          st = lstatSync(prefix + name);
        } catch {
          continue; // vanished between readdir and lstat
        }
        out.push({ name, kind: kindOf(st), size: st.size });
      }
      out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return ok(out);
    } catch (e) {
      return fromErrno(errnoCode(e), path);
    } finally {
      try {
        dir?.closeSync();
      } catch {
        // already closed
      }
      closeQuietly(o.fd);
    }
  }

  function statOp(path: string, ctx?: CallContext): Result<FsEntry> {
    const op: FsOperation = 'stat';
    const r = prepare(op, path, ctx, false);
    if ('ok' in r) return r;
    if (r.status !== 'exists') return statusFail(op, path, r);
    const name = r.candidate === '/' ? '/' : posix.basename(r.candidate);
    const parent = posix.dirname(r.candidate);
    try {
      if (r.candidate === '/' || !insideRoots(parent)) {
        // The target is a root itself: its parent is outside, open the root (never a symlink).
        const o = openPinned(op, path, r.candidate, C.O_RDONLY | C.O_NONBLOCK);
        if ('ok' in o) return o;
        try {
          const st = fstatSync(o.fd);
          return ok({ name, kind: kindOf(st), size: st.size });
        } finally {
          closeQuietly(o.fd);
        }
      }
      const dir = openPinned(op, path, parent, C.O_RDONLY | C.O_DIRECTORY);
      if ('ok' in dir) return dir;
      try {
        const st = lstatSync(`${dir.via}/${name}`);
        return ok({ name, kind: kindOf(st), size: st.size });
      } finally {
        closeQuietly(dir.fd);
      }
    } catch (e) {
      return fromErrno(errnoCode(e), path);
    }
  }

  function removeOp(path: string, ctx?: CallContext): Result<void> {
    const op: FsOperation = 'remove';
    const r = prepare(op, path, ctx, false);
    if ('ok' in r) return r;
    if (r.status !== 'exists') return statusFail(op, path, r);
    // decideFs refused removing a root, so the parent is a root or inside one.
    const dir = openPinned(op, path, posix.dirname(r.candidate), C.O_RDONLY | C.O_DIRECTORY);
    if ('ok' in dir) return dir;
    try {
      const target = `${dir.via}/${posix.basename(r.candidate)}`;
      const st = lstatSync(target);
      if (st.isDirectory()) rmdirSync(target);
      else unlinkSync(target);
      return ok(undefined);
    } catch (e) {
      return fromErrno(errnoCode(e), path);
    } finally {
      closeQuietly(dir.fd);
    }
  }

  /** One component at a time (up to ~2000 in a 4096-byte path), yielding between slices. */
  async function makeDirOp(path: string, ctx?: CallContext): Promise<Result<void>> {
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
      if (slice.due()) await slice.yield();
      const dir = openPinned(op, path, current, C.O_RDONLY | C.O_DIRECTORY);
      if ('ok' in dir) return dir;
      try {
        const target = `${dir.via}/${comp}`;
        try {
          mkdirSync(target, 0o755);
        } catch (e) {
          if (errnoCode(e) !== 'EEXIST') throw e;
          const st = lstatSync(target);
          if (!st.isDirectory()) return fail('failed', `a component of ${JSON.stringify(path)} exists and is not a directory`);
        }
      } catch (e) {
        return fromErrno(errnoCode(e), path);
      } finally {
        closeQuietly(dir.fd);
      }
      current = current === '/' ? `/${comp}` : `${current}/${comp}`;
    }
    return ok(undefined);
  }

  // `async` keeps the contract of the asynchronous version: an unexpected throw becomes a
  // rejected promise, never a synchronous exception in the caller.
  return {
    readFile: async (path, ctx) => readFileOp(path, ctx),
    writeFile: async (path, data, ctx) => writeFileOp(path, data, ctx),
    listDir: async (path, ctx) => listDirOp(path, ctx),
    stat: async (path, ctx) => statOp(path, ctx),
    remove: async (path, ctx) => removeOp(path, ctx),
    makeDir: async (path, ctx) => makeDirOp(path, ctx),
  };
}

// ---------------------------------------------------------------------------------------------
// resolution helpers (I/O, no decisions)

/** A trailing slash or a final `.`/`..` makes even stat/remove follow the final component. */
function followsAnyway(path: string): boolean {
  if (path === '/' || path.endsWith('/')) return true;
  const base = posix.basename(path);
  return base === '.' || base === '..';
}

/** Symlinks followed while resolving a dangling link (Linux MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;

/**
 * realpath as far as the path exists, then the rest appended (normalised lexically: only used
 * for the decision when `..` follows a missing component; such a path is never acted on).
 * A dangling symlink is followed (readlink) to where it *would* lead, so the decision is taken
 * on its target: a dangling link pointing outside the roots is denied, not not-found.
 */
function resolveLenient(path: string, hops = 0): Resolved {
  let firstCode: string;
  try {
    return { candidate: realpath(path), status: 'exists', missing: 0, dotdotAfterMissing: false };
  } catch (e) {
    firstCode = errnoCode(e);
  }
  const comps = path.split('/').filter((c) => c !== '');
  const n = comps.length;
  const tryPrefix = (j: number): string | null => {
    try {
      return realpath(`/${comps.slice(0, j).join('/')}`);
    } catch {
      return null;
    }
  };
  // The deepest prefix that resolves. The kernel resolves a path component by component, so if a
  // prefix fails every longer one fails too.
  let j = -1;
  let base: string | null = null;
  if (n > 0) {
    // The usual case first (a new file in an existing directory): the parent resolves. The whole
    // path failed above; its n-component prefix can differ from it only by a trailing slash (or
    // doubled slashes), so it is tried again only then.
    base = tryPrefix(n - 1);
    if (base !== null) {
      j = n - 1;
      if (`/${comps.join('/')}` !== path) {
        const full = tryPrefix(n);
        if (full !== null) {
          base = full;
          j = n;
        }
      }
    }
  }
  if (j < 0) {
    // Binary search below the parent (a guest may send ~2000 components).
    j = 0;
    base = tryPrefix(0);
    if (base !== null) {
      let lo = 0;
      let hi = Math.max(0, n - 2);
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        const got = tryPrefix(mid);
        if (got !== null) {
          lo = mid;
          base = got;
        } else {
          hi = mid - 1;
        }
      }
      j = lo;
    }
  }
  if (base !== null) {
    const rest = comps.slice(j);
    const candidate = posix.normalize(posix.join(base, ...rest));
    const clean = candidate.length > 1 && candidate.endsWith('/') ? candidate.slice(0, -1) : candidate;
    const dotdotAfterMissing = rest.includes('..');
    const missing = rest.filter((c) => c !== '.' && c !== '..').length;
    const result = (status: Status, code?: string): Resolved => ({ candidate: clean, status, code, missing, dotdotAfterMissing });
    if (firstCode !== 'ENOENT') return result('error', firstCode);
    // realpath said ENOENT: is the first missing component really absent, or a dangling symlink?
    const first = rest.find((c) => c !== '.');
    if (first === undefined || first === '..') return result('error', firstCode);
    // readlink(2) answers both questions: ENOENT = absent, EINVAL = not a symlink.
    let target: string;
    try {
      target = readlinkSync(posix.join(base, first));
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT') return result('missing');
      return result('error', code === 'EINVAL' ? 'EAGAIN' : code); // EINVAL: appeared meanwhile
    }
    if (hops >= MAX_LINK_HOPS) return result('error', 'ELOOP');
    const after = rest.slice(rest.indexOf(first) + 1);
    const next = `${target.startsWith('/') ? target : `${base}/${target}`}${after.length ? `/${after.join('/')}` : ''}`;
    const followed = resolveLenient(next, hops + 1);
    // Whatever the target turned out to be, the path goes through a dangling link.
    return { ...followed, status: followed.status === 'error' ? 'error' : 'dangling' };
  }
  // realpath('/') failed: nothing sensible to decide on.
  return { candidate: posix.normalize(path), status: 'error', code: firstCode, missing: 0, dotdotAfterMissing: false };
}

/** Resolve the parent fully and append the final name unresolved (lstat semantics). */
function resolveParent(path: string): Resolved {
  const name = posix.basename(path);
  const parent = resolveLenient(posix.dirname(path));
  const candidate = parent.candidate === '/' ? `/${name}` : `${parent.candidate}/${name}`;
  return { ...parent, candidate, missing: parent.status === 'exists' ? 0 : parent.missing + 1 };
}

function canonicalRoots(roots: readonly string[], opts: FsCapabilityOptions): Roots {
  const usable: string[] = [];
  const unusable: string[] = [];
  const canonList = (list: string[] | undefined): string[] | undefined => list?.map((p) => resolveLenient(p).candidate);
  const allowedRoots = canonList(opts.allowedRoots);
  const deniedPaths = canonList(opts.deniedPaths);
  const protectedDirs = canonList(opts.protectedPaths ? [...opts.protectedPaths] : undefined) ?? [];
  for (const root of roots) {
    const q = JSON.stringify(root);
    if (checkPathSyntax(root)) {
      unusable.push(`${q} (not a valid absolute path)`);
      continue;
    }
    let real: string;
    try {
      real = realpath(root);
    } catch (e) {
      unusable.push(`${q} (${errnoCode(e) === 'ENOENT' ? 'does not exist' : 'cannot be resolved'})`);
      continue;
    }
    if (protectedDirs.some((p) => isWithinRoot(p, real))) {
      unusable.push(`${q} (inside a directory the host keeps for itself)`);
      continue;
    }
    if (allowedRoots || deniedPaths) {
      const problems = checkRootsAgainstPolicy([real], { allowedRoots, deniedPaths: deniedPaths ?? [] }, () => 'resolved root');
      if (problems.length > 0) {
        unusable.push(`${q} (resolves to a path the host policy does not allow)`);
        continue;
      }
    }
    if (!usable.includes(real)) usable.push(real);
  }
  return { usable, unusable };
}

/** Does `readlink /proc/self/fd/N` name what N is open on? Cached for the process once known. */
let procFd: boolean | undefined;
/** Errors that say nothing about /proc: probe again on the next call rather than cache "no". */
const TRANSIENT = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EINTR']);
function hasProcFd(): boolean {
  if (procFd !== undefined) return procFd;
  let fd: number | undefined;
  let answer = false;
  let conclusive = true;
  try {
    fd = openSync('/', C.O_RDONLY | C.O_DIRECTORY);
    answer = readlinkSync(`/proc/self/fd/${fd}`) === '/';
  } catch (e) {
    conclusive = !TRANSIENT.has(errnoCode(e));
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
  if (conclusive) procFd = answer;
  return answer;
}
