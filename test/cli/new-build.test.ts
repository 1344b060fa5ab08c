/** `new` -> `build` -> `install` -> `enable --yes` -> `invoke`, end to end through the real bin. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { removeTempDirs, ROOT, tempDir } from '../helpers.js';
import { cli, ESC, MAIN, requireBuiltCli } from './run-cli.js';
import { readmeCommands, runReadmeSteps, runShell } from './readme-steps.js';

let work: string;
let home: string;

beforeAll(async () => {
  requireBuiltCli();
  work = await tempDir('agentos-cli-new-');
  home = join(work, 'home');
});
afterAll(removeTempDirs);

describe('new', () => {
  it('scaffolds a skill whose manifest is valid and whose id comes from the folder name', async () => {
    const r = await cli(['new', 'My Skill!'], { cwd: work });
    expect(r.code).toBe(0);
    const dir = join(work, 'My Skill!');
    expect(r.stdout).toContain(`Created skill my-skill in ${dir}`);
    expect((await readdir(dir)).sort()).toEqual(['.gitignore', 'README.md', 'package.json', 'skill.yaml', 'src', 'test', 'tsconfig.json']);
    const manifest = parse(await readFile(join(dir, 'skill.yaml'), 'utf8'));
    expect(manifest).toMatchObject({ id: 'my-skill', entry: 'src/index.ts', component: 'dist/skill.wasm' });
    expect(await readFile(join(dir, 'src/index.ts'), 'utf8')).toContain('export const commands');
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    expect(pkg.scripts.test).toBe('tsc -p . && node test/skill.test.mjs');
    // Linked from this copy (a checkout here): the package need not be on any registry.
    expect(pkg.devDependencies['@agentos/skills']).toBe(`file:${ROOT}`);
    expect(pkg.devDependencies['typescript']).toMatch(/^\^\d+\.\d+\.\d+/);
    const tsconfig = JSON.parse(await readFile(join(dir, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.compilerOptions).toMatchObject({ strict: true, skipLibCheck: false, types: ['@agentos/skills/guest'] });
  });

  it('refuses a non-empty folder and writes nothing into it', async () => {
    const dir = join(work, 'occupied');
    await mkdir(dir);
    await writeFile(join(dir, 'keep.txt'), 'mine');
    const r = await cli(['new', dir, '--json']);
    expect(r.code).toBe(1);
    expect(r.json().error).toMatchObject({ code: 'DIR_NOT_EMPTY', dir });
    expect(await readdir(dir)).toEqual(['keep.txt']);
    const human = await cli(['new', dir]);
    expect(human.stderr).toContain('is not empty');
  });

  it('refuses a folder name that gives no id, and a bad --id (exit 2)', async () => {
    const r = await cli(['new', join(work, '---')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--id');
    const bad = await cli(['new', join(work, 'ok'), '--id', 'Bad Id', '--json']);
    expect(bad.code).toBe(2);
    expect(existsSync(join(work, 'ok'))).toBe(false);
  });
});

describe('new -> build -> install -> enable -> invoke', () => {
  const dir = () => join(work, 'greeter');

  it('builds with progress on stderr and the result on stdout', async () => {
    expect((await cli(['new', dir(), '--id', 'test.greeter', '--name', 'Greeter'])).code).toBe(0);
    const r = await cli(['build', dir()]);
    expect(r.code).toBe(0);
    for (const step of ['manifest', 'bundle', 'compile', 'check', 'write']) expect(r.stderr).toMatch(new RegExp(`^  ${step} `, 'm'));
    expect(r.stdout).toMatch(/^Built test\.greeter -> .*dist\/skill\.wasm \(\d+\.\d MB, quickjs, [\d.]+ s\)$/m);
    expect(r.stdout + r.stderr).not.toMatch(ESC);
    expect((await stat(join(dir(), 'dist/skill.wasm'))).size).toBeGreaterThan(100_000);
  });

  it('installs disabled, enables with --yes, invokes with the log line on stderr', async () => {
    const inst = await cli(['install', dir(), '--json', '--home', home]);
    expect(inst.code).toBe(0);
    expect(inst.json().result).toMatchObject({ id: 'test.greeter', enabled: false, addedPermissions: [] });
    expect((await cli(['enable', 'test.greeter', '--yes', '--home', home])).code).toBe(0);
    const r = await cli(['invoke', 'test.greeter', 'greet', '--args', '{"name":"Ada"}', '--home', home]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ greeting: 'Hello, Ada!' });
    expect(r.stderr).toContain('[test.greeter] info  greeting Ada');
  });

  it('--json build and --out (relative to the current folder)', async () => {
    const r = await cli(['build', dir(), '--out', 'out/other.wasm', '--json'], { cwd: work });
    expect(r.code).toBe(0);
    expect(r.json().result).toMatchObject({ skillId: 'test.greeter', engine: 'quickjs', componentPath: join(work, 'out/other.wasm') });
    expect(existsSync(join(work, 'out/other.wasm'))).toBe(true);
  });

  it('a syntax error fails the build with exit 21 and file:line:col', async () => {
    const broken = join(work, 'broken');
    expect((await cli(['new', broken])).code).toBe(0);
    await writeFile(join(broken, 'src/index.ts'), 'export const commands = {\n  greet() { return 1 +; },\n};\n');
    const r = await cli(['build', broken]);
    expect(r.code).toBe(21);
    expect(r.stderr).toContain('src/index.ts:2:');
    const j = await cli(['build', broken, '--json']);
    expect(j.json().error.code).toBe('BUILD_FAILED');
    const noManifest = await cli(['build', work, '--json']);
    expect(noManifest.code).toBe(19);
  });

  it("the scaffold's own test script passes against this CLI", async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [join(dir(), 'test/skill.test.mjs')], {
        cwd: dir(),
        env: { ...process.env, AGENTOS_SKILLS_CLI: MAIN, AGENTOS_HOME: '', NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      child.on('close', (c) => resolve({ code: c, output }));
    });
    expect(output).toMatch(/# pass 1/);
    expect(code).toBe(0);
  });
});

describe("the scaffold's README steps, from an empty folder", () => {
  it('`npm install` then `npm test` type-check strictly, build, install and invoke; a type error fails the build', async () => {
    const empty = await tempDir('agentos-cli-readme-');
    expect((await cli(['new', 'hello-skill'], { cwd: empty })).code).toBe(0);
    const dir = join(empty, 'hello-skill');
    expect(readmeCommands(await readFile(join(dir, 'README.md'), 'utf8'))).toEqual(['npm install', 'npm test']);
    const runs = await runReadmeSteps(dir);
    expect(runs.map((r) => [r.command, r.code])).toEqual([
      ['npm install', 0],
      ['npm test', 0],
    ]);
    const test = runs[1]!.output;
    expect(test).toContain('> tsc -p . && node test/skill.test.mjs');
    expect(test).toMatch(/# pass 1/);
    expect((await stat(join(dir, 'dist/skill.wasm'))).size).toBeGreaterThan(100_000);

    // The type-check is real: strict, with the guest types, and it stops the build.
    const src = join(dir, 'src/index.ts');
    await writeFile(src, (await readFile(src, 'utf8')).replace('return { greeting', 'const n: number = name;\n    return { n, greeting'));
    const broken = await runShell('npm run build', dir);
    expect(broken.code).not.toBe(0);
    expect(broken.output).toMatch(/src\/index\.ts\(\d+,\d+\): error TS2322/);
    expect(broken.output).not.toContain('Built ');
  }, 180_000);
});
