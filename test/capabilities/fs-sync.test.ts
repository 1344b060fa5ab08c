/**
 * The fs capability makes its system calls synchronously (see "Synchronous system calls" in
 * src/capabilities/fs.ts). What that design must keep true: no thread-pool hop, reads sized
 * and bounded correctly (including files whose size fstat does not know), no descriptor leaks,
 * and nothing that can block the event loop on a FIFO.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFsCapability, type FsCapability } from '../../src/capabilities/fs.js';

let BASE = '';
let ROOT = '';
let cap: FsCapability;
const ctx = { signal: new AbortController().signal };
const hasProc = existsSync('/proc/self/fd');

beforeAll(async () => {
  BASE = await realpath(await mkdtemp(join(tmpdir(), 'agentos-fs-sync-')));
  ROOT = join(BASE, 'root');
  await mkdir(join(ROOT, 'sub'), { recursive: true });
  await writeFile(join(ROOT, 'small.txt'), 'x'.repeat(44));
  cap = createFsCapability({ read: true, write: true, roots: [ROOT] });
});
afterAll(async () => {
  if (BASE) await rm(BASE, { recursive: true, force: true });
});

/** Deterministic bytes of length n. */
const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

describe('fs capability: synchronous system calls', () => {
  it('settles before any thread-pool or I/O callback could run (no libuv hop)', async () => {
    const ops: Array<() => Promise<unknown>> = [
      () => cap.readFile(join(ROOT, 'small.txt'), ctx),
      () => cap.writeFile(join(ROOT, 'w.txt'), bytes(10), ctx),
      () => cap.stat(join(ROOT, 'small.txt'), ctx),
      () => cap.listDir(ROOT, ctx),
      () => cap.makeDir(join(ROOT, 'd1'), ctx),
      () => cap.remove(join(ROOT, 'd1'), ctx),
      () => cap.readFile('/etc/passwd', ctx),
    ];
    for (const op of ops) {
      const p = op();
      expect(p).toBeInstanceOf(Promise);
      const first = await Promise.race([p.then(() => 'capability'), new Promise((resolve) => setImmediate(() => resolve('immediate')))]);
      expect(first).toBe('capability');
    }
  });

  it.each([0, 1, 44, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 1024 * 1024 + 3])('reads a %i-byte file exactly', async (n) => {
    const data = bytes(n);
    const p = join(ROOT, `size-${n}.bin`);
    await writeFile(p, data);
    const res = await cap.readFile(p, ctx);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.value).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(res.value).equals(Buffer.from(data))).toBe(true);
    // The result owns exactly its bytes: posting it to the worker clones the whole ArrayBuffer.
    expect(res.value.byteOffset).toBe(0);
    expect(res.value.buffer.byteLength).toBe(n);
  });

  it('the size limit is exact on read and on write', async () => {
    const small = createFsCapability({ read: true, write: true, roots: [ROOT] }, { maxFileBytes: 1000 });
    await writeFile(join(ROOT, 'k1000'), bytes(1000));
    await writeFile(join(ROOT, 'k1001'), bytes(1001));
    const okRead = await small.readFile(join(ROOT, 'k1000'), ctx);
    expect(okRead.ok && okRead.value.length).toBe(1000);
    const over = await small.readFile(join(ROOT, 'k1001'), ctx);
    expect(!over.ok && over.error.tag).toBe('limit');
    expect(!over.ok && over.limit).toMatchObject({ limit: 'io_bytes', max: 1000 });
    expect((await small.writeFile(join(ROOT, 'w1000'), bytes(1000), ctx)).ok).toBe(true);
    const wr = await small.writeFile(join(ROOT, 'w1000'), bytes(1001), ctx);
    expect(!wr.ok && wr.error.tag).toBe('limit');
    expect(readFileSync(join(ROOT, 'w1000')).length).toBe(1000);
  });

  it('write-file replaces the whole content (longer, then shorter, then empty)', async () => {
    const p = join(ROOT, 'replace.bin');
    for (const n of [70_000, 5, 0]) {
      const data = bytes(n);
      expect((await cap.writeFile(p, data, ctx)).ok).toBe(true);
      expect(Buffer.from(readFileSync(p)).equals(Buffer.from(data))).toBe(true);
    }
  });

  // Files whose fstat size is 0 although they have content: the read must not stop at st_size,
  // and must still stop at maxFileBytes.
  it.skipIf(!hasProc)('reads a file fstat reports as empty (procfs) and bounds it by the limit', async () => {
    const procCap = createFsCapability({ read: true, write: false, roots: ['/proc/self'] });
    const res = await procCap.readFile('/proc/self/cmdline', ctx);
    expect(res.ok).toBe(true);
    if (res.ok) expect(Buffer.from(res.value).equals(readFileSync('/proc/self/cmdline'))).toBe(true);
    const tiny = createFsCapability({ read: true, write: false, roots: ['/proc/self'] }, { maxFileBytes: 3 });
    const over = await tiny.readFile('/proc/self/cmdline', ctx);
    expect(!over.ok && over.error.tag).toBe('limit');
  });

  it.skipIf(!hasProc)('leaks no file descriptor, on success or failure', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const round = async (i: number) => {
      await cap.readFile(join(ROOT, 'small.txt'), ctx);
      await cap.readFile(join(ROOT, 'sub'), ctx); // EISDIR after open
      await cap.readFile(join(ROOT, 'nope'), ctx);
      await cap.writeFile(join(ROOT, `c-${i}`), bytes(3), ctx); // create
      await cap.writeFile(join(ROOT, `c-${i}`), bytes(4), ctx); // overwrite
      await cap.writeFile(join(ROOT, 'sub'), bytes(1), ctx); // a directory
      await cap.listDir(ROOT, ctx);
      await cap.stat(join(ROOT, 'small.txt'), ctx);
      await cap.stat(ROOT, ctx);
      await cap.makeDir(join(ROOT, `m-${i}/a/b`), ctx);
      await cap.remove(join(ROOT, `m-${i}/a/b`), ctx);
      await cap.remove(join(ROOT, `m-${i}`), ctx); // not empty
      await cap.remove(join(ROOT, `c-${i}`), ctx);
    };
    await round(-1); // lazy one-time probes
    const before = fds();
    for (let i = 0; i < 50; i++) await round(i);
    expect(fds()).toBe(before);
  });

  const hasMkfifo = (() => {
    try {
      execFileSync('mkfifo', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  // A blocking open or read here would now hang the whole event loop (and this test).
  it.skipIf(!hasMkfifo)('a FIFO inside the roots never blocks: read and write fail at once', async () => {
    const fifo = join(ROOT, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const rd = await cap.readFile(fifo, ctx);
    expect(!rd.ok && rd.error.tag).toBe('failed');
    const wr = await cap.writeFile(fifo, bytes(3), ctx);
    expect(!wr.ok && wr.error.tag).toBe('failed');
    const st = await cap.stat(fifo, ctx);
    expect(st.ok && st.value.kind).toBe('other');
    expect((await cap.remove(fifo, ctx)).ok).toBe(true);
  }, 5000);
});
