// Cold start, measured inside a fresh process: from process start (performance.timeOrigin) to
// the first result of one skill. Prints one JSON line. Used by the cold_start and load20 sections.
//   node cold-child.mjs <home> <skillId> <command> <argsJson> [all]
// `all`: loadEnabledSkills() (every enabled skill) instead of load(skillId).
const t = { script_start: performance.now() };
const [home, skillId, command, argsJson, mode] = process.argv.slice(2);
const { SkillRegistry, SkillLoader, SkillInvoker } = await import(new URL('../../dist/index.js', import.meta.url).href);
t.imported = performance.now();
const registry = new SkillRegistry({ home });
t.registry_open = performance.now();
const loader = new SkillLoader(registry);
let loaded;
if (mode === 'all') loaded = await loader.loadEnabledSkills();
else loaded = [await loader.load(skillId)];
t.loaded = performance.now();
const invoker = new SkillInvoker(loader, { phase: 'execution' });
const result = await invoker.invoke(skillId, command, JSON.parse(argsJson));
t.first_result = performance.now();
// The worker's boot report (instantiateMs), read through the invoker's private pool, best effort.
let workerInstantiateMs;
try {
  workerInstantiateMs = (await Promise.all([...invoker.pool.all].map((w) => w.ready)))[0];
} catch {
  /* internals changed */
}
const nt = performance.nodeTiming;
process.stdout.write(
  JSON.stringify({
    result,
    skills: loaded.length,
    prepareMs: loaded.map((s) => s.prepareMs),
    workerInstantiateMs,
    node_bootstrap_ms: nt.bootstrapComplete,
    ...t,
  }) + '\n',
);
await invoker.close();
registry.close();
