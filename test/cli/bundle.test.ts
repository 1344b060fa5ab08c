/**
 * The bin is the bundled CLI (scripts/bundle-cli.mjs, run by `npm run build`): it must behave as
 * the unbundled modules do. What bundling could break is checked here on the real bin: paths
 * computed from `import.meta.url` (package.json, the host package the fs guard protects) and the
 * lazy loading of the library (`--version` opens no SQLite and loads no ajv, zod, yaml or pino).
 * Everything else is the rest of test/cli, which runs the same bin.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copySkill, removeTempDirs, ROOT, SKILLS, tempDir } from '../helpers.js';
import { cli, MAIN, requireBuiltCli, requireBuiltSkill } from './run-cli.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(() => {
  requireBuiltCli();
  requireBuiltSkill(SKILLS.hello);
});
afterAll(removeTempDirs);

describe('the bundled bin', () => {
  it('dist/cli/main.js is the entry of the bundle', () => {
    expect(readFileSync(MAIN, 'utf8')).toContain("import '../cli-bundle/main.js'");
  });

  it('--version reads the package.json of the package, and loads none of the library', async () => {
    const scratch = await tempDir('agentos-bundle-');
    const probe = join(scratch, 'loaded.cjs');
    // Every CommonJS module loaded, printed at exit (the heavy dependencies are all CommonJS).
    await writeFile(probe, `process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));`);
    const r = await cli(['--version'], { nodeArgs: ['--require', probe] });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
    const loaded = JSON.parse(/LOADED (.*)/.exec(r.stderr)![1]!) as string[];
    expect(loaded).toContain(probe); // the probe sees what was loaded
    expect(loaded.filter((p) => /node_modules\/(better-sqlite3|ajv|zod|yaml|pino)\//.test(p))).toEqual([]);
  });

  it('the fs guard still knows the host package: a skill asking for a folder of it (outside dist/) is refused at install', async () => {
    const home = await tempDir('agentos-bundle-home-');
    const dir = await copySkill(SKILLS.hello, (m) => {
      m['requires'] = { ...m['requires'], permissions: { fs: { read: true, paths: [join(ROOT, 'wit')] } } };
    });
    const r = await cli(['install', dir, '--home', home]);
    expect(r.code).toBe(19);
    expect(r.stderr).toContain('lies inside the host package');
    expect(r.stderr).toContain(ROOT);
  });
});
