/**
 * The fs capability on a real filesystem, with real symlinks (Go os.Root-style escape table).
 *
 * Layout (BASE is a fresh realpath'd temp dir):
 *   BASE/outside/secret.txt            "secret"
 *   BASE/outside/outside-marker        (a name that exists nowhere inside: listing it = a leak)
 *   BASE/outside/nested/               (dir)
 *   BASE/root/                         the skill's only root
 *   BASE/root/file.txt                 "hello"
 *   BASE/root/secret.txt               "decoy"  (what a lexical `..` would wrongly reach)
 *   BASE/root/sub/inner.txt            "inner"
 *   BASE/root/abs-out   -> BASE/outside/secret.txt      absolute escape
 *   BASE/root/rel-out   -> ../outside/secret.txt        relative escape
 *   BASE/root/dir-out   -> BASE/outside                 directory escape
 *   BASE/root/chain1    -> chain2 -> sub/../../outside/secret.txt   chain escape
 *   BASE/root/in-link   -> file.txt                     stays inside
 *   BASE/root/in-chain  -> in-link                      chain staying inside
 *   BASE/root/sub-link  -> sub                          directory link inside
 *   BASE/root/up        -> ..                           link to BASE
 *   BASE/root/dotdot-link -> BASE/outside/nested        `dotdot-link/../secret.txt` = outside/secret.txt
 *   BASE/root/dangling-out -> BASE/outside/created.txt  dangling, target outside
 *   BASE/root/dangling-in  -> nope.txt                  dangling, target inside
 *   BASE/root/loop      -> loop                         cycle
 *   BASE/root/dot-link  -> sub/.                        symlink ending in dot
 *   BASE/root/dchain    -> dangling-out                 chain ending in a dangling link outside
 */
import { mkdir, mkdtemp, readFile, realpath, rm, stat as fsStat, lstat, symlink, writeFile, readlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFsCapability, type FsCapability } from '../../src/capabilities/fs.js';

let BASE = '';
let ROOT = '';
let OUT = '';
const enc = new TextEncoder();
const dec = new TextDecoder();
const ctx = { signal: new AbortController().signal };

async function buildTree(): Promise<void> {
  if (BASE) await rm(BASE, { recursive: true, force: true });
  BASE = await realpath(await mkdtemp(join(tmpdir(), 'agentos-fs-')));
  ROOT = join(BASE, 'root');
  OUT = join(BASE, 'outside');
  await mkdir(join(OUT, 'nested'), { recursive: true });
  await writeFile(join(OUT, 'secret.txt'), 'secret');
  await writeFile(join(OUT, 'outside-marker'), '');
  await mkdir(join(ROOT, 'sub'), { recursive: true });
  await writeFile(join(ROOT, 'file.txt'), 'hello');
  await writeFile(join(ROOT, 'secret.txt'), 'decoy');
  await writeFile(join(ROOT, 'sub', 'inner.txt'), 'inner');
  const links: Array<[string, string]> = [
    ['abs-out', join(OUT, 'secret.txt')],
    ['rel-out', '../outside/secret.txt'],
    ['dir-out', OUT],
    ['chain1', 'chain2'],
    ['chain2', 'sub/../../outside/secret.txt'],
    ['in-link', 'file.txt'],
    ['in-chain', 'in-link'],
    ['sub-link', 'sub'],
    ['up', '..'],
    ['dotdot-link', join(OUT, 'nested')],
    ['dangling-out', join(OUT, 'created.txt')],
    ['dangling-in', 'nope.txt'],
    ['loop', 'loop'],
    ['dot-link', 'sub/.'],
    ['dchain', 'dangling-out'],
  ];
  for (const [name, target] of links) await symlink(target, join(ROOT, name));
}

/** Plain concatenation: path.join would resolve `..` lexically and hide the very cases under test. */
const r = (p: string) => `${ROOT}/${p}`;
let rw: FsCapability;
let ro: FsCapability;

beforeAll(buildTree);
beforeEach(async () => {
  await buildTree();
  rw = createFsCapability({ read: true, write: true, roots: [ROOT] });
  ro = createFsCapability({ read: true, write: false, roots: [ROOT] });
});
afterAll(async () => {
  if (BASE) await rm(BASE, { recursive: true, force: true });
});

