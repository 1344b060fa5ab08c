/**
 * code-facts.ts decides whether a reset may skip comparing tables, and whether a component can be
 * reset at all (a dropped segment cannot be put back): it must never answer "cannot" for a module
 * that can. Modules assembled from WAT by jco's wasm-tools, one per instruction form; the real
 * components' core modules cross-checked against binaryen's instruction counts of the same bytes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from '@bytecodealliance/jco';
import { afterAll, describe, expect, it } from 'vitest';
import { transpileComponent } from '../../src/build/transpile.js';
import { codeFacts } from '../../src/sandbox/code-facts.js';

const mod = (body: string) => `(module
  (type $v (func))
  (table $t 4 funcref)
  (table $e 2 externref)
  (memory 1 2 shared)
  (memory $m2 1)
  (elem $seg func $f)
  (data $d "abc")
  (func $f)
  ${body})`;

const fn = (instrs: string, locals = '') => `(func (export "run") ${locals} ${instrs})`;

/** [what, wat] that can write a table, each hidden a different way. */
const WRITERS: Array<[string, string]> = [
  ['table.set', fn('(table.set $t (i32.const 0) (ref.func $f))')],
  ['table.grow', fn('(drop (table.grow $t (ref.null func) (i32.const 1)))')],
  ['table.fill', fn('(table.fill $t (i32.const 0) (ref.null func) (i32.const 1))')],
  ['table.copy', fn('(table.copy $t $t (i32.const 0) (i32.const 1) (i32.const 1))')],
  ['table.init', fn('(table.init $t $seg (i32.const 0) (i32.const 0) (i32.const 1))')],
  ['table.set of externref', fn('(table.set $e (i32.const 0) (ref.null extern))')],
  ['table.set deep in blocks and loops', fn('(block (loop (if (i32.const 1) (then (block (table.set $t (i32.const 1) (ref.null func)))))))')],
  ['table.set after br_table', fn('(block (block (br_table 0 1 0 (i32.const 0)))) (table.set $t (i32.const 2) (ref.null func))')],
  ['table.set after SIMD consts and shuffles', fn('(drop (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (v128.const i64x2 -1 -1) (v128.const i32x4 0x26 0x26 0x26 0x26))) (table.set $t (i32.const 0) (ref.null func))')],
  ['table.set after atomics', fn('(drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1))) (atomic.fence) (table.set $t (i32.const 0) (ref.null func))')],
  ['table.set after big constants', fn('(drop (i64.const -9223372036854775808)) (drop (f64.const 0x26)) (drop (f32.const 38)) (table.set $t (i32.const 0) (ref.null func))')],
  ['table.set in the last of many functions', `${fn('(nop)')} (func $g) (func $h (param i32) (result i32) (local.get 0)) (func $k (local i64 f32 v128) (table.set $t (i32.const 3) (ref.null func)))`],
  ['table.set after memory ops on a second memory', fn('(drop (i32.load $m2 offset=65535 (i32.const 0))) (i32.store8 $m2 (i32.const 0) (i32.const 38)) (table.set $t (i32.const 0) (ref.null func))')],
];

/** [what, wat] that cannot write a table: every other instruction family. */
const READERS: Array<[string, string]> = [
  ['empty body', fn('')],
  ['calls, indirect calls, table.get and table.size', fn('(call $f) (call_indirect $t (type $v) (i32.const 0)) (drop (table.get $t (i32.const 0))) (drop (table.size $t))')],
  ['control flow: block/loop/if/else/br/br_if/br_table/return/unreachable', fn('(block $a (loop $b (br_if $b (i32.const 0)) (if (i32.const 1) (then (br $a)) (else (nop))) (block (br_table 0 0 0 (i32.const 0))))) (return) (unreachable)')],
  ['locals, globals, select, typed select', fn('(local.set 0 (select (i32.const 1) (i32.const 2) (i32.const 0))) (drop (select (result i64) (i64.const 1) (i64.const 2) (i32.const 0)))', '(local i32)')],
  ['loads, stores, memory.size/grow', fn('(i64.store offset=8 align=4 (i32.const 0) (i64.load (i32.const 0))) (drop (memory.size)) (drop (memory.grow (i32.const 0)))')],
  ['bulk memory', fn('(memory.copy (i32.const 0) (i32.const 8) (i32.const 4)) (memory.fill (i32.const 0) (i32.const 0) (i32.const 4)) (memory.init $d (i32.const 0) (i32.const 0) (i32.const 1))')],
  ['saturating truncation and sign extension', fn('(drop (i32.trunc_sat_f32_s (f32.const 1.5))) (drop (i64.extend8_s (i64.const 255)))')],
  ['reference instructions', fn('(drop (ref.is_null (ref.null func))) (drop (ref.func $f))')],
  ['SIMD: consts, shuffles, lanes, loads, lane loads', fn('(drop (i32x4.extract_lane 3 (v128.load offset=16 (i32.const 0)))) (drop (v128.load8_lane 15 (i32.const 0) (v128.const i64x2 0 0))) (v128.store (i32.const 0) (i8x16.swizzle (v128.const i8x16 38 38 38 38 38 38 38 38 38 38 38 38 38 38 38 38) (v128.const i64x2 0 0))) (drop (v128.load32_zero (i32.const 0)))')],
  ['atomics', fn('(drop (memory.atomic.notify (i32.const 0) (i32.const 1))) (drop (i64.atomic.rmw.cmpxchg (i32.const 0) (i64.const 0) (i64.const 1))) (atomic.fence)')],
  ['tail calls', `(func $r (return_call $f)) (func $ri (return_call_indirect $t (type $v) (i32.const 0))) ${fn('(nop)')}`],
];

