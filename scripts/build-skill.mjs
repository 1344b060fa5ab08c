#!/usr/bin/env node
// `npm run build-skill -- <skill-dir> [--engine quickjs|starlingmonkey] [--out <file>]`:
// the CLI's `build` command, compiling the host first when this checkout has not been built.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const cli = resolve(root, 'dist/cli/main.js');
if (!existsSync(cli)) {
  console.error('building the host first (npm run build)...');
  const tsc = spawnSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', resolve(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
const r = spawnSync(process.execPath, [cli, 'build', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
