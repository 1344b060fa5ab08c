// Throughput: invocations/s of greet with 1, 2 and 8 callers in flight, per instance mode.
import os from 'node:os';
import { GREET } from '../lib/env.mjs';
import { invokerFor } from '../lib/hosts.mjs';
import { BUDGET_MS, throughputSweep } from '../lib/stats.mjs';

export const name = 'throughput';

export async function run(ctx) {
  const store = await ctx.helloStore();
  const out = {
    what: 'invocations/s of greet with N callers in flight, one invoker, default pool (maxWorkers = max(2, 2 x cores)); concurrencies interleaved in 4 rounds; cpu_cores_used = process CPU time / wall time; session = default fresh-instance mode, caller i passes { session: "lane-i" }',
    max_workers: Math.max(2, os.availableParallelism() * 2),
  };
  for (const mode of ['reuse', 'fresh', 'session']) {
    const inv = invokerFor(store, { reuseInstances: mode === 'reuse' });
    // session: default fresh-instance mode, each concurrent caller (lane) its own session.
    const opts = (lane) => (mode === 'session' ? { session: `lane-${lane}` } : undefined);
    // Start the pool's workers first so the first figure does not pay their boot.
    await Promise.all(Array.from({ length: 8 }, (_, lane) => inv.invoke('example.hello', 'greet', GREET, opts(lane))));
    // Each concurrency gets the usual budget, spread over interleaved rounds.
    out[mode] = await throughputSweep((lane) => inv.invoke('example.hello', 'greet', GREET, opts(lane)), [1, 2, 8], { timeMs: 2 * BUDGET_MS });
    out[mode].workers = inv.poolStats.workers;
    await inv.close();
  }
  return out;
}
