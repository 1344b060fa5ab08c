/**
 * SkillLoader: turns an installed, enabled skill into something a worker can instantiate fast.
 *
 * For each skill: the stored component must exist (SkillModuleNotFoundError) and hash to what
 * the registry recorded (IntegrityError, audited). It is then transpiled once (cached on disk
 * under the store's cache dir, keyed by the component hash, with the cache's own file hashes
 * checked on every load) and its core modules compiled once per process (kept in memory, with
 * the skill's memory cap written into them).
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transpileComponent } from './build/transpile.js';
import {
  IntegrityError,
  SkillError,
  SkillModuleNotFoundError,
  SkillNotEnabledError,
} from './errors.js';
import { DEFAULT_HOST_POLICY, effectiveLimits, type HostPolicy } from './policy.js';
import type { InstalledSkill, SkillRegistry } from './registry.js';
import { capModuleMemory } from './sandbox/memory-limit.js';
import type { PreparedModules } from './sandbox/skill-worker.js';
import { ensureWasmFeatures } from './sandbox/wasm-features.js';
import type { SkillManifest } from './types.js';

export interface LoadedSkill {
  id: string;
  version: string;
  manifest: SkillManifest;
  /** sha256 of the component the registry holds. */
  hash: string;
  /** Effective limits: the manifest's, within the host policy. */
  limits: { timeoutMs: number; memoryMb: number };
  prepared: PreparedModules;
  loadedAt: string;
  /** Time spent preparing (transpile on a cold cache, compile, integrity checks). */
  prepareMs: number;
}

export interface SkillLoaderOptions {
  /** The operator's policy (limits maximums and defaults); defaults to the registry's. */
  hostPolicy?: HostPolicy | undefined;
}

const CACHE_INDEX = 'index.json';
const JS_FILE = 'skill.js';

