/**
 * Issue 10, classes 3 and 5: everything that crosses the host/worker boundary is bounded, and no
 * host call holds the main thread long enough to make another skill's deadline late.
 *
 * Before: a list-dir of a directory with a few hundred thousand long names (which a skill can
 * plant itself with make-dir) sent a ~90 MB JSON reply that made V8 abort the whole process while
 * the worker parsed it, and a list-dir of 200k entries held the main thread for seconds.
 *
 * 1. The hostile table runs in a child Node process (test/isolation/child-bounds.mjs): the
 *    process must survive and end on its own. Each row: the typed error (ResourceLimitError of
 *    the right kind and bound) or the result, exactly one limit_exceeded audit row, and another
 *    skill's 300 ms deadline firing on time meanwhile (< 150 ms late: 2 shared cores).
 * 2. The channel itself: bounds enforced when sending, and malformed or oversized messages read
 *    as a typed `malformed` header, never a throw.
 * 3. The fs capability: list-dir stops reading at the cap, and long operations yield to the
 *    event loop.
 * 4. A real worker thread fed an unreadable reply reports a typed failure and lives on.
 */
import * as nodeFs from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFsCapability } from '../../src/capabilities/fs.js';
import { ResourceLimitError } from '../../src/errors.js';
import {
  ChannelEnd,
  channelBounds,
  createChannelBuffer,
  HARD_MAX_HEADER_BYTES,
  HARD_MAX_MESSAGE_BYTES,
} from '../../src/sandbox/channel.js';
import { SkillWorker } from '../../src/sandbox/worker-handle.js';
import { host, removeTempDirs, SKILLS, tempDir, type Host } from '../helpers.js';
import { ISOLATION, roomyCopy, runChild, type ChildRun } from './support.js';

const MiB = 1024 * 1024;

describe('hostile host calls in a child host process: typed limits, process alive, deadlines on time', () => {
  let run: ChildRun;
  let cases: Record<string, any>;
  beforeAll(async () => {
    run = await runChild('table', 300_000, join(ISOLATION, 'child-bounds.mjs'));
    cases = run.report?.results?.cases ?? {};
  }, 320_000);
  afterAll(async () => {
    // The child removes its scratch trees; if it died, do it here (300k files).
    const line = run?.stdout.split('\n').find((l) => l.includes('"event":"scratch"'));
    const paths: string[] = line ? JSON.parse(line).paths : [];
    for (const p of paths) if (nodeFs.existsSync(p)) await rm(p, { recursive: true, force: true });
  }, 120_000);

  it('the child process survives every row and ends on its own (exit 0, no signal), RSS bounded', () => {
    expect(run.killedByTest, `child had to be killed; stderr: ${run.stderr.slice(-2000)}`).toBe(false);
    expect(run.signal, run.stderr.slice(-2000)).toBeNull();
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const r = run.report.results;
    // Both skills still answer, and no over-bound write left a file behind.
    expect(r.after.hostileOk).toEqual({ ok: true, v: { after: true } });
    expect(r.after.victimOk).toEqual({ ok: true, v: { after: true } });
    expect(r.after.written).toEqual([]);
    // 12 workers, a 40 MiB guest buffer and its copies; before the bounds the 300k listing alone
    // built ~90 MB of JSON (and then aborted the process).
    expect(r.maxRssMb).toBeLessThan(1200);
  });

  type Row = [name: string, expected: { limit: string; max: number; op: string } | { ok: unknown }];
  const rows: Row[] = [
    ['list-300k (fs-cmd)', { limit: 'dir_entries', max: 10_000, op: 'list-dir' }],
    ['list-300k in a loop', { limit: 'dir_entries', max: 10_000, op: 'list-dir' }],
    ['plant 0..3999', { ok: { ok: 4000, errors: {}, entries: -1 } }],
    ['plant 4000..7999', { ok: { ok: 4000, errors: {}, entries: -1 } }],
    ['plant 8000..11999', { ok: { ok: 4000, errors: {}, entries: -1 } }],
    ['list planted 12000', { limit: 'dir_entries', max: 10_000, op: 'list-dir' }],
    ['list 5000 names of 255 bytes', { ok: { ok: 3, errors: {}, entries: 5000 } }],
    ['list 6000 names that escape 6x in JSON', { limit: 'message_size', max: HARD_MAX_HEADER_BYTES, op: 'list-dir' }],
    ['read 60 KiB, 64 KiB bound', { ok: { ok: 5, errors: {}, entries: -1 } }],
    ['read 100 KiB, 64 KiB bound', { limit: 'message_size', max: 64 * 1024, op: 'read-file' }],
    ['write 100 KiB, 64 KiB bound', { limit: 'message_size', max: 64 * 1024, op: 'write-file' }],
    ['write 40 MiB', { limit: 'message_size', max: 32 * MiB, op: 'write-file' }],
    ['write 20 MiB', { limit: 'io_bytes', max: 16 * MiB, op: 'write-file' }],
    ['30000 host calls', { limit: 'host_calls', max: 10_000, op: 'stat' }],
  ];

  it.each(rows)('%s', (name, expected) => {
    const c = cases[name];
    expect(c, `no report for '${name}'; stderr: ${run.stderr.slice(-1000)}`).toBeDefined();
    if ('ok' in expected) {
      expect(c).toMatchObject({ ok: true, v: expected.ok });
      expect(c.limitRows).toEqual([]);
    } else {
      expect(c).toMatchObject({ ok: false, name: 'ResourceLimitError', code: 'RESOURCE_LIMIT', limit: expected.limit, max: expected.max });
      // Audited once, however many times the guest hit the limit after swallowing it.
      expect(c.limitRows).toEqual([`${expected.op}:${expected.limit}`]);
    }
    // The other skill's 300 ms deadline fired on time while this ran.
    expect(c.late.length).toBeGreaterThan(0);
    for (const p of c.late) {
      expect(p.name).toBe('SkillTimeoutError');
      expect(p.lateMs).toBeLessThan(150);
    }
  });
});

