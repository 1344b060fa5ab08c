/**
 * The pure validator of core modules (src/sandbox/module-limits.ts, over the parser in
 * src/sandbox/wasm-sections.ts), its memory/table maximum rewriter (a table of module bytes in
 * and out) and the component walker (src/build/component-modules.ts), on hand-built bytes and
 * on the real engines' components.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@bytecodealliance/jco';
import { describe, expect, it } from 'vitest';
import { assertComponentModules, componentCoreModules, ModuleInstancesError } from '../src/build/component-modules.js';
import { IntegrityError, ResourceLimitError } from '../src/errors.js';
import {
  capModule,
  capModuleMemory,
  checkAndCapModules,
  DEFAULT_MODULE_LIMITS,
  MalformedModuleError,
  moduleLimits,
  moduleShape,
  moduleViolations,
  WASM_PAGE,
} from '../src/sandbox/module-limits.js';
import { SKILLS } from './helpers.js';

const MB = 1024 * 1024;
const limits64 = moduleLimits(64 * MB);

async function violationsOf(wat: string, limits = limits64) {
  const bytes = await parse(wat);
  return moduleViolations([{ name: 'm.wasm', bytes, shape: moduleShape(bytes) }], limits);
}

/** A module header followed by one section with `body`. */
function withSection(id: number, body: number[]): Uint8Array {
  return Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, id, body.length, ...body]);
}

describe('module limits: hostile shapes are refused with the bound they break', () => {
  // [what, wat, kind, where (substring)]
  const table: [string, string, 'memory' | 'module_shape', string][] = [
    ['initial memory over memory_mb', '(module (memory 2000))', 'memory', 'memory 0'],
    ['initial memories that only together are over memory_mb', '(module (memory 600) (memory 600))', 'memory', 'memories'],
    ['imported memory requiring more than memory_mb', '(module (import "a" "m" (memory 1025)))', 'memory', 'imported memory 0'],
    ['table of millions of funcrefs', '(module (table 5000000 funcref))', 'module_shape', 'table 0'],
    ['imported table of millions of entries', '(module (import "a" "t" (table 5000000 funcref)))', 'module_shape', 'table 0'],
    ['many tables each under the per-table bound', `(module ${'(table 90000 funcref)'.repeat(3)})`, 'module_shape', 'tables'],
    ['too many memories', `(module ${'(memory 0)'.repeat(5)})`, 'module_shape', 'memories'],
    ['too many globals', `(module ${'(global i32 (i32.const 0))'.repeat(10_001)})`, 'module_shape', 'globals'],
    ['too many functions', `(module (type $t (func)) ${'(func (type $t))'.repeat(200_001)})`, 'module_shape', 'functions'],
    ['too many imports', `(module ${Array.from({ length: 10_001 }, (_, i) => `(import "a" "f${i}" (func))`).join('')})`, 'module_shape', 'imports'],
    [
      'element segment of more entries than allowed',
      `(module (func $f) (elem declare func ${'$f '.repeat(200_001)}))`,
      'module_shape',
      'element segments',
    ],
    ['data segments larger than memory_mb', `(module (memory 1) (data (i32.const 0) "${'x'.repeat(65 * 1024)}"))`, 'memory', 'data segments'],
  ];
  it.each(table)('%s', async (_what, wat, kind, where) => {
    const limits = wat.includes('"x') ? moduleLimits(64 * 1024) : limits64;
    const v = await violationsOf(wat, limits);
    expect(v.length).toBeGreaterThan(0);
    expect(v[0]!.kind).toBe(kind);
    expect(v[0]!.where).toContain(where);
    expect(v[0]!.actual).toBeGreaterThan(v[0]!.max);
    expect(v[0]!.message).toMatch(/over the/);
  });

  it('a module within every bound has no violations', async () => {
    expect(await violationsOf('(module (memory 10) (table 100 funcref) (global i32 (i32.const 1)) (func))')).toEqual([]);
  });

  it('sums over every module of the component', () => {
    const mem = { name: 'a.wasm', bytes: new Uint8Array(), shape: { ...moduleShape(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])) } };
    const one = { ...mem, shape: { ...mem.shape, memories: [{ min: 600, max: undefined }] } };
    expect(moduleViolations([one], limits64)).toEqual([]);
    expect(moduleViolations([one, { ...one, name: 'b.wasm' }], limits64)[0]!.where).toBe('all core modules memories');
  });
});

