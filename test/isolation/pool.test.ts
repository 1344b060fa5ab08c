/**
 * "Isolation you can bet a server on", part 2: the worker pool under hostile use — a bounded
 * queue, aborts (queued, running, already aborted, aborted while the worker boots), real
 * parallelism, timeouts that leave their neighbours alone, and close() leaving no thread.
 *
 * This machine has 2 cores and other suites run beside this one: parallelism is asserted by
 * structure (both started before either finished, as seen by the host through the probe's
 * start/end marks), never by tight timings.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  InvocationAbortedError,
  QueueFullError,
  SkillInvoker,
  SkillTimeoutError,
  type SkillInvokerOptions,
} from '../../src/index.js';
import type { FetchLike } from '../../src/capabilities/types.js';
import { host, removeTempDirs, SKILLS, type Host } from '../helpers.js';
import { spawned } from './spawn-counter.js';
import { allEvents, builtProbe, failure, markRecorder, probeAs, roomyCopy, runChild, sleep, until, within, invokerOn } from './support.js';

// Count the worker threads the pool starts (the real SkillWorker, subclassed).
vi.mock('../../src/sandbox/worker-handle.js', async (orig) =>
  (await import('./spawn-counter.js')).countingWorkerModule(await orig<typeof import('../../src/sandbox/worker-handle.js')>()),
);

/**
 * One store for the whole file: the hostile fixture (roomy copy, deadline 4000 ms), a twin of it
 * under another id, the probe and a twin of the probe. Each describe makes its own invoker.
 */
let base: Host;
beforeAll(async () => {
  base = await host([
    await roomyCopy(SKILLS.hostile),
    await roomyCopy(SKILLS.hostile, 4000, (m) => (m.id = 'test.hostile-twin')),
    await builtProbe(),
    await probeAs('test.iso-probe-b'),
  ]);
}, 180_000);
afterAll(async () => {
  await base?.close();
  await removeTempDirs();
});

const onBase = (opts: SkillInvokerOptions = {}): Host => invokerOn(base, opts);

const BUSY_ITERATIONS = 10_000_000; // about 0.45 s of guest CPU on an idle core

describe('bounded queue: maxWorkers 2, maxQueue 3', () => {
  let h: Host;
  beforeAll(async () => {
    h = onBase({ pool: { maxWorkers: 2, maxQueue: 3 } });
  });
  afterAll(() => h?.close());

  it('2 running + 3 queued: the 6th invocation fails at once with QueueFullError (QUEUE_FULL); the 5 others finish normally', async () => {
    const spins = Array.from({ length: 5 }, () => failure(h.invoker.invoke('test.hostile', 'spin', {}, { timeoutMs: 600 })));
    expect(await until(() => h.invoker.poolStats.queued === 3)).toBe(true);
    expect(h.invoker.poolStats.workers).toBe(2);
    const t0 = performance.now();
    const err = await failure(h.invoker.invoke('test.hostile', 'ok', { sixth: true }));
    expect(performance.now() - t0).toBeLessThan(500); // refused, not queued
    expect(err).toBeInstanceOf(QueueFullError);
    expect(err.code).toBe('QUEUE_FULL');
    expect(h.invoker.poolStats.queued).toBe(3); // the refused one took no slot
    for (const e of await Promise.all(spins)) expect(e).toBeInstanceOf(SkillTimeoutError);
    expect(h.invoker.poolStats.queued).toBe(0);
    await expect(h.invoker.invoke('test.hostile', 'ok', { after: 1 })).resolves.toEqual({ after: 1 });
  });

  it('QueueFullError names the skill and command it refused (every SkillError carries skillId/command, DESIGN.md)', async () => {
    const spins = Array.from({ length: 5 }, () => failure(h.invoker.invoke('test.hostile', 'spin', {}, { timeoutMs: 400 })));
    expect(await until(() => h.invoker.poolStats.queued === 3)).toBe(true);
    const err = await failure(h.invoker.invoke('test.hostile', 'ok', {}));
    await Promise.all(spins);
    expect(err).toBeInstanceOf(QueueFullError);
    expect(err).toMatchObject({ skillId: 'test.hostile', command: 'ok' });
  });
});

