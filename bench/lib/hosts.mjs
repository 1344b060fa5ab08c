// The shared hosts: throwaway stores with built skills installed, enabled and loaded (like
// test/helpers.ts), and invokers on them.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { DIST } from './env.mjs';

export const api = await import(`${DIST}/index.js`);

const temps = [];

export async function tempDir(prefix = 'agentos-bench-') {
  const d = await mkdtemp(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

export async function cleanup() {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Copy of a built skill folder (manifest + component), with the manifest edited. */
export async function copySkill(src, edit) {
  const dir = await tempDir('agentos-bench-skill-');
  await cp(src, dir, { recursive: true, filter: (s) => !s.includes('node_modules') });
  if (edit) {
    const file = join(dir, 'skill.yaml');
    const m = parse(await readFile(file, 'utf8'));
    edit(m);
    await writeFile(file, stringify(m));
  }
  return dir;
}

/**
 * A store in a temp home with `dirs` installed and enabled; unless `load: false`, the loader has
 * loaded them (so the transpile cache is warm).
 */
export async function makeStore(dirs, registryOpts = {}, { load = true } = {}) {
  const home = registryOpts.home ?? (await tempDir('agentos-bench-home-'));
  const registry = new api.SkillRegistry({ ...registryOpts, home });
  const ids = [];
  for (const d of dirs) {
    const s = await registry.install(d);
    registry.enable(s.id);
    ids.push(s.id);
  }
  const loader = new api.SkillLoader(registry);
  const t = performance.now();
  if (load) await loader.loadEnabledSkills();
  const loadMs = performance.now() - t;
  return { home, registry, loader, ids, loadMs };
}

export function invokerFor(store, opts = {}) {
  return new api.SkillInvoker(store.loader, { phase: 'execution', ...opts });
}
