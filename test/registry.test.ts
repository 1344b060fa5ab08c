import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as watToBinary } from '@bytecodealliance/jco';
import { openDatabase, type SqlDatabase } from '../src/store/sqlite.js';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  IntegrityError,
  ManifestError,
  PolicyViolationError,
  SkillError,
  SkillModuleNotFoundError,
  SkillNotEnabledError,
} from '../src/errors.js';
import { cacheDir, componentFile, componentsDir, registryDbPath, resolveHome, storePaths } from '../src/home.js';
import { migrate, MIGRATIONS, SkillRegistry } from '../src/registry.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HELLO = path.join(ROOT, 'skills', 'hello');

// Real components, assembled from component-model WAT by wasm-tools (through jco).
const WAT = {
  log: '(component (import "agentos:skill/log@0.1.0" (instance)))',
  logFs: '(component (import "agentos:skill/log@0.1.0" (instance)) (import "agentos:skill/fs@0.1.0" (instance)))',
  wasi: `(component
    (import "agentos:skill/log@0.1.0" (instance))
    (import "wasi:cli/environment@0.2.0" (instance (export "get-arguments" (func (result (list string))))))
  )`,
};
const components: Record<keyof typeof WAT, Uint8Array> = {} as never;

let tmp: string;
let home: string;
const open: SkillRegistry[] = [];

beforeAll(async () => {
  for (const [k, wat] of Object.entries(WAT)) components[k as keyof typeof WAT] = await watToBinary(wat);
});
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'agentos-registry-'));
  home = path.join(tmp, 'home');
});
afterEach(() => {
  for (const r of open.splice(0)) r.close();
  rmSync(tmp, { recursive: true, force: true });
});

function registry(opts: ConstructorParameters<typeof SkillRegistry>[0] = { home: path.join(tmp, 'home') }): SkillRegistry {
  const r = new SkillRegistry(opts);
  open.push(r);
  return r;
}

function manifest(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'example.test',
    name: 'Test skill',
    version: '1.0.0',
    description: 'a test skill',
    component: 'dist/skill.wasm',
    commands: { run: { description: 'run it' } },
    requires: {
      permissions: { net: { allow_domains: ['api.example.com'] }, fs: { read: true, write: false, paths: ['/srv/agentos-test-data'] } },
      limits: { timeout_ms: 1000, memory_mb: 32 },
    },
    ...over,
  };
}

/** A skill folder with skill.yaml and (unless `wasm` is null) dist/skill.wasm. */
function skillDir(name: string, m: Record<string, unknown> | string = manifest(), wasm: Uint8Array | null = components.log): string {
  const dir = path.join(tmp, 'skills', name);
  mkdirSync(path.join(dir, 'dist'), { recursive: true });
  writeFileSync(path.join(dir, 'skill.yaml'), typeof m === 'string' ? m : stringify(m));
  if (wasm) writeFileSync(path.join(dir, 'dist', 'skill.wasm'), wasm);
  return dir;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Every byte of the store that a failed install must not change. */
function snapshot(r: SkillRegistry): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of [r.path, `${r.path}-wal`]) if (existsSync(f)) out[path.basename(f)] = sha256(readFileSync(f));
  for (const f of readdirSync(r.componentsDir)) out[`components/${f}`] = sha256(readFileSync(path.join(r.componentsDir, f)));
  return out;
}

describe('home', () => {
  it('explicit path > $AGENTOS_HOME > ~/.agentos', () => {
    expect(resolveHome('/x/y', { AGENTOS_HOME: '/env' })).toBe('/x/y');
    expect(resolveHome(undefined, { AGENTOS_HOME: '/env' })).toBe('/env');
    expect(resolveHome(undefined, {})).toBe(path.join(os.homedir(), '.agentos'));
    expect(resolveHome('', { AGENTOS_HOME: '' })).toBe(path.join(os.homedir(), '.agentos'));
    expect(resolveHome('rel', {})).toBe(path.resolve('rel'));
  });
  it('store layout', () => {
    expect(registryDbPath('/h')).toBe('/h/store/skill/db.sqlite');
    expect(componentsDir('/h')).toBe('/h/store/skill/components');
    expect(cacheDir('/h')).toBe('/h/store/skill/cache');
    expect(componentFile('a'.repeat(64), '/h')).toBe(`/h/store/skill/components/${'a'.repeat(64)}.wasm`);
    expect(() => componentFile('../../etc/passwd', '/h')).toThrow(TypeError);
    expect(storePaths('/h')).toEqual({
      home: '/h',
      store: '/h/store/skill',
      db: '/h/store/skill/db.sqlite',
      components: '/h/store/skill/components',
      cache: '/h/store/skill/cache',
    });
  });
});

