// Main-thread pieces of one invoke, each alone in a loop: where the host's own CPU goes.
import { DIST, GREET, GREET_JSON } from '../lib/env.mjs';
import { BUDGET_MS, latency, round } from '../lib/stats.mjs';

export const name = 'host_steps';

export async function run(ctx) {
  // Main-thread pieces of one invoke, each alone in a loop (µs per call): where the host's own
  // CPU goes besides the channel. Not a partition of the invoke: just the big suspects.
  const store = await ctx.helloStore();
  const { prepareArgs } = await import(`${DIST}/args.js`);
  const { randomUUID } = await import('node:crypto');
  const schema = store.loader.get('example.hello').manifest.commands.greet.args;
  const opts = { timeMs: Math.min(BUDGET_MS, 1000) };
  const doneMsg = { t: 'done', ok: true, result: '{"greeting":"Hello, Ada!"}', logs: [], logsDropped: 0 };
  return {
    what: 'each step alone in a loop on the main thread',
    registry_get: await latency(() => store.registry.get('example.hello'), opts),
    // What the invoker now reads per call: enabled + component hash, no manifest parse.
    registry_state: typeof store.registry.state === 'function' ? await latency(() => store.registry.state('example.hello'), opts) : undefined,
    loader_get: await latency(() => store.loader.get('example.hello'), opts),
    prepare_args: await latency(() => prepareArgs(schema, GREET, { maxBytes: 1 << 20 }), opts),
    random_uuid: await latency(() => randomUUID(), opts),
    abort_controller_and_timer: await latency(() => {
      const c = new AbortController();
      const t = setTimeout(() => c.abort(), 2000);
      const f = () => {};
      c.signal.addEventListener('abort', f, { once: true });
      c.signal.removeEventListener('abort', f);
      clearTimeout(t);
    }, opts),
    json_messages: await latency(() => {
      JSON.parse(JSON.stringify({ t: 'invoke', command: 'greet', args: GREET_JSON }));
      JSON.parse(JSON.stringify(doneMsg));
      JSON.parse(doneMsg.result);
    }, opts),
    usage_count_date: await latency(() => new Date().toISOString(), opts),
    // The invoker batches usage figures and flushes them once a second, one transaction per
    // invocation in the batch: this is the cost per invocation of that flush.
    registry_record_usage: typeof store.registry.recordUsage === 'function'
      ? await latency(() => store.registry.recordUsage('example.hello', { ok: true, ms: 0.2 }), opts)
      : undefined,
    // The invoker now writes a flush as one transaction: per invocation, in a batch of 100.
    registry_record_usage_batch100_per_invocation: typeof store.registry.recordUsageBatch === 'function'
      ? await (async () => {
          const batch = Array.from({ length: 100 }, () => ({ skillId: 'example.hello', ok: true, ms: 0.2 }));
          const s = await latency(() => store.registry.recordUsageBatch(batch), opts);
          return { batch_of: 100, batch_median_us: s.median_us, median_us: round(s.median_us / 100), p99_us: round(s.p99_us / 100) };
        })()
      : undefined,
  };
}
