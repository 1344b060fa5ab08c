/**
 * "Isolation you can bet a server on", part 1: every way the hostile fixture misbehaves, on both
 * engines, must end as the right typed error, be audited once, and leave the skill answering
 * `ok` correctly right after. Then the invoker's `limits` overrides and what is guaranteed about
 * guest state between invocations.
 *
 * The fixture's manifest allows 1000 ms; this suite installs copies allowing 4000 ms (same
 * components) so a 5000-line flood cannot be mistaken for a timeout on this loaded 2-core
 * machine, and tightens `spin` per invocation with `timeoutMs: 1000`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PermissionDeniedError,
  ResourceLimitError,
  SkillExecutionError,
  SkillInvoker,
  SkillTimeoutError,
  type SkillInvokerOptions,
} from '../../src/index.js';
import type { LogLine } from '../../src/sandbox/protocol.js';
import type { AuditEvent } from '../../src/types.js';
import { host, removeTempDirs, tempDir, type Host } from '../helpers.js';
import { allEvents, ENGINES, failure, probeAs, roomyCopy, invokerOn } from './support.js';

/**
 * One store for the whole file (preparing the 12 MB StarlingMonkey component takes seconds):
 * both hostile fixtures (roomy copies) and the probe, installed, enabled and loaded once. Each
 * describe makes its own SkillInvoker on this loader, with the options it tests.
 */
let base: Host;
let fsRoot: string;
beforeAll(async () => {
  // Not tmpdir() itself: the store's home lies in it, and no root may contain the host's own files.
  fsRoot = await tempDir('agentos-iso-root-');
  const probe = await probeAs('test.iso-probe', (m) => {
    m.requires.permissions.fs.paths = [fsRoot];
  });
  base = await host([await roomyCopy(ENGINES[0].dir), await roomyCopy(ENGINES[1].dir), probe]);
}, 180_000);
afterAll(async () => {
  await base?.close();
  await removeTempDirs();
});

const onBase = (opts: SkillInvokerOptions = {}): Host => invokerOn(base, opts);

/** Runs `fn` and returns it plus the audit events it produced (the registry is this suite's own). */
async function audited<T>(h: Host, skillId: string, fn: () => Promise<T>): Promise<{ out: T; events: AuditEvent[] }> {
  const before = allEvents(h.registry, { skillId }).length;
  const out = await fn();
  const now = allEvents(h.registry, { skillId });
  return { out, events: now.slice(0, now.length - before) };
}

