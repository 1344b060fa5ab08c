// A host process for the module-limits attacks: installs, loads and invokes hand-assembled
// components whose core modules declare hostile shapes, then prints one JSON report. Run in its
// own process so that a V8 abort (the bug this guards against) shows as the child's exit signal.
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SkillInvoker, SkillLoader, SkillRegistry } from '../../dist/index.js';
import { watComponent, watModule, watSkill } from './wat-skill.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const err = (e) => ({ ok: false, name: e?.name, code: e?.code, limit: e?.limit, max: e?.max, message: String(e?.message ?? e) });
const outcome = (p) => p.then((v) => ({ ok: true, v }), err);
const home = await mkdtemp(join(tmpdir(), 'agentos-limits-'));
const registry = new SkillRegistry({ home });
const rss0 = process.memoryUsage().rss;

// A good skill, installed first: it must keep working and its row must not change.
const hello = join(home, 'hello');
await cp(join(ROOT, 'skills/hello'), hello, { recursive: true });
registry.enable((await registry.install(hello)).id);
const before = JSON.stringify(registry.list());

const refused = {};
const attacks = {
  hugeMemory: watModule({ memory: '(memory (export "memory") 16384)' }), // 1 GiB initial, memory_mb 64
  manyMemories: watModule({ memory: '(memory (export "memory") 1) (memory 0) (memory 0) (memory 0) (memory 0)' }),
  hugeTable: watModule({ extra: '(table 9000000 funcref)' }),
  tablesTogether: watModule({ extra: '(table 90000 funcref) (table 90000 funcref) (table 90000 funcref)' }),
  hugeElements: watModule({ extra: `(elem declare func ${'$answer '.repeat(200_001)})` }),
  hugeData: watModule({ extra: `(data (i32.const 200) "${'\\00'.repeat(65 * 1024 * 1024 / 8)}")` }),
  manyGlobals: watModule({ extra: '(global i32 (i32.const 0))'.repeat(10_001) }),
};
for (const [name, wat] of Object.entries(attacks)) {
  const memoryMb = name === 'hugeData' ? 8 : 64;
  try {
    const dir = await watSkill(`test.${name.toLowerCase()}`, await watComponent(wat), { memoryMb, parent: home });
    await registry.install(dir);
    refused[name] = { ok: true };
  } catch (e) {
    refused[name] = err(e);
  }
}
const after = JSON.stringify(registry.list());

// Accepted, but capped: a huge declared maximum, and growth at run time.
const ok = {};
const accepted = {
  hugeMaxOnly: watModule({ memory: '(memory (export "memory") 1 65536)', extra: '(table 1 4000000000 funcref)' }),
  tableGrow: watModule({
    extra: '(table $t 1 funcref)',
    answer: '(if (result i32 i32) (i32.eq (table.grow $t (ref.null func) (i32.const 9000000)) (i32.const -1)) (then (i32.const 80) (i32.const 9)) (else (i32.const 96) (i32.const 7)))',
  }),
  memoryGrow: watModule({
    answer: '(if (result i32 i32) (i32.eq (memory.grow (i32.const 1024)) (i32.const -1)) (then (i32.const 80) (i32.const 9)) (else (i32.const 96) (i32.const 7)))',
  }),
  bigButAllowed: watModule({ memory: '(memory (export "memory") 512)' }), // 32 MiB: fine at 64, not at 16
};
for (const [name, wat] of Object.entries(accepted)) {
  const dir = await watSkill(`test.${name.toLowerCase()}`, await watComponent(wat), { parent: home });
  registry.enable((await registry.install(dir)).id);
}
const loader = new SkillLoader(registry);
await loader.loadEnabledSkills();
const invoker = new SkillInvoker(loader, { phase: 'execution' });
for (const name of Object.keys(accepted)) ok[name] = await outcome(invoker.invoke(`test.${name.toLowerCase()}`, 'run', {}));
ok.hello = await outcome(invoker.invoke('example.hello', 'greet', { name: 'Ada' }));

// The operator lowers memory_mb after install: the next load refuses, audited, nothing compiled.
const strict = new SkillLoader(registry, { hostPolicy: { ...registry.hostPolicy, maxMemoryMb: 16, defaultMemoryMb: 16 } });
const lowered = await outcome(strict.load('test.bigbutallowed'));
const loweredAudit = registry.auditEvents({ skillId: 'test.bigbutallowed', type: 'limit_exceeded', limit: 1 })[0] ?? null;
const helloUnderStrict = await outcome(strict.load('example.hello').then((s) => s.limits));

await invoker.close();
registry.close();
process.stdout.write(
  `${JSON.stringify({ event: 'report', refused, storeUnchanged: before === after, ok, lowered, loweredAudit, helloUnderStrict, rssDeltaMb: (process.memoryUsage().rss - rss0) / 1048576 })}\n`,
);
