/**
 * Builds the example skills and test fixtures the suites run (skills/*, test/fixtures/*) before
 * any test file starts, so `npm test` stays one honest command. build-examples skips every
 * component that is newer than all of its sources, so a warm tree costs well under a second
 * per skill; a changed guest runtime, WIT file or fixture source is rebuilt here, never missed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

export default function setup(): void {
  if (!existsSync(join(ROOT, 'dist/build/build-skill.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test does it).');
  }
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-examples.mjs')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`building the example skills and test fixtures failed (exit ${r.status ?? r.signal})`);
}
