/**
 * Acting on what the fs guard checked: the fs capability touches a checked path only through
 * `withPinned`, which opens it pinned, hands the verified descriptor to the operation, maps a
 * thrown errno to a guest error and closes the descriptor.
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
 */
import { closeSync, constants as C, openSync, readlinkSync } from 'node:fs';
import { FsRule, type FsOperation } from '../guards/fs-guard.js';
import { denied, fromErrno, type Fail } from './fs-errors.js';
import { errnoCode, realpath, type FsRoots } from './fs-paths.js';
import type { CapResult } from './types.js';

export interface Pinned {
  fd: number;
  /** Path that reaches the opened object: /proc/self/fd/N, or the canonical path without /proc. */
  via: string;
  /** `via` goes through /proc/self/fd (else: the path-based fallback). */
  proc: boolean;
}

/** close(2), ignoring errors (the descriptor is gone either way). */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // ignore
  }
}

/**
 * The steps of one fs operation: a generator that yields where a long operation would give the
 * event loop a turn (time-slice.ts) and is resumed with whether the invocation was aborted
 * meanwhile. The main thread drives it with real turns (fs.ts), a skill's own worker straight
 * through (fs-local.ts): the same code, the same checks, in both places.
 */
export type Steps<T> = Generator<void, T, boolean>;

/** `use`'s answer: a result at once, or more steps. */
type Use<T> = CapResult<T> | Steps<CapResult<T>>;

const isSteps = <T>(u: Use<T>): u is Steps<CapResult<T>> => typeof (u as Partial<Steps<unknown>>).next === 'function';

/**
 * Open `canonical` (already allowed by the guard for `op` on `shown`) pinned, run `use` on the
 * verified descriptor, and close it whatever happens. A failed open is the result (denied when
 * the path moved, errno-mapped otherwise); an error `use` throws is mapped by `onErrno`
 * (default: `fromErrno` on `shown`).
 */
export function* withPinned<T>(
  roots: FsRoots,
  op: FsOperation,
  shown: string,
  canonical: string,
  flags: number,
  use: (p: Pinned) => Use<T>,
  onErrno: (code: string) => Fail = (code) => fromErrno(code, shown),
): Steps<CapResult<T>> {
  const p = openPinned(roots, op, shown, canonical, flags);
  if ('ok' in p) return p;
  try {
    const u = use(p);
    return isSteps(u) ? yield* u : u;
  } catch (e) {
    return onErrno(errnoCode(e));
  } finally {
    closeQuietly(p.fd);
  }
}

/**
 * Open `canonical` with O_NOFOLLOW and verify the descriptor is still inside a root.
 * Returns a Fail (denied when it moved, errno-mapped otherwise); on success the caller closes.
 */
function openPinned(roots: FsRoots, op: FsOperation, shown: string, canonical: string, flags: number): Fail | Pinned {
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
  if (real === null || !roots.contains(real)) {
    closeQuietly(fd);
    return denied(op, shown, FsRule.changedDuringCheck, `${JSON.stringify(shown)} moved outside the skill's fs roots while it was being opened`);
  }
  return { fd, via, proc };
}

/** Does `readlink /proc/self/fd/N` name what N is open on? Cached for the process once known. */
let procFd: boolean | undefined;
/** Errors that say nothing about /proc: probe again on the next call rather than cache "no". */
const TRANSIENT = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EINTR']);
export function hasProcFd(): boolean {
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
