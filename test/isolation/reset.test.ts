/**
 * Fresh state by reset (issue 15): after an invocation the instance is put back to its
 * post-instantiation snapshot (or replaced where that cannot be exact). One caller leaves data
 * behind every way a guest can; the next caller finds none of it. The control in each table is
 * the same attack with `reuseInstances: true` (or within one session), where it must be found,
 * so a passing row means the reset removed it, not that the attack failed.
 *
 * - JS guests, both engines: module variables, globalThis, closures, prototypes, a big buffer
 *   (grown linear memory), the PRNG (every renewal is seeded anew).
 * - A hand-assembled module, for what JS cannot reach: raw linear memory at a fixed address, a
 *   non-exported mutable global, a non-exported table changed with table.set (all reset), memory
 *   grown and a table grown (both replaced: a size cannot shrink, and would tell the next caller).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { SkillLoader } from '../../src/loader.js';
import { host, removeTempDirs, tempDir, type Host } from '../helpers.js';
import { ENGINES, roomyCopy } from './support.js';
// @ts-expect-error plain JS helper
import { watComponent, watModule, watSkill } from './wat-skill.mjs';

afterAll(removeTempDirs);

interface Look {
  module: string | null;
  global: string | null;
  closure: string | null;
  prototype: string | null;
  buffer: number | null;
  calls: number;
  random: number;
}
const CLEAN = { module: null, global: null, closure: null, prototype: null, buffer: null, calls: 0 };

describe.each(ENGINES)('reset to the snapshot ($engine)', (engine) => {
  let fresh: Host;
  let reuse: Host;
  beforeAll(async () => {
    const dir = await roomyCopy(engine.dir);
    fresh = await host([dir], { pool: { maxWorkers: 1 } });
    reuse = await host([dir], { pool: { maxWorkers: 1 }, reuseInstances: true });
  });
  afterAll(async () => {
    await fresh.close();
    await reuse.close();
  });

  it('qualifies for reset (its whole state is visible to the host)', async () => {
    await fresh.invoker.invoke(engine.id, 'ok', {});
    expect(fresh.invoker.freshStateBy(engine.id)).toEqual(['snapshot']);
    // No core module has an instruction that writes a table: resets skip the table compare.
    expect(fresh.loader.get(engine.id)?.prepared.tablesFixed).toBe(true);
    // A warm load takes it from the transpile cache's record; a record without it (an older
    // version's) gets it worked out again and added.
    const hash = fresh.loader.get(engine.id)!.hash;
    expect((await new SkillLoader(fresh.registry).load(engine.id)).prepared.tablesFixed).toBe(true);
    const record = fresh.registry.transpileCacheRecord(hash)!;
    fresh.registry.recordTranspileCache(hash, Object.fromEntries(Object.entries(record).map(([n, f]) => [n, { sha256: f.sha256, size: f.size }])));
    const again = await new SkillLoader(fresh.registry).load(engine.id);
    expect(again.prepared).toMatchObject({ tablesFixed: true, notResettable: undefined });
    expect(fresh.registry.transpileCacheRecord(hash)).toEqual(record);
  });

  it('the next caller finds nothing the previous one left, 20 times over', async () => {
    const randoms = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const left = (await fresh.invoker.invoke(engine.id, 'leave', { secret: `secret-${i}` })) as { random: number };
      randoms.add(left.random);
      const look = (await fresh.invoker.invoke(engine.id, 'look', {})) as Look;
      expect(look).toMatchObject(CLEAN);
      randoms.add(look.random);
    }
    // Every renewal is seeded anew: no draw repeats across the 40 fresh states.
    expect(randoms.size).toBe(40);
  });

  it('control: a reused instance does keep it all', async () => {
    await reuse.invoker.invoke(engine.id, 'leave', { secret: 'kept' });
    const look = (await reuse.invoker.invoke(engine.id, 'look', {})) as Look;
    expect(look).toMatchObject({ module: 'kept', global: 'kept', closure: 'kept', prototype: 'kept', buffer: 4 << 20 });
  });

  it('a session keeps its own state; any other caller gets a fresh one', async () => {
    await fresh.invoker.invoke(engine.id, 'leave', { secret: 'mine' }, { session: 's1' });
    expect(await fresh.invoker.invoke(engine.id, 'look', {}, { session: 's1' })).toMatchObject({ module: 'mine', global: 'mine' });
    expect(await fresh.invoker.invoke(engine.id, 'look', {}, { session: 's2' })).toMatchObject(CLEAN);
    expect(await fresh.invoker.invoke(engine.id, 'look', {})).toMatchObject(CLEAN);
  });

  it('after a guest error, a trap and a memory exhaustion the state is fresh too', async () => {
    for (const cmd of ['throw', 'trap', 'alloc'] as const) {
      await fresh.invoker.invoke(engine.id, 'leave', { secret: cmd });
      await fresh.invoker.invoke(engine.id, cmd, {}).catch(() => undefined);
      expect(await fresh.invoker.invoke(engine.id, 'look', {})).toMatchObject(CLEAN);
    }
  });
});

/**
 * A raw core module: invoke's first command byte picks the action. Every action answers the
 * bitmask of what it finds left behind, plus 100, as a JSON number:
 * 1 the internal global, 2 the word at 2000, 4 memory grown, 8 the internal table's slot 0
 * changed, 16 the table grown, 32 the word in the first grown page.
 */
