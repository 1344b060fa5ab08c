/**
 * What `SkillRegistry.install` checks before anything is written, in the order it runs them:
 * the component read safely from the skill folder, its imports, its filesystem roots against the
 * host's own directories, and (at open) the host policy's roots against the same directories.
 * The manifest itself is parsed by manifest.ts, the policy compared by policy.ts, the core
 * modules' declared sizes by build/component-modules.ts.
 */

import { ALLOWED_IMPORT_PREFIX, assertSkillImports, componentImports, ForbiddenImportsError } from '../build/inspect-component.js';
import { HostPolicyError, IntegrityError, ManifestError, SkillError, SkillModuleNotFoundError } from '../errors.js';
import type { HostPolicy } from '../policy.js';
import { checkRootsAgainstProtected, protectedOverlaps, type ProtectedPath } from '../protected-paths.js';
import { readRegularFileSync, UnsafeFileError } from '../safe-read.js';
import type { SkillManifest } from '../types.js';

/** Largest component install reads unless the host policy says otherwise (`maxComponentBytes`). */
export const DEFAULT_MAX_COMPONENT_BYTES = 64 * 1024 * 1024;

/**
 * The host policy may not point `allowedRoots` at the host's own directories: an entry equal to
 * or inside one could only ever grant protected paths. (An entry that contains one, such as
 * `/home`, is fine: every root is still checked against the protected directories.)
 */
export function assertPolicyClearOfProtected(policy: HostPolicy, protectedPaths: readonly ProtectedPath[]): void {
  const issues: { path: string; message: string }[] = [];
  (policy.allowedRoots ?? []).forEach((root, i) => {
    const inside = protectedOverlaps(root, protectedPaths).filter((m) => !m.startsWith('contains '));
    if (inside.length > 0) issues.push({ path: `allowedRoots[${i}]`, message: `${JSON.stringify(root)} ${inside.join('; it also ')}; no skill may reach the host's own files` });
  });
  if (issues.length > 0) throw new HostPolicyError('(host policy)', issues);
}

/** A manifest's fs roots may not overlap the host's own directories: a ManifestError naming each root. */
export function assertRootsClearOfProtected(manifest: SkillManifest, manifestFile: string, protectedPaths: readonly ProtectedPath[]): void {
  const roots = manifest.requires?.permissions?.fs?.paths ?? [];
  if (checkRootsAgainstProtected(roots, protectedPaths, () => '').length === 0) return;
  throw new ManifestError(
    manifestFile,
    roots.flatMap((root, i) => {
      const m = checkRootsAgainstProtected([root], protectedPaths, () => '')[0];
      return m ? [{ path: `requires.permissions.fs.paths[${i}]`, message: m.trim() }] : [];
    }),
    { skillId: manifest.id },
  );
}

/**
 * The component's bytes. Only a regular file inside the folder, size-capped, checked on the
 * opened descriptor: a symlink to /dev/zero or a FIFO must not make install allocate gigabytes
 * or block forever.
 */
export function readComponent(sourceDir: string, file: string, manifestFile: string, skillId: string, maxBytes: number): Uint8Array {
  try {
    return readRegularFileSync(file, { within: sourceDir, maxBytes });
  } catch (e) {
    if (!(e instanceof UnsafeFileError)) throw e;
    if (e.reason === 'missing') {
      throw new SkillModuleNotFoundError(
        file,
        `component of '${skillId}' not found at ${file}; build it first: npm run build-skill -- ${sourceDir}`,
        { skillId, cause: e },
      );
    }
    if (e.reason === 'directory') {
      throw new SkillModuleNotFoundError(file, `component of '${skillId}' at ${file} is a directory, not a .wasm file`, { skillId, cause: e });
    }
    const why = e.reason === 'outside' ? e.message.replace(`${file} `, '').replace(/, outside /, ', outside the skill folder ') : e.message.replace(`${file} `, '');
    throw new ManifestError(manifestFile, [{ path: 'component', message: why }], { skillId, cause: e });
  }
}

/** The component's imports, all within `agentos:skill`; else an IntegrityError. */
export async function checkImports(bytes: Uint8Array, file: string, skillId: string): Promise<string[]> {
  let imports: string[];
  try {
    imports = await componentImports(bytes);
  } catch (e) {
    if (e instanceof SkillError) throw e;
    throw new IntegrityError(
      'a WebAssembly component',
      'unreadable',
      `${file} is not a valid WebAssembly component: ${(e as Error).message}`,
      { skillId, cause: e },
    );
  }
  try {
    assertSkillImports(imports, file);
  } catch (e) {
    if (e instanceof SkillError) throw e;
    const forbidden = e instanceof ForbiddenImportsError ? e.forbidden : imports;
    throw new IntegrityError(
      `imports within ${ALLOWED_IMPORT_PREFIX}* only`,
      forbidden.join(', '),
      `skill '${skillId}' cannot be installed: ${(e as Error).message}`,
      { skillId, cause: e },
    );
  }
  return imports;
}
