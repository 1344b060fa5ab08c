// The floor: hello greet/echo, fs-cmd read and net-fetch fetch run in this thread with no host
// around them (lib/inprocess.mjs), the figure every host figure is divided by.
import { join } from 'node:path';
import { ECHO_JSON, GREET_JSON, SKILLS } from '../lib/env.mjs';
import { tempDir } from '../lib/hosts.mjs';
import { directImports, prepareInProcess } from '../lib/inprocess.mjs';
import { BUDGET_MS, latency, round, summarize } from '../lib/stats.mjs';

export const name = 'floor';

export async function run(ctx) {
  const { smallFile, smallContent, httpBody: HTTP_BODY, port } = ctx.fixtures;
  const work = await tempDir('agentos-bench-floor-');
  const hello = await prepareInProcess(join(SKILLS.hello, 'dist/skill.wasm'), join(work, 'hello'), { memoryMb: 32 });
  const files = await prepareInProcess(join(SKILLS.files, 'dist/skill.wasm'), join(work, 'files'), { memoryMb: 64 });
  const fetcher = await prepareInProcess(join(SKILLS.fetch, 'dist/skill.wasm'), join(work, 'fetch'), { memoryMb: 64 });
  const g = hello.make();
  const check = g.invoke('greet', GREET_JSON);
  if (check !== '{"greeting":"Hello, Ada!"}') throw new Error(`in-process greet returned ${check}`);
  const f = files.make(directImports());
  const readArgs = JSON.stringify({ operation: 'read', path: smallFile });
  const fcheck = JSON.parse(f.invoke('cmd', readArgs));
  if (fcheck.content !== smallContent) throw new Error(`in-process fs read returned ${JSON.stringify(fcheck)}`);
  // The net-fetch skill against a canned response (the loopback server's, as the host returns it).
  const n = fetcher.make(directImports({ netResponse: { status: 200, headers: [{ name: 'content-type', value: 'text/plain' }, { name: 'content-length', value: String(Buffer.byteLength(HTTP_BODY)) }], body: new Uint8Array(Buffer.from(HTTP_BODY)) } }));
  const fetchArgs = JSON.stringify({ domain: `127.0.0.1:${port}`, scheme: 'http', path: '/' });
  const ncheck = JSON.parse(n.invoke('fetch', fetchArgs));
  if (ncheck.body !== HTTP_BODY) throw new Error(`in-process fetch returned ${JSON.stringify(ncheck)}`);
  return {
    what: 'hello greet/echo, fs-cmd read and net-fetch fetch, jco-transpiled, compiled, instantiated in this thread with direct imports (fs.readFile = readFileSync, no guard; net.fetch = a canned response, no I/O); invoke(command, argsJson) called directly',
    component_bytes: hello.componentBytes,
    core_modules: hello.coreModules,
    transpile_ms: round(hello.transpileMs),
    compile_ms: round(hello.compileMs),
    greet: await latency(() => g.invoke('greet', GREET_JSON)),
    echo: await latency(() => g.invoke('echo', ECHO_JSON)),
    fs_read: await latency(() => f.invoke('cmd', readArgs)),
    net_fetch_canned: await latency(() => n.invoke('fetch', fetchArgs)),
    greet_first_call_on_fresh_instance: (() => {
      // Fresh-instance mode's floor: the first call into a new instance (its glue closures and
      // the guest's paths are cold). Instantiation itself is not timed here.
      const samples = [];
      const end = performance.now() + BUDGET_MS;
      while ((performance.now() < end || samples.length < 10) && samples.length < 300) {
        const inst = hello.make();
        const t = process.hrtime.bigint();
        inst.invoke('greet', GREET_JSON);
        samples.push(Number(process.hrtime.bigint() - t) / 1000);
      }
      return summarize(samples);
    })(),
    greet_on_fresh_instance_after_warmup_call: (() => {
      // Experiment: the same, after one call of an unknown command on the new instance (the
      // guest runtime answers `unknown_command` without running skill code), which a worker could
      // make in the background right after instantiating.
      const samples = [];
      const end = performance.now() + BUDGET_MS;
      while ((performance.now() < end || samples.length < 10) && samples.length < 300) {
        const inst = hello.make();
        try {
          inst.invoke('', '{}');
        } catch {
          /* unknown_command, as expected */
        }
        const t = process.hrtime.bigint();
        inst.invoke('greet', GREET_JSON);
        samples.push(Number(process.hrtime.bigint() - t) / 1000);
      }
      return summarize(samples);
    })(),
  };
}
