/**
 * build-skill end to end: a skill folder -> component (both engines) -> transpiled JS that the
 * sandbox instantiates synchronously. Also the refusals: syntax errors, Node built-ins, foreign
 * imports, components importing WASI.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { componentWit } from '@bytecodealliance/jco';
import { componentize as componentizeQjs } from 'componentize-qjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSkill, skillSources, WIT_FILE, type BuildProgress, type BuildResult } from '../src/build/build-skill.js';
import { parseGuestFailure } from '../src/build/guest-failure.js';
import {
  __test,
  ALLOWED_IMPORT_PREFIX,
  assertSkillImports,
  componentImports,
  ForbiddenImportsError,
} from '../src/build/inspect-component.js';
import { transpileComponent } from '../src/build/transpile.js';
import { BuildError } from '../src/errors.js';
import { ensureWasmFeatures } from '../src/sandbox/wasm-features.js';

const SKILL_IMPORTS = [
  'agentos:skill/clock@0.1.1',
  'agentos:skill/fs@0.1.1',
  'agentos:skill/log@0.1.1',
  'agentos:skill/net@0.1.1',
  'agentos:skill/types@0.1.1',
];

const MANIFEST = `id: test.probe
name: Probe
version: 0.1.0
description: exercises the guest runtime
entry: src/index.ts
component: dist/skill.wasm
commands:
  greet: {}
  fail: {}
  read: {}
  list: {}
  swallow: {}
  clock: {}
`;

const SOURCE = `import { capabilityError, list, readText, type Commands } from '@agentos/skills/guest';
import { log } from 'agentos:skill/log';
import { greeting } from './greeting.js';

let calls = 0;

export const commands = {
  greet({ name }: { name: string }) {
    calls++;
    log('info', 'greeting ' + name);
    return { greeting: greeting(name), calls };
  },
  fail({ message }: { message: string }) {
    throw new TypeError(message);
  },
  read({ path }: { path: string }) {
    return { text: readText(path) };
  },
  list({ path }: { path: string }) {
    return list(path);
  },
  swallow({ path }: { path: string }) {
    try {
      readText(path);
      return { caught: null };
    } catch (e) {
      return { caught: capabilityError(e) ?? null };
    }
  },
  clock() {
    return Date.now();
  },
} satisfies Commands;
`;

const temps: string[] = [];
async function temp(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

/** A skill folder in a temp dir: manifest + files (relative path -> text). */
async function skillDir(files: Record<string, string>, manifest = MANIFEST): Promise<string> {
  const dir = await temp('agentos-build-test-');
  await writeFile(join(dir, 'skill.yaml'), manifest);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
  return dir;
}

async function probeDir(): Promise<string> {
  return skillDir({
    'src/index.ts': SOURCE,
    'src/greeting.ts': 'export const greeting = (name: string): string => `Hello, ${name}!`;\n',
  });
}

// ---------------------------------------------------------------------------------------------
// Running a component the way the sandbox does: transpile, compile core modules, instantiate
// synchronously with host functions.

interface Host {
  logs: string[];
  invoke(command: string, args: unknown): unknown;
  exports: string[];
  files: string[];
  imports: string[];
}

const denied = (val: string) => ({ tag: 'err', val: { tag: 'denied', val } });