type Outcome = string; // 'ok:<content>' | 'denied:<rule>' | '<tag>'

function outcome(res: { ok: true; value: unknown } | { ok: false; error: { tag: string }; denial?: { rule: string } | undefined }): Outcome {
  if (res.ok) return res.value instanceof Uint8Array ? `ok:${dec.decode(res.value)}` : 'ok';
  if (res.error.tag === 'denied') return `denied:${res.denial?.rule}`;
  return res.error.tag;
}

// [path relative to ROOT (or absolute when it starts with "/"), expected outcome of readFile, why]
const READ_CASES: Array<[string, Outcome, string]> = [
  ['file.txt', 'ok:hello', 'plain file'],
  ['sub/inner.txt', 'ok:inner', 'file in a subdirectory'],
  ['./sub/./inner.txt', 'ok:inner', 'dot components'],
  ['sub/../file.txt', 'ok:hello', '.. that stays inside'],
  ['sub/../sub/../file.txt', 'ok:hello', 'repeated .. inside'],
  ['in-link', 'ok:hello', 'symlink inside'],
  ['in-chain', 'ok:hello', 'symlink chain inside'],
  ['sub-link/inner.txt', 'ok:inner', 'through a directory link inside'],
  ['sub-link/../file.txt', 'ok:hello', '.. after a link to sub: back at root'],
  ['dot-link/inner.txt', 'ok:inner', 'symlink ending in "."'],
  ['abs-out', 'denied:fs.outside_roots', 'absolute symlink escape'],
  ['rel-out', 'denied:fs.outside_roots', 'relative symlink escape'],
  ['chain1', 'denied:fs.outside_roots', 'symlink chain escape'],
  ['dir-out/secret.txt', 'denied:fs.outside_roots', 'through a directory link outside'],
  ['dir-out/nested/../secret.txt', 'denied:fs.outside_roots', '.. beyond a link outside'],
  ['up/outside/secret.txt', 'denied:fs.outside_roots', 'link to the parent'],
  ['dotdot-link/../secret.txt', 'denied:fs.outside_roots', '.. after a symlink is physical (lexically it would be the decoy)'],
  ['../outside/secret.txt', 'denied:fs.outside_roots', 'plain traversal'],
  ['sub/../../outside/secret.txt', 'denied:fs.outside_roots', 'traversal via a subdirectory'],
  ['/etc/passwd', 'denied:fs.outside_roots', 'absolute outside'],
  ['missing.txt', 'not-found', 'missing inside'],
  ['sub/missing/deeper.txt', 'not-found', 'missing directory inside'],
  ['dangling-in', 'not-found', 'dangling link inside'],
  ['dangling-out', 'denied:fs.outside_roots', 'dangling link whose target is outside'],
  ['dchain', 'denied:fs.outside_roots', 'chain to a dangling link outside'],
  ['dangling-out/x', 'denied:fs.outside_roots', 'below a dangling link outside'],
  ['dir-out/does-not-exist', 'denied:fs.outside_roots', 'missing outside is denied, not not-found (no oracle)'],
  ['../outside/nope/../x', 'denied:fs.outside_roots', '.. after a missing component outside: still denied'],
  ['missing/../file.txt', 'invalid', '.. after a missing component inside cannot be resolved'],
  ['loop', 'failed', 'symlink cycle'],
  ['sub', 'failed', 'a directory is not a file'],
  ['in-link/', 'failed', 'trailing slash after a link to a file'],
  ['file.txt/x', 'failed', 'a file used as a directory'],
];

describe('readFile: escape table', () => {
  it.each(READ_CASES)('%s -> %s (%s)', async (p, expected) => {
    const path = p.startsWith('/') ? p : r(p);
    const res = await rw.readFile(path, ctx);
    expect(outcome(res)).toBe(expected);
    if (!res.ok) {
      // Never leak where a link points.
      expect(JSON.stringify(res)).not.toContain(OUT);
      if (res.error.tag === 'denied') {
        expect(res.denial).toMatchObject({ capability: 'fs', target: path, operation: 'read-file' });
        expect(res.error.val).toBe(res.denial!.reason);
      } else {
        expect(res.denial).toBeUndefined();
      }
    }
  });
});

