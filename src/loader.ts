/**
 * SkillLoader: turns an installed, enabled skill into something a worker can instantiate fast.
 *
 * For each skill: the stored component must exist (SkillModuleNotFoundError) and hash to what
 * the registry recorded (IntegrityError, audited). It is then transpiled once (cached on disk
 * under the store's cache dir, keyed by the component hash) and its core modules compiled once
 * per process (kept in memory, with the skill's memory cap written into them).
 *
 * Nothing in the cache folder is trusted: the sha256 and size of every file written there are
 * recorded in the registry's database, each file is read once (regular files only, size-capped)
 * and checked against that record, and only the checked bytes are used: the worker imports the
 * JS glue from a data: URL of them, never from the file. A mismatch is audited
 * (`integrity_failure`) and the cache is rebuilt from the verified component.
 *
 * The commands' args validators are cached the same way (ajv's standalone code, under
 * `<cacheDir>/args-<sha256 of ajv's version, its settings and the schemas>`), so that a fresh
 * process checks its first args without loading ajv (args.ts).
 */
import { randomUUID } from 'node:crypto';
import { sha256 } from './hash.js';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { transpileComponent } from './build/transpile.js';
import {
  IntegrityError,
  ManifestError,
  ResourceLimitError,
  PrepareError,
  SkillError,
  SkillModuleNotFoundError,
  SkillNotEnabledError,
} from './errors.js';
import { DEFAULT_HOST_POLICY, effectiveLimits, type HostPolicy } from './policy.js';
import type { InstalledSkill, SkillRegistry } from './registry.js';
import { assertComponentModules } from './build/component-modules.js';
import { checkAndCapModules, MalformedModuleError, moduleLimitError, moduleLimits } from './sandbox/module-limits.js';
import type { PreparedModules } from './sandbox/worker-handle.js';
import { ensureWasmFeatures } from './sandbox/wasm-features.js';
import { hookGlue } from './sandbox/glue-hook.js';
import { exposeState } from './sandbox/state-exports.js';
import { codeFacts, type CodeFacts } from './sandbox/code-facts.js';
import type { TranspileCacheFiles } from './store/transpile-cache.js';
import type { JsonSchema, SkillManifest } from './types.js';
import { readRegularFileSync, UnsafeFileError } from './safe-read.js';
import { primeValidators, standaloneKeyMaterial, standaloneValidators, type ArgsValidatorCode } from './args.js';

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

const JS_FILE = 'skill.js';
/** The one file of an args-validators cache entry: `{ key, validators: { command: code } }`. */
const ARGS_FILE = 'validators.json';