async function runComponent(bytes: Uint8Array): Promise<Host> {
  ensureWasmFeatures();
  const out = await transpileComponent(bytes, 'skill');
  const dir = await temp('agentos-transpiled-');
  const modules = new Map<string, WebAssembly.Module>();
  for (const [name, data] of Object.entries(out.files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), data);
    if (name.endsWith('.wasm')) modules.set(name, await WebAssembly.compile(data as Uint8Array<ArrayBuffer>));
  }
  const mod = (await import(pathToFileURL(join(dir, 'skill.js')).href)) as {
    instantiate: (get: (f: string) => WebAssembly.Module, imports: object) => { invoke(c: string, a: string): string };
  };
  const logs: string[] = [];
  const instance = mod.instantiate((f) => modules.get(f) as WebAssembly.Module, {
    'agentos:skill/fs': {
      readFile: (p: string) => (p === '/data/hello.txt' ? new TextEncoder().encode('héllo') : denied(`${p} is outside the allowed roots`)),
      writeFile: () => denied('read-only'),
      listDir: () => [
        { name: 'a.txt', kind: 'file', size: 5n },
        { name: 'sub', kind: 'directory', size: 0n },
      ],
      stat: () => denied('no'),
      remove: () => denied('no'),
      makeDir: () => denied('no'),
    },
    'agentos:skill/net': { fetch: () => denied('no network') },
    'agentos:skill/log': { log: (level: string, message: string) => logs.push(`${level} ${message}`) },
    'agentos:skill/clock': { now: () => Math.floor(Date.now()), monotonic: () => Math.floor(performance.now()) },
  });
  // What the worker does right after every instantiation (guest/random.js); the clock and
  // console answer from then on.
  expect(instance.invoke('\u0000agentos:seed', 'ab'.repeat(32))).toBe('agentos:seeded');
  return {
    logs,
    exports: out.exports,
    files: Object.keys(out.files),
    imports: out.imports,
    invoke(command, args) {
      try {
        return { ok: JSON.parse(instance.invoke(command, JSON.stringify(args))) as unknown };
      } catch (e) {
        const err = e as { constructor: { name: string }; payload?: unknown };
        if (err.constructor.name !== 'ComponentError' || typeof err.payload !== 'string') throw e;
        return { err: parseGuestFailure(err.payload) };
      }
    },
  };
}

/** The guest runtime's contract, identical for both engines. */
async function expectProbeBehaviour(bytes: Uint8Array): Promise<void> {
  const host = await runComponent(bytes);
  expect(host.imports.sort()).toEqual(['agentos:skill/clock', 'agentos:skill/fs', 'agentos:skill/log', 'agentos:skill/net']);
  expect(host.exports).toContain('invoke');
  expect(host.files).toContain('skill.js');
  expect(host.files).toContain('skill.core.wasm');

  expect(host.invoke('greet', { name: 'Ada' })).toEqual({ ok: { greeting: 'Hello, Ada!', calls: 1 } });
  expect(host.invoke('greet', { name: 'Bob' })).toEqual({ ok: { greeting: 'Hello, Bob!', calls: 2 } });
  expect(host.logs).toEqual(['info greeting Ada', 'info greeting Bob']);

  expect(host.invoke('fail', { message: 'kaboom' })).toEqual({ err: { kind: 'error', name: 'TypeError', message: 'kaboom' } });
  expect(host.invoke('read', { path: '/data/hello.txt' })).toEqual({ ok: { text: 'héllo' } });
  expect(host.invoke('read', { path: '/etc/passwd' })).toEqual({
    err: {
      kind: 'capability',
      message: 'fs.readFile("/etc/passwd"): denied: /etc/passwd is outside the allowed roots',
      error: { tag: 'denied', val: '/etc/passwd is outside the allowed roots' },
    },
  });
  expect(host.invoke('swallow', { path: '/etc/passwd' })).toEqual({
    ok: { caught: { tag: 'denied', val: '/etc/passwd is outside the allowed roots' } },
  });
  // u64 sizes: numbers in QuickJS, BigInts in StarlingMonkey; the helpers give numbers.
  expect(host.invoke('list', { path: '/data' })).toEqual({
    ok: [
      { name: 'a.txt', kind: 'file', size: 5 },
      { name: 'sub', kind: 'directory', size: 0 },
    ],
  });
  // The host's wall clock (agentos:skill/clock), whole milliseconds.
  const clock = host.invoke('clock', {}) as { ok: number };
  expect(Number.isInteger(clock.ok)).toBe(true);
  expect(Math.abs(clock.ok - Date.now())).toBeLessThan(1000);
  expect(host.invoke('nope', {})).toMatchObject({
    err: { kind: 'unknown_command', message: expect.stringContaining("unknown command 'nope' (commands: greet, fail") },
  });
  expect(host.invoke('constructor', {})).toMatchObject({ err: { kind: 'unknown_command' } });
  // After every kind of failure above the instance still answers.
  expect(host.invoke('greet', { name: 'Cy' })).toEqual({ ok: { greeting: 'Hello, Cy!', calls: 3 } });
}

// ---------------------------------------------------------------------------------------------

