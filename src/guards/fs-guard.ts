/**
 * The fs guard: pure decisions about filesystem operations (no I/O).
 *
 * The guard decides on a *canonical* path: absolute, no `.`/`..`/empty components, no trailing
 * slash, every symlink already resolved by the caller (the fs capability resolves with realpath
 * and re-checks the opened descriptor). A path that is not canonical is refused as invalid rather
 * than normalised here, so a caller that forgot to resolve cannot be let through by accident.
 *
 * Rules, in order:
 *   1. syntax (`checkPathSyntax`): non-empty, absolute, no NUL byte, at most 4096 bytes, no
 *      component over 255 bytes (Linux PATH_MAX / NAME_MAX)                      -> invalid
 *   2. canonical form                                                            -> invalid
 *   3. no roots = no filesystem at all                                           -> denied
 *   4. read-file, list-dir, stat need `read`; write-file, remove, make-dir need `write`
 *   5. the path is a root or inside one, on a separator boundary (`/tmp/a` is not inside `/tmp/ab`)
 *   6. a root itself cannot be removed
 *   7. nothing inside a protected directory (the host's own files), even inside a root
 *
 * Paths are POSIX paths (Linux, macOS); Windows hosts are not supported.
 */

export type FsOperation = 'read-file' | 'write-file' | 'list-dir' | 'stat' | 'remove' | 'make-dir';

export const FS_OPERATIONS: readonly FsOperation[] = ['read-file', 'write-file', 'list-dir', 'stat', 'remove', 'make-dir'];

export interface FsPolicy {
  read: boolean;
  write: boolean;
  /** Canonical absolute roots (realpath'd by the caller). Non-canonical entries are ignored. */
  roots: string[];
  /**
   * Canonical directories the host keeps for itself (agentos home, store, cache, host package):
   * every path inside one is denied, whatever the roots say.
   */
  protected?: readonly string[] | undefined;
}

export type FsDecision =
  | { allow: true; rule: typeof FsRule.allowed; root: string }
  | { allow: false; kind: 'denied' | 'invalid'; rule: FsDeniedRuleId; reason: string };

export interface FsPathProblem {
  rule: FsDeniedRuleId;
  reason: string;
}

export const FsRule = {
  allowed: 'fs.allowed',
  emptyPath: 'fs.empty_path',
  nulByte: 'fs.nul_byte',
  relativePath: 'fs.relative_path',
  pathTooLong: 'fs.path_too_long',
  componentTooLong: 'fs.component_too_long',
  notCanonical: 'fs.not_canonical',
  noRoots: 'fs.no_roots',
  readNotAllowed: 'fs.read_not_allowed',
  writeNotAllowed: 'fs.write_not_allowed',
  outsideRoots: 'fs.outside_roots',
  removeRoot: 'fs.remove_root',
  protectedPath: 'fs.protected_path',
  // used by the capability, after I/O:
  danglingSymlink: 'fs.dangling_symlink',
  dotdotAfterMissing: 'fs.dotdot_after_missing',
  changedDuringCheck: 'fs.changed_during_check',
} as const;

/** An fs rule id (`fs.outside_roots`, ...), as denials and the audit trail carry it. */
export type FsRuleId = (typeof FsRule)[keyof typeof FsRule];
/** The ids a denial can carry: every rule but `fs.allowed`. */
export type FsDeniedRuleId = Exclude<FsRuleId, typeof FsRule.allowed>;

export const MAX_PATH_BYTES = 4096;
export const MAX_COMPONENT_BYTES = 255;

const encoder = new TextEncoder();
const byteLength = (s: string): number => encoder.encode(s).length;

/** write-file, remove and make-dir need the write permission; the rest need read. */
export function isWriteOperation(op: FsOperation): boolean {
  return op === 'write-file' || op === 'remove' || op === 'make-dir';
}

