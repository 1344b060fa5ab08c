#!/usr/bin/env node
// Benchmarks of the skill host, all in one run on the same built components:
//   npm run bench                                (= npm run build && npm run build-examples && node bench/run.mjs)
//   node bench/run.mjs --only floor,host         some sections (-> node_modules/.cache/agentos-bench/results.partial.json)
//   BENCH_TIME_MS=500 node bench/run.mjs         quicker, noisier
// A full run writes bench/results.json and the generated part of BENCHMARKS.md; a partial run
// (--only, or BENCH_ONLY=a,b) never replaces them. Timings are never asserted: the goals are
// reported as met / missed. Progress goes to stderr.
//
// Layout: bench/sections/<name>.mjs, one per section (`name`, `run(ctx)` -> its figures);
// bench/lib/ the shared parts (stats, env, report, goals, hosts, fixtures, child processes);
// bench/children/ scripts run in a fresh process or worker; bench/fixtures/, bench/peers/.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CACHE, machine, ROOT, SKILLS } from './lib/env.mjs';
import { startFixtures } from './lib/fixtures.mjs';
import { goals } from './lib/goals.mjs';
import { cleanup, makeStore } from './lib/hosts.mjs';
import { installPromisingStub } from './lib/promising.mjs';
import { writeReport } from './lib/report.mjs';
import { BUDGET_MS, round } from './lib/stats.mjs';
import * as build from './sections/build.mjs';
import * as channel from './sections/channel.mjs';
import * as coldStart from './sections/cold-start.mjs';
import * as floor from './sections/floor.mjs';
import * as host from './sections/host.mjs';
import * as hostCalls from './sections/host-calls.mjs';
import * as hostSteps from './sections/host-steps.mjs';
import * as instantiate from './sections/instantiate.mjs';
import * as load20 from './sections/load20.mjs';
import * as mcpHttp from './sections/mcp-http.mjs';
import * as memory from './sections/memory.mjs';
import * as peers from './sections/peers.mjs';
import * as profile from './sections/profile.mjs';
import * as throughput from './sections/throughput.mjs';

/** In run order: host_calls reads host's pacing gap; load20 needs the variant fixture that build builds. */
const SECTIONS = [floor, instantiate, channel, host, hostSteps, hostCalls, throughput, peers, build, coldStart, load20, memory, profile, mcpHttp];
const NAMES = SECTIONS.map((s) => s.name);
/** `host-calls`, `host_calls` and `HOST_CALLS` name the same section. */
const norm = (n) => n.trim().toLowerCase().replaceAll('-', '_');

const { values: flags } = parseArgs({ options: { only: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } } });
if (flags.help) {
  console.log(`node bench/run.mjs [--only <section>[,<section>...]]\nsections: ${NAMES.join(', ')}\nenv: BENCH_TIME_MS (ms of samples per figure, default 1500), BENCH_ONLY (same as --only)`);
  process.exit(0);
}
/** The sections asked for (`host-calls` and `host_calls` alike), or undefined for all. */
function selected() {
  const asked = [...(flags.only ?? []), ...(process.env.BENCH_ONLY ? [process.env.BENCH_ONLY] : [])].flatMap((s) => s.split(',')).filter((s) => s.trim());
  if (asked.length === 0) return undefined;
  const unknown = asked.filter((a) => !NAMES.some((n) => norm(n) === norm(a)));
  if (unknown.length) {
    console.error(`unknown section ${unknown.join(', ')}; sections: ${NAMES.join(', ')}`);
    process.exit(2);
  }
  return new Set(NAMES.filter((n) => asked.some((a) => norm(n) === norm(a))));
}
const ONLY = selected();

installPromisingStub();
const started = performance.now();
const say = (...a) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)}s]`, ...a);

/** The commit measured, and whether src/ had uncommitted changes (read-only git queries). */
function gitState() {
  try {
    const run = (...a) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = run('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).map((l) => l.slice(3));
    return { commit: run('rev-parse', '--short', 'HEAD'), src_uncommitted: dirty };
  } catch {
    return undefined;
  }
}

const R = {
  meta: {
    date: new Date().toISOString(),
    machine: machine(),
    budget_ms_per_figure: BUDGET_MS,
    command: 'npm run bench',
    sections: ONLY ? [...ONLY] : 'all',
    git: gitState(),
  },
};

/** What every section gets: the results so far, the shared fixtures and the hello store, and a slot for hand-overs. */
let helloStore;
const ctx = {
  results: R,
  fixtures: await startFixtures(),
  /** One store with hello installed and loaded, made on first use (host, host_steps, throughput). */
  helloStore: () => (helloStore ??= makeStore([SKILLS.hello])),
  /** Hand-overs between sections (build -> load20: variantComponent). */
  shared: {},
  say,
};

for (const s of SECTIONS) {
  if (ONLY && !ONLY.has(s.name)) continue;
  const t = performance.now();
  say(`${s.name} ...`);
  try {
    R[s.name] = await s.run(ctx);
  } catch (e) {
    say(`${s.name} FAILED: ${e.stack ?? e}`);
    R[s.name] = { error: String(e?.message ?? e) };
  }
  const secs = round((performance.now() - t) / 1000, 1);
  (R.meta.section_seconds ??= {})[s.name] = secs;
  say(`${s.name} done in ${secs}s`);
}

R.goals = goals(R);
R.meta.total_seconds = round((performance.now() - started) / 1000, 1);
R.meta.loadavg_at_end = os.loadavg().map((x) => round(x, 2));

ctx.fixtures.close();
await cleanup();

// A partial run never replaces the committed figures.
const file = ONLY ? join(CACHE, 'results.partial.json') : join(ROOT, 'bench/results.json');
await mkdir(join(file, '..'), { recursive: true });
await writeFile(file, JSON.stringify(R, null, 2) + '\n');
say(`wrote ${file}`);
if (!ONLY) {
  await writeReport(R, join(ROOT, 'BENCHMARKS.md'));
  say('wrote BENCHMARKS.md');
}
for (const g of R.goals) say(`${g.met ? 'met   ' : 'MISSED'} ${g.name}: ${g.value} ${g.unit} (${g.note})`);
