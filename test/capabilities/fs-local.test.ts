/**
 * fs calls served in the skill's worker (fs-local.ts) against the host's own capability (fs.ts),
 * on real trees with real symlinks: for every operation and every path of the table, the worker
 * either gives exactly the host's answer with exactly the host's effect on disk, or hands the call
 * to the host having changed nothing — and it hands over every denial and every limit, since only
 * the host audits them. Then the shared tally: the invocation's caps count calls served on both sides.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFsCapability, fsSettings } from '../../src/capabilities/fs.js';
import { createLocalFs, type LocalAnswer } from '../../src/capabilities/fs-local.js';
import type { FsHostFn } from '../../src/capabilities/fs-host.js';
import type { CapResult } from '../../src/capabilities/types.js';
import { channelBounds } from '../../src/sandbox/channel.js';
import { InvocationTally } from '../../src/sandbox/tally.js';

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

/** BASE/root (the skill's root, with escapes planted in it), BASE/outside, BASE/home (protected). */
async function tree(): Promise<{ base: string; root: string; out: string; home: string }> {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'agentos-fs-local-')));
  temps.push(base);
  const root = join(base, 'root');
  const out = join(base, 'outside');
  const home = join(root, 'home');
  await mkdir(join(out, 'nested'), { recursive: true });
  await writeFile(join(out, 'secret.txt'), 'secret');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(join(root, 'empty'));
  await mkdir(home);
  await writeFile(join(home, 'store.db'), 'host data');
  await writeFile(join(root, 'file.txt'), 'hello');
  await writeFile(join(root, 'big.bin'), Buffer.alloc(4096, 7));
  await writeFile(join(root, 'sub', 'inner.txt'), 'inner');
  for (let i = 0; i < 12; i++) await writeFile(join(root, 'sub', `n${i}`), '');
  const links: Array<[string, string]> = [
    ['abs-out', join(out, 'secret.txt')],
    ['rel-out', '../outside/secret.txt'],
    ['dir-out', out],
    ['in-link', 'file.txt'],
    ['sub-link', 'sub'],
    ['up', '..'],
    ['dangling-out', join(out, 'created.txt')],
    ['dangling-in', 'nope.txt'],
    ['loop', 'loop'],
    ['home-link', 'home'],
  ];
  for (const [name, target] of links) await symlink(target, join(root, name));
  return { base, root, out, home };
}

/** Everything under `dir`: kinds, sizes, file contents and link targets (what an operation changed). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[p] = `link:${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[p] = 'dir';
        walk(p);
      } else out[p] = `file:${readFileSync(p).toString('base64')}`;
    }
  };
  walk(dir);
  return out;
}

type Op = { fn: FsHostFn; path: string; data?: Uint8Array };
const bytes = (s: string) => new TextEncoder().encode(s);

/** Paths relative to the root (or absolute ones outside it), each tried with every operation. */
const PATHS = [
  'file.txt',
  'big.bin',
  'sub',
  'sub/inner.txt',
  'sub/../file.txt',
  'empty',
  'new.txt',
  'newdir/deeper',
  'missing/child.txt',
  'abs-out',
  'rel-out',
  'dir-out',
  'dir-out/secret.txt',
  'in-link',
  'sub-link/inner.txt',
  'up/outside/secret.txt',
  'dangling-out',
  'dangling-in',
  'loop',
  'home',
  'home/store.db',
  'home-link/store.db',
  '.',
  '..',
  '../outside/secret.txt',
  'relative-but-not-absolute',
  'bad\u0000nul',
];

function ops(root: string): Op[] {
  const list: Op[] = [];
  for (const p of PATHS) {
    const path = p === 'relative-but-not-absolute' ? p : join(root, p).replace(/\/$/, '') + (p === '.' ? '/' : '');
    list.push(
      { fn: 'fs.read-file', path },
      { fn: 'fs.stat', path },
      { fn: 'fs.list-dir', path },
      { fn: 'fs.write-file', path, data: bytes('written') },
      { fn: 'fs.make-dir', path },
      { fn: 'fs.remove', path },
    );
  }
  return list;
}