describe('AbortSignal', () => {
  let h: Host;
  beforeAll(async () => {
    h = onBase({ pool: { maxWorkers: 1 } });
  });
  afterAll(() => h?.close());

  it('aborts a QUEUED invocation at once (ABORTED); the running one is untouched and the queue empties', async () => {
    const running = failure(h.invoker.invoke('test.hostile', 'spin', {}, { timeoutMs: 1500 }));
    const ac = new AbortController();
    const queued = failure(h.invoker.invoke('test.hostile', 'ok', { q: 1 }, { signal: ac.signal }));
    expect(await until(() => h.invoker.poolStats.queued === 1)).toBe(true);
    const t0 = performance.now();
    ac.abort();
    const err = await queued;
    expect(performance.now() - t0).toBeLessThan(500);
    expect(err).toBeInstanceOf(InvocationAbortedError);
    expect(err.code).toBe('ABORTED');
    expect(h.invoker.poolStats.queued).toBe(0);
    expect(await running).toBeInstanceOf(SkillTimeoutError);
    await expect(h.invoker.invoke('test.hostile', 'ok', { next: 1 })).resolves.toEqual({ next: 1 });
  });

  it('the ABORTED error of a queued invocation names its skill and command', async () => {
    const running = failure(h.invoker.invoke('test.hostile', 'spin', {}, { timeoutMs: 600 }));
    const ac = new AbortController();
    const queued = failure(h.invoker.invoke('test.hostile', 'ok', {}, { signal: ac.signal }));
    expect(await until(() => h.invoker.poolStats.queued === 1)).toBe(true);
    ac.abort();
    const err = await queued;
    await running;
    expect(err).toMatchObject({ code: 'ABORTED', skillId: 'test.hostile', command: 'ok' });
  });

  it('aborts a RUNNING invocation: the spinning thread is terminated long before its deadline, nothing is audited as a limit, next invocation fine', async () => {
    await h.invoker.invoke('test.hostile', 'ok', {}); // a warm worker, so the spin starts at once
    const limitsBefore = allEvents(h.registry, { type: 'limit_exceeded' }).length;
    const ac = new AbortController();
    const t0 = performance.now();
    const p = failure(h.invoker.invoke('test.hostile', 'spin', {}, { signal: ac.signal })); // deadline 4000 ms
    await sleep(300);
    expect(h.invoker.poolStats).toEqual({ workers: 1, queued: 0 });
    ac.abort();
    const err = await p;
    expect(err).toBeInstanceOf(InvocationAbortedError);
    expect(err).toMatchObject({ code: 'ABORTED', skillId: 'test.hostile', command: 'spin' });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(h.invoker.poolStats.workers).toBe(0); // the worker was discarded, its thread terminated
    expect(allEvents(h.registry, { type: 'limit_exceeded' }).length).toBe(limitsBefore);
    await expect(h.invoker.invoke('test.hostile', 'ok', { fine: true })).resolves.toEqual({ fine: true });
  });

  it('an ALREADY-aborted signal: the invocation settles promptly with ABORTED (and never spins unbounded)', async () => {
    const h2 = onBase({ pool: { maxWorkers: 1 } });
    try {
      const r = await within(h2.invoker.invoke('test.hostile', 'spin', {}, { signal: AbortSignal.abort(), timeoutMs: 1000 }), 3000);
      expect(r.settled, 'invoke() with an aborted signal never settled: not even the 1000 ms deadline stopped the spin').toBe(true);
      expect((r as { error?: unknown }).error).toBeInstanceOf(InvocationAbortedError);
    } finally {
      await h2.close();
    }
  });

  it('a signal aborted while the worker is still booting: ABORTED promptly, deadline still enforced', async () => {
    const h2 = onBase({ pool: { maxWorkers: 1 } });
    try {
      // A cold pool: the first worker takes tens of ms to boot; the caller gives up after 5 ms.
      const r = await within(h2.invoker.invoke('test.hostile', 'spin', {}, { signal: AbortSignal.timeout(5), timeoutMs: 1000 }), 3000);
      expect(r.settled, 'invoke() aborted during worker boot never settled: the spin ran past its 1000 ms deadline').toBe(true);
      expect((r as { error?: unknown }).error).toBeInstanceOf(InvocationAbortedError);
    } finally {
      await h2.close();
    }
  });
});