describe('module limits: bytes the parser refuses (typed, never a crash)', () => {
  const table: [string, Uint8Array | (() => Promise<Uint8Array>), RegExp][] = [
    ['memory64', () => parse('(module (memory i64 1))'), /memory64/],
    ['shared memory', Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 0x03, 1, 1]), /shared memory/],
    ['truncated LEB128 (section size)', Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 0x80]), /truncated/],
    ['overlong LEB128 (6 bytes)', withSection(5, [1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), /longer than 5 bytes|overflows/],
    ['LEB128 over 32 bits', withSection(5, [1, 0, 0xff, 0xff, 0xff, 0xff, 0x1f]), /overflows/],
    ['section size past the end', Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 0x7f, 1]), /truncated/],
    ['count that cannot fit its section', withSection(5, [0xff, 0xff, 0x03, 0]), /does not fit/],
    ['trailing bytes in a section', withSection(5, [1, 0, 1, 0xaa]), /trailing bytes/],
    ['duplicate memory section', Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 1, 5, 3, 1, 0, 1]), /duplicate/],
    ['unknown section id', withSection(42, []), /unknown section/],
    ['maximum below minimum', withSection(5, [1, 1, 5, 2]), /below its minimum/],
    ['unknown limits flags', withSection(5, [1, 0x08, 1]), /flags/],
    ['not wasm', Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), /magic/],
  ];
  it.each(table)('%s', async (_what, input, message) => {
    const bytes = typeof input === 'function' ? await input() : input;
    expect(() => moduleShape(bytes)).toThrow(MalformedModuleError);
    expect(() => moduleShape(bytes)).toThrow(message);
  });
});

describe('module limits: memories and tables get a maximum, lowered and never raised', () => {
  const shapeOf = (b: Uint8Array) => moduleShape(b);
  it.each([
    ['no maximum', '(module (memory 10) (table 5 funcref))', 1024, 100_000],
    ['huge maximum only: capped, not refused', '(module (memory 10 65536) (table 5 4000000000 funcref))', 1024, 100_000],
    ['smaller maximum kept', '(module (memory 10 20) (table 5 7 funcref))', 20, 7],
  ])('%s', async (_what, wat, memMax, tableMax) => {
    const out = checkAndCapModules([{ name: 'm.wasm', bytes: await parse(wat) }], limits64);
    expect(out.violations).toEqual([]);
    const s = shapeOf(out.modules[0]!.bytes);
    expect(s.memories).toEqual([{ min: 10, max: memMax }]);
    expect(s.tables).toEqual([{ min: 5, max: tableMax }]);
    // Still a valid module, and growing past the maximum now fails.
    const inst = new WebAssembly.Instance(new WebAssembly.Module(out.modules[0]!.bytes));
    void inst;
  });

  it('several memories share the cap: each may grow to what the others leave', async () => {
    const out = checkAndCapModules([{ name: 'm.wasm', bytes: await parse('(module (memory 100) (memory 0))') }], limits64);
    expect(shapeOf(out.modules[0]!.bytes).memories).toEqual([
      { min: 100, max: 1024 },
      { min: 0, max: 924 },
    ]);
  });

  it('table.grow and memory.grow past the maximum fail in the guest instead of allocating', async () => {
    const wat = `(module (memory 1) (table 1 funcref)
      (func (export "tg") (result i32) (table.grow 0 (ref.null func) (i32.const 9000000)))
      (func (export "mg") (result i32) (memory.grow (i32.const 2000))))`;
    const out = checkAndCapModules([{ name: 'm.wasm', bytes: await parse(wat) }], limits64);
    const ex = new WebAssembly.Instance(new WebAssembly.Module(out.modules[0]!.bytes)).exports as Record<string, () => number>;
    expect(ex.tg!()).toBe(-1);
    expect(ex.mg!()).toBe(-1);
  });

  it('capModule refuses an initial size over its cap rather than keeping it', async () => {
    expect(() => capModule(Uint8Array.from(withSection(5, [1, 0, 100])), () => 10, 1000)).toThrow(MalformedModuleError);
  });

  it('imports, exports, custom sections and code are copied untouched', async () => {
    const wat = '(module (import "a" "m" (memory 1)) (table 3 funcref) (func (export "f") (result i32) (i32.const 7)) (@custom "x" "yz"))';
    const bytes = await parse(wat);
    const out = checkAndCapModules([{ name: 'm.wasm', bytes }], limits64).modules[0]!.bytes;
    expect(shapeOf(out)).toEqual({ ...shapeOf(bytes), tables: [{ min: 3, max: 100_000 }] });
    expect(out.length).toBeGreaterThan(bytes.length - 1);
  });
});