async function bytesOf(wat: string): Promise<Uint8Array> {
  return parse(mod(wat));
}

describe('table writes: every instruction that can change a table is found', () => {
  it.each(WRITERS)('%s -> may write', async (_what, wat) => {
    expect(codeFacts(await bytesOf(wat)).writesTables).toBe(true);
  });
});

describe('table writes: modules that cannot change a table are told apart', () => {
  it.each(READERS)('%s -> cannot write, drops nothing', async (_what, wat) => {
    expect(codeFacts(await bytesOf(wat))).toEqual({ writesTables: false, dropsSegments: false });
  });

  it('a module with no code section cannot write', async () => {
    expect(codeFacts(await parse('(module (table 1 funcref))')).writesTables).toBe(false);
  });
});

describe('segment drops: a mark no reset can undo', () => {
  it.each([
    ['data.drop', fn('(data.drop $d)')],
    ['elem.drop', fn('(elem.drop $seg)')],
    ['data.drop after table.set', fn('(table.set $t (i32.const 0) (ref.null func)) (data.drop $d)')],
    ['data.drop in a function never called', `(func $never (data.drop $d)) ${fn('(nop)')}`],
  ])('%s -> drops segments', async (_what, wat) => {
    expect(codeFacts(await bytesOf(wat)).dropsSegments).toBe(true);
  });
});

describe('table writes: what the decoder does not know counts as a write and a drop', () => {
  it('exception handling instructions', async () => {
    const wat = '(module (tag $x) (func (export "run") (block $h (try_table (catch $x $h) (throw $x)))))';
    expect(codeFacts(await parse(wat))).toEqual({ writesTables: true, dropsSegments: true });
  });

  it('every truncation of a module (mid-body, mid-immediate): an answer, never a throw', async () => {
    const whole = await bytesOf(READERS[8]![1]);
    for (let n = 8; n < whole.length; n++) {
      const cut = whole.slice(0, n);
      expect(() => codeFacts(cut)).not.toThrow();
    }
  });

  it('every byte of the code turned into table.set\'s opcode, one at a time: an answer, never a throw', async () => {
    const b = await bytesOf(fn('(drop (i64.const 1)) (drop (v128.const i64x2 1 2))'));
    for (let i = 8; i < b.length; i++) {
      const x = b.slice();
      x[i] = 0x26;
      expect(() => codeFacts(x)).not.toThrow();
    }
  });
});

describe('code facts: real components agree with binaryen', () => {
  const temps: string[] = [];
  afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const wasmOpt = resolve(import.meta.dirname, '../../node_modules/.bin/wasm-opt');
  const components: Array<[string, string]> = [
    ['QuickJS (skills/hello)', resolve(import.meta.dirname, '../../skills/hello/dist/skill.wasm')],
    ['StarlingMonkey (hostile-sm)', resolve(import.meta.dirname, '../fixtures/hostile-sm/dist/skill.wasm')],
  ];
  it.each(components)('%s: every core module', async (_what, path) => {
    const out = await transpileComponent(readFileSync(path), 'skill');
    const dir = mkdtempSync(join(tmpdir(), 'agentos-tw-'));
    temps.push(dir);
    const modules = Object.entries(out.files).filter(([n]) => n.endsWith('.wasm'));
    expect(modules.length).toBeGreaterThan(1);
    for (const [name, data] of modules) {
      writeFileSync(join(dir, name), data);
      // binaryen's count of each kind of instruction in the module's code.
      const metrics = execFileSync(wasmOpt, ['--all-features', '--metrics', join(dir, name), '-o', join(dir, `${name}.out`)], {
        stdio: ['ignore', 'pipe', 'ignore'],
      }).toString();
      const has = (kinds: RegExp) => metrics.split('\n').some((l) => kinds.test(l));
      const writes = has(/^ (TableSet|TableGrow|TableFill|TableCopy|TableInit)\b/);
      const drops = has(/^ (DataDrop|ElemDrop)\b/);
      const unknown = has(/^ (Try|TryTable|Throw|ThrowRef|Rethrow|Struct\w*|Array\w*)\b/);
      expect(has(/^ \[funcs\]/), `${name}: binaryen's metrics were read`).toBe(true);
      expect(codeFacts(data), name).toEqual({ writesTables: writes || unknown, dropsSegments: drops || unknown });
    }
  }, 120_000);
});
