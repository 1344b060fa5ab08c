// Paths, machine facts and the shared inputs of the benchmark (bench/run.mjs and its sections).
import os from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DIST = pathToFileURL(resolve(ROOT, 'dist')).href;
export const SKILLS = {
  hello: resolve(ROOT, 'skills/hello'),
  fetch: resolve(ROOT, 'skills/net-fetch'),
  files: resolve(ROOT, 'skills/fs-cmd'),
  hostile: resolve(ROOT, 'test/fixtures/hostile'),
  hostileSm: resolve(ROOT, 'test/fixtures/hostile-sm'),
};
/** The bench's own files: scripts run in a child process or worker, fixtures, optional peers. */
export const BENCH = resolve(ROOT, 'bench');
export const CHILDREN = resolve(BENCH, 'children');
export const FIXTURES = resolve(BENCH, 'fixtures');
export const PEERS = resolve(BENCH, 'peers');
/** Partial runs (--only) and the esbuild bundle go here, never into bench/. */
export const CACHE = resolve(ROOT, 'node_modules/.cache/agentos-bench');

/** The arguments every section passes to hello's greet and echo. */
export const GREET = { name: 'Ada' };
export const GREET_JSON = JSON.stringify(GREET);
export const ECHO = { a: 1, b: 'two' };
export const ECHO_JSON = JSON.stringify(ECHO);

export function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadavg_at_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
