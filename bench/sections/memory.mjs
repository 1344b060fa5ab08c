// Memory: resident size per warm instance, measured in a fresh process (children/memory-child.mjs).
import { child, childScript } from '../lib/child.mjs';
import { SKILLS } from '../lib/env.mjs';
import { makeStore } from '../lib/hosts.mjs';
import { round, summarizeMs } from '../lib/stats.mjs';

export const name = 'memory';

export async function run(ctx) {
  const store = await makeStore([SKILLS.hostile, SKILLS.hostileSm]);
  store.registry.close();
  const N = 8;
  const out = { what: `RSS of a fresh process (--expose-gc, gc before each reading) after load, after 1 warm worker, after ${N} warm workers of one skill (pool maxWorkers ${N}, reuseInstances); per instance = (RSS_${N} - RSS_loaded) / ${N}`, N };
  const mib = (b) => round(b / 2 ** 20, 1);
  const runs = [
    ['quickjs', 'test.hostile', 'reuse'],
    ['starlingmonkey', 'test.hostile-sm', 'reuse'],
    ['quickjs_fresh_mode', 'test.hostile', 'fresh'],
    ['bare_worker_threads', 'test.hostile', 'threads'],
  ];
  for (const [name, id, mode] of runs) {
    const r = (await child(['--expose-gc', childScript('memory-child.mjs'), store.home, id, 'ok', String(N), mode])).data;
    out[name] = {
      rss_loaded_mib: mib(r.loaded.rss),
      first_instance_mib: mib(r.one.rss - r.loaded.rss),
      per_instance_mib: mib((r.all.rss - r.loaded.rss) / N),
      marginal_per_instance_mib: mib((r.all.rss - r.one.rss) / (N - 1)),
      workers: r.workers_after_all,
      instantiate_ms_in_workers: r.instantiateMs ? summarizeMs(r.instantiateMs) : undefined,
    };
  }
  return out;
}
