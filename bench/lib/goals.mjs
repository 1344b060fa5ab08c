// The benchmark's goals: targets the figures are compared with, reported as met / missed
// (never asserted: no run fails on a timing).
import { ratio, round } from './stats.mjs';

/** The goals met or missed by the figures in `R` (sections that did not run are left out). */
export function goals(R) {
  const g = [];
  const floor = R.floor?.greet?.median_us;
  const add = (name, target, value, unit, met, note) => g.push({ name, target, value, unit, met, note });
  if (floor && R.host) {
    const r = ratio(R.host.reuse_greet?.median_us, floor);
    add('warm invoke <= 2.0x in-process floor (reuseInstances: true)', '<= 2.0x', r, 'x', r !== null && r <= 2, `${R.host.reuse_greet.median_us} us vs ${floor} us`);
    const rp = ratio(R.host.fresh_greet_paced?.median_us, floor);
    add('warm invoke <= 2.0x floor (default fresh instance, paced)', '<= 2.0x', rp, 'x', rp !== null && rp <= 2, `${R.host.fresh_greet_paced?.median_us} us with ${R.host.fresh_greet_paced?.gap_ms} ms between calls`);
    const ff = R.floor.greet_first_call_on_fresh_instance?.median_us;
    if (ff) {
      const rf = ratio(R.host.fresh_greet_paced?.median_us, ff);
      add('warm invoke <= 2.0x floor (fresh instance, paced, against the first-call-on-a-fresh-instance floor)', '<= 2.0x', rf, 'x', rf !== null && rf <= 2, `${R.host.fresh_greet_paced?.median_us} us vs ${ff} us`);
    }
    const rb = ratio(R.host.fresh_greet_back_to_back?.median_us, floor);
    add('warm invoke <= 2.0x floor (default fresh instance, back to back)', '<= 2.0x', rb, 'x', rb !== null && rb <= 2, `${R.host.fresh_greet_back_to_back?.median_us} us`);
    if (R.host.session_greet) {
      const rs = ratio(R.host.session_greet.median_us, floor);
      add("warm invoke <= 2.0x floor (default mode, { session: 'bench' }, back to back)", '<= 2.0x', rs, 'x', rs !== null && rs <= 2, `${R.host.session_greet.median_us} us vs ${floor} us`);
    }
  }
  if (R.host_calls?.trivial_greet) {
    const base = R.host_calls.trivial_greet.median_us;
    const fsCost = round(R.host_calls.fs_read_invoke.median_us - base, 1);
    const netCost = round(R.host_calls.net_fetch_invoke.median_us - base, 1);
    add('one guarded host call adds <= 15 us (fs read-file)', '<= 15 us', fsCost, 'us', fsCost <= 15, 'median(fs-cmd read invoke) - median(greet invoke), same invoker');
    add('one guarded host call adds <= 15 us (net fetch, loopback)', '<= 15 us', netCost, 'us', netCost <= 15, `includes the HTTP request itself (raw undici keep-alive: ${R.host_calls.raw_http_keepalive?.median_us} us)`);
    const ss = R.host_calls.session;
    if (ss?.trivial_greet) {
      const c = round(ss.fs_read_invoke.median_us - ss.trivial_greet.median_us, 1);
      add("one guarded host call adds <= 15 us (fs read-file, default mode, { session })", '<= 15 us', c, 'us', c <= 15, 'same, against the session greet of the same invoker');
    }
  }
  if (R.cold_start?.warm_cache) {
    const v = R.cold_start.warm_cache.in_child_first_result.median_ms;
    add('fresh process -> first QuickJS result <= 150 ms (warm disk cache)', '<= 150 ms', v, 'ms', v <= 150, `parent wall to the result: ${R.cold_start.warm_cache.parent_wall_first_result.median_ms} ms`);
    const c = R.cold_start.cold_cache.in_child_first_result.median_ms;
    add('fresh process -> first QuickJS result <= 150 ms (cold disk cache)', '<= 150 ms', c, 'ms', c <= 150, 'transpile included');
    const ci = R.cold_start.cli_invoke;
    if (ci) {
      add('CLI invoke in a fresh process <= 2.5x `node -e 0` (spawn to exit, warm caches)', '<= 2.5x', ci.ratio_to_node_e_0, 'x', ci.ratio_to_node_e_0 <= 2.5, `${ci.cli_exit.median_ms} ms vs ${ci.node_e_0.median_ms} ms, interleaved; output -> exit ${ci.cli_output_to_exit.median_ms} ms`);
    }
  }
  for (const mode of ['reuse', 'fresh', 'session']) {
    const t = R.throughput?.[mode];
    if (!t?.c1) continue;
    const r = ratio(t.c2.per_s, t.c1.per_s);
    add(`throughput c2 >= 1.7x c1 (${mode})`, '>= 1.7x', r, 'x', r !== null && r >= 1.7, `${t.c1.per_s}/s -> ${t.c2.per_s}/s`);
  }
  if (R.memory?.quickjs) {
    const v = R.memory.quickjs.per_instance_mib;
    add('<= 8 MiB resident per warm QuickJS instance', '<= 8 MiB', v, 'MiB', v <= 8, `bare worker thread: ${R.memory.bare_worker_threads?.per_instance_mib} MiB`);
  }
  return g;
}