describe.each(ENGINES)('$id ($engine): each misbehaviour -> typed error, audited once, then `ok` works', (E) => {
  let h: Host;
  beforeAll(() => void (h = onBase()));
  afterAll(() => h?.close());
  let n = 0;
  const isQuickJs = E.engine === 'quickjs';

  /** The skill answers a correct `ok` right after (unicode included, so the echo is byte-exact). */
  async function answersOk(): Promise<void> {
    const args = { n: ++n, text: `après ${E.engine} ✓`, nested: { list: [1, 2, 3] } };
    await expect(h.invoker.invoke(E.id, 'ok', args)).resolves.toEqual(args);
  }

  it('spin: stopped at its deadline -> SkillTimeoutError TIMEOUT, audited limit_exceeded/timeout', async () => {
    const t0 = performance.now();
    const { out: err, events } = await audited(h, E.id, () => failure(h.invoker.invoke(E.id, 'spin', {}, { timeoutMs: 1000 })));
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(SkillTimeoutError);
    expect(err).toMatchObject({ code: 'TIMEOUT', timeoutMs: 1000, skillId: E.id, command: 'spin' });
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(10_000);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'limit_exceeded', command: 'spin', operation: 'timeout', meta: { limit: 'timeout', max: 1000 } });
    await answersOk();
  });

  it('alloc: memory cap -> ResourceLimitError RESOURCE_LIMIT limit=memory, audited limit_exceeded/memory', async () => {
    const { out: err, events } = await audited(h, E.id, () => failure(h.invoker.invoke(E.id, 'alloc', {})));
    expect(err).toBeInstanceOf(ResourceLimitError);
    expect(err).toMatchObject({ code: 'RESOURCE_LIMIT', limit: 'memory', max: 32, skillId: E.id, command: 'alloc' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'limit_exceeded', command: 'alloc', operation: 'memory', meta: { limit: 'memory', max: 32 } });
    await answersOk();
  });

  it(`recurse: unbounded recursion -> SkillExecutionError EXECUTION_ERROR (trapped: ${isQuickJs}), audited execution_error`, async () => {
    // QuickJS overflows the wasm stack (V8 RangeError out of invoke: a trap, instance replaced);
    // StarlingMonkey stops it itself with InternalError "too much recursion" (an err, no trap).
    const { out: err, events } = await audited(h, E.id, () => failure(h.invoker.invoke(E.id, 'recurse', {})));
    expect(err).toBeInstanceOf(SkillExecutionError);
    expect(err).toMatchObject({ code: 'EXECUTION_ERROR', trapped: isQuickJs, skillId: E.id, command: 'recurse' });
    expect(err.guestMessage).toMatch(isQuickJs ? /call stack/i : /too much recursion/i);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'execution_error', command: 'recurse', meta: { trapped: isQuickJs } });
    await answersOk();
  });

  it(`huge (4 MiB result): -> ResourceLimitError limit=${isQuickJs ? 'result_size' : 'memory'}, audited, nothing delivered`, async () => {
    // QuickJS builds the 4 MiB JSON text and the worker refuses to send it (result_size);
    // StarlingMonkey cannot even build it inside its 32 MiB cap (memory). Both are limits.
    const limit = isQuickJs ? 'result_size' : 'memory';
    const max = isQuickJs ? 1024 * 1024 : 32;
    const { out: err, events } = await audited(h, E.id, () => failure(h.invoker.invoke(E.id, 'huge', {})));
    expect(err).toBeInstanceOf(ResourceLimitError);
    expect(err).toMatchObject({ code: 'RESOURCE_LIMIT', limit, max });
    expect(err.message.length).toBeLessThan(1000);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'limit_exceeded', command: 'huge', operation: limit, meta: { limit, max } });
    await answersOk();
  });

  it('flood (5000 log lines, cap 1000): -> ResourceLimitError log_volume; the host only ever holds the capped lines', async () => {
    for (let round = 0; round < 3; round++) {
      const lines: LogLine[] = [];
      const { out: err, events } = await audited(h, E.id, () =>
        failure(h.invoker.invoke(E.id, 'flood', { lines: 5000 }, { onLog: (l) => lines.push(l) })),
      );
      expect(err).toBeInstanceOf(ResourceLimitError);
      expect(err).toMatchObject({ code: 'RESOURCE_LIMIT', limit: 'log_volume', max: 1000, command: 'flood' });
      expect(err.message).toContain('4000 lines dropped');
      // What crossed into the host: exactly the first 1000 lines, never the other 4000.
      expect(lines).toHaveLength(1000);
      expect(lines[0]).toEqual({ level: 'info', message: 'flood line 0' });
      expect(lines[999]!.message).toBe('flood line 999');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'limit_exceeded', operation: 'log_volume', meta: { limit: 'log_volume', max: 1000 } });
    }
    await answersOk();
  });

  it('throw: -> SkillExecutionError with the guest message, not trapped, audited execution_error', async () => {
    const message = `kaboom from ${E.engine} — ünïcode`;
    const { out: err, events } = await audited(h, E.id, () => failure(h.invoker.invoke(E.id, 'throw', { message })));
    expect(err).toBeInstanceOf(SkillExecutionError);
    expect(err).toMatchObject({ code: 'EXECUTION_ERROR', trapped: false, guestMessage: message, skillId: E.id, command: 'throw' });
    expect(err.message).toContain(message);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'execution_error', command: 'throw', reason: message, meta: { trapped: false } });
    await answersOk();
  });

  it('trap: a real wasm trap -> SkillExecutionError trapped, audited; the poisoned instance is replaced', async () => {
    const { out: err, events } = await audited(h, E.id, () => failure(h.invoker.invoke(E.id, 'trap', {})));
    expect(err).toBeInstanceOf(SkillExecutionError);
    expect(err).toMatchObject({ code: 'EXECUTION_ERROR', trapped: true, command: 'trap' });
    expect(err.guestMessage).toMatch(/unreachable/);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'execution_error', command: 'trap', meta: { trapped: true } });
    // twice in a row: the replacement instance is healthy too
    await answersOk();
    await answersOk();
  });

  it('deny-swallow: the guest swallowed the denial -> PermissionDeniedError anyway, audited permission_denied', async () => {
    const { out: err, events } = await audited(h, E.id, () => failure(h.invoker.invoke(E.id, 'deny-swallow', {})));
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).toMatchObject({ code: 'PERMISSION_DENIED', capability: 'fs', target: '/etc/passwd', operation: 'read-file', command: 'deny-swallow' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'permission_denied', capability: 'fs', target: '/etc/passwd', operation: 'read-file' });
    await answersOk();
  });

  it('deny-escape: the denial escapes the guest -> PermissionDeniedError (not an execution error)', async () => {
    const err = await failure(h.invoker.invoke(E.id, 'deny-escape', {}));
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).toMatchObject({ capability: 'fs', target: '/etc/passwd' });
    await answersOk();
  });

  it("a guest error that merely MENTIONS memory is the guest's error, not a memory limit (no false limit hits from a skill's own words)", async () => {
    for (const message of ['could not allocate a seat on flight 42', 'out of memory: just kidding']) {
      const { out: err, events } = await audited(h, E.id, () => failure(h.invoker.invoke(E.id, 'throw', { message })));
      expect(err, message).toBeInstanceOf(SkillExecutionError);
      expect(err, message).toMatchObject({ code: 'EXECUTION_ERROR', guestMessage: message, trapped: false });
      expect(events.map((e) => e.type)).toEqual(['execution_error']);
    }
    await answersOk();
  });

  it('after all of the above the usage figures count every failure by code', () => {
    const u = h.invoker.usage(E.id)!;
    expect(u.failures['TIMEOUT']).toBe(1);
    expect(u.failures['RESOURCE_LIMIT']).toBeGreaterThanOrEqual(5); // alloc, huge, 3 floods
    expect(u.failures['PERMISSION_DENIED']).toBe(2);
    expect(u.ok).toBeGreaterThanOrEqual(10);
  });
});