describe('parallelism (probe `busy`: marks its start and end through the host)', () => {
  const rec = markRecorder();
  let h: Host;
  beforeAll(() => void (h = onBase({ fetch: rec.fetch as FetchLike, pool: { maxWorkers: 3 } })));
  afterAll(() => h?.close());

  async function bothOverlap(a: [string, string], b: [string, string]): Promise<void> {
    const out = await Promise.all([
      h.invoker.invoke(a[0], 'busy', { tag: a[1], iterations: BUSY_ITERATIONS }),
      h.invoker.invoke(b[0], 'busy', { tag: b[1], iterations: BUSY_ITERATIONS }),
    ]);
    expect(out.map((o) => (o as { tag: string }).tag)).toEqual([a[1], b[1]]);
    expect((out[0] as { x: number }).x).toBe((out[1] as { x: number }).x);
    const lastStart = Math.max(rec.at('start', a[1]), rec.at('start', b[1]));
    const firstEnd = Math.min(rec.at('end', a[1]), rec.at('end', b[1]));
    expect(lastStart, `marks: ${JSON.stringify(rec.marks)}`).toBeLessThan(firstEnd);
  }

  it('two invocations of the SAME skill run at the same time: both started before either finished', async () => {
    await Promise.all([h.invoker.invoke('test.iso-probe', 'ok', {}), h.invoker.invoke('test.iso-probe', 'ok', {})]);
    await bothOverlap(['test.iso-probe', 'same-a'], ['test.iso-probe', 'same-b']);
  });

  it('invocations of DIFFERENT skills run at the same time: both started before either finished', async () => {
    await h.invoker.invoke('test.iso-probe-b', 'ok', {});
    await bothOverlap(['test.iso-probe', 'diff-a'], ['test.iso-probe-b', 'diff-b']);
  });

  it('a timeout does not disturb invocations in flight: one blocked mid host-call and a stream of `ok` on the same skill as the spin', async () => {
    rec.gate('survivor'); // its `end` mark waits until the spin has been killed
    const survivor = h.invoker.invoke('test.iso-probe', 'busy', { tag: 'survivor', iterations: 1000 });
    expect(await until(() => rec.marks.some((m) => m.kind === 'end' && m.tag === 'survivor'))).toBe(true);

    let spinDone = false;
    const spin = failure(h.invoker.invoke('test.hostile', 'spin', {}, { timeoutMs: 800 })).finally(() => (spinDone = true));
    const oks: unknown[] = [];
    let i = 0;
    while (!spinDone) {
      i++;
      oks.push(await h.invoker.invoke('test.hostile', 'ok', { i }));
    }
    const err = await spin;
    const killedAt = performance.now();
    expect(err).toBeInstanceOf(SkillTimeoutError);
    expect(oks.length).toBeGreaterThan(0);
    expect(oks).toEqual(oks.map((_, k) => ({ i: k + 1 })));

    // the survivor was in flight (inside its `end` host call) all along, and completes correctly
    expect(rec.at('end', 'survivor')).toBeLessThan(killedAt);
    rec.open('survivor');
    await expect(survivor).resolves.toMatchObject({ tag: 'survivor' });
    await expect(h.invoker.invoke('test.hostile', 'ok', { after: true })).resolves.toEqual({ after: true });
  });

  it('the deadline also holds while the guest is blocked in a host call that never answers', async () => {
    rec.gate('stuck'); // never opened: the host-side fetch hangs forever
    const t0 = performance.now();
    const r = await within(h.invoker.invoke('test.iso-probe', 'busy', { tag: 'stuck', iterations: 10 }, { timeoutMs: 800 }), 5000);
    expect(r.settled, 'a guest blocked in a hanging host call outlived its deadline').toBe(true);
    expect((r as { error?: unknown }).error).toBeInstanceOf(SkillTimeoutError);
    expect(performance.now() - t0).toBeLessThan(5000);
    await expect(h.invoker.invoke('test.iso-probe', 'ok', { d: 4 })).resolves.toEqual({ d: 4 });
  });
});