/** Compiled modules per (component hash, memory cap), shared by every loader in the process. */
const compiled = new Map<string, Promise<Record<string, WebAssembly.Module>>>();

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class SkillLoader {
  private readonly loaded = new Map<string, LoadedSkill>();
  private readonly inflight = new Map<string, Promise<LoadedSkill>>();
  readonly registry: SkillRegistry;
  private readonly hostPolicy: HostPolicy;

  constructor(registry: SkillRegistry, opts: SkillLoaderOptions = {}) {
    this.registry = registry;
    this.hostPolicy = opts.hostPolicy ?? registry.hostPolicy ?? DEFAULT_HOST_POLICY;
  }

  /**
   * Loads every enabled skill. One skill's failure does not stop the others: they are all
   * attempted, and if any failed the first failure is thrown afterwards (each one is audited).
   */
  async loadEnabledSkills(): Promise<LoadedSkill[]> {
    const enabled = this.registry.list().filter((s) => s.enabled);
    const results = await Promise.allSettled(enabled.map((s) => this.load(s.id)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<LoadedSkill>).value);
  }

  /** Loads (or returns the already loaded, still current) skill. */
  async load(id: string): Promise<LoadedSkill> {
    const installed = this.registry.get(id);
    if (!installed) throw new SkillNotEnabledError('not_installed', { skillId: id });
    if (!installed.enabled) throw new SkillNotEnabledError('disabled', { skillId: id });
    const current = this.loaded.get(id);
    if (current && current.hash === installed.componentHash) return current;
    const key = `${id}@${installed.componentHash}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.prepare(installed).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const skill = await p;
    this.loaded.set(id, skill);
    return skill;
  }

  /** The loaded skill, if `load` ran for its current version. */
  get(id: string): LoadedSkill | undefined {
    return this.loaded.get(id);
  }

  list(): LoadedSkill[] {
    return [...this.loaded.values()];
  }

  unload(id: string): void {
    this.loaded.delete(id);
  }

  private async prepare(installed: InstalledSkill): Promise<LoadedSkill> {
    const t0 = performance.now();
    const { id, componentHash: hash, componentPath } = installed;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(componentPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.registry.recordAudit({
        type: 'integrity_failure',
        skillId: id,
        target: componentPath,
        reason: 'stored component is missing',
      });
      throw new SkillModuleNotFoundError(
        componentPath,
        `stored component of '${id}' is missing (${componentPath}); reinstall the skill`,
        { skillId: id },
      );
    }
    const actual = sha256(bytes);
    if (actual !== hash) {
      this.registry.recordAudit({
        type: 'integrity_failure',
        skillId: id,
        target: componentPath,
        reason: `component hash ${actual} does not match the registered ${hash}`,
      });
      throw new IntegrityError(
        hash,
        actual,
        `stored component of '${id}' was modified: sha256 ${actual}, registered ${hash}; refusing to load it`,
        { skillId: id },
      );
    }
    const limits = effectiveLimits(installed.manifest, this.hostPolicy);
    const dir = await this.transpiled(hash, bytes, id);
    const memoryBytes = limits.memoryMb * 1024 * 1024;
    const modules = await compileModules(dir, hash, memoryBytes, id);
    return {
      id,
      version: installed.version,
      manifest: installed.manifest,
      hash,
      limits,
      prepared: { jsUrl: pathToFileURL(join(dir, JS_FILE)).href, modules, memoryBytes },
      loadedAt: new Date().toISOString(),
      prepareMs: performance.now() - t0,
    };
  }

  /** The transpiled files for a component hash, from the disk cache or made now. */
  private async transpiled(hash: string, bytes: Uint8Array, id: string): Promise<string> {
    const root = this.registry.cacheDir;
    const dir = join(root, hash);
    if (existsSync(join(dir, CACHE_INDEX))) {
      if (await cacheIntact(dir)) return dir;
      // A damaged cache is only a cache: rebuild it from the verified component.
      await rm(dir, { recursive: true, force: true });
    }
    let out: Awaited<ReturnType<typeof transpileComponent>>;
    try {
      out = await transpileComponent(bytes, 'skill');
    } catch (e) {
      throw new SkillError('EXECUTION_ERROR', `could not prepare '${id}': ${(e as Error).message}`, {
        skillId: id,
        cause: e,
      });
    }
    const tmp = join(root, `.tmp-${hash}-${randomUUID()}`);
    await mkdir(tmp, { recursive: true });
    const index: Record<string, string> = {};
    for (const [name, data] of Object.entries(out.files)) {
      if (!(name === JS_FILE || name.endsWith('.wasm'))) continue; // .d.ts and friends are not needed
      await writeFile(join(tmp, name), data);
      index[name] = sha256(data);
    }
    await writeFile(join(tmp, CACHE_INDEX), JSON.stringify(index));
    try {
      await rename(tmp, dir);
    } catch {
      // Another process won the race; its copy is as good as ours.
      await rm(tmp, { recursive: true, force: true });
    }
    return dir;
  }
}

async function cacheIntact(dir: string): Promise<boolean> {
  try {
    const index = JSON.parse(await readFile(join(dir, CACHE_INDEX), 'utf8')) as Record<string, string>;
    const names = Object.keys(index);
    if (!names.includes(JS_FILE)) return false;
    for (const name of names) {
      if (name.includes('/') || name.includes('..')) return false;
      if (sha256(await readFile(join(dir, name))) !== index[name]) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function compileModules(
  dir: string,
  hash: string,
  memoryBytes: number,
  id: string,
): Promise<Record<string, WebAssembly.Module>> {
  const key = `${hash}:${memoryBytes}`;
  let p = compiled.get(key);
  if (!p) {
    p = (async () => {
      ensureWasmFeatures();
      const names = (await readdir(dir)).filter((n) => n.endsWith('.wasm'));
      const entries = await Promise.all(
        names.map(async (n) => {
          const bytes = capModuleMemory(await readFile(join(dir, n)), memoryBytes);
          return [n, await WebAssembly.compile(bytes)] as const;
        }),
      );
      return Object.fromEntries(entries);
    })();
    p.catch(() => compiled.delete(key));
    compiled.set(key, p);
  }
  return p.catch((e: unknown) => {
    throw new SkillError('EXECUTION_ERROR', `could not compile '${id}': ${(e as Error).message}`, {
      skillId: id,
      cause: e,
    });
  });
}
