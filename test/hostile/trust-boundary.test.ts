/**
 * Issue 10, classes 1, 7, 8 and 12: nothing a skill (or a skill package) writes is trusted by
 * the host. Real SQLite stores, real components built by the real toolchain, real worker
 * threads, real files, symlinks and FIFOs in temp dirs.
 *
 * 1. the transpile cache: planted JS never runs, the skill runs from a rebuilt cache; roots
 *    overlapping the host's own directories are refused at install, enable and in the policy,
 *    and denied at invocation even when a root comes to contain them;
 * 7. install reads only regular files inside the skill folder, size-capped, without blocking;
 * 8. list()/get() parse a stored manifest once per revision; oversize rows are never parsed;
 * 12. errors never quote the file's content.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { openDatabase, type SqlDatabase } from '../../src/store/sqlite.js';
import { parse, stringify } from 'yaml';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  IntegrityError,
  ManifestError,
  PermissionDeniedError,
  PolicyViolationError,
  SkillError,
  SkillInvoker,
  SkillLoader,
  SkillModuleNotFoundError,
  SkillRegistry,
} from '../../src/index.js';
import { HostPolicyError } from '../../src/policy.js';
import { HOST_PACKAGE_ROOT } from '../../src/protected-paths.js';
import { hookGlue } from '../../src/sandbox/glue-hook.js';
import { copySkill, removeTempDirs, SKILLS, tempDir } from '../helpers.js';

afterAll(removeTempDirs);

/** A registry on `home`, closed after the test whatever happened (instead of a try/finally in each). */
const openRegistries: SkillRegistry[] = [];
function openStore(home: string): SkillRegistry {
  const registry = new SkillRegistry({ home });
  openRegistries.push(registry);
  return registry;
}
afterEach(() => {
  for (const r of openRegistries.splice(0)) r.close();
});