describe('module limits: the maximum rewriter, module bytes in and out', () => {
  // Sections by hand: [id, size, ...body] (every body here is under 128 bytes). Limits flags:
  // 0x00 = min only, 0x01 = min and max. LEB128: 1024 = 0x80 0x08, 924 = 0x9c 0x07,
  // 100000 = 0xa0 0x8d 0x06, 200000 = 0xc0 0x9a 0x0c, 65536 = 0x80 0x80 0x04.
  const sec = (id: number, ...body: number[]) => [id, body.length, ...body];
  const mod = (...sections: number[][]) => Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...sections.flat()]);
  const MEM = 5;
  const TABLE = 4;
  const IMPORT = 2;
  const CUSTOM = 0;
  const CAP_1024 = [0x80, 0x08]; // 64 MiB of 64 KiB pages
  const TABLE_CAP = [0xa0, 0x8d, 0x06]; // DEFAULT_MODULE_LIMITS.maxTableElements
  const FUNCREF = 0x70;
  const EXTERNREF = 0x6f;
  const importOf = (field: number, desc: number[]) => sec(IMPORT, 1, 1, 0x61, 1, field, ...desc); // (import "a" "<field>" desc)

  // [what, bytes in, bytes out] through checkAndCapModules at memory_mb 64 (the loader's path).
  const rows: [string, Uint8Array, Uint8Array][] = [
    ['memory with no maximum: gets the cap', mod(sec(MEM, 1, 0x00, 10)), mod(sec(MEM, 1, 0x01, 10, ...CAP_1024))],
    ['memory with a maximum above the cap: lowered to it', mod(sec(MEM, 1, 0x01, 10, 0x80, 0x80, 0x04)), mod(sec(MEM, 1, 0x01, 10, ...CAP_1024))],
    ['memory with a maximum below the cap: kept', mod(sec(MEM, 1, 0x01, 10, 20)), mod(sec(MEM, 1, 0x01, 10, 20))],
    ['memory with a maximum equal to its minimum: kept', mod(sec(MEM, 1, 0x01, 7, 7)), mod(sec(MEM, 1, 0x01, 7, 7))],
    ['padded LEB128 in the limits: written back in shortest form', mod(sec(MEM, 1, 0x00, 0x8a, 0x80, 0x00)), mod(sec(MEM, 1, 0x01, 10, ...CAP_1024))],
    [
      'several memories: each may grow to what the others leave (1024 - 100 = 924 pages)',
      mod(sec(MEM, 2, 0x00, 100, 0x00, 0)),
      mod(sec(MEM, 2, 0x01, 100, ...CAP_1024, 0x01, 0, 0x9c, 0x07)),
    ],
    ['funcref table with no maximum: gets maxTableElements', mod(sec(TABLE, 1, FUNCREF, 0x00, 5)), mod(sec(TABLE, 1, FUNCREF, 0x01, 5, ...TABLE_CAP))],
    ['table with a maximum above maxTableElements: lowered to it', mod(sec(TABLE, 1, FUNCREF, 0x01, 5, 0xc0, 0x9a, 0x0c)), mod(sec(TABLE, 1, FUNCREF, 0x01, 5, ...TABLE_CAP))],
    ['table with a maximum below maxTableElements: kept', mod(sec(TABLE, 1, FUNCREF, 0x01, 5, 7)), mod(sec(TABLE, 1, FUNCREF, 0x01, 5, 7))],
    ['externref table: its element type copied, maximum added', mod(sec(TABLE, 1, EXTERNREF, 0x00, 0)), mod(sec(TABLE, 1, EXTERNREF, 0x01, 0, ...TABLE_CAP))],
    [
      'two tables, with and without a maximum',
      mod(sec(TABLE, 2, FUNCREF, 0x00, 1, FUNCREF, 0x01, 2, 3)),
      mod(sec(TABLE, 2, FUNCREF, 0x01, 1, ...TABLE_CAP, FUNCREF, 0x01, 2, 3)),
    ],
    ['imported memory with no maximum: untouched', mod(importOf(0x6d, [0x02, 0x00, 1])), mod(importOf(0x6d, [0x02, 0x00, 1]))],
    ['imported table with no maximum: untouched', mod(importOf(0x74, [0x01, FUNCREF, 0x00, 5])), mod(importOf(0x74, [0x01, FUNCREF, 0x00, 5]))],
    [
      'imported memory untouched, own memory capped to the whole cap (imports are not counted)',
      mod(importOf(0x6d, [0x02, 0x00, 1]), sec(MEM, 1, 0x00, 10)),
      mod(importOf(0x6d, [0x02, 0x00, 1]), sec(MEM, 1, 0x01, 10, ...CAP_1024)),
    ],
    [
      'table and memory sections both rewritten, custom sections around them copied verbatim',
      mod(sec(CUSTOM, 1, 0x78, 0xaa), sec(TABLE, 1, FUNCREF, 0x00, 1), sec(MEM, 1, 0x00, 1), sec(CUSTOM, 1, 0x79)),
      mod(sec(CUSTOM, 1, 0x78, 0xaa), sec(TABLE, 1, FUNCREF, 0x01, 1, ...TABLE_CAP), sec(MEM, 1, 0x01, 1, ...CAP_1024), sec(CUSTOM, 1, 0x79)),
    ],
    ['no memory and no table: bytes unchanged', mod(), mod()],
  ];
  it.each(rows)('%s', (_what, input, expected) => {
    const before = [...input];
    const out = checkAndCapModules([{ name: 'm.wasm', bytes: input }], limits64);
    expect(out.violations).toEqual([]);
    expect([...out.modules[0]!.bytes]).toEqual([...expected]);
    // The rewrite never changes whether V8 accepts the module, and the input is not modified.
    expect(WebAssembly.validate(out.modules[0]!.bytes)).toBe(WebAssembly.validate(input));
    expect([...input]).toEqual(before);
    expect(moduleShape(out.modules[0]!.bytes).memories.every((m) => m.max !== undefined)).toBe(true);
  });

  // capModuleMemory (one cap for every memory, for tools such as the in-process benchmark).
  const memRows: [string, Uint8Array, number, Uint8Array][] = [
    ['no maximum: the cap in whole pages', mod(sec(MEM, 1, 0x00, 1)), 2 * MB, mod(sec(MEM, 1, 0x01, 1, 32))],
    ['maximum below the cap: kept', mod(sec(MEM, 1, 0x01, 1, 20)), 2 * MB, mod(sec(MEM, 1, 0x01, 1, 20))],
    ['a cap under one page: one page', mod(sec(MEM, 1, 0x00, 0)), 1000, mod(sec(MEM, 1, 0x01, 0, 1))],
    ['every memory gets the whole cap', mod(sec(MEM, 2, 0x00, 1, 0x00, 0)), 2 * MB, mod(sec(MEM, 2, 0x01, 1, 32, 0x01, 0, 32))],
  ];
  it.each(memRows)('capModuleMemory: %s', (_what, input, maxBytes, expected) => {
    expect([...capModuleMemory(input, maxBytes)]).toEqual([...expected]);
  });

  it('capModuleMemory refuses a memory whose initial size is over the cap', () => {
    expect(() => capModuleMemory(mod(sec(MEM, 1, 0x00, 40)), 2 * MB)).toThrow(MalformedModuleError);
  });
});