describe('writeFile', () => {
  it('creates and overwrites inside', async () => {
    expect(outcome(await rw.writeFile(r('new.txt'), enc.encode('n1'), ctx))).toBe('ok');
    expect(await readFile(r('new.txt'), 'utf8')).toBe('n1');
    expect(outcome(await rw.writeFile(r('new.txt'), enc.encode('n2!'), ctx))).toBe('ok');
    expect(await readFile(r('new.txt'), 'utf8')).toBe('n2!');
    expect(outcome(await rw.writeFile(r('file.txt'), enc.encode('x'), ctx))).toBe('ok');
    expect(await readFile(r('file.txt'), 'utf8')).toBe('x');
  });

  it('writes through an inside link to its target', async () => {
    expect(outcome(await rw.writeFile(r('in-link'), enc.encode('via link'), ctx))).toBe('ok');
    expect(await readFile(r('file.txt'), 'utf8')).toBe('via link');
    expect((await lstat(r('in-link'))).isSymbolicLink()).toBe(true);
  });

  it.each([
    ['abs-out', 'denied:fs.outside_roots'],
    ['rel-out', 'denied:fs.outside_roots'],
    ['chain1', 'denied:fs.outside_roots'],
    ['dir-out/secret.txt', 'denied:fs.outside_roots'],
    ['dotdot-link/../secret.txt', 'denied:fs.outside_roots'],
  ])('a denied write through %s leaves the target unchanged', async (p, expected) => {
    const before = await fsStat(join(OUT, 'secret.txt'));
    expect(outcome(await rw.writeFile(r(p), enc.encode('PWNED'), ctx))).toBe(expected);
    expect(await readFile(join(OUT, 'secret.txt'), 'utf8')).toBe('secret');
    expect((await fsStat(join(OUT, 'secret.txt'))).mtimeMs).toBe(before.mtimeMs);
    expect(await readFile(r('secret.txt'), 'utf8')).toBe('decoy');
  });

  it('never creates through a dangling symlink', async () => {
    expect(outcome(await rw.writeFile(r('dangling-out'), enc.encode('x'), ctx))).toBe('denied:fs.outside_roots');
    expect(existsSync(join(OUT, 'created.txt'))).toBe(false);
    // Even when the dangling target is inside: refused, the link is left alone.
    expect(outcome(await rw.writeFile(r('dangling-in'), enc.encode('x'), ctx))).toBe('denied:fs.dangling_symlink');
    expect(existsSync(r('nope.txt'))).toBe(false);
    expect(await readlink(r('dangling-in'))).toBe('nope.txt');
  });

  it('new files outside through a directory link are denied and not created', async () => {
    expect(outcome(await rw.writeFile(r('dir-out/new.txt'), enc.encode('x'), ctx))).toBe('denied:fs.outside_roots');
    expect(existsSync(join(OUT, 'new.txt'))).toBe(false);
    expect(outcome(await rw.writeFile(r('up/outside/new.txt'), enc.encode('x'), ctx))).toBe('denied:fs.outside_roots');
    expect(existsSync(join(OUT, 'new.txt'))).toBe(false);
  });

  it('through an inside directory link lands inside', async () => {
    expect(outcome(await rw.writeFile(r('sub-link/made.txt'), enc.encode('m'), ctx))).toBe('ok');
    expect(await readFile(r('sub/made.txt'), 'utf8')).toBe('m');
  });

  it.each([
    ['nodir/x.txt', 'not-found', 'no implicit parent directories'],
    ['missing/../x.txt', 'invalid', '.. after a missing component'],
    ['sub', 'failed', 'a directory'],
    ['new-dir/', 'invalid', 'a trailing slash names a directory'],
    ['loop', 'failed', 'symlink cycle'],
  ])('%s -> %s (%s)', async (p, expected) => {
    expect(outcome(await rw.writeFile(r(p), enc.encode('x'), ctx))).toBe(expected);
  });

  it('read-only: denied, file unchanged', async () => {
    const res = await ro.writeFile(r('file.txt'), enc.encode('x'), ctx);
    expect(outcome(res)).toBe('denied:fs.write_not_allowed');
    expect(res.ok === false && res.denial).toMatchObject({ capability: 'fs', operation: 'write-file', target: r('file.txt') });
    expect(await readFile(r('file.txt'), 'utf8')).toBe('hello');
  });
});

