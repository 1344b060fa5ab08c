/** Test helpers: throwaway stores and copies of the built example skills. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { SkillInvoker, type SkillInvokerOptions } from '../src/invoker.js';
import { SkillLoader } from '../src/loader.js';
import { SkillRegistry } from '../src/registry.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const SKILLS = {
  hello: join(ROOT, 'skills/hello'),
  fetch: join(ROOT, 'skills/net-fetch'),
  files: join(ROOT, 'skills/fs-cmd'),
  hostile: join(ROOT, 'test/fixtures/hostile'),
  hostileSm: join(ROOT, 'test/fixtures/hostile-sm'),
};

const cleanups: string[] = [];

export async function tempDir(prefix = 'agentos-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(d);
  return d;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(cleanups.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/**
 * Copies a built skill folder (manifest + component; sources are not needed to install) into a
 * temp dir, letting the test edit the manifest first (roots, domains, limits).
 */
export async function copySkill(src: string, edit?: (m: Record<string, any>) => void): Promise<string> {
  const dir = await tempDir('agentos-skill-');
  await cp(src, dir, { recursive: true, filter: (s) => !s.includes('node_modules') });
  if (edit) {
    const file = join(dir, 'skill.yaml');
    const m = parse(await readFile(file, 'utf8')) as Record<string, any>;
    edit(m);
    await writeFile(file, stringify(m));
  }
  return dir;
}

export interface Host {
  home: string;
  registry: SkillRegistry;
  loader: SkillLoader;
  invoker: SkillInvoker;
  close(): Promise<void>;
}

/** A store in a temp dir with the given skill folders installed, enabled and loaded. */
export async function host(dirs: string[], opts: SkillInvokerOptions = {}, registryOpts: Record<string, unknown> = {}): Promise<Host> {
  const home = await tempDir('agentos-home-');
  const registry = new SkillRegistry({ home, ...registryOpts });
  for (const d of dirs) {
    const s = await registry.install(d);
    registry.enable(s.id);
  }
  const loader = new SkillLoader(registry);
  await loader.loadEnabledSkills();
  const invoker = new SkillInvoker(loader, { phase: 'execution', ...opts });
  return {
    home,
    registry,
    loader,
    invoker,
    async close() {
      await invoker.close();
      registry.close();
    },
  };
}
