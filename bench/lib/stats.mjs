// Measurement helpers: adaptive sampling (time budget, not a fixed count), robust summaries.
import { setTimeout as sleep } from 'node:timers/promises';

/** Seconds of measurement per figure, after warm-up. BENCH_TIME_MS overrides (e.g. 500 for a smoke run). */
export const BUDGET_MS = Number(process.env.BENCH_TIME_MS ?? 1500);
export const WARMUP_MS = Math.min(400, Math.max(100, BUDGET_MS / 5));

const ns = () => process.hrtime.bigint();

export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Summary of samples given in microseconds. */
export function summarize(us) {
  const s = Float64Array.from(us).sort();
  const n = s.length;
  const mean = n ? s.reduce((a, b) => a + b, 0) / n : NaN;
  return {
    n,
    median_us: round(quantile(s, 0.5)),
    p90_us: round(quantile(s, 0.9)),
    p99_us: round(quantile(s, 0.99)),
    min_us: round(s[0]),
    max_us: round(s[n - 1]),
    mean_us: round(mean),
  };
}

export function round(x, d = 2) {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/**
 * Per-call latency of `fn` (sync or async), each call timed on its own with hrtime.
 * Warm-up first, then calls until the time budget or `maxN` is used up.
 */
export async function latency(fn, { timeMs = BUDGET_MS, warmupMs = WARMUP_MS, maxN = 500_000, minN = 5, gapMs = 0, isAsync } = {}) {
  const probe = fn();
  const asyncFn = isAsync ?? (probe && typeof probe.then === 'function');
  if (asyncFn) await probe;
  const until = (ms) => performance.now() + ms;
  let end = until(warmupMs);
  if (asyncFn) {
    while (performance.now() < end) {
      await fn();
      if (gapMs) await sleep(gapMs);
    }
  } else {
    while (performance.now() < end) fn();
  }
  const out = [];
  end = until(timeMs);
  if (asyncFn) {
    while ((performance.now() < end || out.length < minN) && out.length < maxN) {
      const t = ns();
      await fn();
      out.push(Number(ns() - t) / 1000);
      if (gapMs) await sleep(gapMs);
    }
  } else {
    while ((performance.now() < end || out.length < minN) && out.length < maxN) {
      const t = ns();
      fn();
      out.push(Number(ns() - t) / 1000);
    }
  }
  return summarize(out);
}

/**
 * Throughput of `fn` (async) at several concurrencies, interleaved: `rounds` rounds, each running
 * every concurrency for its share of the budget, so a change in the machine's background load
 * hits all of them alike. Per concurrency: invocations/s, the callers' latency, and the CPU the
 * whole process used meanwhile (cores = CPU seconds / wall seconds).
 */
export async function throughputSweep(fn, concurrencies, { timeMs = BUDGET_MS, warmupMs = WARMUP_MS, rounds = 4 } = {}) {
  // `fn(lane)`: lane = index of the concurrent caller (0..c-1), e.g. for a per-caller session.
  const loop = async (stopAt, sink, lane) => {
    while (performance.now() < stopAt) {
      const t = ns();
      await fn(lane);
      sink?.push(Number(ns() - t) / 1000);
    }
  };
  const w = performance.now() + warmupMs;
  await Promise.all(Array.from({ length: Math.max(...concurrencies) }, (_, lane) => loop(w, undefined, lane)));
  const acc = new Map(concurrencies.map((c) => [c, { lat: [], secs: 0, cpu: 0 }]));
  const slice = timeMs / rounds;
  for (let r = 0; r < rounds; r++) {
    for (const c of concurrencies) {
      const a = acc.get(c);
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      const stopAt = t0 + slice;
      await Promise.all(Array.from({ length: c }, (_, lane) => loop(stopAt, a.lat, lane)));
      a.secs += (performance.now() - t0) / 1000;
      const u = process.cpuUsage(u0);
      a.cpu += (u.user + u.system) / 1e6;
    }
  }
  const out = {};
  for (const [c, a] of acc) {
    out[`c${c}`] = {
      concurrency: c,
      ops: a.lat.length,
      seconds: round(a.secs, 3),
      per_s: round(a.lat.length / a.secs, 1),
      cpu_cores_used: round(a.cpu / a.secs, 2),
      cpu_us_per_op: round((a.cpu * 1e6) / a.lat.length, 1),
      latency: summarize(a.lat),
    };
  }
  return out;
}

/** Summary of a few (slow) samples in milliseconds: median, p99 (= max for small n), min. */
export function summarizeMs(ms) {
  const s = Float64Array.from(ms).sort();
  return {
    n: s.length,
    median_ms: round(quantile(s, 0.5)),
    p99_ms: round(quantile(s, 0.99)),
    min_ms: round(s[0]),
    max_ms: round(s[s.length - 1]),
  };
}

export function ratio(a, b, d = 2) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? round(a / b, d) : null;
}
