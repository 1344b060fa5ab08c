// A host process for the worker-heap attacks (worker-oom.test.ts): run in its own process so
// that a V8 fatal OOM (the failure this guards against) shows as the child's exit signal.
//   route: the real hostile fixture (memory_mb 512) logs a 100 MB line 20 times; the glue would
//          lift each into the worker's JS heap (without the lift bound this aborted the process).
//   heap:  the same skill, its prepared glue wrapped (test-only: the LoadedSkill object is edited
//          here, nothing in the library) so that the command `js-oom` allocates JS objects in
//          the worker until its heap limit (64 MiB old generation) ends the thread.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { SkillInvoker, SkillLoader, SkillRegistry } from '../../dist/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const mode = process.argv[2];
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const outcome = (p) =>
  p.then(
    (v) => ({ ok: true, v }),
    (e) => ({ ok: false, name: e?.name, code: e?.code, limit: e?.limit, max: e?.max, message: String(e?.message) }),
  );
const home = await mkdtemp(join(tmpdir(), 'agentos-oom-'));
const registry = new SkillRegistry({ home });
const dir = join(home, 'hostile');
await cp(join(ROOT, 'test/fixtures/hostile'), dir, { recursive: true });
const manifest = parse(await readFile(join(dir, 'skill.yaml'), 'utf8'));
manifest.requires.limits = { timeout_ms: 30_000, memory_mb: 512 };
manifest.commands['js-oom'] = { description: 'test-only: allocate in the worker JS heap until it runs out' };
await writeFile(join(dir, 'skill.yaml'), stringify(manifest));
registry.enable((await registry.install(dir)).id);
const hello = join(home, 'hello');
await cp(join(ROOT, 'skills/hello'), hello, { recursive: true });
registry.enable((await registry.install(hello)).id);
const loader = new SkillLoader(registry);
await loader.loadEnabledSkills();

if (mode === 'heap') {
  const skill = loader.get('test.hostile');
  const wrapper = `import * as real from ${JSON.stringify(skill.prepared.jsUrl)};
export function instantiate(...a) {
  const g = real.instantiate(...a);
  return { invoke(command, args) {
    if (command !== 'js-oom') return g.invoke(command, args);
    const hoard = [];
    for (;;) hoard.push(new Array(100000).fill({ command }));
  } };
}`;
  skill.prepared = { ...skill.prepared, jsUrl: `data:text/javascript;base64,${Buffer.from(wrapper).toString('base64')}` };
}

const invoker = new SkillInvoker(loader, { phase: 'execution' });
const rss = [process.memoryUsage().rss];
const results = {};
results.before = await outcome(invoker.invoke('test.hostile', 'ok', { n: 0 }));
const attack = mode === 'route' ? ['log-big', { size: 100_000_000, n: 20 }] : ['js-oom', {}];
results.attacks = [];
for (let i = 0; i < 3; i++) {
  const mark = registry.auditEvents({ skillId: 'test.hostile', limit: 1_000_000 }).length;
  const o = await outcome(invoker.invoke('test.hostile', ...attack));
  const events = registry.auditEvents({ skillId: 'test.hostile', limit: 1_000_000 });
  const added = events.slice(0, events.length - mark);
  results.attacks.push({ ...o, audit: added.map((e) => ({ type: e.type, command: e.command, operation: e.operation, meta: e.meta })) });
  rss.push(process.memoryUsage().rss);
  results[`sameAfter${i}`] = await outcome(invoker.invoke('test.hostile', 'ok', { n: i + 1 }));
  results[`otherAfter${i}`] = await outcome(invoker.invoke('example.hello', 'greet', { name: `n${i}` }));
}
results.rssMb = rss.map((r) => Math.round(r / 2 ** 20));
await invoker.close();
registry.close();
await rm(home, { recursive: true, force: true });
print({ event: 'report', mode, results });