describe('makeDir', () => {
  it('creates missing parents inside (mkdir -p) and is idempotent', async () => {
    expect(outcome(await rw.makeDir(r('a/b/c'), ctx))).toBe('ok');
    expect((await fsStat(r('a/b/c'))).isDirectory()).toBe(true);
    expect(outcome(await rw.makeDir(r('a/b/c'), ctx))).toBe('ok');
    expect(outcome(await rw.makeDir(ROOT, ctx))).toBe('ok');
  });

  it.each([
    ['dir-out/newdir', 'denied:fs.outside_roots', join('outside', 'newdir')],
    ['up/outside/newdir', 'denied:fs.outside_roots', join('outside', 'newdir')],
    ['dangling-out', 'denied:fs.outside_roots', join('outside', 'created.txt')],
    ['dotdot-link/../newdir', 'denied:fs.outside_roots', join('outside', 'newdir')],
  ])('%s -> %s, nothing created', async (p, expected, mustNotExist) => {
    expect(outcome(await rw.makeDir(r(p), ctx))).toBe(expected);
    expect(existsSync(join(BASE, mustNotExist))).toBe(false);
  });

  it.each([
    ['dangling-in', 'denied:fs.dangling_symlink'],
    ['file.txt', 'failed'],
    ['file.txt/x', 'failed'],
    ['missing/../x', 'invalid'],
  ])('%s -> %s', async (p, expected) => {
    expect(outcome(await rw.makeDir(r(p), ctx))).toBe(expected);
  });

  it('needs write', async () => {
    expect(outcome(await ro.makeDir(r('x'), ctx))).toBe('denied:fs.write_not_allowed');
    expect(existsSync(r('x'))).toBe(false);
  });
});

describe('remove', () => {
  it('removes files and empty directories, not the root', async () => {
    expect(outcome(await rw.remove(r('sub/inner.txt'), ctx))).toBe('ok');
    expect(existsSync(r('sub/inner.txt'))).toBe(false);
    expect(outcome(await rw.remove(r('sub'), ctx))).toBe('ok');
    expect(outcome(await rw.remove(ROOT, ctx))).toBe('denied:fs.remove_root');
    expect(outcome(await rw.remove(`${ROOT}/`, ctx))).toBe('denied:fs.remove_root');
    expect(outcome(await rw.remove(r('sub-link/..'), ctx))).toBe('denied:fs.remove_root');
    expect(existsSync(ROOT)).toBe(true);
  });

  it('removes a link, never its target', async () => {
    expect(outcome(await rw.remove(r('abs-out'), ctx))).toBe('ok');
    expect(existsSync(r('abs-out'))).toBe(false);
    expect(await readFile(join(OUT, 'secret.txt'), 'utf8')).toBe('secret');
    expect(outcome(await rw.remove(r('dir-out'), ctx))).toBe('ok');
    expect(existsSync(OUT)).toBe(true);
    expect(outcome(await rw.remove(r('dangling-out'), ctx))).toBe('ok');
  });

  it.each([
    ['dir-out/secret.txt', 'denied:fs.outside_roots'],
    ['dir-out/', 'denied:fs.outside_roots'],
    ['up/outside', 'denied:fs.outside_roots'],
    ['dotdot-link/../secret.txt', 'denied:fs.outside_roots'],
    ['missing.txt', 'not-found'],
    ['dir-out/missing.txt', 'denied:fs.outside_roots'],
  ])('%s -> %s', async (p, expected) => {
    expect(outcome(await rw.remove(r(p), ctx))).toBe(expected);
    expect(await readFile(join(OUT, 'secret.txt'), 'utf8')).toBe('secret');
    expect(existsSync(join(OUT, 'nested'))).toBe(true);
  });

  it('a non-empty directory is not removed', async () => {
    expect(outcome(await rw.remove(r('sub'), ctx))).toBe('failed');
    expect(existsSync(r('sub/inner.txt'))).toBe(true);
  });

  it('needs write', async () => {
    expect(outcome(await ro.remove(r('file.txt'), ctx))).toBe('denied:fs.write_not_allowed');
    expect(existsSync(r('file.txt'))).toBe(true);
  });
});

