// Warm invoke: SkillInvoker.invoke of hello greet/echo through the whole host, one caller, in
// reuse, fresh-instance (back to back and paced) and session modes.
import { ECHO, GREET } from '../lib/env.mjs';
import { invokerFor } from '../lib/hosts.mjs';
import { latency } from '../lib/stats.mjs';

export const name = 'host';

export async function run(ctx) {
  const helloStore = await ctx.helloStore();
  const reuse = invokerFor(helloStore, { reuseInstances: true });
  const fresh = invokerFor(helloStore);
  const call = (inv, cmd = 'greet', args = GREET, opts) => () => inv.invoke('example.hello', cmd, args, opts);
  const check = await reuse.invoke('example.hello', 'greet', GREET);
  if (check.greeting !== 'Hello, Ada!') throw new Error(`host greet returned ${JSON.stringify(check)}`);
  const out = {
    what: 'SkillInvoker.invoke through registry + loader + invoker (phase gate, enable check, args schema, pool, worker, channel), one caller, back to back',
    reuse_greet: await latency(call(reuse)),
    reuse_echo: await latency(call(reuse, 'echo', ECHO)),
    fresh_greet_back_to_back: await latency(call(fresh)),
    // Default (fresh-instance) mode, one caller passing a session: its invocations may run on the
    // instance its previous one left (kept 50 ms), nobody else's.
    session_greet: await latency(call(fresh, 'greet', GREET, { session: 'bench' })),
  };
  // Fresh mode re-instantiates after each invocation, in the background: a caller who leaves a
  // gap longer than that sees only the invoke. Gap = 3x the back-to-back median, 20..400 ms.
  const gapMs = Math.min(400, Math.max(20, Math.round((3 * out.fresh_greet_back_to_back.median_us) / 1000)));
  out.fresh_greet_paced = { gap_ms: gapMs, ...(await latency(call(fresh), { gapMs, minN: 15, warmupMs: 0 })) };
  await Promise.all([reuse.close(), fresh.close()]);
  return out;
}