const LEAKER = `(module
  (import "agentos:skill/clock@0.1.1" "monotonic" (func $monotonic (result f64)))
  (memory (export "memory") 1 400)
  (global $bump (mut i32) (i32.const 4096))
  (global $secret (mut i32) (i32.const 0))
  (table $t 2 4 funcref)
  (type $r (func (result i32)))
  (func $f0 (result i32) (i32.const 0))
  (func $f1 (result i32) (i32.const 1))
  (elem (table $t) (i32.const 0) func $f0 $f0)
  (elem declare func $f1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (i32.and (i32.add (local.get 3) (i32.const 7)) (i32.const -8))))
    (local.get $p))
  (func $find (result i32)
    (local $m i32)
    (if (global.get $secret) (then (local.set $m (i32.or (local.get $m) (i32.const 1)))))
    (if (i32.load (i32.const 2000)) (then (local.set $m (i32.or (local.get $m) (i32.const 2)))))
    (if (i32.ne (memory.size) (i32.const 1)) (then
      (local.set $m (i32.or (local.get $m) (i32.const 4)))
      (if (i32.load (i32.const 65552)) (then (local.set $m (i32.or (local.get $m) (i32.const 32)))))))
    (if (call_indirect $t (type $r) (i32.const 0)) (then (local.set $m (i32.or (local.get $m) (i32.const 8)))))
    (if (i32.ne (table.size $t) (i32.const 2)) (then (local.set $m (i32.or (local.get $m) (i32.const 16)))))
    (local.get $m))
  (func $plant (param $pages i32)
    (global.set $secret (i32.const 1517))
    (i32.store (i32.const 2000) (i32.const 1517))
    (table.set $t (i32.const 0) (ref.func $f1))
    (if (local.get $pages) (then
      (drop (memory.grow (local.get $pages)))
      (i32.store (i32.const 65552) (i32.const 1517)))))
  (func (export "invoke") (param i32 i32 i32 i32) (result i32)
    (local $c i32) (local $v i32)
    (local.set $c (i32.load8_u (local.get 0)))
    ;; p: plant, memory grown by one page; P: plant, grown by 200 pages (12.5 MiB, over the
    ;; reset threshold); g: plant and grow the table; c: the monotonic clock (ms) instead
    (if (i32.eq (local.get $c) (i32.const 112)) (then (call $plant (i32.const 1))))
    (if (i32.eq (local.get $c) (i32.const 80)) (then (call $plant (i32.const 200))))
    (if (i32.eq (local.get $c) (i32.const 103)) (then
      (call $plant (i32.const 0))
      (drop (table.grow $t (ref.func $f1) (i32.const 1)))))
    (local.set $v (i32.add (call $find) (i32.const 100)))
    (if (i32.eq (local.get $c) (i32.const 99)) (then (local.set $v (i32.trunc_f64_u (call $monotonic)))))
    ;; the answer as decimal digits at 200.. (at most 10)
    (local.set $c (i32.const 210))
    (loop $digits
      (local.set $c (i32.sub (local.get $c) (i32.const 1)))
      (i32.store8 (local.get $c) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digits (local.get $v)))
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.store (i32.const 4) (local.get $c))
    (i32.store (i32.const 8) (i32.sub (i32.const 210) (local.get $c)))
    (i32.const 0))
)`;