describe('warm workers are reused', () => {
  it('two skills alternating on a full pool (maxWorkers 2): no thread is started per invocation', async () => {
    // Two skills (the QuickJS fixture under two ids), one warm worker each, 40 calls alternating.
    const h = onBase({ pool: { maxWorkers: 2 } });
    try {
      const ids = ['test.hostile', 'test.hostile-twin'];
      for (const id of ids) await h.invoker.invoke(id, 'ok', {});
      const before = spawned.count;
      const out = await Promise.all(Array.from({ length: 40 }, (_, i) => h.invoker.invoke(ids[i % 2]!, 'ok', { i })));
      expect(out).toEqual(out.map((_, i) => ({ i })));
      const started = spawned.count - before;
      // Ideal: 0 (each skill keeps its warm worker). Allow a couple of turnovers, not one per call.
      expect(started, `${started} worker threads started for 40 invocations of 2 skills on 2 slots`).toBeLessThanOrEqual(4);
    } finally {
      await h.close();
    }
  });
});

describe("worker output never piles up on the host's stdio", () => {
  it('six busy workers at once: no MaxListenersExceededWarning on process.stdout/stderr', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const h = onBase({ pool: { maxWorkers: 6 } });
    try {
      const spins = Array.from({ length: 6 }, () => failure(h.invoker.invoke('test.hostile', 'spin', {}, { timeoutMs: 1000 })));
      expect(await until(() => h.invoker.poolStats.workers === 6)).toBe(true);
      const listeners = Math.max(process.stdout.listenerCount('unpipe'), process.stderr.listenerCount('unpipe'));
      for (const e of await Promise.all(spins)) expect(e).toBeInstanceOf(SkillTimeoutError);
      await sleep(50);
      expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), `unpipe listeners on one stdio stream: ${listeners}`).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await h.close();
    }
  });
});

describe('close() leaves no thread behind (a child Node process must exit on its own)', () => {
  it('after invocations incl. a timeout, a trap and a memory limit, with a spin in flight at close(): exit code 0, no signal, within seconds of close()', async () => {
    const run = await runChild('close');
    expect(run.killedByTest, `child had to be killed; stderr: ${run.stderr}`).toBe(false);
    expect(run.signal).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    const r = run.report.results;
    expect(r.ok).toEqual({ ok: true, v: { n: 1 } });
    expect(r.spin).toMatchObject({ ok: false, code: 'TIMEOUT' });
    expect(r.trap).toMatchObject({ ok: false, code: 'EXECUTION_ERROR' });
    expect(r.parallel.map((p: { v: unknown }) => p.v)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(r.alloc).toMatchObject({ ok: false, code: 'RESOURCE_LIMIT', limit: 'memory' });
    expect(r.inFlight).toMatchObject({ ok: false, code: 'CLOSED' });
    expect(r.poolAfterClose).toEqual({ workers: 0, queued: 0 });
    expect(run.exitAfterCloseMs).toBeLessThan(5000);
  });

  it('idle workers do not hold the process either: without close() it still exits on its own', async () => {
    const run = await runChild('no-close');
    expect(run.killedByTest, `child had to be killed; stderr: ${run.stderr}`).toBe(false);
    expect(run.signal).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    expect(run.report.results.spin).toMatchObject({ code: 'TIMEOUT' });
  });
});