describe('buildSkill with QuickJS (default engine)', () => {
  let dir: string;
  let result: BuildResult;
  const steps: BuildProgress[] = [];

  beforeAll(async () => {
    dir = await probeDir();
    result = await buildSkill(dir, { onProgress: (ev) => steps.push(ev) });
  });

  it('writes a component at the manifest path that imports only agentos:skill/*', async () => {
    expect(result.skillId).toBe('test.probe');
    expect(result.engine).toBe('quickjs');
    expect(result.componentPath).toBe(join(dir, 'dist/skill.wasm'));
    const bytes = new Uint8Array(await readFile(result.componentPath));
    expect(bytes.length).toBe(result.bytes);
    expect(result.bytes).toBeGreaterThan(500_000);
    expect(result.bytes).toBeLessThan(4_000_000);
    expect([...result.imports].sort()).toEqual(SKILL_IMPORTS);
    expect(await componentImports(bytes)).toEqual(result.imports);
  });

  it('reports every step, in order, with times', () => {
    expect(steps.map((s) => s.step)).toEqual(['manifest', 'bundle', 'compile', 'check', 'write']);
    for (const s of steps.slice(1)) expect(typeof s.ms).toBe('number');
    expect(steps.find((s) => s.step === 'compile')?.detail).toMatch(/^quickjs, [\d.]+ MB$/);
  });

  it('runs under the sandbox contract: JSON results, JSON err strings, capability tags, state kept', async () => {
    await expectProbeBehaviour(new Uint8Array(await readFile(result.componentPath)));
  });

  it('writes to outFile when given, creating folders', async () => {
    const out = join(await temp('agentos-out-'), 'a/b/probe.wasm');
    const r = await buildSkill(dir, { outFile: out });
    expect(r.componentPath).toBe(out);
    expect((await stat(out)).size).toBe(r.bytes);
  });

  it('lists the files a build depends on', async () => {
    const sources = await skillSources(dir);
    expect(sources).toEqual(
      expect.arrayContaining([join(dir, 'skill.yaml'), join(dir, 'src/index.ts'), join(dir, 'src/greeting.ts'), WIT_FILE]),
    );
    expect(sources?.some((f) => f.endsWith('guest/runtime.js'))).toBe(true);
    expect(sources?.some((f) => f.endsWith('guest/helpers.js'))).toBe(true);
  });
});

describe('buildSkill with StarlingMonkey', () => {
  let result: BuildResult;

  beforeAll(async () => {
    const dir = await probeDir();
    result = await buildSkill(dir, { engine: 'starlingmonkey', outFile: join(dir, 'dist/skill-sm.wasm') });
  }, 300_000);

  it('produces a (much larger) component with the same imports', () => {
    expect(result.engine).toBe('starlingmonkey');
    expect(result.bytes).toBeGreaterThan(5_000_000);
    expect([...result.imports].sort()).toEqual(SKILL_IMPORTS);
  });

  it('behaves exactly like the QuickJS build', async () => {
    await expectProbeBehaviour(new Uint8Array(await readFile(result.componentPath)));
  });

  it('engine can come from the manifest', async () => {
    const dir = await skillDir(
      { 'src/index.js': 'export const commands = { x: () => 1 };\n' },
      MANIFEST.replace('entry: src/index.ts', 'entry: src/index.js\nengine: starlingmonkey'),
    );
    const steps: string[] = [];
    // Stop after the bundle: only the engine choice is under test here.
    await expect(
      buildSkill(dir, {
        onProgress: (ev) => {
          steps.push(ev.detail ?? '');
          if (ev.step === 'bundle') throw new Error('stop');
        },
      }),
    ).rejects.toThrow('stop');
    expect(steps[0]).toMatch(/\(starlingmonkey\)$/);
  });
});