describe('reset of state JS cannot reach (a hand-assembled module)', () => {
  let fresh: Host;
  let dir: string;
  const id = 'test.leaker';
  beforeAll(async () => {
    const parent = await tempDir('agentos-leaker-');
    dir = (await watSkill(id, await watComponent(LEAKER), { memoryMb: 32, parent })) as string;
    const manifest = join(dir, 'skill.yaml');
    const commands = Object.fromEntries(['p', 'P', 'g', 'c', 'look'].map((c) => [c, { description: `action ${c}` }]));
    await writeFile(manifest, stringify({ ...(parse(await readFile(manifest, 'utf8')) as object), commands }));
    fresh = await host([dir], { pool: { maxWorkers: 1 } });
  });
  afterAll(() => fresh.close());
  const run = (h: Host, command: string, opts?: { session?: string }) => h.invoker.invoke(id, command, {}, opts);

  it('qualifies for reset (its internal global and table were made visible at load)', async () => {
    await run(fresh, 'look');
    expect(fresh.invoker.freshStateBy(id)).toEqual(['snapshot']);
    // It writes its table (table.set, table.grow): every reset compares and restores the tables.
    expect(fresh.loader.get(id)?.prepared.tablesFixed).toBe(false);
  });

  it.each([
    ['p', 'raw memory, an internal global, an internal table slot, one grown page (memory.size cannot shrink: a new instance)', 1 | 2 | 4 | 8 | 32],
    ['P', 'the same with 12.5 MiB grown (a new instance)', 1 | 2 | 4 | 8 | 32],
    ['g', 'the same with the table grown (a new instance)', 1 | 2 | 8 | 16],
  ])('%s: %s — gone for the next caller', async (cmd, _what, planted) => {
    // Control: the planting call itself sees what it planted, and a reused instance keeps it.
    const reuse = await host([dir], { pool: { maxWorkers: 1 }, reuseInstances: true });
    try {
      expect(await run(reuse, cmd)).toBe(100 + planted);
      expect(await run(reuse, 'look')).toBe(100 + planted);
    } finally {
      await reuse.close();
    }
    expect(await run(fresh, cmd)).toBe(100 + planted);
    expect(await run(fresh, 'look')).toBe(100);
    expect(await run(fresh, 'look')).toBe(100);
  });

  it('within a session the state stays; another caller gets none of it', async () => {
    expect(await run(fresh, 'p', { session: 'a' })).toBe(100 + 47);
    expect(await run(fresh, 'look', { session: 'a' })).toBe(100 + 47);
    expect(await run(fresh, 'look', { session: 'b' })).toBe(100);
  });

  it('the monotonic clock counts from the renewal, as from a new instance', async () => {
    await run(fresh, 'look');
    await new Promise((r) => setTimeout(r, 700));
    await run(fresh, 'look');
    // Renewed right after the previous reply: the 700 ms before it do not show.
    expect(await run(fresh, 'c')).toBeLessThan(500);
  });
});

describe('a component that can drop a segment is never reset', () => {
  it('re-instantiated for every caller, and says why', async () => {
    // data.drop empties a passive segment for the instance's life: no JS API can put it back, so
    // a reset could not be exact (a later memory.init would tell the next caller). Present is enough.
    const id = 'test.dropper';
    const wat = watModule({ extra: '(data $passive "x") (func $never (data.drop $passive))' });
    const dir = (await watSkill(id, await watComponent(wat), { memoryMb: 32, parent: await tempDir('agentos-dropper-') })) as string;
    const h = await host([dir], { pool: { maxWorkers: 1 } });
    try {
      expect(h.loader.get(id)?.prepared.notResettable).toMatch(/drops data or element segments/);
      for (let i = 0; i < 3; i++) await expect(h.invoker.invoke(id, 'run', {})).resolves.toBe('ok');
      expect(h.invoker.freshStateBy(id)).toEqual([expect.stringMatching(/drops data or element segments/)]);
    } finally {
      await h.close();
    }
  });
});