/** Compiled modules per (component hash, memory cap), shared by every loader in the process. */
const compiled = new Map<string, Promise<Record<string, WebAssembly.Module>>>();

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
    if (installed.manifestError !== undefined) {
      throw new ManifestError(`(stored manifest of '${id}')`, [{ path: '', message: installed.manifestError }], { skillId: id });
    }
    let bytes: Uint8Array;
    try {
      // A regular file in the components folder of the registered size at most (a FIFO or a
      // device planted there must not block or flood the host); its hash is checked below.
      bytes = readRegularFileSync(componentPath, { within: dirname(componentPath), maxBytes: installed.componentSize });
    } catch (e) {
      if (!(e instanceof UnsafeFileError)) throw e;
      if (e.reason !== 'missing') {
        this.registry.recordAudit({ type: 'integrity_failure', skillId: id, target: componentPath, reason: `stored component: ${e.message}` });
        throw new IntegrityError(hash, e.reason, `stored component of '${id}' cannot be used (${e.message}); reinstall the skill`, { skillId: id, cause: e });
      }
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
    let transpiled: VerifiedTranspile;
    const memoryBytes = limits.memoryMb * 1024 * 1024;
    let modules: Record<string, WebAssembly.Module>;
    try {
      // Checked again here, not only at install: the host policy may have lowered memory_mb since.
      assertComponentModules(bytes, limits.memoryMb, componentPath, id);
      transpiled = await this.transpiled(hash, bytes, id);
      const compiling = compileModules(transpiled.wasm, hash, memoryBytes, limits.memoryMb, id);
      compiling.catch(() => undefined); // rejected while the validators are read: awaited below
      // While V8 compiles the modules off this thread.
      await this.argsValidators(installed.manifest, id);
      modules = await compiling;
    } catch (e) {
      // A limit (the component is the one installed, it asks too much) or a module the parser
      // refuses (damaged or hostile); either way nothing was compiled or instantiated.
      if (e instanceof ResourceLimitError) {
        this.registry.recordAudit({
          type: 'limit_exceeded',
          skillId: id,
          target: componentPath,
          operation: e.limit,
          reason: e.message,
          meta: { limit: e.limit, max: e.max },
        });
      } else if (e instanceof IntegrityError && e.cause instanceof MalformedModuleError) {
        this.registry.recordAudit({ type: 'integrity_failure', skillId: id, target: componentPath, reason: e.message });
      }
      throw e;
    }
    return {
      id,
      version: installed.version,
      manifest: installed.manifest,
      hash,
      limits,
      prepared: { jsUrl: transpiled.jsUrl, modules, memoryBytes, notResettable: transpiled.notResettable, tablesFixed: transpiled.tablesFixed },
      loadedAt: new Date().toISOString(),
      prepareMs: performance.now() - t0,
    };
  }

  /**
   * The transpiled files for a component hash: from the disk cache if every file there is
   * exactly what the registry recorded when it was written, else made now from the verified
   * component (and the cache rewritten). What is returned is the bytes that were verified (or
   * made), in memory: nothing is read from the cache folder again after the check.
   */
  private async transpiled(hash: string, bytes: Uint8Array, id: string): Promise<VerifiedTranspile> {
    const root = this.registry.cacheDir;
    const dir = join(root, hash);
    const record = this.registry.transpileCacheRecord(hash);
    if (record) {
      const got = readRecordedFiles(dir, record);
      if (got.ok) return verifiedTranspile(got.files, this.recordedFacts(hash, record, got.files));
      if (got.tampered) {
        this.registry.recordAudit({
          type: 'integrity_failure',
          skillId: id,
          target: dir,
          reason: `transpile cache does not match what was recorded when it was written (${got.why}); rebuilt from the verified component`,
        });
      }
    }
    let out: Awaited<ReturnType<typeof transpileComponent>>;
    try {
      out = await transpileComponent(bytes, 'skill');
    } catch (e) {
      throw new PrepareError(`could not prepare '${id}': ${(e as Error).message}`, {
        skillId: id,
        cause: e,
      });
    }
    const files: Record<string, Uint8Array> = {};
    for (const [name, data] of Object.entries(out.files)) {
      if (name === JS_FILE || (name.endsWith('.wasm') && SAFE_NAME.test(name))) files[name] = data; // .d.ts and friends are not needed
    }
    // Worked out once per component, on the bytes just made (the record keeps them for warm loads).
    const facts = factsOf(files);
    await this.writeCache(root, dir, hash, files, facts);
    return verifiedTranspile(files, facts);
  }

  /** The code facts in `record`, or (a record written before they were kept) worked out now on the verified files and added to it. */
  private recordedFacts(hash: string, record: TranspileCacheFiles, files: Record<string, Uint8Array>): Record<string, CodeFacts> {
    const out: Record<string, CodeFacts> = {};
    for (const [name, f] of Object.entries(record)) {
      if (!name.endsWith('.wasm')) continue;
      if (f.writesTables === undefined || f.dropsSegments === undefined) {
        const facts = factsOf(files);
        const updated = Object.fromEntries(Object.entries(record).map(([n, r]) => [n, { ...r, ...facts[n] }]));
        this.registry.recordTranspileCache(hash, updated);
        return facts;
      }
      out[name] = { writesTables: f.writesTables, dropsSegments: f.dropsSegments };
    }
    return out;
  }

  /**
   * Primes args.ts's validators of `manifest`'s commands from the cache, verified like the
   * transpiled files; on a miss, generates them (loading ajv) and writes the cache. Best effort:
   * whatever is not primed is compiled by the first invocation that needs it, as before.
   */
  private async argsValidators(manifest: SkillManifest, id: string): Promise<void> {
    try {
      const schemas: Record<string, JsonSchema> = {};
      for (const [name, spec] of Object.entries(manifest.commands)) if (spec.args !== undefined) schemas[name] = spec.args;
      if (Object.keys(schemas).length === 0) return;
      const root = this.registry.cacheDir;
      const key = `args-${sha256(standaloneKeyMaterial(schemas))}`;
      const dir = join(root, key);
      const record = this.registry.transpileCacheRecord(key);
      if (record) {
        const got = readRecordedFiles(dir, record, ARGS_FILE);
        if (got.ok) {
          const cached = parseValidatorsFile(got.files[ARGS_FILE]!, key);
          if (cached) {
            primeValidators(schemas, cached);
            return;
          }
        } else if (got.tampered) {
          this.registry.recordAudit({
            type: 'integrity_failure',
            skillId: id,
            target: dir,
            reason: `args validator cache does not match what was recorded when it was written (${got.why}); rebuilt from the manifest`,
          });
        }
      }
      const validators = standaloneValidators(schemas);
      if (Object.keys(validators).length === 0) return;
      await this.writeCache(root, dir, key, { [ARGS_FILE]: Buffer.from(JSON.stringify({ key, validators }), 'utf8') });
    } catch {
      // The validators are compiled on first use instead.
    }
  }

  /** Replace `<cacheDir>/<hash>` with `files` and record their hashes; a failure only costs a rebuild later. */
  private async writeCache(
    root: string,
    dir: string,
    hash: string,
    files: Record<string, Uint8Array>,
    facts: Record<string, CodeFacts> = {},
  ): Promise<void> {
    const tmp = join(root, `.tmp-${hash}-${randomUUID()}`);
    try {
      await mkdir(tmp, { recursive: true });
      const recorded: TranspileCacheFiles = {};
      for (const [name, data] of Object.entries(files)) {
        await writeFile(join(tmp, name), data, { flag: 'wx' });
        recorded[name] = { sha256: sha256(data), size: data.length, ...facts[name] };
      }
      // Whatever was there (a stale or planted copy, a symlink) goes; rm does not follow links.
      await rm(dir, { recursive: true, force: true });
      try {
        await rename(tmp, dir);
      } catch {
        // Another process put its copy there meanwhile; the record below may then not match it,
        // which only means one more rebuild.
        await rm(tmp, { recursive: true, force: true });
      }
      this.registry.recordTranspileCache(hash, recorded);
    } catch {
      // A full disk or a busy store: this load goes on from memory, the next one rebuilds.
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

/** Verified transpiler output: the instantiation module as a data: URL, the core modules' bytes. */
interface VerifiedTranspile {
  jsUrl: string;
  wasm: { name: string; bytes: Uint8Array }[];
  /** Why an instance cannot be reset to a snapshot (glue-hook.ts), if so. */
  notResettable: string | undefined;
  /** No core module can write a table after instantiation (code-facts.ts): a reset need not compare them. */
  tablesFixed: boolean;
}

/** The code facts of every core module of `files` (code-facts.ts). */
function factsOf(files: Record<string, Uint8Array>): Record<string, CodeFacts> {
  return Object.fromEntries(Object.entries(files).filter(([n]) => n.endsWith('.wasm')).map(([n, data]) => [n, codeFacts(data)]));
}

/**
 * The worker imports the glue from a data: URL of the verified bytes, not from the cache file:
 * a file could be swapped between the check and the import, a URL holding the text cannot.
 * jco's `--instantiation sync` output is one self-contained ES module (no imports of its own; the
 * core modules are handed over compiled), so it needs no base URL to resolve anything against.
 */
function verifiedTranspile(files: Record<string, Uint8Array>, facts: Record<string, CodeFacts>): VerifiedTranspile {
  // The verified text, with the one line that lets the worker check the glue's handle tables.
  const glue = hookGlue(Buffer.from(files[JS_FILE]!).toString('utf8'));
  const all = Object.values(facts);
  const drops = all.some((f) => f.dropsSegments) ? 'a core module drops data or element segments (a dropped segment cannot be put back)' : undefined;
  return {
    jsUrl: `data:text/javascript;base64,${Buffer.from(glue.js, 'utf8').toString('base64')}`,
    notResettable: glue.notResettable ?? drops,
    tablesFixed: !all.some((f) => f.writesTables),
    wasm: Object.entries(files)
      .filter(([n]) => n.endsWith('.wasm'))
      .map(([name, bytes]) => ({ name, bytes })),
  };
}

/** The validators of a verified args cache file, if it is one and for `key`. */
function parseValidatorsFile(bytes: Uint8Array, key: string): ArgsValidatorCode | undefined {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as { key?: unknown; validators?: unknown };
    if (v.key !== key || v.validators === null || typeof v.validators !== 'object' || Array.isArray(v.validators)) return undefined;
    return v.validators as ArgsValidatorCode;
  } catch {
    return undefined;
  }
}

/** A file name the loader itself writes (no separators, no dot-dot). */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

type RecordedRead =
  | { ok: true; files: Record<string, Uint8Array> }
  | { ok: false; tampered: boolean; why: string };

/**
 * Read exactly the recorded files of a cache folder, each a regular file inside it (no links
 * out, no FIFOs or devices: see safe-read.ts), of the recorded size and sha256. A folder that is
 * simply gone is a cold cache; anything else that does not match is tampering (or damage).
 */
function readRecordedFiles(dir: string, record: Record<string, { sha256: string; size: number }>, required = JS_FILE): RecordedRead {
  const names = Object.keys(record);
  if (!names.includes(required) || !names.every((n) => SAFE_NAME.test(n) && n !== '..')) {
    return { ok: false, tampered: false, why: 'the record is unusable' };
  }
  const files: Record<string, Uint8Array> = {};
  for (const name of names) {
    const want = record[name]!;
    let data: Uint8Array;
    try {
      data = readRegularFileSync(join(dir, name), { within: dir, maxBytes: want.size });
    } catch (e) {
      const reason = e instanceof UnsafeFileError ? e.reason : 'unreadable';
      if (reason === 'missing' && !existsSync(dir)) return { ok: false, tampered: false, why: 'not cached' };
      return { ok: false, tampered: true, why: `${name}: ${reason.replace('_', ' ')}` };
    }
    if (data.length !== want.size || sha256(data) !== want.sha256) {
      return { ok: false, tampered: true, why: `${name}: content differs` };
    }
    files[name] = data;
  }
  return { ok: true, files };
}

/**
 * Compiles the transpiled core modules (jco adds a couple of its own to the component's), after
 * checking every size they declare against the limits and writing maxima into their memories
 * and tables: nothing that exceeds a bound is ever compiled.
 */
function compileModules(
  files: readonly { name: string; bytes: Uint8Array }[],
  hash: string,
  memoryBytes: number,
  memoryMb: number,
  id: string,
): Promise<Record<string, WebAssembly.Module>> {
  const key = `${hash}:${memoryBytes}`;
  let p = compiled.get(key);
  if (!p) {
    p = (async () => {
      ensureWasmFeatures();
      let checked: ReturnType<typeof checkAndCapModules>;
      try {
        checked = checkAndCapModules(files, moduleLimits(memoryBytes));
      } catch (e) {
        if (!(e instanceof MalformedModuleError)) throw e;
        throw new IntegrityError('well-formed core modules', 'malformed', `transpiled '${id}' has a core module the host cannot read: ${e.message}`, {
          skillId: id,
          cause: e,
        });
      }
      if (checked.violations.length > 0) throw moduleLimitError(checked.violations, memoryMb, { skillId: id });
      // Every internal memory, table and mutable global exported, so a snapshot can see all state.
      const entries = await Promise.all(checked.modules.map(async (m) => [m.name, await WebAssembly.compile(exposeState(m.bytes).bytes)] as const));
      return Object.fromEntries(entries);
    })();
    p.catch(() => compiled.delete(key));
    compiled.set(key, p);
  }
  return p.catch((e: unknown) => {
    if (e instanceof SkillError) throw e;
    throw new PrepareError(`could not compile '${id}': ${(e as Error).message}`, {
      skillId: id,
      cause: e,
    });
  });
}