describe.each(ENGINES)('$id ($engine): invoker `limits` overrides', (E) => {
  let h: Host;
  beforeAll(() => void (h = onBase({ limits: { maxResultBytes: 1000, maxLogLines: 10 } })));
  afterAll(() => h?.close());

  it('maxResultBytes 1000: a 1000-byte result passes, 1001 bytes is result_size (audited), then ok', async () => {
    // `huge` returns {"data":"<size x>"}: size + 11 bytes of JSON.
    await expect(h.invoker.invoke(E.id, 'huge', { size: 989 })).resolves.toEqual({ data: 'x'.repeat(989) });
    const { out: err, events } = await audited(h, E.id, () => failure(h.invoker.invoke(E.id, 'huge', { size: 990 })));
    expect(err).toBeInstanceOf(ResourceLimitError);
    expect(err).toMatchObject({ limit: 'result_size', max: 1000 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'limit_exceeded', operation: 'result_size', meta: { limit: 'result_size', max: 1000 } });
    await expect(h.invoker.invoke(E.id, 'ok', { a: 1 })).resolves.toEqual({ a: 1 });
  });

  it('maxResultBytes counts bytes, not characters: 400 three-byte characters are 1200 bytes', async () => {
    const err = await failure(h.invoker.invoke(E.id, 'ok', { s: '€'.repeat(400) }));
    expect(err).toBeInstanceOf(ResourceLimitError);
    expect(err).toMatchObject({ limit: 'result_size' });
  });

  it('maxLogLines 10: 10 lines pass and are all delivered, 11 is log_volume with exactly 10 delivered', async () => {
    const got: LogLine[] = [];
    await expect(h.invoker.invoke(E.id, 'flood', { lines: 10 }, { onLog: (l) => got.push(l) })).resolves.toEqual({ logged: 10 });
    expect(got).toHaveLength(10);
    const got2: LogLine[] = [];
    const err = await failure(h.invoker.invoke(E.id, 'flood', { lines: 11 }, { onLog: (l) => got2.push(l) }));
    expect(err).toBeInstanceOf(ResourceLimitError);
    expect(err).toMatchObject({ limit: 'log_volume', max: 10 });
    expect(err.message).toContain('1 lines dropped');
    expect(got2).toHaveLength(10);
  });

  it('maxArgsBytes 2048: 2048 bytes run, 2049 bytes -> args_size before any worker exists, audited', async () => {
    // its own invoker: only the args cap (the echo of 2048 bytes would be over maxResultBytes 1000)
    const inv = new SkillInvoker(h.loader, { phase: 'execution', limits: { maxArgsBytes: 2048 } });
    try {
      // {"pad":"<k x>"} is k + 10 bytes.
      const err = await failure(inv.invoke(E.id, 'ok', { pad: 'x'.repeat(2039) }));
      expect(err).toBeInstanceOf(ResourceLimitError);
      expect(err).toMatchObject({ code: 'RESOURCE_LIMIT', limit: 'args_size', max: 2048, skillId: E.id, command: 'ok' });
      expect(inv.poolStats.workers).toBe(0); // refused before execution: no instance was made
      const ev = allEvents(h.registry, { skillId: E.id, type: 'limit_exceeded' })[0];
      expect(ev).toMatchObject({ command: 'ok', operation: 'args_size', meta: { limit: 'args_size', max: 2048 } });
      await expect(inv.invoke(E.id, 'ok', { pad: 'x'.repeat(2038) })).resolves.toEqual({ pad: 'x'.repeat(2038) });
    } finally {
      await inv.close();
    }
  });
});