/** The host capability's result for `op`, as the reply the guest would get. */
async function hostAnswer(cap: ReturnType<typeof createFsCapability>, op: Op): Promise<CapResult<unknown>> {
  const ctx = { signal: new AbortController().signal };
  switch (op.fn) {
    case 'fs.read-file':
      return cap.readFile(op.path, ctx);
    case 'fs.write-file':
      return cap.writeFile(op.path, op.data ?? new Uint8Array(0), ctx);
    case 'fs.list-dir':
      return cap.listDir(op.path, ctx);
    case 'fs.stat':
      return cap.stat(op.path, ctx);
    case 'fs.remove':
      return cap.remove(op.path, ctx);
    case 'fs.make-dir':
      return cap.makeDir(op.path, ctx);
    default:
      throw new Error('unknown op');
  }
}

/** A local answer in the host result's shape (what the guest sees of it). */
function asResult(fn: FsHostFn, a: LocalAnswer): CapResult<unknown> {
  if (!a.ok) return { ok: false, error: a.err };
  if (fn === 'fs.read-file') return { ok: true, value: a.payload };
  if (fn === 'fs.list-dir' || fn === 'fs.stat') return { ok: true, value: a.v };
  return { ok: true, value: undefined };
}

const settingsFor = (root: string, home: string, perms: { read: boolean; write: boolean }, limits: { maxFileBytes?: number; maxDirEntries?: number } = {}) =>
  fsSettings({ ...perms, roots: [root] }, { protectedPaths: [home], ...limits });

describe('fs calls served in the worker: the host answer or a hand-over, never anything else', () => {
  const cases: Array<{ name: string; perms: { read: boolean; write: boolean }; limits?: { maxFileBytes?: number; maxDirEntries?: number } }> = [
    { name: 'read and write', perms: { read: true, write: true } },
    { name: 'read only', perms: { read: true, write: false } },
    { name: 'write only', perms: { read: false, write: true } },
    { name: 'tight limits (file 100 B, 5 entries)', perms: { read: true, write: true }, limits: { maxFileBytes: 100, maxDirEntries: 5 } },
  ];
  for (const c of cases) {
    it(`${c.name}: ${PATHS.length} paths x 6 operations`, async () => {
      const local = await tree();
      const host = await tree();
      const localFs = createLocalFs(
        { settings: settingsFor(local.root, local.home, c.perms, c.limits), maxHostCalls: 1e9, maxIoBytes: 1e12 },
        new InvocationTally(),
        channelBounds(),
      );
      const hostFs = createFsCapability({ ...c.perms, roots: [host.root] }, { protectedPaths: [host.home], ...c.limits });
      const rel = (snap: Record<string, string>, base: string) =>
        Object.fromEntries(Object.entries(snap).map(([k, v]) => [k.slice(base.length), v.replaceAll(base, 'BASE')]));
      let served = 0;
      let handed = 0;
      for (const op of [...ops(local.root)]) {
        const hostOp = { ...op, path: op.path.replaceAll(local.base, host.base) };
        const before = rel(snapshot(local.base), local.base);
        const a = localFs({ t: 'call', fn: op.fn, path: op.path } as never, op.data);
        const h = await hostAnswer(hostFs, hostOp);
        const label = `${op.fn} ${op.path.slice(local.base.length)}`;
        if (a === undefined) {
          handed++;
          // Handed over: only what the host must audit, and nothing changed here.
          expect(!h.ok && (h.denial !== undefined || h.limit !== undefined || h.error.tag === 'denied' || h.error.tag === 'limit'), label).toBe(true);
          expect(rel(snapshot(local.base), local.base), label).toEqual(before);
          continue;
        }
        served++;
        // Every denial and limit is the host's to audit: never answered here.
        expect(h.ok || (h.denial === undefined && h.limit === undefined && h.error.tag !== 'denied' && h.error.tag !== 'limit'), label).toBe(true);
        const mine = asResult(op.fn, a);
        const theirs = h.ok ? h : { ok: false, error: h.error };
        expect(JSON.stringify(mine).replaceAll(local.base, 'BASE'), label).toEqual(JSON.stringify(theirs).replaceAll(host.base, 'BASE'));
        expect(rel(snapshot(local.base), local.base), label).toEqual(rel(snapshot(host.base), host.base));
      }
      // Both kinds of outcome happened (the table is not all one or the other).
      expect(served).toBeGreaterThan(20);
      expect(handed).toBeGreaterThan(20);
      // The outside and the protected home are exactly as they were built.
      expect(readFileSync(join(local.out, 'secret.txt'), 'utf8')).toBe('secret');
      expect(readFileSync(join(local.home, 'store.db'), 'utf8')).toBe('host data');
    });
  }
});