describe('stat', () => {
  it.each([
    ['file.txt', { name: 'file.txt', kind: 'file', size: 5 }],
    ['sub', { name: 'sub', kind: 'directory' }],
    ['abs-out', { name: 'abs-out', kind: 'symlink' }],
    ['dir-out', { name: 'dir-out', kind: 'symlink' }],
    ['dangling-out', { name: 'dangling-out', kind: 'symlink' }],
    ['in-link', { name: 'in-link', kind: 'symlink' }],
    ['sub-link/', { name: 'sub', kind: 'directory' }],
    ['sub/..', { kind: 'directory' }],
  ])('%s -> %j (lstat; the link itself is inside)', async (p, want) => {
    const res = await rw.stat(r(p), ctx);
    expect(res.ok).toBe(true);
    if (res.ok) expect(res.value).toMatchObject(want);
  });

  it('the root itself', async () => {
    const res = await rw.stat(ROOT, ctx);
    expect(res.ok && res.value.kind).toBe('directory');
  });

  it.each([
    ['dir-out/', 'denied:fs.outside_roots'],
    ['dir-out/secret.txt', 'denied:fs.outside_roots'],
    ['abs-out/', 'denied:fs.outside_roots'],
    ['up/outside', 'denied:fs.outside_roots'],
    ['missing', 'not-found'],
  ])('%s -> %s', async (p, expected) => {
    expect(outcome(await rw.stat(r(p), ctx))).toBe(expected);
  });
});

describe('listDir', () => {
  it('lists with kinds, links not followed', async () => {
    const res = await rw.listDir(ROOT, ctx);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const byName = Object.fromEntries(res.value.map((e) => [e.name, e.kind]));
    expect(byName).toMatchObject({ 'file.txt': 'file', sub: 'directory', 'abs-out': 'symlink', 'dir-out': 'symlink', loop: 'symlink' });
    expect(res.value.map((e) => e.name)).toEqual([...res.value.map((e) => e.name)].sort());
    expect(res.value.find((e) => e.name === 'file.txt')?.size).toBe(5);
  });

  it.each([
    ['sub-link', 'ok'],
    ['sub-link/', 'ok'],
    ['dir-out', 'denied:fs.outside_roots'],
    ['dir-out/', 'denied:fs.outside_roots'],
    ['up', 'denied:fs.outside_roots'],
    ['file.txt', 'failed'],
    ['missing', 'not-found'],
  ])('%s -> %s', async (p, expected) => {
    expect(outcome(await rw.listDir(r(p), ctx))).toBe(expected);
  });
});