/** Syntax problems that make a path unusable before any resolution; null when fine. */
export function checkPathSyntax(path: string): FsPathProblem | null {
  if (typeof path !== 'string') return { rule: FsRule.emptyPath, reason: 'the path is not a string' };
  if (path.length === 0) return { rule: FsRule.emptyPath, reason: 'the path is empty' };
  if (path.includes('\0')) return { rule: FsRule.nulByte, reason: `the path ${show(path)} contains a NUL byte` };
  if (!path.startsWith('/')) return { rule: FsRule.relativePath, reason: `the path ${show(path)} is not absolute` };
  if (byteLength(path) > MAX_PATH_BYTES) {
    return { rule: FsRule.pathTooLong, reason: `the path ${show(path)} is longer than ${MAX_PATH_BYTES} bytes` };
  }
  for (const c of path.split('/')) {
    if (byteLength(c) > MAX_COMPONENT_BYTES) {
      return { rule: FsRule.componentTooLong, reason: `the path ${show(path)} has a component longer than ${MAX_COMPONENT_BYTES} bytes` };
    }
  }
  return null;
}

/** Absolute, no `.`, `..` or empty components, no trailing slash (except `/` itself). */
export function isCanonicalPath(path: string): boolean {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) return false;
  if (path === '/') return true;
  return path
    .slice(1)
    .split('/')
    .every((c) => c !== '' && c !== '.' && c !== '..');
}

/**
 * Is canonical `path` the canonical `root` itself or inside it (separator boundary)? False when
 * either is not canonical. The host's one containment rule: the host policy (policy.ts, after
 * lexical normalisation), the protected directories (protected-paths.ts) and the fs capability
 * all decide containment here.
 */
export function isWithinRoot(root: string, path: string): boolean {
  if (!isCanonicalPath(root) || !isCanonicalPath(path)) return false;
  if (root === '/') return true;
  return path === root || path.startsWith(`${root}/`);
}

function show(p: string): string {
  const s = p.length > 120 ? `${p.slice(0, 120)}...` : p;
  return JSON.stringify(s);
}

/**
 * Decide whether `op` may act on `canonicalPath`. `shownAs` is the path as the skill gave it,
 * used in reasons instead of the canonical path (which may name places outside the roots).
 */
export function decideFs(policy: FsPolicy, op: FsOperation, canonicalPath: string, shownAs: string = canonicalPath): FsDecision {
  const syntax = checkPathSyntax(canonicalPath);
  if (syntax) return { allow: false, kind: 'invalid', rule: syntax.rule, reason: syntax.reason };
  if (!isCanonicalPath(canonicalPath)) {
    return {
      allow: false,
      kind: 'invalid',
      rule: FsRule.notCanonical,
      reason: `the path ${show(shownAs)} is not canonical (it has ".", ".." or empty components)`,
    };
  }
  const roots = policy.roots.filter(isCanonicalPath);
  if (roots.length === 0) {
    return { allow: false, kind: 'denied', rule: FsRule.noRoots, reason: 'the skill has no filesystem access (requires.permissions.fs.paths is empty)' };
  }
  if (isWriteOperation(op) && !policy.write) {
    return { allow: false, kind: 'denied', rule: FsRule.writeNotAllowed, reason: `${op} ${show(shownAs)} needs fs write permission, which the skill does not have` };
  }
  if (!isWriteOperation(op) && !policy.read) {
    return { allow: false, kind: 'denied', rule: FsRule.readNotAllowed, reason: `${op} ${show(shownAs)} needs fs read permission, which the skill does not have` };
  }
  const root = roots.find((r) => isWithinRoot(r, canonicalPath));
  if (root === undefined) {
    return {
      allow: false,
      kind: 'denied',
      rule: FsRule.outsideRoots,
      reason: `${show(shownAs)} ${shownAs === canonicalPath ? 'is' : 'resolves to a path'} outside the skill's fs roots (${roots.join(', ')})`,
    };
  }
  if (op === 'remove' && roots.includes(canonicalPath)) {
    return { allow: false, kind: 'denied', rule: FsRule.removeRoot, reason: `${show(shownAs)} is an fs root and cannot be removed` };
  }
  if (policy.protected?.some((p) => isWithinRoot(p, canonicalPath))) {
    return {
      allow: false,
      kind: 'denied',
      rule: FsRule.protectedPath,
      reason: `${show(shownAs)} is inside a directory the host keeps for itself (its home, store, cache or package), which no skill may touch`,
    };
  }
  return { allow: true, rule: FsRule.allowed, root };
}