describe('SkillRegistry: opening', () => {
  it('creates the store under home', () => {
    const r = registry({ home });
    expect(r.path).toBe(path.join(home, 'store/skill/db.sqlite'));
    expect(r.home).toBe(home);
    expect(r.componentsDir).toBe(path.join(home, 'store/skill/components'));
    expect(r.cacheDir).toBe(path.join(home, 'store/skill/cache'));
    expect(existsSync(r.path)).toBe(true);
    expect(existsSync(r.componentsDir)).toBe(true);
    expect(r.list()).toEqual([]);
  });

  it('removes stale temp files a crashed install left behind', () => {
    const comps = componentsDir(home);
    mkdirSync(comps, { recursive: true });
    const stale = path.join(comps, '.tmp-old.wasm-1-aa');
    const fresh = path.join(comps, '.tmp-new.wasm-2-bb');
    writeFileSync(stale, 'half');
    writeFileSync(fresh, 'in progress');
    utimesSync(stale, new Date(Date.now() - 2 * 3_600_000), new Date(Date.now() - 2 * 3_600_000));
    registry({ home });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });

  it('a string is the database path', () => {
    const db = path.join(tmp, 'deep', 'dir', 'reg.sqlite');
    const r = registry(db);
    expect(r.path).toBe(db);
    expect(r.componentsDir).toBe(path.join(tmp, 'deep', 'dir', 'components'));
  });

  it('uses $AGENTOS_HOME by default', () => {
    const saved = process.env['AGENTOS_HOME'];
    process.env['AGENTOS_HOME'] = path.join(tmp, 'envhome');
    try {
      const r = registry({});
      expect(r.path).toBe(path.join(tmp, 'envhome', 'store/skill/db.sqlite'));
    } finally {
      if (saved === undefined) delete process.env['AGENTOS_HOME'];
      else process.env['AGENTOS_HOME'] = saved;
    }
  });

  it('WAL, busy timeout, foreign keys', () => {
    registry({ home }).close();
    const db = openDatabase(registryDbPath(home), { timeoutMs: 5000 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('migrations are idempotent and versioned', () => {
    const r1 = registry({ home });
    expect(r1.schemaVersion).toBe(MIGRATIONS.length);
    r1.close();
    const r2 = registry({ home });
    expect(r2.schemaVersion).toBe(MIGRATIONS.length);
    const db = openDatabase(r2.path, { timeoutMs: 5000 });
    expect(migrate(db)).toBe(MIGRATIONS.length);
    expect(migrate(db)).toBe(MIGRATIONS.length);
    db.close();
  });

  it('migrations run step by step from an older schema', () => {
    const file = path.join(tmp, 'old.sqlite');
    const db = openDatabase(file, { timeoutMs: 5000 });
    expect(migrate(db, MIGRATIONS.slice(0, 1))).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'skill_usage'").get()).toBeUndefined();
    db.close();
    const r = registry(file);
    expect(r.schemaVersion).toBe(MIGRATIONS.length);
    expect(r.usage('x').invocations).toBe(0);
  });

  it('a failing migration rolls back and leaves the version', () => {
    const db = openDatabase(path.join(tmp, 'm.sqlite'), { timeoutMs: 5000 });
    const bad = [
      ...MIGRATIONS,
      (d: SqlDatabase) => {
        d.exec('CREATE TABLE half (x)');
        throw new Error('boom');
      },
    ];
    expect(() => migrate(db, bad)).toThrow('boom');
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
    db.close();
  });

  it('refuses a store from a newer version', () => {
    const file = path.join(tmp, 'new.sqlite');
    const db = openDatabase(file, { timeoutMs: 5000 });
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => new SkillRegistry(file)).toThrow(/newer than this version/);
  });
});

describe('SkillRegistry: install / enable / disable / uninstall', () => {
  it('installs disabled, stores the component content-addressed', async () => {
    const r = registry();
    const dir = skillDir('a');
    const s = await r.install(dir);
    const hash = sha256(components.log);
    expect(s).toMatchObject({
      id: 'example.test',
      name: 'Test skill',
      version: '1.0.0',
      description: 'a test skill',
      enabled: false,
      componentHash: hash,
      componentPath: path.join(r.componentsDir, `${hash}.wasm`),
      componentSize: components.log.length,
      imports: ['agentos:skill/log@0.1.0'],
      sourceDir: dir,
      addedPermissions: [],
    });
    expect(s.previousVersion).toBeUndefined();
    expect(s.manifest.requires.permissions.net?.allow_domains).toEqual(['api.example.com']);
    expect(readFileSync(s.componentPath)).toEqual(Buffer.from(components.log));
    expect(readdirSync(r.componentsDir)).toEqual([`${hash}.wasm`]); // no temp files left
    expect(r.componentPath(hash)).toBe(s.componentPath);
    const { addedPermissions: _a, previousVersion: _p, ...installed } = s;
    expect(r.get('example.test')).toEqual(installed);
    expect(r.list()).toEqual([installed]);
    expect(r.isEnabled('example.test')).toBe(false);
    expect(r.auditEvents({ type: 'installed' })).toMatchObject([{ skillId: 'example.test', reason: 'installed 1.0.0' }]);
  });

  it('enable / disable / isEnabled, audited', async () => {
    const r = registry();
    await r.install(skillDir('a'));
    expect(r.enable('example.test').enabled).toBe(true);
    expect(r.isEnabled('example.test')).toBe(true);
    expect(r.disable('example.test').enabled).toBe(false);
    expect(r.isEnabled('example.test')).toBe(false);
    expect(r.auditEvents({ skillId: 'example.test' }).map((e) => e.type)).toEqual(['disabled', 'enabled', 'installed']);
  });

  it('unknown ids -> SkillNotEnabledError not_installed', () => {
    const r = registry();
    for (const op of [() => r.enable('nope'), () => r.disable('nope'), () => r.uninstall('nope')]) {
      const e = (() => {
        try {
          op();
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(SkillNotEnabledError);
      expect((e as SkillNotEnabledError).state).toBe('not_installed');
      expect((e as SkillNotEnabledError).skillId).toBe('nope');
    }
    expect(r.get('nope')).toBeUndefined();
    expect(r.isEnabled('nope')).toBe(false);
  });

  it('uninstall removes the row, usage and the component', async () => {
    const r = registry();
    const s = await r.install(skillDir('a'));
    r.recordUsage('example.test', { ok: true, ms: 3 });
    const removed = r.uninstall('example.test');
    expect(removed.id).toBe('example.test');
    expect(r.get('example.test')).toBeUndefined();
    expect(existsSync(s.componentPath)).toBe(false);
    expect(r.usage('example.test').invocations).toBe(0);
    expect(r.auditEvents({ type: 'uninstalled' })).toHaveLength(1);
  });

  it('a component shared by two skills is kept until neither uses it', async () => {
    const r = registry();
    const a = await r.install(skillDir('a', manifest({ id: 'one' })));
    const b = await r.install(skillDir('b', manifest({ id: 'two' })));
    expect(a.componentHash).toBe(b.componentHash);
    expect(readdirSync(r.componentsDir)).toHaveLength(1);
    r.uninstall('one');
    expect(existsSync(b.componentPath)).toBe(true);
    r.uninstall('two');
    expect(existsSync(b.componentPath)).toBe(false);
  });

  it('list is ordered by id', async () => {
    const r = registry();
    await r.install(skillDir('b', manifest({ id: 'zeta' })));
    await r.install(skillDir('a', manifest({ id: 'alpha' })));
    expect(r.list().map((s) => s.id)).toEqual(['alpha', 'zeta']);
  });

  it('re-install with the same permissions keeps the enabled state and replaces the component', async () => {
    const r = registry();
    const dir = skillDir('a');
    const first = await r.install(dir);
    r.enable('example.test');
    writeFileSync(path.join(dir, 'skill.yaml'), stringify(manifest({ version: '1.1.0' })));
    writeFileSync(path.join(dir, 'dist', 'skill.wasm'), components.logFs);
    const second = await r.install(dir);
    expect(second.enabled).toBe(true);
    expect(second.version).toBe('1.1.0');
    expect(second.previousVersion).toBe('1.0.0');
    expect(second.addedPermissions).toEqual([]);
    expect(second.installedAt).toBe(first.installedAt);
    expect(second.imports).toEqual(['agentos:skill/log@0.1.0', 'agentos:skill/fs@0.1.0']);
    expect(existsSync(first.componentPath)).toBe(false);
    expect(readdirSync(r.componentsDir)).toEqual([`${second.componentHash}.wasm`]);
    expect(r.auditEvents({ type: 'installed', limit: 1 })[0]!.reason).toBe('re-installed 1.0.0 -> 1.1.0');
  });

  it('re-install asking for more permissions disables the skill and says what was added', async () => {
    const r = registry();
    const dir = skillDir('a');
    await r.install(dir);
    r.enable('example.test');
    const more = manifest({ version: '2.0.0' });
    (more['requires'] as any).permissions.net.allow_domains.push('evil.example.org');
    (more['requires'] as any).permissions.fs.write = true;
    (more['requires'] as any).limits.timeout_ms = 5000;
    writeFileSync(path.join(dir, 'skill.yaml'), stringify(more));
    const s = await r.install(dir);
    expect(s.enabled).toBe(false);
    expect(s.addedPermissions).toEqual([
      'net: new domain evil.example.org',
      'fs: write access to /srv/agentos-test-data (was read-only)',
      'limits: timeout_ms 1000 -> 5000',
    ]);
    expect(r.isEnabled('example.test')).toBe(false);
    const ev = r.auditEvents({ type: 'installed', limit: 1 })[0]!;
    expect(ev.reason).toMatch(/disabled, new permissions: net: new domain evil.example.org/);
    expect(ev.meta).toMatchObject({ addedPermissions: s.addedPermissions, enabled: false });
  });

  it('re-install with fewer permissions keeps it enabled', async () => {
    const r = registry();
    const dir = skillDir('a');
    await r.install(dir);
    r.enable('example.test');
    writeFileSync(path.join(dir, 'skill.yaml'), stringify(manifest({ requires: { limits: { timeout_ms: 500, memory_mb: 32 } } })));
    expect((await r.install(dir)).enabled).toBe(true);
  });

  it('re-install that drops a limit (host default may be larger) is treated as more', async () => {
    const r = registry();
    const dir = skillDir('a');
    await r.install(dir);
    r.enable('example.test');
    writeFileSync(path.join(dir, 'skill.yaml'), stringify(manifest({ requires: {} })));
    const s = await r.install(dir);
    expect(s.enabled).toBe(false);
    expect(s.addedPermissions).toEqual(['limits: timeout_ms 1000 -> host default', 'limits: memory_mb 32 -> host default']);
  });

  it('enable re-checks the host policy', async () => {
    const lax = registry({ home });
    await lax.install(skillDir('a'));
    const strict = registry({ home, hostPolicy: { deniedDomains: ['api.example.com'] } });
    const e = (() => {
      try {
        strict.enable('example.test');
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(PolicyViolationError);
    expect((e as PolicyViolationError).entries.join()).toMatch(/api.example.com/);
    expect(strict.isEnabled('example.test')).toBe(false);
  });

  it('a closed registry refuses calls', async () => {
    const r = registry();
    r.close();
    r.close(); // idempotent
    expect(() => r.list()).toThrow(SkillError);
    await expect(r.install(skillDir('a'))).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('SkillRegistry: failed installs change nothing', () => {
  type Case = [name: string, setup: () => string, check: (e: unknown) => void, opts?: { hostPolicy?: object }];
  const cases: Case[] = [
    [
      'invalid manifest',
      () => skillDir('bad', manifest({ id: 'Not Valid' })),
      (e) => {
        expect(e).toBeInstanceOf(ManifestError);
        expect((e as ManifestError).issues[0]!.path).toBe('id');
      },
    ],
    [
      'no manifest',
      () => {
        const d = path.join(tmp, 'skills', 'empty');
        mkdirSync(d, { recursive: true });
        return d;
      },
      (e) => expect((e as Error).message).toMatch(/no manifest found/),
    ],
    [
      'missing component',
      () => skillDir('unbuilt', manifest(), null),
      (e) => {
        expect(e).toBeInstanceOf(SkillModuleNotFoundError);
        const err = e as SkillModuleNotFoundError;
        expect(err.path).toBe(path.join(tmp, 'skills', 'unbuilt', 'dist', 'skill.wasm'));
        expect(err.message).toContain(`npm run build-skill -- ${path.join(tmp, 'skills', 'unbuilt')}`);
        expect(err.skillId).toBe('example.test');
      },
    ],
    [
      'component imports wasi',
      () => skillDir('wasi', manifest(), components.wasi),
      (e) => {
        expect(e).toBeInstanceOf(IntegrityError);
        const err = e as IntegrityError;
        expect(err.actual).toBe('wasi:cli/environment@0.2.0');
        expect(err.message).toMatch(/wasi:cli\/environment@0.2.0.*agentos:skill\//);
      },
    ],
    [
      'not a WebAssembly file',
      () => skillDir('garbage', manifest(), new TextEncoder().encode('#!/bin/sh\nrm -rf /\n')),
      (e) => {
        expect(e).toBeInstanceOf(IntegrityError);
        expect((e as Error).message).toMatch(/not a valid WebAssembly component/);
      },
    ],
    [
      'a core module, not a component',
      () => skillDir('core', manifest(), new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])),
      (e) => {
        expect(e).toBeInstanceOf(IntegrityError);
        expect((e as Error).message).toMatch(/not a component/);
      },
    ],
    [
      'component symlinked from outside the skill folder',
      () => {
        const d = skillDir('linked', manifest(), null);
        const outside = path.join(tmp, 'outside.wasm');
        writeFileSync(outside, components.log);
        symlinkSync(outside, path.join(d, 'dist', 'skill.wasm'));
        return d;
      },
      (e) => {
        expect(e).toBeInstanceOf(ManifestError);
        expect((e as ManifestError).issues[0]!.path).toBe('component');
      },
    ],
    [
      'host policy violation',
      () => skillDir('greedy', manifest()),
      (e) => {
        expect(e).toBeInstanceOf(PolicyViolationError);
        expect((e as PolicyViolationError).entries.join()).toMatch(/memory_mb 32 exceeds/);
      },
      { hostPolicy: { maxMemoryMb: 16 } },
    ],
  ];

  it.each(cases)('%s', async (_, setup, check, opts) => {
    const r = registry({ home, ...(opts ?? {}) });
    // A store with something in it, so "unchanged" means something.
    await r.install(skillDir('existing', manifest({ id: 'existing.skill', requires: {} })));
    r.enable('existing.skill');
    const before = snapshot(r);
    const events = r.auditEvents({ limit: 1000 });
    const dir = setup();
    const err = await r.install(dir).catch((e: unknown) => e);
    check(err);
    expect(snapshot(r)).toEqual(before);
    expect(r.auditEvents({ limit: 1000 })).toEqual(events);
    expect(r.list().map((s) => [s.id, s.enabled])).toEqual([['existing.skill', true]]);
  });

  it('a failed re-install leaves the installed version as it was', async () => {
    const r = registry({ home });
    const dir = skillDir('a');
    await r.install(dir);
    r.enable('example.test');
    const before = snapshot(r);
    const row = r.get('example.test');
    writeFileSync(path.join(dir, 'skill.yaml'), stringify(manifest({ version: '2.0.0' })));
    writeFileSync(path.join(dir, 'dist', 'skill.wasm'), components.wasi);
    await expect(r.install(dir)).rejects.toBeInstanceOf(IntegrityError);
    expect(snapshot(r)).toEqual(before);
    expect(r.get('example.test')).toEqual(row);
  });

  it('logs failed installs to the logger (not to the trail)', async () => {
    const warnings: object[] = [];
    const r = registry({ home, logger: { warn: (o) => warnings.push(o) } });
    await r.install(skillDir('w', manifest(), components.wasi)).catch(() => undefined);
    expect(warnings).toMatchObject([{ kind: 'registry', code: 'INTEGRITY_FAILURE' }]);
  });
});

describe('SkillRegistry: usage figures', () => {
  it('counts invocations, failures by code, total/mean/max ms', async () => {
    const r = registry();
    r.recordUsage('s', { ok: true, ms: 10 });
    r.recordUsage('s', { ok: false, code: 'TIMEOUT', ms: 30 });
    r.recordUsage('s', { ok: false, code: 'TIMEOUT', ms: 20 });
    r.recordUsage('s', { ok: false, ms: 0 });
    r.recordUsage('t', { ok: true, ms: Number.NaN });
    const u = r.usage('s');
    expect(u).toMatchObject({ skillId: 's', invocations: 4, failures: 3, failuresByCode: { TIMEOUT: 2, UNKNOWN: 1 }, totalMs: 60, meanMs: 15, maxMs: 30 });
    expect(u.lastAt).toMatch(/Z$/);
    expect(r.usage().map((x) => [x.skillId, x.invocations])).toEqual([
      ['s', 4],
      ['t', 1],
    ]);
    expect(r.usage('never')).toMatchObject({ invocations: 0, failures: 0, meanMs: 0, lastAt: null });
  });

  it('a batch counts as its samples one by one would (per skill, code and caller), over what was there', async () => {
    const r = registry();
    r.recordUsage('s', { ok: false, code: 'TIMEOUT', ms: 5 });
    r.recordUsageBatch([
      { skillId: 's', ok: true, ms: 10, caller: 'ann' },
      { skillId: 's', ok: false, code: 'TIMEOUT', ms: 40, caller: 'ann' },
      { skillId: 't', ok: false, code: 'TIMEOUT', ms: 1, caller: 'ann' },
      { skillId: 's', ok: false, code: 'LIMIT', ms: 20, caller: 'bob' },
      { skillId: 's', ok: false, ms: Number.NaN },
      { skillId: 't', ok: true, ms: 3 },
    ]);
    r.recordUsageBatch([{ skillId: 's', ok: true, ms: 2, caller: 'ann' }]);
    expect(r.usage('s')).toMatchObject({ invocations: 6, failures: 4, failuresByCode: { TIMEOUT: 2, LIMIT: 1, UNKNOWN: 1 }, totalMs: 77, maxMs: 40 });
    expect(r.usage('t')).toMatchObject({ invocations: 2, failures: 1, failuresByCode: { TIMEOUT: 1 }, totalMs: 4, maxMs: 3 });
    expect(r.usageByCaller().map((u) => [u.caller, u.skillId, u.invocations, u.failures, u.totalMs])).toEqual([
      ['ann', 's', 3, 1, 52],
      ['ann', 't', 1, 1, 1],
      ['bob', 's', 1, 1, 20],
    ]);
  });
});

describe('SkillRegistry: sharing one store', () => {
  it('two instances see each other’s writes', async () => {
    const a = registry({ home });
    const b = registry({ home });
    await a.install(skillDir('a'));
    expect(b.get('example.test')?.version).toBe('1.0.0');
    b.enable('example.test');
    expect(a.isEnabled('example.test')).toBe(true);
    b.recordAudit({ type: 'permission_denied', skillId: 'example.test', reason: 'from b' });
    expect(a.auditEvents({ type: 'permission_denied' })[0]!.reason).toBe('from b');
    a.uninstall('example.test');
    expect(b.list()).toEqual([]);
  });

  it('state() sees another connection’s disable, uninstall and re-install at once, and its own writes', async () => {
    const a = registry({ home });
    const b = registry({ home });
    await b.install(skillDir('a'));
    b.enable('example.test');
    // Asked twice: the second answer may come from a's cache of state() answers.
    for (let i = 0; i < 2; i++) expect(a.state('example.test')?.enabled).toBe(true);
    const first = a.state('example.test')!.componentHash;
    b.disable('example.test');
    expect(a.state('example.test')?.enabled).toBe(false);
    a.enable('example.test');
    expect(a.state('example.test')?.enabled).toBe(true);
    a.disable('example.test');
    expect(a.state('example.test')?.enabled).toBe(false);
    b.enable('example.test');
    expect(a.state('example.test')?.enabled).toBe(true);
    b.uninstall('example.test');
    expect(a.state('example.test')).toBeUndefined();
    expect(a.state('example.test')).toBeUndefined();
    const again = await b.install(skillDir('b', manifest(), components.logFs));
    expect(a.state('example.test')).toEqual({ enabled: false, componentHash: again.componentHash });
    expect(again.componentHash).not.toBe(first);
    // What a caller does to an answer does not change the next one.
    a.state('example.test')!.enabled = true;
    expect(a.state('example.test')?.enabled).toBe(false);
  });

  describe('with a child process', () => {
    let bundle: string;
    beforeAll(async () => {
      // Node 20 cannot import .ts; bundle the registry (dependencies stay external, resolved
      // from the project's node_modules because the bundle lives under it).
      const outdir = mkdtempSync(path.join(ROOT, 'node_modules', '.agentos-test-'));
      bundle = path.join(outdir, 'registry.mjs');
      await build({
        entryPoints: [path.join(ROOT, 'src', 'registry.ts')],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        outfile: bundle,
        logLevel: 'silent',
      });
    });
    afterAll(() => {
      rmSync(path.dirname(bundle), { recursive: true, force: true });
    });

    const child = async (script: string, ...args: string[]): Promise<unknown> => {
      const code = `import { SkillRegistry } from ${JSON.stringify(bundle)};\n${script}`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code, '--', ...args], {
        env: { ...process.env, AGENTOS_LOG_LEVEL: 'silent' },
      });
      return JSON.parse(stdout);
    };

    it('a child process sees the parent’s writes and the parent sees the child’s', async () => {
      const parent = registry({ home });
      await parent.install(skillDir('p', manifest({ id: 'from.parent' })));
      parent.enable('from.parent');
      const childDir = skillDir('c', manifest({ id: 'from.child' }), components.logFs);
      const seen = await child(
        `const [home, dir] = process.argv.slice(-2);
         const r = new SkillRegistry({ home });
         const before = r.list().map((s) => [s.id, s.enabled]);
         await r.install(dir);
         r.enable('from.child');
         r.disable('from.parent');
         r.recordUsage('from.child', { ok: false, code: 'TIMEOUT', ms: 7 });
         r.close();
         console.log(JSON.stringify(before));`,
        home,
        childDir,
      );
      expect(seen).toEqual([['from.parent', true]]);
      expect(parent.list().map((s) => [s.id, s.enabled])).toEqual([
        ['from.child', true],
        ['from.parent', false],
      ]);
      expect(parent.usage('from.child').failuresByCode).toEqual({ TIMEOUT: 1 });
      expect(parent.auditEvents({ skillId: 'from.child' }).map((e) => e.type)).toEqual(['enabled', 'installed']);
      expect(existsSync(parent.get('from.child')!.componentPath)).toBe(true);
    });

    it('state() sees a child process’s disable, uninstall and re-install at the next call', async () => {
      const parent = registry({ home });
      const first = await parent.install(skillDir('p', manifest({ id: 'from.parent' })));
      parent.enable('from.parent');
      for (let i = 0; i < 3; i++) expect(parent.state('from.parent')).toEqual({ enabled: true, componentHash: first.componentHash });
      const run = (script: string) => child(`const r = new SkillRegistry({ home: process.argv.at(-2) }); const dir = process.argv.at(-1);\n${script}\nr.close(); console.log('null');`, home, skillDir('c', manifest({ id: 'from.parent' }), components.logFs));
      await run(`r.disable('from.parent');`);
      expect(parent.state('from.parent')?.enabled).toBe(false);
      await run(`r.enable('from.parent');`);
      expect(parent.state('from.parent')?.enabled).toBe(true);
      await run(`r.uninstall('from.parent');`);
      expect(parent.state('from.parent')).toBeUndefined();
      await run(`await r.install(dir); r.enable('from.parent');`);
      const now = parent.state('from.parent');
      expect(now?.enabled).toBe(true);
      expect(now?.componentHash).not.toBe(first.componentHash);
      expect(now?.componentHash).toBe(parent.get('from.parent')!.componentHash);
    });

    it('concurrent writers in several processes lose nothing', async () => {
      const parent = registry({ home });
      const N = 4;
      const PER = 50;
      await Promise.all([
        ...Array.from({ length: N }, (_, i) =>
          child(
            `const r = new SkillRegistry({ home: process.argv.at(-1) });
             for (let j = 0; j < ${PER}; j++) { r.recordAudit({ type: 'permission_denied', skillId: 'p${i}' }); r.recordUsage('shared', { ok: true, ms: 1 }); }
             console.log(JSON.stringify(r.audit.pendingCount)); r.close();`,
            home,
          ),
        ),
        (async () => {
          for (let j = 0; j < PER; j++) parent.recordAudit({ type: 'permission_denied', skillId: 'parent' });
        })(),
      ]);
      expect(parent.audit.count()).toBe((N + 1) * PER);
      expect(parent.usage('shared').invocations).toBe(N * PER);
    });
  });
});

describe('SkillRegistry: the built example skill', () => {
  const wasm = path.join(HELLO, 'dist', 'skill.wasm');
  // Built by `npm run build-examples`, which `npm test` runs first.
  it.skipIf(!existsSync(wasm))('installs skills/hello', async () => {
    const r = registry();
    const s = await r.install(HELLO);
    expect(s.id).toBe('example.hello');
    expect(s.imports.every((i) => i.startsWith('agentos:skill/'))).toBe(true);
    expect(sha256(readFileSync(s.componentPath))).toBe(s.componentHash);
  });
});