describe('flags, roots, limits, syntax', () => {
  it('write-only cannot read, list or stat', async () => {
    const wo = createFsCapability({ read: false, write: true, roots: [ROOT] });
    expect(outcome(await wo.readFile(r('file.txt'), ctx))).toBe('denied:fs.read_not_allowed');
    expect(outcome(await wo.listDir(ROOT, ctx))).toBe('denied:fs.read_not_allowed');
    expect(outcome(await wo.stat(r('file.txt'), ctx))).toBe('denied:fs.read_not_allowed');
    expect(outcome(await wo.writeFile(r('w.txt'), enc.encode('w'), ctx))).toBe('ok');
  });

  it('no roots = no filesystem', async () => {
    const none = createFsCapability({ read: true, write: true, roots: [] });
    expect(outcome(await none.readFile(r('file.txt'), ctx))).toBe('denied:fs.no_roots');
  });

  it('a root that does not exist is not usable, and the denial says so', async () => {
    const cap = createFsCapability({ read: true, write: true, roots: [join(BASE, 'later')] });
    expect(outcome(await cap.stat(join(BASE, 'later'), ctx))).toBe('denied:fs.no_roots');
    await mkdir(join(BASE, 'later'));
    const res = await cap.writeFile(join(BASE, 'later', 'x'), enc.encode('x'), ctx);
    expect(outcome(res)).toBe('denied:fs.no_roots');
    expect(!res.ok && res.error.val).toContain('does not exist');
    expect(existsSync(join(BASE, 'later', 'x'))).toBe(false);
  });

  it('a root given through a symlink is canonicalised', async () => {
    await symlink(ROOT, join(BASE, 'root-link'));
    const cap = createFsCapability({ read: true, write: false, roots: [join(BASE, 'root-link')] });
    expect(outcome(await cap.readFile(r('file.txt'), ctx))).toBe('ok:hello');
    expect(outcome(await cap.readFile(join(BASE, 'root-link', 'file.txt'), ctx))).toBe('ok:hello');
    expect(outcome(await cap.readFile(join(OUT, 'secret.txt'), ctx))).toBe('denied:fs.outside_roots');
  });

  it('host policy paths are re-checked on the canonical root', async () => {
    await symlink(OUT, join(BASE, 'innocent'));
    const cap = createFsCapability({ read: true, write: false, roots: [join(BASE, 'innocent')] }, { deniedPaths: [OUT] });
    expect(outcome(await cap.readFile(join(BASE, 'innocent', 'secret.txt'), ctx))).toBe('denied:fs.no_roots');
    const cap2 = createFsCapability({ read: true, write: false, roots: [join(BASE, 'innocent')] }, { allowedRoots: [ROOT] });
    expect(outcome(await cap2.readFile(join(OUT, 'secret.txt'), ctx))).toBe('denied:fs.no_roots');
  });

  it('file size limit on read and write', async () => {
    const small = createFsCapability({ read: true, write: true, roots: [ROOT] }, { maxFileBytes: 4 });
    const rd = await small.readFile(r('file.txt'), ctx);
    expect(outcome(rd)).toBe('limit');
    expect(!rd.ok && rd.limit).toMatchObject({ limit: 'io_bytes', max: 4 });
    const wr = await small.writeFile(r('file.txt'), enc.encode('12345'), ctx);
    expect(outcome(wr)).toBe('limit');
    expect(await readFile(r('file.txt'), 'utf8')).toBe('hello');
    expect(outcome(await small.readFile(r('sub/inner.txt'), ctx))).toBe('limit');
    expect(outcome(await small.writeFile(r('four.txt'), enc.encode('1234'), ctx))).toBe('ok');
  });

  it.each([
    ['', 'invalid'],
    ['relative/path', 'invalid'],
    ['/x\0y', 'invalid'],
    [`/${'a'.repeat(300)}`, 'invalid'],
  ])('syntax: %j -> %s (no denial record)', async (p, expected) => {
    const res = await rw.readFile(p, ctx);
    expect(outcome(res)).toBe(expected);
    expect(!res.ok && res.denial).toBeUndefined();
  });

  it('very deep paths are resolved quickly (logarithmic ancestor search)', async () => {
    const deep = `${ROOT}/${'a/'.repeat(1900)}x`;
    const t0 = Date.now();
    expect(outcome(await rw.writeFile(deep, enc.encode('x'), ctx))).toBe('not-found');
    expect(outcome(await rw.makeDir(`${OUT}/${'a/'.repeat(1900)}x`, ctx))).toBe('denied:fs.outside_roots');
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('an aborted invocation does nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(outcome(await rw.writeFile(r('late.txt'), enc.encode('x'), { signal: ac.signal }))).toBe('failed');
    expect(existsSync(r('late.txt'))).toBe(false);
  });
});

describe('check-to-use race (a local process swaps a directory for a symlink)', () => {
  // Without /proc (macOS) the fallback is path-based and this race stays open (documented in fs.ts).
  it.skipIf(!existsSync('/proc/self/fd'))('never reads, writes or creates outside the roots while ROOT/swap flips between a dir and a link to outside', async () => {
    const { spawn } = await import('node:child_process');
    await mkdir(r('swap-real'));
    await writeFile(r('swap-real/secret.txt'), 'inside');
    await symlink(OUT, r('swap-link'));
    // The swapper: atomically renames the real dir and the link in and out of ROOT/swap.
    const script = `
      const fs = require('fs');
      const [root] = process.argv.slice(1);
      const end = Date.now() + 4000;
      while (Date.now() < end) {
        try { fs.renameSync(root + '/swap-real', root + '/swap'); fs.renameSync(root + '/swap', root + '/swap-real'); } catch {}
        try { fs.renameSync(root + '/swap-link', root + '/swap'); fs.renameSync(root + '/swap', root + '/swap-link'); } catch {}
      }`;
    const child = spawn(process.execPath, ['-e', script, ROOT], { stdio: 'ignore' });
    const done = new Promise((resolve) => child.on('exit', resolve));
    const counts: Record<string, number> = {};
    const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
    try {
      const until = Date.now() + 2500;
      for (let i = 0; Date.now() < until; i++) {
        const [w, c, rd, ls] = await Promise.all([
          rw.writeFile(r('swap/secret.txt'), enc.encode('PWNED'), ctx),
          rw.writeFile(r(`swap/new-${i}.txt`), enc.encode('PWNED'), ctx),
          rw.readFile(r('swap/secret.txt'), ctx),
          rw.listDir(r('swap'), ctx),
        ]);
        bump(`write:${outcome(w)}`);
        bump(`create:${outcome(c)}`);
        bump(`read:${outcome(rd).replace('PWNED', 'inside')}`);
        bump(`list:${outcome(ls)}`);
        expect(outcome(rd)).not.toBe('ok:secret');
        if (ls.ok) expect(ls.value.map((e) => e.name)).not.toContain('outside-marker');
      }
    } finally {
      child.kill();
      await done;
    }
    expect(await readFile(join(OUT, 'secret.txt'), 'utf8')).toBe('secret');
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(OUT)).sort()).toEqual(['nested', 'outside-marker', 'secret.txt']);
    // The race was really exercised: some operations got in, some were refused.
    expect(Object.keys(counts).some((k) => k.endsWith(':ok') || k.startsWith('read:ok'))).toBe(true);
    expect(Object.keys(counts).some((k) => k.includes('denied'))).toBe(true);
  }, 20_000);
});