describe('host-call cap and error size (probe fixture, QuickJS)', () => {
  let h: Host;
  beforeAll(() => void (h = onBase({ limits: { maxHostCalls: 5, maxResultBytes: 4096 } })));
  afterAll(() => h?.close());

  it('maxHostCalls 5: five fs.stat calls run; the sixth fails the invocation with host_calls although the guest swallowed it', async () => {
    await expect(h.invoker.invoke('test.iso-probe', 'stat-loop', { path: fsRoot, n: 5 })).resolves.toMatchObject({ ok: 5, errors: {} });
    const { out: err, events } = await audited(h, 'test.iso-probe', () =>
      failure(h.invoker.invoke('test.iso-probe', 'stat-loop', { path: fsRoot, n: 6 })),
    );
    expect(err).toBeInstanceOf(ResourceLimitError);
    expect(err).toMatchObject({ code: 'RESOURCE_LIMIT', limit: 'host_calls', max: 5, command: 'stat-loop' });
    expect(events.filter((e) => e.type === 'limit_exceeded')).toHaveLength(1);
    expect(events[0]).toMatchObject({ operation: 'stat', meta: { limit: 'host_calls', max: 5 } });
    await expect(h.invoker.invoke('test.iso-probe', 'ok', { b: 2 })).resolves.toEqual({ b: 2 });
  });

  it('a guest that keeps calling past the cap cannot flood the audit trail: ONE limit_exceeded per invocation', async () => {
    const { out: err, events } = await audited(h, 'test.iso-probe', () =>
      failure(h.invoker.invoke('test.iso-probe', 'stat-loop', { path: fsRoot, n: 1000 })),
    );
    expect(err).toMatchObject({ limit: 'host_calls', max: 5 });
    expect(new Set(events.map((e) => e.invocationId)).size).toBe(1);
    expect(events.filter((e) => e.type === 'limit_exceeded')).toHaveLength(1);
  });

  it('an error text is no way around maxResultBytes: a 100 000-character guest error reaches neither the caller nor the audit trail whole', async () => {
    const r = await failure(h.invoker.invoke('test.iso-probe', 'huge-error', { size: 100_000 }));
    const newest = allEvents(h.registry, { skillId: 'test.iso-probe' })[0]!;
    if (r instanceof ResourceLimitError) {
      expect(r.limit).toBe('result_size');
    } else {
      expect(r).toBeInstanceOf(SkillExecutionError);
      expect(r.message.length).toBeLessThanOrEqual(4096 + 200);
    }
    expect((newest.reason ?? '').length).toBeLessThanOrEqual(4096 + 200);
    await expect(h.invoker.invoke('test.iso-probe', 'ok', { c: 3 })).resolves.toEqual({ c: 3 });
  });
});

