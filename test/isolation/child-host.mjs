// A host process for the "leaves no thread behind" tests: it runs invocations (hostile ones
// included), optionally calls close(), prints a JSON report and then simply returns. It never
// calls process.exit: the parent test asserts that the process ends by itself.
//
//   node test/isolation/child-host.mjs close     few invocations incl. a timeout, a spin in flight at close()
//   node test/isolation/child-host.mjs no-close  same, but never calls invoker.close()
//   node test/isolation/child-host.mjs mixed     30 concurrent invocations, both engines, hostile interleaved, close()
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { SkillInvoker, SkillLoader, SkillRegistry } from '../../dist/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const mode = process.argv[2] ?? 'close';
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const outcome = (p) =>
  p.then(
    (v) => ({ ok: true, v }),
    (e) => ({ ok: false, name: e?.name, code: e?.code, limit: e?.limit }),
  );

const t0 = performance.now();
const home = await mkdtemp(join(tmpdir(), 'agentos-child-'));
const registry = new SkillRegistry({ home });
// StarlingMonkey's 12 MB component takes seconds to prepare: only the mixed run needs it.
const fixtures = mode === 'mixed' ? ['test/fixtures/hostile', 'test/fixtures/hostile-sm'] : ['test/fixtures/hostile'];
for (const d of fixtures) {
  // A copy whose manifest allows 5000 ms, so a loaded machine cannot turn an alloc into a timeout;
  // spins get a tight per-invocation deadline instead.
  const dir = join(home, d.split('/').pop());
  await cp(join(ROOT, d), dir, { recursive: true });
  const manifest = parse(await readFile(join(dir, 'skill.yaml'), 'utf8'));
  manifest.requires.limits.timeout_ms = 5000;
  await writeFile(join(dir, 'skill.yaml'), stringify(manifest));
  const s = await registry.install(dir);
  registry.enable(s.id);
}
const loader = new SkillLoader(registry);
await loader.loadEnabledSkills();
const invoker = new SkillInvoker(loader, { phase: 'execution', pool: { maxWorkers: 3 } });

const results = { setupMs: Math.round(performance.now() - t0) };
const t1 = performance.now();
if (mode === 'close' || mode === 'no-close') {
  results.ok = await outcome(invoker.invoke('test.hostile', 'ok', { n: 1 }));
  results.spin = await outcome(invoker.invoke('test.hostile', 'spin', {}, { timeoutMs: 300 }));
  results.trap = await outcome(invoker.invoke('test.hostile', 'trap', {}));
  results.parallel = await Promise.all([1, 2, 3].map((n) => outcome(invoker.invoke('test.hostile', 'ok', { n }))));
  results.alloc = await outcome(invoker.invoke('test.hostile', 'alloc', {}));
  if (mode === 'close') {
    // One spin still running when close() is called: it must be stopped, not waited for.
    const inFlight = outcome(invoker.invoke('test.hostile', 'spin', {}, { timeoutMs: 4000 }));
    await new Promise((r) => setTimeout(r, 200));
    await invoker.close();
    results.inFlight = await inFlight;
    results.poolAfterClose = invoker.poolStats;
    print({ event: 'closed' });
  }
} else if (mode === 'mixed') {
  const hostile = [
    ['spin', {}, { timeoutMs: 300 }],
    ['alloc', {}],
    ['recurse', {}],
    ['throw', { message: 'child' }],
    ['trap', {}],
  ];
  const runs = [];
  for (let i = 0; i < 30; i++) {
    const skill = i % 2 ? 'test.hostile-sm' : 'test.hostile';
    if (i % 6 === 5) {
      const [cmd, args, opts] = hostile[(i / 6) % hostile.length | 0];
      runs.push(outcome(invoker.invoke(skill, cmd, args, opts)).then((o) => ({ cmd, ...o })));
    } else {
      runs.push(outcome(invoker.invoke(skill, 'ok', { i })).then((o) => ({ cmd: 'ok', i, ...o })));
    }
  }
  const all = await Promise.all(runs);
  results.goodOk = all.filter((r) => r.cmd === 'ok' && r.ok && r.v?.i === r.i).length;
  results.good = all.filter((r) => r.cmd === 'ok').length;
  results.hostile = all.filter((r) => r.cmd !== 'ok').map((r) => `${r.cmd}:${r.code}:${r.limit ?? ''}`);
  await invoker.close();
  results.poolAfterClose = invoker.poolStats;
  print({ event: 'closed' });
}
results.runMs = Math.round(performance.now() - t1);
registry.close();
await rm(home, { recursive: true, force: true });
print({ event: 'report', mode, results });
// ...and nothing else: the process must now exit on its own.
