/**
 * Where the store lives: an explicit path, else `$AGENTOS_HOME`, else `~/.agentos`.
 *
 * ```
 * <home>/store/skill/db.sqlite                    registry + audit trail
 * <home>/store/skill/components/<sha256>.wasm     installed components, content-addressed
 * <home>/store/skill/cache/                       prepared (transpiled) components
 * ```
 */

import os from 'node:os';
import path from 'node:path';

export const HOME_ENV = 'AGENTOS_HOME';

/** The agentos home directory (absolute). `explicit` wins, then `$AGENTOS_HOME`, then `~/.agentos`. */
export function resolveHome(explicit?: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== undefined && explicit !== '') return path.resolve(explicit);
  const fromEnv = env[HOME_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  return path.join(os.homedir(), '.agentos');
}

/** `<home>/store/skill`: everything the skill registry owns. */
export function skillStoreDir(home?: string | undefined): string {
  return path.join(resolveHome(home), 'store', 'skill');
}

/** `<home>/store/skill/db.sqlite`. */
export function registryDbPath(home?: string | undefined): string {
  return path.join(skillStoreDir(home), 'db.sqlite');
}

/** `<home>/store/skill/components`. */
export function componentsDir(home?: string | undefined): string {
  return path.join(skillStoreDir(home), 'components');
}

const SHA256_RE = /^[0-9a-f]{64}$/;

export function isSha256Hex(s: string): boolean {
  return SHA256_RE.test(s);
}

/** `<home>/store/skill/components/<sha256>.wasm`. Throws on anything but a lowercase hex sha256. */
export function componentFile(hash: string, home?: string | undefined): string {
  if (!isSha256Hex(hash)) throw new TypeError(`not a sha256 hex digest: ${JSON.stringify(hash)}`);
  return path.join(componentsDir(home), `${hash}.wasm`);
}

/** `<home>/store/skill/cache`. */
export function cacheDir(home?: string | undefined): string {
  return path.join(skillStoreDir(home), 'cache');
}

/** All store locations for one home. */
export interface StorePaths {
  home: string;
  store: string;
  db: string;
  components: string;
  cache: string;
}

export function storePaths(home?: string | undefined): StorePaths {
  const h = resolveHome(home);
  return { home: h, store: skillStoreDir(h), db: registryDbPath(h), components: componentsDir(h), cache: cacheDir(h) };
}
