/**
 * The package as users get it: `npm pack`, then `npm install <tarball>` in a fresh project and
 * run its `agentos-skills` bin, build included (wit/ and guest/ must be found inside the
 * installed package). The install compiles better-sqlite3 when no prebuilt binary can be
 * fetched, so this takes minutes; AGENTOS_SKIP_PACK_TEST=1 skips it on a developer's machine
 * (never in CI).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, ROOT, tempDir } from '../helpers.js';
import { requireBuiltCli } from './run-cli.js';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let tarball: string;
let files: string[];

beforeAll(async () => {
  requireBuiltCli();
  const dest = await tempDir('agentos-pack-');
  const { stdout } = await run(NPM, ['pack', ROOT, '--pack-destination', dest, '--json'], { cwd: dest, maxBuffer: 64 * 1024 * 1024 });
  const info = (JSON.parse(stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  tarball = join(dest, info.filename);
  files = info.files.map((f) => f.path);
}, 120_000);
afterAll(removeTempDirs);

describe('npm pack', () => {
  it('ships the bin, the library, the WIT contract and the guest files, and no sources or tests', () => {
    for (const f of ['package.json', 'dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'dist/build/build-skill.js', 'wit/skill.wit', 'guest/runtime.js', 'guest/helpers.js', 'guest/agentos-skill.d.ts']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(src|test|skills|scripts)\//.test(f))).toEqual([]);
    expect(readFileSync(join(ROOT, 'dist/cli/main.js'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});

describe.skipIf(process.env['AGENTOS_SKIP_PACK_TEST'] === '1' && !process.env['CI'])('installed from the tarball', () => {
  let project: string;
  let bin: string;
  const env = () => {
    const e: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(e)) if (k.startsWith('AGENTOS_') || k === 'NODE_OPTIONS' || k.startsWith('VITEST')) delete e[k];
    return e;
  };
  const agentos = (args: string[]) => run(bin, args, { cwd: project, env: env(), maxBuffer: 16 * 1024 * 1024 });

  beforeAll(async () => {
    project = await tempDir('agentos-pack-project-');
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'pack-test', version: '1.0.0', private: true }));
    await run(NPM, ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error'], {
      cwd: project,
      env: env(),
      maxBuffer: 64 * 1024 * 1024,
    });
    bin = join(project, 'node_modules', '.bin', process.platform === 'win32' ? 'agentos-skills.cmd' : 'agentos-skills');
  }, 900_000);

  it('agentos-skills --version and list --json', async () => {
    expect((await agentos(['--version'])).stdout.trim()).toBe(VERSION);
    const home = await tempDir('agentos-pack-home-');
    const { stdout } = await agentos(['list', '--json', '--home', home]);
    expect(JSON.parse(stdout)).toEqual({ ok: true, result: [] });
  });

  it('new -> build -> install -> enable -> invoke with the installed package', async () => {
    const home = await tempDir('agentos-pack-home-');
    await agentos(['new', 'skill']);
    await agentos(['build', 'skill']);
    await agentos(['install', 'skill', '--home', home]);
    await agentos(['enable', 'skill', '--yes', '--home', home]);
    const { stdout } = await agentos(['invoke', 'skill', 'greet', '--args', '{"name":"Pack"}', '--json', '--home', home]);
    expect(JSON.parse(stdout)).toEqual({ ok: true, result: { greeting: 'Hello, Pack!' } });
  }, 120_000);
});
