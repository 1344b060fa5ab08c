/**
 * Path resolution for the fs capability: which canonical path the fs guard decides on, and the
 * canonical roots it decides against. I/O (realpath, readlink), no decisions: the decision is
 * `decideFs` (guards/fs-guard.ts), acting on the result is fs-pinned.ts.
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
 * turns out to be (`FsRoots.contains`).
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
 */
import { readlinkSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { checkPathSyntax, isWithinRoot } from '../guards/fs-guard.js';
import { checkRootsAgainstPolicy } from '../policy.js';

/**
 * realpath(3) through libuv, as `fs.promises.realpath` does (the JS `realpathSync` is a
 * different, component-by-component emulation).
 */
export const realpath = (p: string): string => realpathSync.native(p);

/** The errno code of a thrown Node error (EIO when it has none). */
export const errnoCode = (e: unknown): string => ((e as NodeJS.ErrnoException | null)?.code ?? 'EIO');

export type Status = 'exists' | 'missing' | 'dangling' | 'error';

export interface Resolved {
  /** Canonical path the guard decides on (lexically normalised where it does not exist). */
  candidate: string;
  status: Status;
  /** Components of `candidate` below its deepest existing ancestor. */
  missing: number;
  /** `..` appeared in the part that does not exist. */
  dotdotAfterMissing: boolean;
  code?: string | undefined;
}

/** Symlinks followed while resolving a dangling link (Linux MAXSYMLINKS). */
export const MAX_LINK_HOPS = 40;

/**
 * The candidate for an operation on `path`: the whole path resolved (`follow`, or a trailing
 * slash / final `.` / `..`), else the parent resolved and the final name kept (lstat semantics).
 */
export function resolveFor(path: string, follow: boolean): Resolved {
  return follow || followsAnyway(path) ? resolveLenient(path) : resolveParent(path);
}

/** A trailing slash or a final `.`/`..` makes even stat/remove follow the final component. */
function followsAnyway(path: string): boolean {
  if (path === '/' || path.endsWith('/')) return true;
  const base = posix.basename(path);
  return base === '.' || base === '..';
}

/**
 * realpath as far as the path exists, then the rest appended (normalised lexically: only used
 * for the decision when `..` follows a missing component; such a path is never acted on).
 * A dangling symlink is followed (readlink) to where it *would* lead, so the decision is taken
 * on its target: a dangling link pointing outside the roots is denied, not not-found.
 */
export function resolveLenient(path: string, hops = 0): Resolved {
  let firstCode: string;
  try {
    return { candidate: realpath(path), status: 'exists', missing: 0, dotdotAfterMissing: false };
  } catch (e) {
    firstCode = errnoCode(e);
  }
  const comps = path.split('/').filter((c) => c !== '');
  const found = deepestResolvable(path, comps);
  if (found === null) {
    // realpath('/') failed: nothing sensible to decide on.
    return { candidate: posix.normalize(path), status: 'error', code: firstCode, missing: 0, dotdotAfterMissing: false };
  }
  const { base, j } = found;
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

/**
 * The deepest prefix of `comps` that resolves (`j` components, realpath'd to `base`); null when
 * not even `/` does. The kernel resolves a path component by component, so if a prefix fails
 * every longer one fails too.
 */
function deepestResolvable(path: string, comps: string[]): { base: string; j: number } | null {
  const n = comps.length;
  const tryPrefix = (j: number): string | null => {
    try {
      return realpath(`/${comps.slice(0, j).join('/')}`);
    } catch {
      return null;
    }
  };
  if (n > 0) {
    // The usual case first (a new file in an existing directory): the parent resolves. The whole
    // path failed already; its n-component prefix can differ from it only by a trailing slash (or
    // doubled slashes), so it is tried again only then.
    const parent = tryPrefix(n - 1);
    if (parent !== null) {
      if (`/${comps.join('/')}` !== path) {
        const full = tryPrefix(n);
        if (full !== null) return { base: full, j: n };
      }
      return { base: parent, j: n - 1 };
    }
  }
  // Binary search below the parent (a guest may send ~2000 components).
  let base = tryPrefix(0);
  if (base === null) return null;
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
  return { base, j: lo };
}

/** Resolve the parent fully and append the final name unresolved (lstat semantics). */
export function resolveParent(path: string): Resolved {
  const name = posix.basename(path);
  const parent = resolveLenient(posix.dirname(path));
  const candidate = parent.candidate === '/' ? `/${name}` : `${parent.candidate}/${name}`;
  return { ...parent, candidate, missing: parent.status === 'exists' ? 0 : parent.missing + 1 };
}

// ---------------------------------------------------------------------------------------------
// roots

export interface RootOptions {
  /** The host policy's allowedRoots / deniedPaths, re-checked on the canonical roots. */
  allowedRoots?: string[] | undefined;
  deniedPaths?: string[] | undefined;
  /** Directories the host keeps for itself: carved out of every root. */
  protectedPaths?: readonly string[] | undefined;
}

/** The canonical roots of one capability instance, fixed when it is created (plain data). */
export interface RootsData {
  /** Canonical roots the guard decides against. */
  usable: string[];
  /** Human notes on roots that could not be used. */
  unusable: string[];
  /** Canonical protected directories. */
  protected: string[];
}

export interface FsRoots extends RootsData {
  /** Is canonical `real` inside a usable root and outside every protected directory? */
  contains(real: string): boolean;
}

/** The roots of `data` with their containment rule. */
export function rootsFrom(data: RootsData): FsRoots {
  const { usable, protected: protectedDirs } = data;
  return {
    ...data,
    // Also used on what an opened descriptor really is: a protected directory is never "inside".
    contains: (real) => usable.some((root) => isWithinRoot(root, real)) && !protectedDirs.some((p) => isWithinRoot(p, real)),
  };
}

/** Canonicalise `roots` once (see "Roots" above); never throws. */
export function canonicalRoots(roots: readonly string[], opts: RootOptions = {}): FsRoots {
  const protectedDirs = (opts.protectedPaths ?? []).map((p) => resolveLenient(p).candidate);
  let usable: string[];
  let unusable: string[];
  try {
    ({ usable, unusable } = usableRoots(roots, opts, protectedDirs));
  } catch {
    usable = [];
    unusable = roots.map((r) => `${JSON.stringify(r)} (cannot be resolved)`);
  }
  return rootsFrom({ usable, unusable, protected: protectedDirs });
}

function usableRoots(roots: readonly string[], opts: RootOptions, protectedDirs: string[]): { usable: string[]; unusable: string[] } {
  const usable: string[] = [];
  const unusable: string[] = [];
  const canonList = (list: string[] | undefined): string[] | undefined => list?.map((p) => resolveLenient(p).candidate);
  const allowedRoots = canonList(opts.allowedRoots);
  const deniedPaths = canonList(opts.deniedPaths);
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