/** A fresh store with the hello skill installed and enabled, and a scratch folder for markers. */
async function enabledHello() {
  const home = await tempDir('agentos-home-');
  const scratch = await tempDir('agentos-scratch-');
  const registry = openStore(home);
  const s = await registry.install(await helloDir());
  registry.enable(s.id);
  return { registry, s, scratch, marker: join(scratch, 'MARKER') };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** What the store holds, to compare before and after a refused operation. */
function snapshot(r: SkillRegistry): string {
  return JSON.stringify({
    skills: r.list().map((s) => [s.id, s.version, s.enabled, s.componentHash]),
    components: readdirSync(r.componentsDir).sort(),
  });
}

async function helloDir(edit?: (m: Record<string, any>) => void): Promise<string> {
  return copySkill(SKILLS.hello, edit);
}

// ---------------------------------------------------------------------------------------------
// Class 1a: the transpile cache is verified against the registry, and the worker runs only
// verified bytes.

describe('class 1: a planted transpile cache never runs', () => {
  /** JS that, if it ever ran in a worker, would leave a marker file. */
  const plantedJs = (marker: string) =>
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'planted code ran');\n` +
    `export function instantiate() { throw new Error('planted'); }\n`;

  type Plant = (cache: string, marker: string, scratch: string) => void;
  const planted = (cache: string, marker: string) => writeFileSync(join(cache, 'skill.js'), plantedJs(marker));
  /** The old self-vouching index: hashes of whatever is in the folder now. */
  const consistentIndex = (cache: string) => {
    const index: Record<string, string> = {};
    for (const n of readdirSync(cache)) if (n !== 'index.json') index[n] = sha256(readFileSync(join(cache, n)));
    writeFileSync(join(cache, 'index.json'), JSON.stringify(index));
  };

  // [case, how the attacker changes <cacheDir>/<hash>, audited as integrity_failure]
  const cases: [string, Plant, boolean][] = [
    ['skill.js replaced', (c, m) => planted(c, m), true],
    ['skill.js replaced and index.json rewritten to match', (c, m) => (planted(c, m), consistentIndex(c)), true],
    ['skill.js a symlink to planted JS outside', (c, m, s) => {
      writeFileSync(join(s, 'evil.js'), plantedJs(m));
      unlinkSync(join(c, 'skill.js'));
      symlinkSync(join(s, 'evil.js'), join(c, 'skill.js'));
    }, true],
    ['skill.js a FIFO (must not block the load)', (c) => {
      unlinkSync(join(c, 'skill.js'));
      execFileSync('mkfifo', [join(c, 'skill.js')]);
    }, true],
    ['skill.js a directory', (c) => {
      unlinkSync(join(c, 'skill.js'));
      mkdirSync(join(c, 'skill.js'));
    }, true],
    ['skill.js grown by appended JS', (c, m) => writeFileSync(join(c, 'skill.js'), `\n;${plantedJs(m).replace(/^import.*$/m, '')}`, { flag: 'a' }), true],
    ['a core module replaced', (c) => writeFileSync(join(c, readdirSync(c).find((n) => n.endsWith('.wasm'))!), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])), true],
    ['the cache folder replaced by a symlink to a planted copy', (c, m, s) => {
      const evil = join(s, 'evil-cache');
      mkdirSync(evil);
      for (const n of readdirSync(c)) writeFileSync(join(evil, n), readFileSync(join(c, n)));
      planted(evil, m);
      consistentIndex(evil);
      rmSync(c, { recursive: true });
      symlinkSync(evil, c);
    }, true],
    ['the cache folder deleted (a cold cache, not an attack)', (c) => rmSync(c, { recursive: true }), false],
  ];

  it.each(cases)('%s', { timeout: 60_000 }, async (_, plant, audited) => {
    const { registry, s, marker, scratch } = await enabledHello();
    // First load writes the cache and records its hashes in the database.
    const first = await new SkillLoader(registry).load(s.id);
    expect(first.prepared.jsUrl.startsWith('data:text/javascript;base64,')).toBe(true);
    const cache = join(registry.cacheDir, s.componentHash);
    const record = registry.transpileCacheRecord(s.componentHash)!;
    expect(Object.keys(record)).toContain('skill.js');

    plant(cache, marker, scratch);

    const loader = new SkillLoader(registry);
    const invoker = new SkillInvoker(loader, { phase: 'execution' });
    try {
      await loader.load(s.id);
      await expect(invoker.invoke(s.id, 'greet', { name: 'Ada' })).resolves.toEqual({ greeting: 'Hello, Ada!' });
    } finally {
      await invoker.close();
    }
    expect(existsSync(marker)).toBe(false);
    const failures = registry.auditEvents({ skillId: s.id, type: 'integrity_failure' });
    expect(failures.length).toBe(audited ? 1 : 0);
    if (audited) expect(failures[0]!.reason).toMatch(/transpile cache does not match .*rebuilt from the verified component/);
    // Rebuilt: the folder is a real folder again, with exactly the recorded bytes.
    const rebuilt = registry.transpileCacheRecord(s.componentHash)!;
    for (const [name, want] of Object.entries(rebuilt)) {
      expect(sha256(readFileSync(join(cache, name)))).toBe(want.sha256);
    }
    expect(readFileSync(join(cache, 'skill.js'), 'utf8')).not.toContain('planted');
  });

  it('what the worker imports is the verified text, not the file (a swap after the check changes nothing)', async () => {
    const { registry, s, marker, scratch } = await enabledHello();
    const loader = new SkillLoader(registry);
    const loaded = await loader.load(s.id);
    const verified = readFileSync(join(registry.cacheDir, s.componentHash, 'skill.js'), 'utf8');
    // Swap the file after the loader verified it: new workers must not see the change.
    writeFileSync(join(registry.cacheDir, s.componentHash, 'skill.js'), plantedJs(marker));
    const invoker = new SkillInvoker(loader, { phase: 'execution' });
    try {
      await expect(invoker.invoke(s.id, 'greet', { name: 'Bo' })).resolves.toEqual({ greeting: 'Hello, Bo!' });
    } finally {
      await invoker.close();
    }
    expect(existsSync(marker)).toBe(false);
    // The worker's module is the verified cached text, transformed only by the host's own
    // deterministic glue hook (the line that exposes the handle tables to the reset).
    const js = Buffer.from(loaded.prepared.jsUrl.slice('data:text/javascript;base64,'.length), 'base64').toString('utf8');
    const record = registry.transpileCacheRecord(s.componentHash)!['skill.js']!;
    expect(js).not.toContain(marker);
    expect(sha256(Buffer.from(verified))).toBe(record.sha256);
    expect(js).toBe(hookGlue(verified).js);
  });

  it('a stored component that became a FIFO is an IntegrityError, not a hang', { timeout: 30_000 }, async () => {
    const home = await tempDir('agentos-home-');
    const registry = openStore(home);
    const s = await registry.install(await helloDir());
    registry.enable(s.id);
    unlinkSync(s.componentPath);
    execFileSync('mkfifo', [s.componentPath]);
    await expect(new SkillLoader(registry).load(s.id)).rejects.toBeInstanceOf(IntegrityError);
    expect(registry.auditEvents({ skillId: s.id, type: 'integrity_failure' })).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Class 1b: no fs root may overlap the host's own directories.

describe('class 1: fs roots overlapping the host\'s own directories', () => {
  type Where = 'home' | 'store' | 'cache' | 'components' | 'package';
  const dirOf = (r: SkillRegistry, w: Where): string =>
    w === 'home' ? r.home : w === 'store' ? dirname(r.path) : w === 'cache' ? r.cacheDir : w === 'components' ? r.componentsDir : HOST_PACKAGE_ROOT;
  const what: Record<Where, RegExp> = {
    home: /the agentos home/,
    store: /the skill store/,
    cache: /the transpile cache/,
    components: /the component store/,
    package: /the host package/,
  };
  type Relation = 'equal' | 'inside' | 'containing' | 'symlink to';
  const rootFor = (dir: string, rel: Relation, scratch: string): string => {
    if (rel === 'equal') return dir;
    if (rel === 'inside') return join(dir, 'sub', 'dir');
    if (rel === 'containing') return dirname(dir);
    const link = join(scratch, `link-${Math.random().toString(36).slice(2)}`);
    symlinkSync(dir, link);
    return link;
  };
  const cases: [Where, Relation][] = [];
  for (const w of ['home', 'store', 'cache', 'components', 'package'] as Where[]) {
    for (const rel of ['equal', 'inside', 'containing', 'symlink to'] as Relation[]) cases.push([w, rel]);
  }

  it.each(cases)('install refuses a root %s: %s it', async (where, rel) => {
    const home = await tempDir('agentos-home-');
    const scratch = await tempDir('agentos-scratch-');
    const registry = openStore(home);
    const root = rootFor(dirOf(registry, where), rel, scratch);
    const dir = await helloDir((m) => {
      m.requires.permissions = { fs: { read: true, write: true, paths: [scratch, root] } };
    });
    const before = snapshot(registry);
    const err = (await registry.install(dir).catch((e: unknown) => e)) as ManifestError;
    expect(err).toBeInstanceOf(ManifestError);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]!.path).toBe('requires.permissions.fs.paths[1]');
    expect(err.issues[0]!.message).toContain(JSON.stringify(root));
    // Named by the nearest protected directory it overlaps (a root containing the home is
    // reported as containing the home, not also the store inside it).
    if (rel !== 'containing' || where === 'home' || where === 'package') expect(err.issues[0]!.message).toMatch(what[where]);
    // (The folder holding the cache is the store itself: "is the skill store".)
    expect(err.issues[0]!.message).toMatch(rel === 'containing' ? /contains|\bis the skill store/ : rel === 'inside' ? /lies inside/ : /\bis\b/);
    expect(snapshot(registry)).toBe(before);
  });

  it('enable refuses a root that became a symlink into the home after install (PolicyViolationError)', async () => {
    const home = await tempDir('agentos-home-');
    const scratch = await tempDir('agentos-scratch-');
    const harmless = join(scratch, 'harmless');
    mkdirSync(harmless);
    const link = join(scratch, 'root');
    symlinkSync(harmless, link);
    const registry = openStore(home);
    const s = await registry.install(await helloDir((m) => (m.requires.permissions = { fs: { read: true, write: true, paths: [link] } })));
    unlinkSync(link);
    symlinkSync(registry.home, link);
    const err = (() => {
      try {
        registry.enable(s.id);
      } catch (e) {
        return e;
      }
    })() as PolicyViolationError;
    expect(err).toBeInstanceOf(PolicyViolationError);
    expect(err.entries.join()).toMatch(/requires\.permissions\.fs\.paths\[0\] ".*root" is the agentos home/);
    expect(registry.get(s.id)!.enabled).toBe(false);
  });

  // [case, allowedRoots entry relative to the home, refused]
  const policyCases: [string, (home: string) => string, boolean][] = [
    ['the home itself', (h) => h, true],
    ['inside the home', (h) => join(h, 'shared'), true],
    ['inside the store', (h) => join(h, 'store/skill/x'), true],
    ['the cache', (h) => join(h, 'store/skill/cache'), true],
    ['inside the host package', () => join(HOST_PACKAGE_ROOT, 'dist'), true],
    ['containing the home (skills may still only ask for roots clear of it)', (h) => dirname(h), false],
  ];
  it.each(policyCases)('host policy allowedRoots: %s', async (_, entry, refused) => {
    const home = await tempDir('agentos-home-');
    const open = () => new SkillRegistry({ home, hostPolicy: { allowedRoots: [entry(home)] } });
    if (!refused) {
      const r = open();
      r.close();
      return;
    }
    const err = (() => {
      try {
        open().close();
      } catch (e) {
        return e;
      }
    })() as HostPolicyError;
    expect(err).toBeInstanceOf(HostPolicyError);
    expect(err.issues[0]!.path).toBe('allowedRoots[0]');
    expect(err.issues[0]!.message).toMatch(/the agentos home|the skill store|the transpile cache|the host package/);
  });

  it('at invocation, a root that comes to contain the home still never reaches into it', async () => {
    const parent = await tempDir('agentos-parent-');
    const home = join(parent, 'home');
    const scratch = await tempDir('agentos-scratch-');
    const harmless = join(scratch, 'harmless');
    mkdirSync(harmless);
    const link = join(scratch, 'root');
    symlinkSync(harmless, link);
    const registry = new SkillRegistry({ home });
    const files = await copySkill(SKILLS.files, (m) => (m.requires.permissions.fs = { read: true, write: true, paths: [link] }));
    const s = await registry.install(files);
    registry.enable(s.id);
    // After enable, the root is re-pointed at the folder that holds the home.
    unlinkSync(link);
    symlinkSync(parent, link);
    const loader = new SkillLoader(registry);
    const invoker = new SkillInvoker(loader, { phase: 'execution' });
    try {
      await loader.load(s.id);
      // Outside the home: allowed as the root says.
      await expect(invoker.invoke(s.id, 'cmd', { operation: 'write', path: join(link, 'ok.txt'), content: 'fine' })).resolves.toMatchObject({ written: true });
      const attempts: [string, Record<string, string>][] = [
        ['read the database', { operation: 'read', path: join(link, 'home/store/skill/db.sqlite') }],
        ['plant JS in the cache', { operation: 'write', path: join(link, 'home/store/skill/cache/x.js'), content: 'planted' }],
        ['list the store', { operation: 'list', path: join(link, 'home/store/skill') }],
        ['stat the home', { operation: 'stat', path: join(link, 'home') }],
        ['remove a component', { operation: 'remove', path: join(link, 'home/store/skill/components') }],
        ['mkdir in the home', { operation: 'mkdir', path: join(link, 'home/new') }],
      ];
      for (const [label, args] of attempts) {
        const err = (await invoker.invoke(s.id, 'cmd', args).catch((e: unknown) => e)) as PermissionDeniedError;
        expect(err, label).toBeInstanceOf(PermissionDeniedError);
        expect(err.rule, label).toBe('fs.protected_path');
      }
      expect(existsSync(join(home, 'store/skill/cache/x.js'))).toBe(false);
      expect(existsSync(join(home, 'new'))).toBe(false);
    } finally {
      await invoker.close();
      registry.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Class 7: install reads only regular files inside the folder, size-capped, never blocking.

describe('class 7: install refuses special, outside and oversize files quickly', () => {
  type Setup = (dir: string, scratch: string) => void;
  const replace = (file: string, make: (f: string) => void) => {
    rmSync(file, { force: true, recursive: true });
    make(file);
  };
  const link = (target: string) => (f: string) => symlinkSync(target, f);
  const fifo = (f: string) => execFileSync('mkfifo', [f]);

  // [case, setup, error class, message pattern]
  const cases: [string, Setup, new (...a: any[]) => SkillError, RegExp][] = [
    ['skill.yaml -> /dev/zero', (d) => replace(join(d, 'skill.yaml'), link('/dev/zero')), ManifestError, /outside/],
    ['skill.yaml -> /dev/urandom', (d) => replace(join(d, 'skill.yaml'), link('/dev/urandom')), ManifestError, /outside/],
    ['skill.yaml a FIFO', (d) => replace(join(d, 'skill.yaml'), fifo), ManifestError, /a FIFO, not a regular file/],
    ['skill.yaml -> a FIFO inside the folder', (d) => (fifo(join(d, 'pipe')), replace(join(d, 'skill.yaml'), link(join(d, 'pipe')))), ManifestError, /a FIFO, not a regular file/],
    ['skill.yaml a directory', (d) => replace(join(d, 'skill.yaml'), (f) => mkdirSync(f)), ManifestError, /a directory, not a regular file/],
    ['skill.yaml -> a file outside the folder', (d, s) => (writeFileSync(join(s, 'outside.yaml'), readFileSync(join(d, 'skill.yaml'))), replace(join(d, 'skill.yaml'), link(join(s, 'outside.yaml')))), ManifestError, /outside/],
    ['skill.yaml over 1 MiB', (d) => {
      const m = parse(readFileSync(join(d, 'skill.yaml'), 'utf8'));
      m.description = 'x'.repeat(1024 * 1024 + 1);
      writeFileSync(join(d, 'skill.yaml'), stringify(m));
    }, ManifestError, /over the 1 MiB limit/],
    ['skill.yaml a dangling symlink', (d, s) => replace(join(d, 'skill.yaml'), link(join(s, 'missing.yaml'))), ManifestError, /symlink to a file that does not exist/],
    ['component -> /dev/zero', (d) => replace(join(d, 'dist/skill.wasm'), link('/dev/zero')), ManifestError, /outside the skill folder/],
    ['component -> /dev/urandom', (d) => replace(join(d, 'dist/skill.wasm'), link('/dev/urandom')), ManifestError, /outside the skill folder/],
    ['component a FIFO', (d) => replace(join(d, 'dist/skill.wasm'), fifo), ManifestError, /a FIFO, not a regular file/],
    ['component -> a FIFO inside the folder', (d) => (fifo(join(d, 'pipe')), replace(join(d, 'dist/skill.wasm'), link(join(d, 'pipe')))), ManifestError, /a FIFO/],
    ['component a directory', (d) => replace(join(d, 'dist/skill.wasm'), (f) => mkdirSync(f)), SkillModuleNotFoundError, /is a directory/],
    ['component -> a file outside the folder', (d, s) => (writeFileSync(join(s, 'c.wasm'), readFileSync(join(d, 'dist/skill.wasm'))), replace(join(d, 'dist/skill.wasm'), link(join(s, 'c.wasm')))), ManifestError, /outside the skill folder/],
    ['component missing', (d) => rmSync(join(d, 'dist/skill.wasm')), SkillModuleNotFoundError, /not found/],
    ['component over the policy cap (64 KiB here)', () => undefined, ManifestError, /over the 64 KiB limit|over the 65536 bytes limit/],
  ];

  it.each(cases)('%s', { timeout: 20_000 }, async (name, setup, type, message) => {
    const home = await tempDir('agentos-home-');
    const scratch = await tempDir('agentos-scratch-');
    const registry = new SkillRegistry({ home });
    // The same store, opened under a host policy with a small component cap.
    const capped = name.includes('policy cap') ? new SkillRegistry({ home, hostPolicy: { maxComponentBytes: 64 * 1024 } }) : registry;
    try {
      // Something installed already, to see that a refused install leaves it alone.
      await registry.install(await helloDir((m) => (m.id = 'example.other')));
      const before = snapshot(registry);
      const dir = await helloDir();
      setup(dir, scratch);
      const err = (await capped.install(dir).catch((e: unknown) => e)) as SkillError;
      expect(err).toBeInstanceOf(type);
      expect(err.message).toMatch(message);
      expect(snapshot(registry)).toBe(before);
    } finally {
      if (capped !== registry) capped.close();
      registry.close();
    }
  });

  it('a larger manifest is accepted when the host policy says so', async () => {
    const home = await tempDir('agentos-home-');
    const registry = new SkillRegistry({ home, hostPolicy: { maxManifestBytes: 3 * 1024 * 1024 } });
    try {
      const dir = await helloDir((m) => (m.description = 'y'.repeat(1024 * 1024 + 10)));
      await expect(registry.install(dir)).resolves.toMatchObject({ id: 'example.hello' });
    } finally {
      registry.close();
    }
  });

  it('YAML aliases cannot expand a small manifest into a huge stored one', async () => {
    const home = await tempDir('agentos-home-');
    const registry = openStore(home);
    const dir = await helloDir();
    const big = 'z'.repeat(100_000);
    const aliases = Array.from({ length: 30 }, (_, i) => `  c${i}: { description: *big }`).join('\n');
    writeFileSync(
      join(dir, 'skill.yaml'),
      `id: example.alias\nname: A\nversion: 1.0.0\ndescription: &big ${big}\ncomponent: dist/skill.wasm\ncommands:\n${aliases}\n`,
    );
    const err = (await registry.install(dir).catch((e: unknown) => e)) as ManifestError;
    expect(err).toBeInstanceOf(ManifestError);
    expect(err.message).toMatch(/expands to more than/);
    expect(registry.list()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Class 12: errors never quote the file's content.

describe('class 12: manifest errors never quote file content', () => {
  const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
  const valid = (extra: string) =>
    `id: example.leak\nname: L\nversion: 1.0.0\ndescription: d\ncomponent: dist/skill.wasm\ncommands:\n  run: {}\n${extra}`;
  // [case, skill.yaml text]
  const cases: [string, string][] = [
    ['an INI credentials file', `[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = ${SECRET}\n`],
    ['a bare secret line', `${SECRET}\n`],
    ['a netrc line', `machine api.example.com login me password ${SECRET}\n`],
    ['unexpected token after a secret', `a: &x ${SECRET}\nb: *y\n- ${SECRET}\n`],
    ['unterminated quote', `token: "${SECRET}\n`],
    ['duplicate key with a secret value', `password: ${SECRET}\npassword: ${SECRET}\n`],
    ['tab indentation', `a:\n\t- ${SECRET}\n`],
    ['secret as the id', valid('').replace('example.leak', `${SECRET}/x`)],
    ['secret as the version', valid('').replace('1.0.0', SECRET)],
    ['secret as an allow_domains entry', valid(`requires:\n  permissions:\n    net:\n      allow_domains: ["https://${SECRET}:99999"]\n`)],
    ['secret as a relative fs root', valid(`requires:\n  permissions:\n    fs:\n      paths: ["${SECRET}"]\n`)],
    ['secret as the component path', valid('').replace('dist/skill.wasm', `/${SECRET}`)],
    ['secret as a boolean', valid(`requires:\n  permissions:\n    fs:\n      read: ${SECRET}\n`)],
    ['secret as the engine', valid(`engine: ${SECRET}\n`)],
  ];

  it.each(cases)('%s', async (_, text) => {
    const home = await tempDir('agentos-home-');
    const registry = openStore(home);
    const dir = await helloDir();
    writeFileSync(join(dir, 'skill.yaml'), text);
    const err = (await registry.install(dir).catch((e: unknown) => e)) as ManifestError;
    expect(err).toBeInstanceOf(ManifestError);
    const shown = JSON.stringify(err.toJSON()) + err.message + err.issues.map((i) => i.message).join();
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain('AKIAIOSFODNN7EXAMPLE');
    // Still useful: where (a key path or a line:col) and what was expected.
    expect(err.issues.every((i) => i.path !== '' || /line \d+, column \d+|expected|cannot be read|no manifest/.test(i.message))).toBe(true);
  });

  it('a skill.yaml symlinked to a credentials file outside the folder is refused without reading it', async () => {
    const home = await tempDir('agentos-home-');
    const scratch = await tempDir('agentos-scratch-');
    const creds = join(scratch, 'credentials');
    writeFileSync(creds, `[default]\naws_secret_access_key = ${SECRET}\n`);
    const registry = openStore(home);
    const dir = await helloDir();
    rmSync(join(dir, 'skill.yaml'));
    symlinkSync(creds, join(dir, 'skill.yaml'));
    const err = (await registry.install(dir).catch((e: unknown) => e)) as ManifestError;
    expect(err).toBeInstanceOf(ManifestError);
    expect(err.message).toMatch(/outside/);
    expect(JSON.stringify(err.toJSON())).not.toContain(SECRET);
  });
});