describe('channel: bounded both ways, never throws on what it reads', () => {
  function pair(bounds?: Parameters<typeof channelBounds>[0], regionBytes = 1024) {
    const sab = createChannelBuffer(regionBytes);
    const { port1, port2 } = new MessageChannel();
    const main = new ChannelEnd(sab, port1, 'main', bounds);
    const worker = new ChannelEnd(sab, port2, 'worker', bounds);
    // Raw view of the control block (see channel.ts: SEQ_TO_WORKER, SEQ_TO_MAIN, VIA, JSON_LEN, BIN_LEN).
    const ctrl = new Int32Array(sab, 0, 16);
    const data = Buffer.from(sab, 64);
    return {
      main,
      worker,
      ctrl,
      data,
      port1,
      close: () => {
        port1.close();
        port2.close();
      },
    };
  }

  it('bounds are clamped to the hard ceilings; the JSON bound never exceeds the message bound', () => {
    expect(channelBounds()).toEqual({ maxHeaderBytes: HARD_MAX_HEADER_BYTES, maxMessageBytes: HARD_MAX_MESSAGE_BYTES });
    expect(channelBounds({ maxMessageBytes: 10 * HARD_MAX_MESSAGE_BYTES })).toEqual(channelBounds());
    expect(channelBounds({ maxMessageBytes: 1000 })).toEqual({ maxHeaderBytes: 1000, maxMessageBytes: 1000 });
    expect(channelBounds({ maxHeaderBytes: 100, maxMessageBytes: 1000 })).toEqual({ maxHeaderBytes: 100, maxMessageBytes: 1000 });
  });

  it.each([
    ['a header over the JSON bound', { t: 'reply', v: 'x'.repeat(200) }, undefined, 'header'],
    ['multi-byte text: counted in UTF-8 bytes, not characters', { t: 'reply', v: '€'.repeat(50) }, undefined, 'header'],
    ['header + payload over the message bound', { t: 'reply' }, new Uint8Array(1000), 'message'],
  ] as const)('send refuses %s with ResourceLimitError(message_size) and sends nothing', (_, header, payload, part) => {
    const c = pair({ maxHeaderBytes: 128, maxMessageBytes: 512 });
    try {
      let err: unknown;
      try {
        c.main.send({ header: { ...header }, payload });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ResourceLimitError);
      expect(err).toMatchObject({ limit: 'message_size', max: part === 'header' ? 128 : 512 });
      expect(c.worker.hasMessage()).toBe(false);
      // The turn is still the sender's: something smaller goes through.
      c.main.send({ header: { t: 'reply', ok: false } });
      expect(c.worker.receiveSync(0)?.header).toEqual({ t: 'reply', ok: false });
    } finally {
      c.close();
    }
  });

  it('messages within the bounds go inline or through the port, payload intact', () => {
    const c = pair({ maxHeaderBytes: 4096, maxMessageBytes: 8192 }, 256);
    try {
      const payload = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
      c.main.send({ header: { t: 'reply', v: 'ü'.repeat(100) }, payload });
      const got = c.worker.receiveSync(0)!;
      expect(got.header).toEqual({ t: 'reply', v: 'ü'.repeat(100) });
      expect(Buffer.from(got.payload!).equals(Buffer.from(payload))).toBe(true);
    } finally {
      c.close();
    }
  });

  const SEQ_TO_WORKER = 0;
  const VIA = 2;
  const JSON_LEN = 3;
  const BIN_LEN = 4;
  it.each([
    ['a header that is not JSON', (c: ReturnType<typeof pair>) => inline(c, '{"t":"reply",', 0), /not JSON/],
    ['JSON that is not an object with a type', (c: ReturnType<typeof pair>) => inline(c, '[1,2,3]', 0), /not an object with a type/],
    ['lengths past the end of the region', (c: ReturnType<typeof pair>) => inline(c, '{}', 1 << 20), /announces/],
    ['negative lengths', (c: ReturnType<typeof pair>) => inline(c, '{}', -5), /announces/],
    ['a port message announced but absent', (c: ReturnType<typeof pair>) => viaPort(c, undefined), /none arrived/],
    ['a port message without a JSON string', (c: ReturnType<typeof pair>) => viaPort(c, { json: 42 }), /no JSON header/],
    ['a port message with a payload that is not bytes', (c: ReturnType<typeof pair>) => viaPort(c, { json: '{"t":"reply"}', payload: 'abc' }), /not bytes/],
    ['a port message over the bounds', (c: ReturnType<typeof pair>) => viaPort(c, { json: JSON.stringify({ t: 'reply', v: 'x'.repeat(5000) }) }), /over the channel's bounds/],
  ] as const)('reading %s gives a typed malformed header, never a throw', async (_, forge, why) => {
    const c = pair({ maxHeaderBytes: 1024, maxMessageBytes: 2048 });
    try {
      forge(c);
      const got = c.worker.receiveSync(0);
      expect(got?.header.t).toBe('malformed');
      expect(String(got?.header.message)).toMatch(why);
    } finally {
      c.close();
    }
  });

  /** Writes `json` into the region as if the main end had sent it, with a forged payload length. */
  function inline(c: ReturnType<typeof pair>, json: string, binLen: number): void {
    const n = c.data.write(json, 0, 'utf8');
    c.ctrl[VIA] = 0;
    c.ctrl[JSON_LEN] = n;
    c.ctrl[BIN_LEN] = binLen;
    Atomics.add(c.ctrl, SEQ_TO_WORKER, 1);
  }
  /** Announces a port message; posts `msg` first unless undefined. */
  function viaPort(c: ReturnType<typeof pair>, msg: unknown): void {
    if (msg !== undefined) c.port1.postMessage(msg);
    c.ctrl[VIA] = 1;
    Atomics.add(c.ctrl, SEQ_TO_WORKER, 1);
  }
});

describe('fs capability: list-dir capped while reading, long operations yield to the event loop', () => {
  let dir: string;
  const ctx = { signal: new AbortController().signal };
  beforeAll(async () => {
    dir = await tempDir('agentos-bounds-fs-');
    await mkdir(join(dir, 'many'));
    await Promise.all(Array.from({ length: 3000 }, (_, i) => writeFile(join(dir, 'many', `e${i}`), '')));
  });
  afterAll(() => removeTempDirs());

  it.each([
    [2999, 'limit'],
    [3000, 'ok'],
    [3001, 'ok'],
  ] as const)('maxDirEntries %i on 3000 entries -> %s', async (max, expected) => {
    const cap = createFsCapability({ read: true, write: false, roots: [dir] }, { maxDirEntries: max });
    const r = await cap.listDir(join(dir, 'many'), ctx);
    if (expected === 'ok') {
      expect(r.ok && r.value.length).toBe(3000);
    } else {
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.tag).toBe('limit');
      expect(r.limit).toMatchObject({ limit: 'dir_entries', max });
      expect(r.error.val).toContain(`more than ${max} entries`);
    }
  });

  it('stops reading at cap + 1 entries: a huge directory is never read to its end', async () => {
    const spy = vi.spyOn(nodeFs.Dir.prototype, 'readSync');
    try {
      const cap = createFsCapability({ read: true, write: false, roots: [dir] }, { maxDirEntries: 10 });
      const r = await cap.listDir(join(dir, 'many'), ctx);
      expect(!r.ok && r.limit?.limit).toBe('dir_entries');
      expect(spy.mock.calls.length).toBe(11);
    } finally {
      spy.mockRestore();
    }
  });

  /** How many event-loop turns (setImmediate) ran while `op` was in flight. */
  async function turnsDuring(op: () => Promise<{ ok: boolean }>): Promise<{ ok: boolean; turns: number }> {
    let turns = 0;
    let stop = false;
    const tick = () => {
      if (stop) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const r = await op();
    stop = true;
    return { ok: r.ok, turns };
  }

  it.each([
    ['list-dir of 3000 entries', (cap: ReturnType<typeof createFsCapability>) => cap.listDir(join(dir, 'many'), ctx)],
    ['write-file of 16 MiB', (cap: ReturnType<typeof createFsCapability>) => cap.writeFile(join(dir, 'w16'), new Uint8Array(16 * MiB).fill(1), ctx)],
    ['make-dir of 1000 components', (cap: ReturnType<typeof createFsCapability>) => cap.makeDir(`${dir}/deep${'/d'.repeat(1000)}`, ctx)],
  ] as const)('%s lets the event loop run meanwhile (one host call does not hold the main thread)', async (_, op) => {
    const cap = createFsCapability({ read: true, write: true, roots: [dir] });
    const r = await turnsDuring(() => op(cap));
    expect(r.ok).toBe(true);
    expect(r.turns).toBeGreaterThan(0);
  });

  it('an aborted invocation stops a list-dir at its next slice', async () => {
    const ac = new AbortController();
    const cap = createFsCapability({ read: true, write: false, roots: [dir] });
    const p = cap.listDir(join(dir, 'many'), { signal: ac.signal });
    ac.abort();
    const r = await p;
    // Either it finished within its first slice, or it saw the abort at the first yield.
    if (!r.ok) expect(r.error).toEqual({ tag: 'failed', val: 'the invocation was aborted' });
    else expect(r.value.length).toBe(3000);
  });
});

describe('a real worker thread given an unreadable reply: typed failure, the thread lives on', () => {
  let h: Host;
  beforeAll(async () => {
    h = await host([await roomyCopy(SKILLS.hostile)]);
  }, 120_000);
  afterAll(() => h?.close());

  it('the guest gets `failed`, the invocation ends as kind "channel" (not a crash), and the same worker runs the next invocation', async () => {
    const skill = h.loader.get('test.hostile')!;
    const w = new SkillWorker('t', skill.prepared, { freshInstance: true, maxLogLines: 10, maxLogBytes: 1000, maxResultBytes: 1 << 20 });
    await w.ready;
    try {
      // Replace every reply with bytes that are not JSON, written where a reply would be.
      const ch = (w as unknown as { channel: { send: (m: unknown) => void; ctrl: Int32Array; data: Buffer } }).channel;
      const realSend = ch.send.bind(ch);
      let calls = 0;
      ch.send = (m: { header: { t?: string } }) => {
        if (m.header.t !== 'reply') return realSend(m);
        calls++;
        const n = ch.data.write('{"t":"reply","ok":tru', 0, 'utf8');
        ch.ctrl[2] = 0; // VIA inline
        ch.ctrl[3] = n; // JSON_LEN
        ch.ctrl[4] = 0; // BIN_LEN
        Atomics.add(ch.ctrl, 0, 1); // SEQ_TO_WORKER
        Atomics.notify(ch.ctrl, 0);
      };
      const handler = async () => ({ reply: { t: 'reply' as const, ok: true, v: { name: 'x', kind: 'file', size: 0 } } });
      const out = await w.run({ t: 'invoke', command: 'io-loop', args: JSON.stringify({ op: 'stat', path: '/x', n: 3 }) }, handler, new AbortController().signal);
      expect(calls).toBe(3);
      expect(out).toMatchObject({ kind: 'done', done: { ok: false, kind: 'channel' } });
      expect(out.kind === 'done' && !out.done.ok && out.done.message).toMatch(/not JSON/);
      expect(w.alive).toBe(true);

      ch.send = realSend;
      const next = await w.run({ t: 'invoke', command: 'ok', args: '{"again":true}' }, handler, new AbortController().signal);
      expect(next).toMatchObject({ kind: 'done', done: { ok: true, result: '{"again":true}' } });
    } finally {
      await w.terminate();
    }
  });
});
