// A loop of warm invokes of one skill, one worker (pool maxWorkers 1). Run under
// `node --cpu-prof` for the profiles (workers are profiled too), or plain for the CPU split:
// per-thread CPU time from /proc/self/task/<tid>/stat (Linux), main thread vs the skill's
// worker thread vs every other thread (V8's platform threads: GC, wasm tier-up; libuv).
//   node [--cpu-prof --cpu-prof-dir=D] profile-child.mjs <home> <skillId> <command> <argsJson> <seconds> <reuse|fresh|session>
// session: default fresh-instance mode, every call with { session: 'bench' }.
import { readFileSync, readdirSync } from 'node:fs';

const [home, skillId, command, argsJson, seconds, mode] = process.argv.slice(2);
const { SkillRegistry, SkillLoader, SkillInvoker } = await import(new URL('../../dist/index.js', import.meta.url).href);

/** CPU seconds (user + system) per thread id, or undefined off Linux. */
function threadCpu() {
  try {
    const out = new Map();
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) / 100); // utime + stime, in clock ticks (USER_HZ 100)
    }
    return out;
  } catch {
    return undefined;
  }
}

const registry = new SkillRegistry({ home });
const loader = new SkillLoader(registry);
await loader.load(skillId);
const before = new Set(threadCpu()?.keys() ?? []);
const invoker = new SkillInvoker(loader, { phase: 'execution', reuseInstances: mode === 'reuse', pool: { maxWorkers: 1 } });
const args = JSON.parse(argsJson);
const opts = mode === 'session' ? { session: 'bench' } : undefined;
for (let i = 0; i < 50; i++) await invoker.invoke(skillId, command, args, opts);
const workerTids = [...(threadCpu()?.keys() ?? [])].filter((t) => !before.has(t));

const cpu0 = threadCpu();
const usage0 = process.cpuUsage();
const windowStartUs = Number(process.hrtime.bigint() / 1000n);
const t0 = performance.now();
const end = t0 + Number(seconds) * 1000;
let n = 0;
while (performance.now() < end) {
  await invoker.invoke(skillId, command, args, opts);
  n++;
}
const ms = performance.now() - t0;
const windowEndUs = Number(process.hrtime.bigint() / 1000n);
const usage = process.cpuUsage(usage0);
const cpu1 = threadCpu();

let split;
if (cpu0 && cpu1) {
  const d = (tid) => (cpu1.get(tid) ?? 0) - (cpu0.get(tid) ?? 0);
  const main = d(process.pid);
  const worker = workerTids.reduce((a, t) => a + d(t), 0);
  let all = 0;
  for (const tid of cpu1.keys()) all += d(tid);
  const per = (s) => Math.round((s * 1e6) / n * 10) / 10;
  const others = [...cpu1.keys()]
    .filter((t) => t !== process.pid && !workerTids.includes(t))
    .map((t) => ({ tid: t, started_before_pool: before.has(t), us: per(d(t)) }))
    .filter((o) => o.us > 0)
    .sort((a, b) => b.us - a.us);
  split = { main_us: per(main), worker_us: per(worker), other_threads_us: per(all - main - worker), others };
}
// The window is on the monotonic clock the profiler's timestamps use too.
process.stdout.write(
  JSON.stringify({
    invocations: n,
    ms,
    wall_per_invoke_us: (ms * 1000) / n,
    process_cpu_per_invoke_us: (usage.user + usage.system) / n,
    cpu_split_per_invoke: split,
    windowStartUs,
    windowEndUs,
  }) + '\n',
);
await invoker.close();
registry.close();