// ---------------------------------------------------------------------------------------------
// Class 8: list()/get() do not re-parse stored manifests; oversize rows are never parsed.

describe('class 8: stored manifests are parsed once per revision', () => {
  const BIG = 900 * 1024;
  /** JSON.parse calls on texts longer than `min` characters while `fn` runs. */
  function bigParses(min: number, fn: () => void): number {
    const spy = vi.spyOn(JSON, 'parse');
    try {
      fn();
      return spy.mock.calls.filter(([t]) => typeof t === 'string' && t.length > min).length;
    } finally {
      spy.mockRestore();
    }
  }

  it('list() and get() of a big (under-cap) manifest parse it once, across many calls', async () => {
    const home = await tempDir('agentos-home-');
    const registry = new SkillRegistry({ home });
    const other = new SkillRegistry({ home });
    try {
      await registry.install(await helloDir((m) => (m.description = 'd'.repeat(BIG))));
      expect(bigParses(BIG, () => {
        for (let i = 0; i < 200; i++) {
          registry.list();
          registry.get('example.hello');
        }
      })).toBe(0); // parsed when install returned the new row; never again
      // Another instance (as another process would) parses it once, then not again.
      expect(bigParses(BIG, () => {
        for (let i = 0; i < 200; i++) other.list();
      })).toBe(1);
      // A re-install elsewhere is seen at once (the revision changed), parsed once.
      await other.install(await helloDir((m) => ((m.description = 'e'.repeat(BIG)), (m.version = '1.1.0'))));
      expect(bigParses(BIG, () => {
        for (let i = 0; i < 100; i++) expect(registry.list()[0]!.manifest.version).toBe('1.1.0');
      })).toBe(1);
      expect(registry.get('example.hello')!.manifest.description.startsWith('e')).toBe(true);
      // The shared parsed object cannot be changed by a caller.
      expect(Object.isFrozen(registry.get('example.hello')!.manifest.commands)).toBe(true);
    } finally {
      other.close();
      registry.close();
    }
  });

  it('an oversize row left by an older version is never parsed: stand-in manifest, refused at enable and load', async () => {
    const home = await tempDir('agentos-home-');
    const registry = openStore(home);
    const s = await registry.install(await helloDir());
    registry.enable(s.id);
    // What an older version could store: a 20 MB manifest.
    const db = openDatabase(registry.path, { timeoutMs: 5000 });
    const huge = JSON.stringify({ ...s.manifest, description: 'h'.repeat(20 * 1024 * 1024) });
    db.prepare("UPDATE skills SET manifest = ?, manifest_rev = 'old' WHERE id = ?").run(huge, s.id);
    db.close();
    const parses = bigParses(1024 * 1024, () => {
      for (let i = 0; i < 50; i++) registry.list();
    });
    expect(parses).toBe(0);
    const got = registry.get(s.id)!;
    expect(got.manifestError).toMatch(/over the .* byte limit; reinstall/);
    expect(got.manifest.commands).toEqual({});
    expect(got.manifest.requires).toEqual({ permissions: {}, limits: {} });
    expect(() => registry.enable(s.id)).toThrow(ManifestError);
    await expect(new SkillLoader(registry).load(s.id)).rejects.toBeInstanceOf(ManifestError);
    // Reinstalling fixes it.
    await registry.install(await helloDir());
    expect(registry.get(s.id)!.manifestError).toBeUndefined();
  });
});
