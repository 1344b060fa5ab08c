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
  // Issue 15's goals ("Fresh state per invocation at the speed of a warm call").
  const fresh1 = R.throughput?.fresh?.c1?.per_s;
  if (fresh1) {
    const before = 225.5; // default-mode c1 invocations/s before issue 15 (BENCHMARKS.md)
    const r = round(fresh1 / before, 1);
    add('issue 15: default-mode throughput c1 >= 20x the 225.5/s before (>= 4,510/s)', '>= 20x', r, 'x', r >= 20, `${fresh1}/s`);
  }
  if (R.host_calls?.trivial_greet && R.floor?.fs_read && R.floor?.net_fetch_canned) {
    // What the host adds to one call: the invoke's excess over greet, less the guest's own extra
    // work for that command measured in-process with unguarded imports (floor).
    const hc = R.host_calls;
    const guestFs = R.floor.fs_read.median_us - R.floor.greet.median_us;
    const guestNet = R.floor.net_fetch_canned.median_us - R.floor.greet.median_us;
    const fsAdds = round(hc.fs_read_invoke.median_us - hc.trivial_greet.median_us - guestFs, 1);
    const netAdds = round(hc.net_fetch_invoke.median_us - hc.trivial_greet.median_us - guestNet, 1);
    add('issue 15: a guarded fs read adds <= 30 us (over the in-process readFileSync, guest work excluded)', '<= 30 us', fsAdds, 'us', fsAdds <= 30, `(fs invoke ${hc.fs_read_invoke.median_us} - greet ${hc.trivial_greet.median_us}) - guest's own (${round(guestFs, 1)})`);
    add('issue 15: a loopback net fetch adds <= 150 us (HTTP included, guest work excluded)', '<= 150 us', netAdds, 'us', netAdds <= 150, `(fetch invoke ${hc.net_fetch_invoke.median_us} - greet ${hc.trivial_greet.median_us}) - guest's own (${round(guestNet, 1)}); capability alone ${hc.capability_net_fetch?.median_us} us`);
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
