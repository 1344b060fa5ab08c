/**
 * "A worker out of heap must cost only that invocation" (issue 10), in a child host process so
 * that a V8 fatal OOM would show as its exit signal (SIGABRT) instead of killing the test runner.
 *
 * - route: a real guest route to the worker's JS heap: the hostile fixture (memory_mb 512) logs a
 *   100 MB line 20 times; the jco glue lifts each line into the worker's heap before the log cap
 *   drops it. Before lift-bound.ts this aborted the whole host process (SIGABRT); now the glue's
 *   decoders refuse the string: ResourceLimitError 'memory', audited once.
 * - heap: a worker that really exhausts its JS heap (the skill's glue wrapped, test-only, by the
 *   child script so one command allocates JS objects without end): Node ends the thread with
 *   ERR_WORKER_OUT_OF_MEMORY and the invoker maps it to ResourceLimitError 'memory', audited once.
 * Both: three attacks in a row, each followed by `ok` of the same skill and `greet` of another,
 * which succeed; the host exits normally; RSS stays bounded.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION, runChild } from './support.js';

const SCRIPT = join(ISOLATION, 'worker-oom-child.mjs');

describe.each([
  { mode: 'route', message: /string of 100000000 bytes, over the worker's \d+-byte bound/, command: 'log-big' },
  { mode: 'heap', message: /JS heap out of memory/, command: 'js-oom' },
])('worker heap ($mode)', ({ mode, message, command }) => {
  it('fails only that invocation: typed memory limit, audited once, host alive, next ones succeed, RSS bounded', async () => {
    const run = await runChild(mode, 150_000, SCRIPT);
    expect({ code: run.code, signal: run.signal, killed: run.killedByTest }, run.stderr.slice(-2000)).toEqual({ code: 0, signal: null, killed: false });
    const r = run.report.results;
    expect(r.before).toEqual({ ok: true, v: { n: 0 } });
    expect(r.attacks).toHaveLength(3);
    for (const a of r.attacks) {
      expect(a).toMatchObject({ ok: false, name: 'ResourceLimitError', code: 'RESOURCE_LIMIT', limit: 'memory' });
      expect(a.message).toMatch(message);
      expect(a.audit).toEqual([{ type: 'limit_exceeded', command, operation: 'memory', meta: { limit: 'memory', max: 512 } }]);
    }
    for (const i of [0, 1, 2]) {
      expect(r[`sameAfter${i}`]).toEqual({ ok: true, v: { n: i + 1 } });
      expect(r[`otherAfter${i}`]).toEqual({ ok: true, v: { greeting: `Hello, n${i}!` } });
    }
    // The wasm memory (up to 512 MiB) and the worker's heap go with each worker: no growth per attack.
    const [start, ...after] = r.rssMb as number[];
    expect(Math.max(...after) - after[0]!, `rss ${r.rssMb}`).toBeLessThan(200);
    expect(start).toBeGreaterThan(0);
  }, 180_000);
});
