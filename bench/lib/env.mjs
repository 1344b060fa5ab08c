// Paths and machine facts shared by the bench scripts.
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