describe('the invocation tally: caps count the calls served on both sides', () => {
  let t: Awaited<ReturnType<typeof tree>>;

  it('counts every answer given here (ok and guest-level failure), nothing for a hand-over', async () => {
    t = await tree();
    const tally = new InvocationTally();
    const fs = createLocalFs({ settings: settingsFor(t.root, t.home, { read: true, write: true }), maxHostCalls: 100, maxIoBytes: 1e9 }, tally, channelBounds());
    expect(fs({ t: 'call', fn: 'fs.read-file', path: join(t.root, 'file.txt') }, undefined)).toMatchObject({ ok: true });
    expect(tally.hostCalls).toBe(1);
    expect(tally.ioBytes).toBe(5);
    expect(fs({ t: 'call', fn: 'fs.read-file', path: join(t.root, 'missing.txt') }, undefined)).toMatchObject({ ok: false, err: { tag: 'not-found' } });
    expect(tally.hostCalls).toBe(2);
    expect(fs({ t: 'call', fn: 'fs.write-file', path: join(t.root, 'w.txt') }, bytes('abc'))).toMatchObject({ ok: true });
    expect(tally.ioBytes).toBe(8);
    // A denial goes to the host, uncounted here (the host counts it when it serves it).
    expect(fs({ t: 'call', fn: 'fs.read-file', path: join(t.root, 'abs-out') }, undefined)).toBeUndefined();
    expect(fs({ t: 'call', fn: 'fs.read-file', path: join(t.home, 'store.db') }, undefined)).toBeUndefined();
    expect(tally.hostCalls).toBe(3);
    expect(tally.ioBytes).toBe(8);
  });

  it('hands over the call that would pass the host-call cap, whoever served the earlier ones', async () => {
    t = await tree();
    const tally = new InvocationTally();
    const fs = createLocalFs({ settings: settingsFor(t.root, t.home, { read: true, write: false }), maxHostCalls: 3, maxIoBytes: 1e9 }, tally, channelBounds());
    const stat = () => fs({ t: 'call', fn: 'fs.stat', path: join(t.root, 'file.txt') }, undefined);
    expect(stat()).toMatchObject({ ok: true });
    tally.hostCalls += 1; // one served by the host (a net call)
    expect(stat()).toMatchObject({ ok: true });
    expect(tally.hostCalls).toBe(3);
    expect(stat()).toBeUndefined();
    expect(tally.hostCalls).toBe(3);
  });

  it('hands over a read or a write that would pass the I/O cap, and writes nothing', async () => {
    t = await tree();
    const tally = new InvocationTally();
    const fs = createLocalFs({ settings: settingsFor(t.root, t.home, { read: true, write: true }), maxHostCalls: 100, maxIoBytes: 4100 }, tally, channelBounds());
    expect(fs({ t: 'call', fn: 'fs.read-file', path: join(t.root, 'big.bin') }, undefined)).toMatchObject({ ok: true });
    expect(tally.ioBytes).toBe(4096);
    expect(fs({ t: 'call', fn: 'fs.read-file', path: join(t.root, 'file.txt') }, undefined)).toBeUndefined();
    expect(fs({ t: 'call', fn: 'fs.write-file', path: join(t.root, 'w.txt') }, bytes('12345'))).toBeUndefined();
    expect(() => lstatSync(join(t.root, 'w.txt'))).toThrow(/ENOENT/);
    expect(tally).toMatchObject({ hostCalls: 1, ioBytes: 4096 });
  });

  it('hands over a reply over the channel bounds (the host answers message_size)', async () => {
    t = await tree();
    const tally = new InvocationTally();
    const bounds = channelBounds({ maxMessageBytes: 2048 });
    const fs = createLocalFs({ settings: settingsFor(t.root, t.home, { read: true, write: false }), maxHostCalls: 100, maxIoBytes: 1e9 }, tally, bounds);
    expect(fs({ t: 'call', fn: 'fs.read-file', path: join(t.root, 'big.bin') }, undefined)).toBeUndefined();
    expect(fs({ t: 'call', fn: 'fs.read-file', path: join(t.root, 'file.txt') }, undefined)).toMatchObject({ ok: true });
    expect(tally.hostCalls).toBe(1);
  });
});
