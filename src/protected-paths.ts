/**
 * Directories the host keeps for itself, that no skill may reach through its fs roots:
 * the agentos home, the skill store (database, components), the transpile cache, and the host's
 * own package (its code, and the node_modules it is installed in). A skill that could write
 * there could plant code the host runs, or rewrite its own permissions.
 *
 * A root overlapping one of them (equal, inside, or containing it) is refused at install, at
 * enable and in the host policy; at invocation the fs guard also denies every path inside them
 * whatever the roots say (a root that became a symlink, a home created after install).
 * Containment is the fs guard's `isWithinRoot`, on canonical paths (realpath where they exist).
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isWithinRoot } from './guards/fs-guard.js';

export interface ProtectedPath {
  /** Canonical absolute path. */
  path: string;
  /** What it is, for messages: "the agentos home", ... */
  what: string;
}

/** The installed @agentos/skills package root (this module is in its src/ or dist/). */
export const HOST_PACKAGE_ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/**
 * `p` made absolute and canonical: realpath of its deepest existing ancestor, the rest appended
 * and normalised. A path that does not exist yet is judged by where it would be created.
 */
export function canonicalPath(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(realpathSync(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** The `node_modules` folder the package is installed in, if it is installed in one. */
function enclosingNodeModules(pkgRoot: string): string | undefined {
  const parts = pkgRoot.split(path.sep);
  const i = parts.lastIndexOf('node_modules');
  return i > 0 ? parts.slice(0, i + 1).join(path.sep) : undefined;
}

/** The protected directories of a store (canonical, de-duplicated, most specific label kept). */
export function hostProtectedPaths(dirs: { home: string; store: string; cache: string; components?: string | undefined }): ProtectedPath[] {
  const raw: ProtectedPath[] = [
    { path: dirs.cache, what: 'the transpile cache' },
    ...(dirs.components ? [{ path: dirs.components, what: 'the component store' }] : []),
    { path: dirs.store, what: 'the skill store' },
    { path: dirs.home, what: 'the agentos home' },
    { path: HOST_PACKAGE_ROOT, what: 'the host package (@agentos/skills)' },
  ];
  const nm = enclosingNodeModules(HOST_PACKAGE_ROOT);
  if (nm) raw.push({ path: nm, what: "the host's node_modules" });
  const out: ProtectedPath[] = [];
  for (const p of raw) {
    const c = canonicalPath(p.path);
    if (!out.some((o) => o.path === c)) out.push({ path: c, what: p.what });
  }
  return out;
}

/**
 * How `root` overlaps the protected directories, one phrase each (empty: it does not).
 * Both the root as written and its canonical form are checked.
 */
export function protectedOverlaps(root: string, protectedPaths: readonly ProtectedPath[]): string[] {
  if (!path.isAbsolute(root)) return [];
  const forms = [...new Set([path.resolve(root), canonicalPath(root)])];
  const hits: { p: ProtectedPath; rel: 'is' | 'inside' | 'contains' }[] = [];
  for (const p of protectedPaths) {
    let rel: 'is' | 'inside' | 'contains' | undefined;
    for (const r of forms) {
      if (r === p.path) rel = 'is';
      else if (isWithinRoot(p.path, r)) rel ??= 'inside';
      else if (isWithinRoot(r, p.path)) rel ??= 'contains';
    }
    if (rel) hits.push({ p, rel });
  }
  // Name the nearest overlap only: a root containing the home also contains the store in it.
  const kept = hits.filter(
    (h) =>
      !hits.some(
        (o) =>
          o !== h &&
          ((h.rel === 'contains' && o.rel !== 'inside' && isWithinRoot(o.p.path, h.p.path)) ||
            (h.rel === 'inside' && o.rel !== 'contains' && isWithinRoot(h.p.path, o.p.path))),
      ),
  );
  return kept.map(({ p, rel }) => `${rel === 'is' ? 'is' : rel === 'inside' ? 'lies inside' : 'contains'} ${p.what} (${p.path})`);
}

/** One message per root that overlaps a protected directory, naming the root and the overlap. */
export function checkRootsAgainstProtected(
  roots: readonly string[],
  protectedPaths: readonly ProtectedPath[],
  label: (i: number) => string = (i) => `requires.permissions.fs.paths[${i}]`,
): string[] {
  const out: string[] = [];
  roots.forEach((root, i) => {
    const problems = protectedOverlaps(root, protectedPaths);
    if (problems.length > 0) {
      out.push(`${label(i)} ${JSON.stringify(root)} ${problems.join('; it also ')}; no skill may reach the host's own files`);
    }
  });
  return out;
}
