// Resident memory per warm instance, measured in a fresh process (run with --expose-gc):
// RSS after loading the skill, then after 1 warm worker, then after N warm workers of the same
// skill (pool maxWorkers N, N invocations in flight at once). `threads` mode instead starts N
// bare worker threads (same resourceLimits, no skill) to show the thread floor.
//   node --expose-gc memory-child.mjs <home> <skillId> <command> <N> [reuse|fresh|threads]
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

const [home, skillId, command, nArg, mode = 'reuse'] = process.argv.slice(2);
const N = Number(nArg);
const { SkillRegistry, SkillLoader, SkillInvoker } = await import(new URL('../../dist/index.js', import.meta.url).href);

async function settle() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await sleep(150);
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

const registry = new SkillRegistry({ home });
const loader = new SkillLoader(registry);
await loader.load(skillId);
const out = { mode, N };
out.loaded = await settle();

if (mode === 'threads') {
  const src = `require('node:worker_threads').parentPort.postMessage('up'); setInterval(() => {}, 1e6);`;
  const start = () =>
    new Promise((resolve) => {
      const w = new Worker(src, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 } });
      w.once('message', () => resolve(w));
    });
  const ws = [await start()];
  out.one = await settle();
  for (let i = 1; i < N; i++) ws.push(await start());
  out.all = await settle();
  await Promise.all(ws.map((w) => w.terminate()));
} else {
  const invoker = new SkillInvoker(loader, {
    phase: 'execution',
    reuseInstances: mode === 'reuse',
    pool: { maxWorkers: N, idleMs: 0 },
  });
  await invoker.invoke(skillId, command, { x: 1 });
  out.one = await settle();
  out.workers_after_one = invoker.poolStats.workers;
  // N invocations in flight at once: the pool starts a worker for each (one is idle already).
  await Promise.all(Array.from({ length: N }, () => invoker.invoke(skillId, command, { x: 1 })));
  // A few more rounds so every worker has run (and, in fresh mode, re-instantiated) at least once.
  for (let r = 0; r < 3; r++) await Promise.all(Array.from({ length: N }, () => invoker.invoke(skillId, command, { x: 1 })));
  out.all = await settle();
  out.workers_after_all = invoker.poolStats.workers;
  // Each worker's boot message carries its instantiateMs (SkillWorker.ready resolves to it);
  // read through the invoker's private pool, best effort.
  try {
    out.instantiateMs = await Promise.all([...invoker.pool.all].map((w) => w.ready));
  } catch {
    /* internals changed: skip */
  }
  await invoker.close();
}
registry.close();
process.stdout.write(JSON.stringify(out) + '\n');