describe('fs capability properties (real tree)', () => {
  const fcP = import('fast-check');
  const SEGMENTS = [
    'file.txt', 'sub', 'inner.txt', 'sub-link', 'dir-out', 'up', 'abs-out', 'rel-out', 'chain1', 'in-link', 'in-chain',
    'dotdot-link', 'dangling-out', 'dangling-in', 'dot-link', 'loop', '..', '.', '', 'outside', 'root', 'secret.txt', 'nested', 'missing', 'new',
  ];

  async function snapshot(dir: string): Promise<string> {
    const { readdir } = await import('node:fs/promises');
    const out: string[] = [];
    const walk = async (d: string, rel: string): Promise<void> => {
      for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
        const p = join(d, e.name);
        if (e.isDirectory()) {
          out.push(`${rel}${e.name}/`);
          await walk(p, `${rel}${e.name}/`);
        } else out.push(`${rel}${e.name}=${e.isFile() ? await readFile(p, 'utf8') : '?'}`);
      }
    };
    await walk(dir, '');
    return out.join('\n');
  }

  it('whatever the path, nothing outside the root is read, written, created or removed', async () => {
    const fc = (await fcP).default;
    const before = await snapshot(OUT);
    const pathArb = fc
      .tuple(fc.constantFrom(ROOT, BASE, `${ROOT}/sub`), fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 5 }), fc.boolean())
      .map(([start, segs, slash]) => `${start}/${segs.join('/')}${slash ? '/' : ''}`);
    const opArb = fc.constantFrom('read', 'write', 'mkdir', 'remove', 'stat', 'list');
    await fc.assert(
      fc.asyncProperty(pathArb, opArb, async (p, op) => {
        switch (op) {
          case 'read': {
            const res = await rw.readFile(p, ctx);
            if (res.ok) expect(dec.decode(res.value)).not.toBe('secret');
            break;
          }
          case 'write':
            await rw.writeFile(p, enc.encode('PWNED'), ctx);
            break;
          case 'mkdir':
            await rw.makeDir(p, ctx);
            break;
          case 'remove':
            await rw.remove(p, ctx);
            break;
          case 'stat':
            await rw.stat(p, ctx);
            break;
          case 'list': {
            const res = await rw.listDir(p, ctx);
            if (res.ok) expect(res.value.map((e) => e.name)).not.toContain('outside-marker');
            break;
          }
        }
        expect(await snapshot(OUT)).toBe(before);
        expect(existsSync(ROOT)).toBe(true);
      }),
      { numRuns: 400 },
    );
  }, 60_000);
});
