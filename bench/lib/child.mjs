// Child processes of the bench: run one script of bench/children in a fresh `node`, read its one
// JSON line; and the cold-start runs built on that (shared by the cold_start and load20 sections).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CHILDREN } from './env.mjs';
import { summarizeMs } from './stats.mjs';

/** Path of a script in bench/children. */
export const childScript = (name) => join(CHILDREN, name);

/** Runs `node args...`; resolves with the JSON of its first stdout line and the parent's wall times. */
export function child(args, { env } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let firstLineMs;
    p.stdout.on('data', (d) => {
      out += d;
      if (firstLineMs === undefined && out.includes('\n')) firstLineMs = performance.now() - t0;
    });
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      const exitMs = performance.now() - t0;
      const line = out.split('\n')[0];
      if (code !== 0 || !line) return reject(new Error(`child ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      try {
        resolve({ data: JSON.parse(line), firstLineMs, exitMs });
      } catch (e) {
        reject(new Error(`child output is not JSON: ${line.slice(0, 200)} (${e.message})`));
      }
    });
  });
}

async function clearCache(cache) {
  if (!existsSync(cache)) return;
  for (const e of await readdir(cache)) await rm(join(cache, e), { recursive: true, force: true });
}

/** `n` child runs of cold-child.mjs on `store`'s home; `cold` empties the transpile cache before each. */
export async function coldRuns(store, skillId, command, argsJson, { n, cold, all = false }) {
  const { home, cacheDir } = store;
  const runs = [];
  for (let i = 0; i < n; i++) {
    if (cold) await clearCache(cacheDir);
    const r = await child([childScript('cold-child.mjs'), home, skillId, command, argsJson, all ? 'all' : 'one']);
    runs.push(r);
  }
  const pick = (f) => summarizeMs(runs.map(f));
  return {
    runs: n,
    in_child_first_result: pick((r) => r.data.first_result),
    parent_wall_first_result: pick((r) => r.firstLineMs),
    parent_wall_exit: pick((r) => r.exitMs),
    breakdown_median_ms: {
      node_bootstrap: pick((r) => r.data.node_bootstrap_ms).median_ms,
      import_dist_index: pick((r) => r.data.imported - r.data.script_start).median_ms,
      registry_open: pick((r) => r.data.registry_open - r.data.imported).median_ms,
      load: pick((r) => r.data.loaded - r.data.registry_open).median_ms,
      first_invoke: pick((r) => r.data.first_result - r.data.loaded).median_ms,
      // inside load: the loader's own prepareMs (transpile on a cold cache,
      // cache check and compile); inside the first invoke: the worker's instantiateMs.
      // concurrent loads overlap: the longest one, not the sum
      loader_prepare_max: pick((r) => Math.max(...r.data.prepareMs)).median_ms,
      worker_instantiate: runs.every((r) => typeof r.data.workerInstantiateMs === 'number') ? pick((r) => r.data.workerInstantiateMs).median_ms : null,
    },
  };
}

/**
 * `node args...` from spawn to exit, and to its first stdout byte (parent's wall times, ms);
 * rejects on a non-zero exit.
 */
export function spawnWall(args, { env } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let firstMs;
    let err = '';
    p.stdout.on('data', () => (firstMs ??= performance.now() - t0));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      const exitMs = performance.now() - t0;
      if (code !== 0) return reject(new Error(`node ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      resolve({ exitMs, firstMs: firstMs ?? exitMs });
    });
  });
}