describe('build errors', () => {
  const cases: [string, Record<string, string>, RegExp[]][] = [
    [
      'a syntax error names file:line:col and the parser message',
      { 'src/index.ts': 'const a = 1;\nexport const commands = {\n  x() { return a +; },\n};\n' },
      [/^test\.probe: src\/index\.ts:3:19: Unexpected ";"/, /\n {4}\s*x\(\) \{ return a \+; \},\n {4}\s*\^/],
    ],
    [
      'a syntax error in an imported file names that file',
      { 'src/index.ts': "export { commands } from './cmds.js';\n", 'src/cmds.ts': 'export const commands = {\n  x( {\n};\n' },
      [/src\/cmds\.ts:\d+:\d+: /],
    ],
    [
      'node:fs is refused',
      { 'src/index.ts': "import { readFileSync } from 'node:fs';\nexport const commands = { x: () => readFileSync('/etc/passwd') };\n" },
      [/src\/index\.ts:1:30: 'node:fs' is a Node\.js built-in/],
    ],
    [
      'a bare Node built-in is refused',
      { 'src/index.ts': "import cp from 'child_process';\nexport const commands = { x: () => cp };\n" },
      [/src\/index\.ts:1:16: 'child_process' is a Node\.js built-in/],
    ],
    [
      'WASI interfaces are refused',
      { 'src/index.ts': "import { getEnvironment } from 'wasi:cli/environment@0.2.3';\nexport const commands = { x: getEnvironment };\n" },
      [/'wasi:cli\/environment@0\.2\.3' cannot be imported by a skill/],
    ],
    [
      'an interface outside the WIT package is refused',
      { 'src/index.ts': "import { get } from 'agentos:skill/secrets';\nexport const commands = { x: get };\n" },
      [/'agentos:skill\/secrets' is not an interface of agentos:skill@0\.1\.1/],
    ],
    [
      'a package that needs a Node built-in is named, with the built-in',
      {
        'src/index.ts': "import { load } from 'conf-loader';\nexport const commands = { x: load };\n",
        'node_modules/conf-loader/package.json': '{"name":"conf-loader","version":"1.0.0","main":"index.js"}',
        'node_modules/conf-loader/index.js': "const fs = require('fs');\nexports.load = () => fs.readFileSync('/etc/hosts', 'utf8');\n",
      },
      [/the package 'conf-loader' \(node_modules\/conf-loader\/index\.js\) needs 'fs', a Node\.js built-in/, /node_modules\/conf-loader\/index\.js:1:20: /],
    ],
    ['a missing import is reported', { 'src/index.ts': "export { commands } from './nope.js';\n" }, [/src\/index\.ts:1:\d+: Could not resolve "\.\/nope\.js"/]],
    [
      'a module without commands or invoke is refused',
      { 'src/index.ts': 'export const handlers = {};\n' },
      [/must export 'commands' \(an object of handlers\) or 'invoke\(command, argsJson\)' \(it exports: handlers\)/],
    ],
    [
      'a module exporting both commands and invoke is refused',
      { 'src/index.ts': "export const commands = {};\nexport function invoke() { return '1'; }\n" },
      [/exports both 'commands' and 'invoke'/],
    ],
    ['a missing entry file is reported', {}, [/entry 'src\/index\.ts' not found/]],
  ];

  it.each(cases)('%s', async (_name, files, patterns) => {
    const dir = await skillDir(files);
    const err = await buildSkill(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BuildError);
    const e = err as BuildError;
    expect(e.code).toBe('BUILD_FAILED');
    expect(e.skillId).toBe('test.probe');
    for (const p of patterns) expect(e.message).toMatch(p);
    expect(e.message).not.toMatch(/\n\s+at /); // no stack dumps
  });

  it('an exception while the engine initialises the module points at the skill source', async () => {
    const dir = await skillDir({
      'src/index.ts': "const ready = false;\nif (!ready) throw new Error('not configured');\nexport const commands = {};\n",
    });
    await expect(buildSkill(dir)).rejects.toThrow(/quickjs could not compile the skill: src\/index\.ts:2:\d+: Error: not configured/);
  });

  it('a manifest error stays a ManifestError', async () => {
    const dir = await skillDir({ 'src/index.ts': 'export const commands = {};\n' }, MANIFEST.replace('id: test.probe', 'id: Not Valid'));
    await expect(buildSkill(dir)).rejects.toMatchObject({ code: 'MANIFEST_INVALID' });
  });
});