describe('guest state between invocations: what is guaranteed', () => {
  it('default (no reuseInstances): every invocation gets a fresh instance, so module state never crosses invocations (state == 1 every time, sequential and concurrent, both engines)', async () => {
    const h = onBase({ pool: { maxWorkers: 2 } });
    try {
      for (const E of ENGINES) {
        for (let i = 0; i < 4; i++) await expect(h.invoker.invoke(E.id, 'state', {})).resolves.toEqual({ calls: 1 });
        const concurrent = await Promise.all([1, 2, 3, 4].map(() => h.invoker.invoke(E.id, 'state', {})));
        expect(concurrent).toEqual([{ calls: 1 }, { calls: 1 }, { calls: 1 }, { calls: 1 }]);
        // a failure in between does not leak state either
        await failure(h.invoker.invoke(E.id, 'throw', {}));
        await expect(h.invoker.invoke(E.id, 'state', {})).resolves.toEqual({ calls: 1 });
      }
    } finally {
      await h.close();
    }
  });

  it("reuseInstances ['test.hostile']: that skill's warm instance keeps module state (counts up); an unlisted skill stays fresh", async () => {
    const h = onBase({ reuseInstances: ['test.hostile'], pool: { maxWorkers: 2 } });
    try {
      const seen: number[] = [];
      for (let i = 0; i < 4; i++) seen.push(((await h.invoker.invoke('test.hostile', 'state', {})) as { calls: number }).calls);
      expect(seen).toEqual([1, 2, 3, 4]);
      for (let i = 0; i < 3; i++) await expect(h.invoker.invoke('test.hostile-sm', 'state', {})).resolves.toEqual({ calls: 1 });
      // a guest error (err, instance intact) keeps the warm instance and its state
      await failure(h.invoker.invoke('test.hostile', 'throw', {}));
      await expect(h.invoker.invoke('test.hostile', 'state', {})).resolves.toEqual({ calls: 5 });
    } finally {
      await h.close();
    }
  });

  it('a reused instance is replaced after a trap, a memory limit or a timeout: its state starts over', async () => {
    const h = onBase({ reuseInstances: true, pool: { maxWorkers: 1 } });
    try {
      const state = async () => ((await h.invoker.invoke('test.hostile', 'state', {})) as { calls: number }).calls;
      expect([await state(), await state()]).toEqual([1, 2]);
      await failure(h.invoker.invoke('test.hostile', 'trap', {}));
      expect([await state(), await state()]).toEqual([1, 2]);
      await failure(h.invoker.invoke('test.hostile', 'alloc', {}));
      expect(await state()).toBe(1);
      await failure(h.invoker.invoke('test.hostile', 'spin', {}, { timeoutMs: 500 }));
      expect(await state()).toBe(1);
    } finally {
      await h.close();
    }
  });
});
