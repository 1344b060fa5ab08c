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
 */
import { constants as C, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { checkPathSyntax, decideFs, FsRule, isWithinRoot, type FsDecision, type FsOperation, type FsPolicy } from '../guards/fs-guard.js';
import { checkRootsAgainstPolicy } from '../policy.js';
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
  /** The host policy's allowedRoots / deniedPaths, re-checked on the canonical roots. */
  allowedRoots?: string[] | undefined;
  deniedPaths?: string[] | undefined;
}

export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;

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

export function createFsCapability(policy: FsPolicy, opts: FsCapabilityOptions = {}): FsCapability {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  // Canonicalised once, starting now: a root that does not exist now is not usable later either.
  const rootsP: Promise<Roots> = canonicalRoots(policy.roots, opts).catch(() => ({
    usable: [],
    unusable: policy.roots.map((r) => `${JSON.stringify(r)} (cannot be resolved)`),
  }));
  let procP: Promise<boolean> | undefined;

  const roots = (): Promise<Roots> => rootsP;
  const procFd = (): Promise<boolean> => (procP ??= detectProcFd());

  function denied(op: FsOperation, shown: string, rule: string, reason: string): Fail {
    const denial: Denial = { capability: 'fs', target: shown, operation: op, reason, rule };
    return { ok: false, error: { tag: 'denied', val: reason }, denial };
  }

  function fromDecision(op: FsOperation, shown: string, d: Extract<FsDecision, { allow: false }>, r: Roots): Fail {
    if (d.kind === 'invalid') return fail('invalid', d.reason);
    let reason = d.reason;
    if ((d.rule === FsRule.outsideRoots || d.rule === FsRule.noRoots) && r.unusable.length > 0) {
      reason += `; unusable roots: ${r.unusable.join(', ')}`;
    }
    return denied(op, shown, d.rule, reason);
  }

  /** Syntax, abort, roots, resolution and the decision. */
  async function prepare(
    op: FsOperation,
    path: string,
    ctx: CallContext | undefined,
    follow: boolean,
  ): Promise<Fail | { r: Resolved; roots: Roots }> {
    if (ctx?.signal?.aborted) return fail('failed', 'the invocation was aborted');
    const syntax = checkPathSyntax(path);
    if (syntax) return fail('invalid', syntax.reason);
    const rs = await roots();
    const r = follow || followsAnyway(path) ? await resolveLenient(path) : await resolveParent(path);
    const d = decideFs({ read: policy.read, write: policy.write, roots: rs.usable }, op, r.candidate, path);
    if (!d.allow) return fromDecision(op, path, d, rs);
    return { r, roots: rs };
  }

  interface Pinned {
    fh: FileHandle;
    /** Path that reaches the opened object: /proc/self/fd/N, or the canonical path without /proc. */
    via: string;
  }

  /**
   * Open `canonical` with O_NOFOLLOW and verify the descriptor is still inside a root.
   * Returns a Fail (denied when it moved, errno-mapped otherwise).
   */
  async function openPinned(op: FsOperation, shown: string, canonical: string, flags: number, rs: Roots): Promise<Fail | Pinned> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(canonical, flags | C.O_NOFOLLOW);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ELOOP') {
        return denied(op, shown, FsRule.changedDuringCheck, `${JSON.stringify(shown)} was replaced by a symbolic link after it was checked`);
      }
      return fromErrno(code, shown);
    }
    let real: string | null = null;
    const proc = await procFd();
    try {
      real = proc ? await fsp.readlink(`/proc/self/fd/${fh.fd}`) : await fsp.realpath(canonical);
    } catch {
      real = null;
    }
    if (real === null || !rs.usable.some((root) => isWithinRoot(root, real!))) {
      await fh.close().catch(() => {});
      return denied(op, shown, FsRule.changedDuringCheck, `${JSON.stringify(shown)} moved outside the skill's fs roots while it was being opened`);
    }
    return { fh, via: proc ? `/proc/self/fd/${fh.fd}` : canonical };
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

  // -------------------------------------------------------------------------------------------

  async function readFile(path: string, ctx?: CallContext): Promise<Result<Uint8Array>> {
    const op: FsOperation = 'read-file';
    const p = await prepare(op, path, ctx, true);
    if ('ok' in p) return p;
    const { r, roots: rs } = p;
    if (r.status !== 'exists') return statusFail(op, path, r);
    const o = await openPinned(op, path, r.candidate, C.O_RDONLY | C.O_NONBLOCK, rs);
    if ('ok' in o) return o;
    try {
      const st = await o.fh.stat();
      if (st.isDirectory()) return fromErrno('EISDIR', path);
      if (!st.isFile()) return fail('failed', `${JSON.stringify(path)} is not a regular file`);
      if (st.size > maxFileBytes) return tooBig(path);
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const buf = new Uint8Array(Math.min(64 * 1024, maxFileBytes + 1 - total));
        const { bytesRead } = await o.fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (total > maxFileBytes) return tooBig(path);
        chunks.push(buf.subarray(0, bytesRead));
      }
      const out = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return ok(out);
    } catch (e) {
      return fromErrno(errnoCode(e), path);
    } finally {
      await o.fh.close().catch(() => {});
    }
  }

  function tooBig(path: string): Fail {
    const message = `${JSON.stringify(path)} is larger than the ${maxFileBytes}-byte file limit`;
    return { ok: false, error: { tag: 'limit', val: message }, limit: { limit: 'io_bytes', max: maxFileBytes, message } };
  }

  async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
    let at = 0;
    while (at < data.length) {
      const { bytesWritten } = await fh.write(data, at, data.length - at, null);
      at += bytesWritten;
    }
  }

  async function writeFile(path: string, data: Uint8Array, ctx?: CallContext): Promise<Result<void>> {
    const op: FsOperation = 'write-file';
    const p = await prepare(op, path, ctx, true);
    if ('ok' in p) return p;
    const { r, roots: rs } = p;
    if (!(data instanceof Uint8Array)) return fail('invalid', 'data must be bytes');
    if (data.byteLength > maxFileBytes) return tooBig(path);
    if (path.length > 1 && path.endsWith('/')) return fail('invalid', `${JSON.stringify(path)} ends with "/", which names a directory`);

    if (r.status === 'exists') {
      // No O_TRUNC by path: truncate only through the verified descriptor.
      const o = await openPinned(op, path, r.candidate, C.O_WRONLY | C.O_NONBLOCK, rs);
      if ('ok' in o) return o;
      try {
        const st = await o.fh.stat();
        if (!st.isFile()) return fail('failed', `${JSON.stringify(path)} is not a regular file`);
        await o.fh.truncate(0);
        await writeAll(o.fh, data);
        return ok(undefined);
      } catch (e) {
        return fromErrno(errnoCode(e), path);
      } finally {
        await o.fh.close().catch(() => {});
      }
    }
    if (r.status !== 'missing' || r.dotdotAfterMissing) return statusFail(op, path, r);
    if (r.missing > 1) return fail('not-found', `the parent directory of ${JSON.stringify(path)} does not exist`);

    const dir = await openPinned(op, path, posix.dirname(r.candidate), C.O_RDONLY | C.O_DIRECTORY, rs);
    if ('ok' in dir) return dir;
    let fh: FileHandle | undefined;
    try {
      const target = `${dir.via}/${posix.basename(r.candidate)}`;
      fh = await fsp.open(target, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK, 0o644);
      if (!(await procFd())) {
        const real = await fsp.realpath(r.candidate).catch(() => null);
        if (real === null || !rs.usable.some((root) => isWithinRoot(root, real))) {
          return denied(op, path, FsRule.changedDuringCheck, `${JSON.stringify(path)} moved outside the skill's fs roots while it was being created`);
        }
      }
      await writeAll(fh, data);
      return ok(undefined);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EEXIST' || code === 'ELOOP') {
        return fail('failed', `${JSON.stringify(path)} appeared while it was being created (changed concurrently)`);
      }
      return fromErrno(code, path);
    } finally {
      await fh?.close().catch(() => {});
      await dir.fh.close().catch(() => {});
    }
  }

  async function listDir(path: string, ctx?: CallContext): Promise<Result<FsEntry[]>> {
    const op: FsOperation = 'list-dir';
    const p = await prepare(op, path, ctx, true);
    if ('ok' in p) return p;
    const { r, roots: rs } = p;
    if (r.status !== 'exists') return statusFail(op, path, r);
    const o = await openPinned(op, path, r.candidate, C.O_RDONLY | C.O_DIRECTORY | C.O_NONBLOCK, rs);
    if ('ok' in o) return o;
    try {
      const names = await fsp.readdir(o.via);
      const out: FsEntry[] = [];
      for (const name of names) {
        let st: Stats;
        try {
          st = await fsp.lstat(`${o.via}/${name}`);
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
      await o.fh.close().catch(() => {});
    }
  }

  async function stat(path: string, ctx?: CallContext): Promise<Result<FsEntry>> {
    const op: FsOperation = 'stat';
    const p = await prepare(op, path, ctx, false);
    if ('ok' in p) return p;
    const { r, roots: rs } = p;
    if (r.status !== 'exists') return statusFail(op, path, r);
    const name = r.candidate === '/' ? '/' : posix.basename(r.candidate);
    const parent = posix.dirname(r.candidate);
    try {
      if (r.candidate === '/' || !rs.usable.some((root) => isWithinRoot(root, parent))) {
        // The target is a root itself: its parent is outside, open the root (never a symlink).
        const o = await openPinned(op, path, r.candidate, C.O_RDONLY | C.O_NONBLOCK, rs);
        if ('ok' in o) return o;
        try {
          const st = await o.fh.stat();
          return ok({ name, kind: kindOf(st), size: st.size });
        } finally {
          await o.fh.close().catch(() => {});
        }
      }
      const dir = await openPinned(op, path, parent, C.O_RDONLY | C.O_DIRECTORY, rs);
      if ('ok' in dir) return dir;
      try {
        const st = await fsp.lstat(`${dir.via}/${name}`);
        return ok({ name, kind: kindOf(st), size: st.size });
      } finally {
        await dir.fh.close().catch(() => {});
      }
    } catch (e) {
      return fromErrno(errnoCode(e), path);
    }
  }

  async function remove(path: string, ctx?: CallContext): Promise<Result<void>> {
    const op: FsOperation = 'remove';
    const p = await prepare(op, path, ctx, false);
    if ('ok' in p) return p;
    const { r, roots: rs } = p;
    if (r.status !== 'exists') return statusFail(op, path, r);
    // decideFs refused removing a root, so the parent is a root or inside one.
    const dir = await openPinned(op, path, posix.dirname(r.candidate), C.O_RDONLY | C.O_DIRECTORY, rs);
    if ('ok' in dir) return dir;
    try {
      const target = `${dir.via}/${posix.basename(r.candidate)}`;
      const st = await fsp.lstat(target);
      if (st.isDirectory()) await fsp.rmdir(target);
      else await fsp.unlink(target);
      return ok(undefined);
    } catch (e) {
      return fromErrno(errnoCode(e), path);
    } finally {
      await dir.fh.close().catch(() => {});
    }
  }

  async function makeDir(path: string, ctx?: CallContext): Promise<Result<void>> {
    const op: FsOperation = 'make-dir';
    const p = await prepare(op, path, ctx, true);
    if ('ok' in p) return p;
    const { r, roots: rs } = p;
    if (r.status === 'exists') {
      try {
        const st = await fsp.stat(r.candidate);
        return st.isDirectory() ? ok(undefined) : fail('failed', `${JSON.stringify(path)} exists and is not a directory`);
      } catch (e) {
        return fromErrno(errnoCode(e), path);
      }
    }
    if (r.status !== 'missing' || r.dotdotAfterMissing) return statusFail(op, path, r);

    const parts = r.candidate.split('/').filter((c) => c !== '');
    const rest = parts.slice(parts.length - r.missing);
    let current = `/${parts.slice(0, parts.length - r.missing).join('/')}`;
    for (const comp of rest) {
      const dir = await openPinned(op, path, current, C.O_RDONLY | C.O_DIRECTORY, rs);
      if ('ok' in dir) return dir;
      try {
        const target = `${dir.via}/${comp}`;
        try {
          await fsp.mkdir(target, 0o755);
        } catch (e) {
          if (errnoCode(e) !== 'EEXIST') throw e;
          const st = await fsp.lstat(target);
          if (!st.isDirectory()) return fail('failed', `a component of ${JSON.stringify(path)} exists and is not a directory`);
        }
      } catch (e) {
        return fromErrno(errnoCode(e), path);
      } finally {
        await dir.fh.close().catch(() => {});
      }
      current = current === '/' ? `/${comp}` : `${current}/${comp}`;
    }
    return ok(undefined);
  }

  return { readFile, writeFile, listDir, stat, remove, makeDir };
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
async function resolveLenient(path: string, hops = 0): Promise<Resolved> {
  let firstCode: string;
  try {
    return { candidate: await fsp.realpath(path), status: 'exists', missing: 0, dotdotAfterMissing: false };
  } catch (e) {
    firstCode = errnoCode(e);
  }
  const comps = path.split('/').filter((c) => c !== '');
  // The deepest prefix that resolves. The kernel resolves a path component by component, so if a
  // prefix fails every longer one fails too: binary search (a guest may send ~2000 components).
  const tryPrefix = async (j: number): Promise<string | null> => {
    try {
      return await fsp.realpath(`/${comps.slice(0, j).join('/')}`);
    } catch {
      return null;
    }
  };
  let j = 0;
  let base = await tryPrefix(0);
  if (base !== null) {
    let lo = 0;
    let hi = comps.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      const got = await tryPrefix(mid);
      if (got !== null) {
        lo = mid;
        base = got;
      } else {
        hi = mid - 1;
      }
    }
    j = lo;
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
    let st: Stats;
    try {
      st = await fsp.lstat(posix.join(base, first));
    } catch (e) {
      const code = errnoCode(e);
      return code === 'ENOENT' ? result('missing') : result('error', code);
    }
    if (!st.isSymbolicLink()) return result('error', 'EAGAIN'); // appeared meanwhile
    if (hops >= MAX_LINK_HOPS) return result('error', 'ELOOP');
    let target: string;
    try {
      target = await fsp.readlink(posix.join(base, first));
    } catch (e) {
      return result('error', errnoCode(e));
    }
    const after = rest.slice(rest.indexOf(first) + 1);
    const next = `${target.startsWith('/') ? target : `${base}/${target}`}${after.length ? `/${after.join('/')}` : ''}`;
    const followed = await resolveLenient(next, hops + 1);
    // Whatever the target turned out to be, the path goes through a dangling link.
    return { ...followed, status: followed.status === 'error' ? 'error' : 'dangling' };
  }
  // realpath('/') failed: nothing sensible to decide on.
  return { candidate: posix.normalize(path), status: 'error', code: firstCode, missing: 0, dotdotAfterMissing: false };
}

/** Resolve the parent fully and append the final name unresolved (lstat semantics). */
async function resolveParent(path: string): Promise<Resolved> {
  const name = posix.basename(path);
  const parent = await resolveLenient(posix.dirname(path));
  const candidate = parent.candidate === '/' ? `/${name}` : `${parent.candidate}/${name}`;
  return { ...parent, candidate, missing: parent.status === 'exists' ? 0 : parent.missing + 1 };
}

async function canonicalRoots(roots: readonly string[], opts: FsCapabilityOptions): Promise<Roots> {
  const usable: string[] = [];
  const unusable: string[] = [];
  const canonList = async (list: string[] | undefined): Promise<string[] | undefined> => {
    if (!list) return undefined;
    return Promise.all(list.map(async (p) => (await resolveLenient(p)).candidate));
  };
  const allowedRoots = await canonList(opts.allowedRoots);
  const deniedPaths = await canonList(opts.deniedPaths);
  for (const root of roots) {
    const q = JSON.stringify(root);
    if (checkPathSyntax(root)) {
      unusable.push(`${q} (not a valid absolute path)`);
      continue;
    }
    let real: string;
    try {
      real = await fsp.realpath(root);
    } catch (e) {
      unusable.push(`${q} (${errnoCode(e) === 'ENOENT' ? 'does not exist' : 'cannot be resolved'})`);
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

async function detectProcFd(): Promise<boolean> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open('/', C.O_RDONLY | C.O_DIRECTORY);
    return (await fsp.readlink(`/proc/self/fd/${fh.fd}`)) === '/';
  } catch {
    return false;
  } finally {
    await fh?.close().catch(() => {});
  }
}