describe('componentImports / assertSkillImports', () => {
  let wasiComponent: Uint8Array;
  beforeAll(async () => {
    // The same WIT, compiled without stubbing QuickJS's own WASI needs.
    const r = await componentizeQjs({ witPath: WIT_FILE, jsSource: 'export function invoke(c, a) { return a; }', sync: true });
    wasiComponent = new Uint8Array(r.component);
  });

  it('sees WASI imports, and assertSkillImports names exactly the forbidden ones', async () => {
    const imports = await componentImports(wasiComponent);
    expect(imports).toEqual(expect.arrayContaining(['wasi:cli/environment@0.2.12', 'wasi:filesystem/preopens@0.2.12', ...SKILL_IMPORTS]));
    let caught: unknown;
    try {
      assertSkillImports(imports, 'evil.wasm');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ForbiddenImportsError);
    const e = caught as ForbiddenImportsError;
    expect(e.forbidden).toEqual(imports.filter((i) => i.startsWith('wasi:')));
    expect(e.message).toMatch(/^evil\.wasm imports 'wasi:cli\/environment@0\.2\.12', /);
    expect(e.message).not.toMatch(/agentos:skill\/fs/);
  });

  it('accepts agentos:skill/* only', () => {
    expect(ALLOWED_IMPORT_PREFIX).toBe('agentos:skill/');
    expect(() => assertSkillImports(SKILL_IMPORTS, 'x')).not.toThrow();
    expect(() => assertSkillImports([], 'x')).not.toThrow();
    expect(() => assertSkillImports(['agentos:skillz/fs@0.1.0'], 'x')).toThrow(ForbiddenImportsError);
    // 0.1.0 components keep working; clock exists from 0.1.1 on; nothing else is served.
    expect(() => assertSkillImports(['agentos:skill/fs@0.1.0', 'agentos:skill/log@0.1.0', 'agentos:skill/types@0.1.0'], 'x')).not.toThrow();
    for (const bad of ['agentos:skill/clock@0.1.0', 'agentos:skill/fs@0.2.0', 'agentos:skill/shell@0.1.1', 'wasi:clocks/wall-clock@0.2.0', 'wasi:random/random@0.2.0']) {
      expect(() => assertSkillImports([bad], 'x'), bad).toThrow(ForbiddenImportsError);
    }
    expect(() => assertSkillImports(['env'], 'x')).toThrow(/'env'/);
  });

  it('reads the same imports from the binary as wasm-tools prints in the WIT', async () => {
    // Plus the fixtures, when `npm run build-examples` has built them.
    const built = ['fixtures/hostile/dist/skill.wasm', 'fixtures/hostile-sm/dist/skill.wasm']
      .map((f) => join(import.meta.dirname, f))
      .filter((f) => existsSync(f));
    const components = [wasiComponent, ...(await Promise.all(built.map(async (f) => new Uint8Array(await readFile(f)))))];
    for (const bytes of components) {
      const fromWit = __test.importsFromWit(await componentWit(bytes));
      expect(await componentImports(bytes)).toEqual(fromWit);
      expect(__test.readTopLevelImports(bytes)).toEqual(fromWit);
    }
  });

  it('rejects what is not a component', async () => {
    await expect(componentImports(new TextEncoder().encode('not wasm at all'))).rejects.toThrow(/not a WebAssembly binary/);
    await expect(componentImports(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))).rejects.toThrow(/core WebAssembly module, not a component/);
  });

  it('parses WIT import lines of every shape', () => {
    const wit = `package root:component;\n\nworld root {\n  import wasi:io/poll@0.2.0;\n  import agentos:skill/fs@0.1.0;\n  import host-fn: func(x: u32) -> u32;\n  import %inline: interface {\n    f: func();\n  }\n\n  export invoke: func(command: string, args: string) -> result<string, string>;\n}\n`;
    expect(__test.importsFromWit(wit)).toEqual(['wasi:io/poll@0.2.0', 'agentos:skill/fs@0.1.0', 'host-fn', 'inline']);
  });
});

describe('parseGuestFailure', () => {
  it.each([
    ['{"kind":"error","message":"boom","name":"Error"}', { kind: 'error', message: 'boom', name: 'Error' }],
    [
      '{"kind":"capability","message":"denied: x","error":{"tag":"denied","val":"x"}}',
      { kind: 'capability', message: 'denied: x', error: { tag: 'denied', val: 'x' } },
    ],
    ['{"kind":"unknown_command","message":"unknown command \'q\'"}', { kind: 'unknown_command', message: "unknown command 'q'" }],
    // A capability claim without a valid variant is just an error.
    ['{"kind":"capability","message":"m","error":{"tag":"root","val":"x"}}', { kind: 'error', message: 'm' }],
    // Components built elsewhere: the whole string is the message.
    ['plain failure text', { kind: 'error', message: 'plain failure text' }],
    ['{"kind":"pwned","message":"m"}', { kind: 'error', message: '{"kind":"pwned","message":"m"}' }],
    ['[1,2]', { kind: 'error', message: '[1,2]' }],
  ])('%s', (text, expected) => {
    expect(parseGuestFailure(text)).toEqual(expected);
  });
});
