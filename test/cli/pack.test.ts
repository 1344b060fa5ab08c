/**
 * The package as users get it: `npm pack`, then ONE `npm install <tarball> typescript` in a fresh
 * project, shared by every check below: its `agentos-skills` bin, build included (wit/ and guest/
 * must be found inside the installed package), a skill scaffolded by that bin following its own
 * README (`npm install`, `npm test`), and a strict TypeScript consumer (`skipLibCheck: false`)
 * with nothing but this package installed. The install compiles native modules when no prebuilt
 * binary can be fetched, so this takes minutes; AGENTOS_SKIP_PACK_TEST=1 skips the installed part
 * on a developer's machine (never in CI).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, ROOT, tempDir } from '../helpers.js';
import { runReadmeSteps, userEnv } from './readme-steps.js';
import { requireBuiltCli } from './run-cli.js';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const VERSION = PKG.version;

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

  it('every file the README links to is in the tarball', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:|^#/i.test(l));
    const targets = [...new Set(links.map((l) => l.replace(/#.*$/, '').replace(/^\.\//, '')))];
    expect(targets).toContain('docs/mcp.md');
    expect(targets.filter((t) => !files.includes(t))).toEqual([]);
  });
});

describe.skipIf(process.env['AGENTOS_SKIP_PACK_TEST'] === '1' && !process.env['CI'])('installed from the tarball', () => {
  let project: string;
  let bin: string;
  const env = () => userEnv();
  const agentos = (args: string[]) => run(bin, args, { cwd: project, env: env(), maxBuffer: 16 * 1024 * 1024 });

  beforeAll(async () => {
    project = await tempDir('agentos-pack-project-');
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'pack-test', version: '1.0.0', private: true, type: 'module' }));
    // typescript for the strict consumer below; everything else comes with the tarball.
    await run(NPM, ['install', tarball, `typescript@${PKG.devDependencies['typescript']}`, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error'], {
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

  // new, then the scaffold's README: npm install links this installed package; npm test type-checks,
  // builds with the installed bin (wit/ and guest/ found inside the package), installs, enables and
  // invokes greet -> Hello, Ada! (test/skill.test.mjs asserts the exact result).
  it("a skill scaffolded by the installed bin passes its README's steps (npm install, npm test) outside the project", async () => {
    const elsewhere = await tempDir('agentos-pack-skill-');
    await run(bin, ['new', 'greeter'], { cwd: elsewhere, env: env() });
    const dir = join(elsewhere, 'greeter');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.devDependencies['@agentos/skills']).toBe(`file:${join(project, 'node_modules/@agentos/skills')}`);
    const runs = await runReadmeSteps(dir, env());
    expect(runs.map((r) => [r.command, r.code, r.code === 0 ? '' : r.output])).toEqual([
      ['npm install', 0, ''],
      ['npm test', 0, ''],
    ]);
    expect(runs[1]!.output).toMatch(/# pass 1/);
  }, 180_000);

  it('a strict TypeScript consumer (skipLibCheck: false) compiles against the public names with nothing else installed', async () => {
    for (const f of ['tsconfig.json', 'consumer.ts']) await copyFile(join(ROOT, 'test/fixtures/ts-consumer', f), join(project, f));
    expect(JSON.parse(readFileSync(join(project, 'tsconfig.json'), 'utf8')).compilerOptions).toMatchObject({ strict: true, skipLibCheck: false });
    const tsc = join(project, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');
    const r = await run(tsc, ['-p', project], { cwd: project, env: env() }).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '' }),
    );
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);
});

