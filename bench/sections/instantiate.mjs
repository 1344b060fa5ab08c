// Instantiation from compiled modules in this thread, per engine, with and without the
// WebAssembly.promising stub.
import { join } from 'node:path';
import { SKILLS } from '../lib/env.mjs';
import { tempDir } from '../lib/hosts.mjs';
import { directImports, prepareInProcess } from '../lib/inprocess.mjs';
import { NATIVE_PROMISING, PROMISING_STUB } from '../lib/promising.mjs';
import { BUDGET_MS, round, summarizeMs } from '../lib/stats.mjs';

export const name = 'instantiate';

export async function run(ctx) {
  // Instantiation from compiled modules, in this thread (what a worker pays at boot, and what
  // fresh-instance mode pays after every invocation).
  const work = await tempDir('agentos-bench-inst-');
  const out = {};
  for (const [engine, dir, memoryMb] of [
    ['quickjs', SKILLS.hello, 32],
    ['starlingmonkey', SKILLS.hostileSm, 32],
  ]) {
    const p = await prepareInProcess(join(dir, 'dist/skill.wasm'), join(work, engine), { memoryMb });
    // Linear memory an instance owns right after instantiation (its own memories, not imported ones).
    const memories = new Set();
    p.make(directImports(), (inst) => {
      for (const v of Object.values(inst.exports)) if (v instanceof WebAssembly.Memory) memories.add(v);
    });
    const linearMemoryMib = round([...memories].reduce((a, m) => a + m.buffer.byteLength, 0) / 2 ** 20, 1);
    const samples = [];
    const end = performance.now() + BUDGET_MS;
    while (performance.now() < end || samples.length < 5) {
      const t = performance.now();
      p.make();
      samples.push(performance.now() - t);
      if (samples.length >= 200) break;
    }
    // Before/after of the host's stub: jco's glue calls WebAssembly.promising (absent on Node 20)
    // four times per instantiation inside try/catch; the TypeError's message makes V8 re-parse the
    // huge enclosing function. Interleaved blocks, same process, same modules.
    const plain = [];
    const stubbed = [];
    const hadPromising = NATIVE_PROMISING;
    if (!hadPromising) {
      const abEnd = performance.now() + BUDGET_MS;
      while (performance.now() < abEnd || plain.length < 10) {
        delete WebAssembly.promising;
        for (let i = 0; i < 5; i++) {
          const t = performance.now();
          p.make();
          plain.push(performance.now() - t);
        }
        WebAssembly.promising = (fn) => fn;
        for (let i = 0; i < 5; i++) {
          const t = performance.now();
          p.make();
          stubbed.push(performance.now() - t);
        }
        if (plain.length >= 200) break;
      }
      WebAssembly.promising = PROMISING_STUB;
    }
    out[engine] = {
      component_bytes: p.componentBytes,
      core_modules: p.coreModules,
      transpile_ms: round(p.transpileMs),
      compile_ms: round(p.compileMs),
      instantiate: summarizeMs(samples),
      linear_memory_at_start_mib: linearMemoryMib,
      promising_stub_ab: hadPromising
        ? { skipped: 'this Node has WebAssembly.promising' }
        : { without_stub: summarizeMs(plain), with_stub: summarizeMs(stubbed) },
    };
  }
  return out;
}
