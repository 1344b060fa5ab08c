#!/usr/bin/env node
// Builds every example skill (skills/*) and test fixture (test/fixtures/*) that has a skill.yaml
// with an `entry`, skipping those whose component is newer than all of its sources.
// Needs the compiled library: `npm run build` first (npm test does both).
//
//   node scripts/build-examples.mjs            build what is stale
//   node scripts/build-examples.mjs --force    rebuild everything
//   node scripts/build-examples.mjs skills/hello test/fixtures/hostile   only these folders

import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { buildSkill, skillSources } from '../dist/build/build-skill.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const force = args.includes('--force');
const only = args.filter((a) => !a.startsWith('--')).map((a) => path.resolve(a));

function skillDirs() {
  if (only.length > 0) return only;
  const dirs = [];
  for (const parent of ['skills', 'test/fixtures']) {
    const abs = path.join(root, parent);
    if (!existsSync(abs)) continue;
    for (const name of readdirSync(abs).sort()) {
      const dir = path.join(abs, name);
      if (existsSync(path.join(dir, 'skill.yaml')) || existsSync(path.join(dir, 'skill.yml'))) dirs.push(dir);
    }
  }
  return dirs;
}

async function manifestOf(dir) {
  const file = existsSync(path.join(dir, 'skill.yaml')) ? 'skill.yaml' : 'skill.yml';
  return parse(await readFile(path.join(dir, file), 'utf8')) ?? {};
}

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Why `dir` needs a build, or undefined when its component is up to date. */
async function staleness(dir, m) {
  if (force) return 'forced';
  const built = mtime(path.resolve(dir, m.component ?? 'dist/skill.wasm'));
  if (built === undefined) return 'no component yet';
  const sources = await skillSources(dir);
  if (!sources) return 'sources do not bundle';
  const newer = sources.find((f) => (mtime(f) ?? Infinity) > built);
  return newer ? `${path.relative(root, newer)} changed` : undefined;
}

const rel = (p) => path.relative(root, p) || '.';
const size = (n) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${(n / 1024).toFixed(0)} kB`);

let failed = 0;
const t0 = performance.now();
const work = [];
for (const dir of skillDirs()) {
  const m = await manifestOf(dir).catch(() => ({}));
  if (!m.entry) continue; // a prebuilt component without sources
  const why = await staleness(dir, m);
  const id = String(m.id ?? rel(dir)).padEnd(20);
  if (!why) {
    const bytes = statSync(path.resolve(dir, m.component)).size;
    console.log(`${id} ${(m.engine ?? 'quickjs').padEnd(15)} ${size(bytes).padStart(8)}  up to date`);
    continue;
  }
  work.push({ dir, id, why });
}

// Two at a time: a StarlingMonkey build (10-20 s) overlaps the quick QuickJS ones.
const queue = [...work];
async function worker() {
  for (let job = queue.shift(); job; job = queue.shift()) {
    try {
      const r = await buildSkill(job.dir);
      console.log(`${job.id} ${r.engine.padEnd(15)} ${size(r.bytes).padStart(8)}  ${r.ms} ms  (${job.why})`);
    } catch (e) {
      failed++;
      console.error(`${job.id} FAILED (${rel(job.dir)}): ${e?.message ?? e}`);
    }
  }
}
await Promise.all([worker(), worker()]);

if (work.length > 0) console.log(`built ${work.length - failed} of ${work.length} in ${Math.round(performance.now() - t0)} ms`);
process.exitCode = failed > 0 ? 1 : 0;
