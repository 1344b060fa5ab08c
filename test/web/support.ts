/** Fixtures of the web-runtime suites, built for both engines into temp copies by the tests. */
import { cp, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSkill, type BuildResult } from '../../src/build/build-skill.js';
import { ROOT, tempDir } from '../helpers.js';

export const ENGINES = ['quickjs', 'starlingmonkey'] as const;
export type Engine = (typeof ENGINES)[number];

/** test/fixtures/<name> copied to a temp dir and built with `engine`. */
export async function builtFixture(name: string, engine: Engine): Promise<{ dir: string; build: BuildResult }> {
  const dir = await tempDir(`agentos-${name}-${engine}-`);
  await cp(join(ROOT, 'test/fixtures', name), dir, { recursive: true, filter: (s) => !s.includes('/dist') });
  // The npm packages a fixture bundles resolve from the repository's node_modules, as in place.
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const build = await buildSkill(dir, { engine });
  return { dir, build };
}