describe('module limits: the real engines’ components', () => {
  const real: [string, string, number][] = [
    ['QuickJS hello', SKILLS.hello, 11],
    ['QuickJS fs-cmd', SKILLS.files, 11],
    ['QuickJS hostile', SKILLS.hostile, 11],
    ['StarlingMonkey hostile-sm', SKILLS.hostileSm, 3],
  ];
  it.each(real)('%s passes with headroom at memory_mb 16', (_what, dir, modules) => {
    const bytes = readFileSync(join(dir, 'dist/skill.wasm'));
    const mods = componentCoreModules(bytes);
    expect(mods).toHaveLength(modules);
    const shaped = mods.map((m) => ({ ...m, shape: moduleShape(m.bytes) }));
    expect(moduleViolations(shaped, moduleLimits(16 * MB))).toEqual([]);
    // At least 5x headroom on every count the limits bound.
    const tenth = Object.fromEntries(Object.entries(DEFAULT_MODULE_LIMITS).map(([k, v]) => [k, Math.floor(v / 5)]));
    expect(moduleViolations(shaped, { ...moduleLimits(16 * MB), ...tenth, maxMemories: 4 })).toEqual([]);
    expect(() => assertComponentModules(bytes, 16, 'skill.wasm', 'x')).not.toThrow();
  });

  it('a QuickJS component needs more than 1 MiB of memory_mb (its memory starts at 23 pages)', () => {
    const bytes = readFileSync(join(SKILLS.hello, 'dist/skill.wasm'));
    const e = (() => {
      try {
        assertComponentModules(bytes, 1, 'skill.wasm', 'example.hello');
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(ResourceLimitError);
    expect((e as ResourceLimitError).limit).toBe('memory');
    expect((e as ResourceLimitError).max).toBe(1);
    expect((e as Error).message).toMatch(/core module 0 memory 0: initial size [\d.]+ MiB is over the 1 MiB memory cap/);
    expect(23 * WASM_PAGE).toBeGreaterThan(MB);
  });
});

describe('component walker', () => {
  it('refuses a component that instantiates one core module twice', async () => {
    const bytes = await parse('(component (core module $m (memory 1000)) (core instance (instantiate $m)) (core instance (instantiate $m)))');
    expect(() => componentCoreModules(bytes)).toThrow(ModuleInstancesError);
    expect(() => assertComponentModules(bytes, 64, 'c.wasm', 'x')).toThrow(ResourceLimitError);
  });

  it('finds core modules inside nested components', async () => {
    const bytes = await parse('(component (component (core module (table 5000000 funcref))))');
    expect(componentCoreModules(bytes)).toHaveLength(1);
    expect(() => assertComponentModules(bytes, 64, 'c.wasm', 'x')).toThrow(/table 0: initial entries 5000000 is over the limit of 100000/);
  });

  it('a malformed core module inside is an IntegrityError', () => {
    // component header, one core-module section holding a truncated module
    const bytes = Uint8Array.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0, 1, 10, 0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 0x80]);
    expect(() => assertComponentModules(bytes, 64, 'c.wasm', 'x')).toThrow(IntegrityError);
  });

});
