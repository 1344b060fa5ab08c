/**
 * What a fresh clone's `npm install` does to this repo's manifest and lockfile: no warnings (peer
 * conflicts, unreviewed install scripts) and not one byte of package-lock.json rewritten. It
 * resolves the same tree `npm install` does (--package-lock-only: no download, no build), from
 * the cache only, in a temp copy of package.json and package-lock.json.
 */
import { execFile } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { userEnv } from './cli/readme-steps.js';
import { removeTempDirs, ROOT, tempDir } from './helpers.js';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

afterAll(removeTempDirs);

describe('npm install on a fresh clone', () => {
  it('prints no warning and leaves package-lock.json exactly as committed', async () => {
    const dir = await tempDir('agentos-lockfile-');
    for (const f of ['package.json', 'package-lock.json']) await copyFile(join(ROOT, f), join(dir, f));
    const { stdout, stderr } = await run(NPM, ['install', '--package-lock-only', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], {
      cwd: dir,
      env: userEnv(),
    });
    expect((stdout + stderr).split('\n').filter((l) => /\bwarn/i.test(l))).toEqual([]);
    expect(await readFile(join(dir, 'package-lock.json'), 'utf8')).toBe(await readFile(join(ROOT, 'package-lock.json'), 'utf8'));
  }, 120_000);
});
