#!/usr/bin/env node
// Benchmarks of the skill host, all in one run on the same built components:
//   npm run bench            (= npm run build && npm run build-examples && node scripts/bench.mjs)
//   BENCH_TIME_MS=500 node scripts/bench.mjs          quicker, noisier
//   BENCH_ONLY=floor,host node scripts/bench.mjs      some sections (-> node_modules/.cache/agentos-bench/results.partial.json)
// Writes bench/results.json and the generated part of BENCHMARKS.md. Timings are never asserted:
// the goals are reported as met / missed. Progress goes to stderr.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { DIST, ROOT, SKILLS, machine } from './bench/env.mjs';
import { cleanup, copySkill, invokerFor, makeStore, tempDir } from './bench/host.mjs';
import { directImports, prepareInProcess } from './bench/inprocess.mjs';
import { channelRoundTrip } from './bench/channel.mjs';
import { extismPeer, isolatedVmPeer } from './bench/peers.mjs';
import { summarizeProfile } from './bench/profile.mjs';
import { writeReport } from './bench/report.mjs';
import { BUDGET_MS, latency, ratio, round, summarize, summarizeMs, throughputSweep } from './bench/stats.mjs';
import { writeVariants } from './bench/variants.mjs';

// The host's worker provides WebAssembly.promising as the identity before importing jco's glue
// (Node 20 lacks JSPI; the glue's catch branch assigns the same value). Do the same here so the
// in-process floor and instantiation figures match what a worker pays; the instantiate section
// still measures both ways.
const NATIVE_PROMISING = typeof WebAssembly.promising === 'function';
const PROMISING_STUB = (fn) => fn;
if (!NATIVE_PROMISING) WebAssembly.promising = PROMISING_STUB;

const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
const SCRIPTS = join(ROOT, 'scripts/bench');
const started = performance.now();
const say = (...a) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)}s]`, ...a);

const GREET = { name: 'Ada' };
const GREET_JSON = JSON.stringify(GREET);
const ECHO = { a: 1, b: 'two' };
const ECHO_JSON = JSON.stringify(ECHO);

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

async function section(name, fn) {
  if (ONLY && !ONLY.has(name)) return;
  const t = performance.now();
  say(`${name} ...`);
  try {
    R[name] = await fn();
  } catch (e) {
    say(`${name} FAILED: ${e.stack ?? e}`);
    R[name] = { error: String(e?.message ?? e) };
  }
  const secs = round((performance.now() - t) / 1000, 1);
  (R.meta.section_seconds ??= {})[name] = secs;
  say(`${name} done in ${secs}s`);
}

/** Runs `node args...`; resolves with the JSON of its first stdout line and the parent's wall times. */
function child(args, { env } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let firstLineMs;
    p.stdout.on('data', (d) => {
      out += d;
      if (firstLineMs === undefined && out.includes('\n')) firstLineMs = performance.now() - t0;
    });
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      const exitMs = performance.now() - t0;
      const line = out.split('\n')[0];
      if (code !== 0 || !line) return reject(new Error(`child ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      try {
        resolve({ data: JSON.parse(line), firstLineMs, exitMs });
      } catch (e) {
        reject(new Error(`child output is not JSON: ${line.slice(0, 200)} (${e.message})`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Shared fixtures: a small file inside an allowed root, a loopback HTTP server.

const fsRoot = await realpath(await tempDir('agentos-bench-fsroot-'));
const smallFile = join(fsRoot, 'small.txt');
const smallContent = 'a small file for the fs host-call benchmark\n';
await writeFile(smallFile, smallContent);

const HTTP_BODY = 'ok from the loopback server';
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(HTTP_BODY) });
  res.end(HTTP_BODY);
});
// Connections accepted, and requests served, so far: shows whether a figure reused connections.
const served = { connections: 0, requests: 0 };
server.on('connection', () => served.connections++);
server.on('request', () => served.requests++);
/** `fn`'s result plus the connections and requests the loopback server saw meanwhile. */
async function counted(fn) {
  const c0 = served.connections;
  const r0 = served.requests;
  const out = await fn();
  return { ...out, server_connections: served.connections - c0, server_requests: served.requests - r0 };
}
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
server.unref();

// ---------------------------------------------------------------------------------------------

await section('floor', async () => {
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
});

await section('instantiate', async () => {
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
});

await section('channel', async () => {
  const out = await channelRoundTrip();
  // Starting a bare worker thread (same resourceLimits as a skill worker) until its first message.
  const { Worker } = await import('node:worker_threads');
  const starts = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const w = new Worker(`require('node:worker_threads').parentPort.postMessage(1)`, {
      eval: true,
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    await new Promise((r) => w.once('message', r));
    starts.push(performance.now() - t);
    await w.terminate();
  }
  out.bare_worker_start = summarizeMs(starts);
  return out;
});

let helloStore;
await section('host', async () => {
  helloStore = await makeStore([SKILLS.hello]);
  const reuse = invokerFor(helloStore, { reuseInstances: true });
  const fresh = invokerFor(helloStore);
  const call = (inv, cmd = 'greet', args = GREET, opts) => () => inv.invoke('example.hello', cmd, args, opts);
  const check = await reuse.invoke('example.hello', 'greet', GREET);
  if (check.greeting !== 'Hello, Ada!') throw new Error(`host greet returned ${JSON.stringify(check)}`);
  const out = {
    what: 'SkillInvoker.invoke through registry + loader + invoker (phase gate, enable check, args schema, pool, worker, channel), one caller, back to back',
    reuse_greet: await latency(call(reuse)),
    reuse_echo: await latency(call(reuse, 'echo', ECHO)),
    fresh_greet_back_to_back: await latency(call(fresh)),
    // Default (fresh-instance) mode, one caller passing a session: its invocations may run on the
    // instance its previous one left (kept 50 ms), nobody else's.
    session_greet: await latency(call(fresh, 'greet', GREET, { session: 'bench' })),
  };
  // Fresh mode re-instantiates after each invocation, in the background: a caller who leaves a
  // gap longer than that sees only the invoke. Gap = 3x the back-to-back median, 20..400 ms.
  const gapMs = Math.min(400, Math.max(20, Math.round((3 * out.fresh_greet_back_to_back.median_us) / 1000)));
  out.fresh_greet_paced = { gap_ms: gapMs, ...(await latency(call(fresh), { gapMs, minN: 15, warmupMs: 0 })) };
  await Promise.all([reuse.close(), fresh.close()]);
  return out;
});

await section('host_steps', async () => {
  // Main-thread pieces of one invoke, each alone in a loop (µs per call): where the host's own
  // CPU goes besides the channel. Not a partition of the invoke: just the big suspects.
  const store = helloStore ?? (helloStore = await makeStore([SKILLS.hello]));
  const { prepareArgs } = await import(`${DIST}/args.js`);
  const { randomUUID } = await import('node:crypto');
  const schema = store.loader.get('example.hello').manifest.commands.greet.args;
  const opts = { timeMs: Math.min(BUDGET_MS, 1000) };
  const doneMsg = { t: 'done', ok: true, result: '{"greeting":"Hello, Ada!"}', logs: [], logsDropped: 0 };
  return {
    what: 'each step alone in a loop on the main thread',
    registry_get: await latency(() => store.registry.get('example.hello'), opts),
    // What the invoker now reads per call: enabled + component hash, no manifest parse.
    registry_state: typeof store.registry.state === 'function' ? await latency(() => store.registry.state('example.hello'), opts) : undefined,
    loader_get: await latency(() => store.loader.get('example.hello'), opts),
    prepare_args: await latency(() => prepareArgs(schema, GREET, { maxBytes: 1 << 20 }), opts),
    random_uuid: await latency(() => randomUUID(), opts),
    abort_controller_and_timer: await latency(() => {
      const c = new AbortController();
      const t = setTimeout(() => c.abort(), 2000);
      const f = () => {};
      c.signal.addEventListener('abort', f, { once: true });
      c.signal.removeEventListener('abort', f);
      clearTimeout(t);
    }, opts),
    json_messages: await latency(() => {
      JSON.parse(JSON.stringify({ t: 'invoke', command: 'greet', args: GREET_JSON }));
      JSON.parse(JSON.stringify(doneMsg));
      JSON.parse(doneMsg.result);
    }, opts),
    usage_count_date: await latency(() => new Date().toISOString(), opts),
    // The invoker batches usage figures and flushes them once a second, one transaction per
    // invocation in the batch: this is the cost per invocation of that flush.
    registry_record_usage: typeof store.registry.recordUsage === 'function'
      ? await latency(() => store.registry.recordUsage('example.hello', { ok: true, ms: 0.2 }), opts)
      : undefined,
    // The invoker now writes a flush as one transaction: per invocation, in a batch of 100.
    registry_record_usage_batch100_per_invocation: typeof store.registry.recordUsageBatch === 'function'
      ? await (async () => {
          const batch = Array.from({ length: 100 }, () => ({ skillId: 'example.hello', ok: true, ms: 0.2 }));
          const s = await latency(() => store.registry.recordUsageBatch(batch), opts);
          return { batch_of: 100, batch_median_us: s.median_us, median_us: round(s.median_us / 100), p99_us: round(s.p99_us / 100) };
        })()
      : undefined,
  };
});

await section('host_calls', async () => {
  const filesDir = await copySkill(SKILLS.files, (m) => {
    m.requires.permissions.fs.paths = [fsRoot];
  });
  const fetchDir = await copySkill(SKILLS.fetch, (m) => {
    m.requires.permissions.net.allow_domains = [`http://127.0.0.1:${port}`];
  });
  const store = await makeStore([SKILLS.hello, filesDir, fetchDir], { hostPolicy: { allowPrivateNetworks: true } });
  const inv = invokerFor(store, { reuseInstances: true });
  const readArgs = { operation: 'read', path: smallFile };
  const fetchArgs = { domain: `127.0.0.1:${port}`, scheme: 'http', path: '/' };
  const r1 = await inv.invoke('example.files', 'cmd', readArgs);
  if (r1.content !== smallContent) throw new Error(`fs read returned ${JSON.stringify(r1)}`);
  const r2 = await inv.invoke('example.fetch', 'fetch', fetchArgs);
  if (r2.status !== 200 || r2.body !== HTTP_BODY) throw new Error(`fetch returned ${JSON.stringify(r2)}`);
  const out = {
    what: 'reuseInstances: true; per-invoke time of a command making one guarded host call, against the trivial greet of the same invoker',
    trivial_greet: await latency(() => inv.invoke('example.hello', 'greet', GREET)),
    fs_read_invoke: await latency(() => inv.invoke('example.files', 'cmd', readArgs)),
    net_fetch_invoke: await counted(() => latency(() => inv.invoke('example.fetch', 'fetch', fetchArgs))),
  };
  await inv.close();
  // Default fresh-instance mode, same three commands, one caller with a session (warm instance
  // of its own), and the trivial and fs commands paced without a session (a new instance each).
  const fresh = invokerFor(store);
  const S = { session: 'bench' };
  out.session = {
    what: 'default fresh-instance mode, every call with { session: "bench" }, back to back',
    trivial_greet: await latency(() => fresh.invoke('example.hello', 'greet', GREET, S)),
    fs_read_invoke: await latency(() => fresh.invoke('example.files', 'cmd', readArgs, S)),
    net_fetch_invoke: await counted(() => latency(() => fresh.invoke('example.fetch', 'fetch', fetchArgs, S))),
  };
  const gapMs = R.host?.fresh_greet_paced?.gap_ms ?? 40;
  const paced = { gapMs, minN: 15, warmupMs: 0 };
  out.fresh_paced = {
    what: `default fresh-instance mode, no session, ${gapMs} ms between calls (a new, ready instance for each)`,
    gap_ms: gapMs,
    trivial_greet: await latency(() => fresh.invoke('example.hello', 'greet', GREET), paced),
    fs_read_invoke: await latency(() => fresh.invoke('example.files', 'cmd', readArgs), paced),
  };
  await fresh.close();
  store.registry.close();
  // The capabilities called directly on the main thread (guard + I/O, no worker, no channel),
  // then the I/O alone, for context.
  const { createFsCapability } = await import(`${DIST}/capabilities/fs.js`);
  const { createNetCapability } = await import(`${DIST}/capabilities/net.js`);
  const { compileNetPolicy } = await import(`${DIST}/guards/net-guard.js`);
  const fsCap = createFsCapability({ read: true, write: false, roots: [fsRoot] });
  const netCap = createNetCapability({ policy: compileNetPolicy([`http://127.0.0.1:${port}`], { allowPrivateNetworks: true }), timeoutMs: 5000 });
  const ctx = { signal: new AbortController().signal };
  const c1 = await fsCap.readFile(smallFile, ctx);
  if (!c1.ok) throw new Error(`fs capability: ${JSON.stringify(c1.error)}`);
  const netReq = { method: 'GET', url: `http://127.0.0.1:${port}/`, headers: [] };
  const c2 = await netCap.fetch(netReq, ctx);
  if (!c2.ok) throw new Error(`net capability: ${JSON.stringify(c2.error)}`);
  out.capability_fs_readFile = await latency(() => fsCap.readFile(smallFile, ctx));
  out.capability_net_fetch = await counted(() => latency(() => netCap.fetch(netReq, ctx)));
  await netCap.close();
  const fsSync = await import('node:fs');
  const { readFile: rf } = await import('node:fs/promises');
  const { Client, request } = await import('undici');
  // The same system calls the fs capability makes for a read, synchronously (no threadpool hops).
  out.sync_syscalls_fs_read = await latency(() => {
    const real = fsSync.realpathSync(smallFile);
    const fd = fsSync.openSync(real, fsSync.constants.O_RDONLY | fsSync.constants.O_NONBLOCK | fsSync.constants.O_NOFOLLOW);
    try {
      fsSync.readlinkSync(`/proc/self/fd/${fd}`);
      fsSync.fstatSync(fd);
      const buf = Buffer.allocUnsafe(64 * 1024);
      while (fsSync.readSync(fd, buf, 0, buf.length, null) > 0);
    } finally {
      fsSync.closeSync(fd);
    }
  });
  out.raw_fs_readFile = await latency(() => rf(smallFile));
  out.raw_http_new_connection = await latency(async () => {
    const c = new Client(`http://127.0.0.1:${port}`);
    const res = await c.request({ path: '/', method: 'GET' });
    await res.body.arrayBuffer();
    await c.close();
  });
  out.raw_http_keepalive = await latency(async () => {
    const res = await request(`http://127.0.0.1:${port}/`);
    await res.body.arrayBuffer();
  });
  return out;
});

await section('throughput', async () => {
  const store = helloStore ?? (helloStore = await makeStore([SKILLS.hello]));
  const out = {
    what: 'invocations/s of greet with N callers in flight, one invoker, default pool (maxWorkers = max(2, 2 x cores)); concurrencies interleaved in 4 rounds; cpu_cores_used = process CPU time / wall time; session = default fresh-instance mode, caller i passes { session: "lane-i" }',
    max_workers: Math.max(2, os.availableParallelism() * 2),
  };
  for (const mode of ['reuse', 'fresh', 'session']) {
    const inv = invokerFor(store, { reuseInstances: mode === 'reuse' });
    // session: default fresh-instance mode, each concurrent caller (lane) its own session.
    const opts = (lane) => (mode === 'session' ? { session: `lane-${lane}` } : undefined);
    // Start the pool's workers first so the first figure does not pay their boot.
    await Promise.all(Array.from({ length: 8 }, (_, lane) => inv.invoke('example.hello', 'greet', GREET, opts(lane))));
    // Each concurrency gets the usual budget, spread over interleaved rounds.
    out[mode] = await throughputSweep((lane) => inv.invoke('example.hello', 'greet', GREET, opts(lane)), [1, 2, 8], { timeMs: 2 * BUDGET_MS });
    out[mode].workers = inv.poolStats.workers;
    await inv.close();
  }
  return out;
});

await section('peers', async () => {
  // Extism reads WebAssembly.promising when it is imported and takes JSPI to be present if it is
  // a function: hide the bench's stub from it.
  if (!NATIVE_PROMISING) delete WebAssembly.promising;
  try {
    return {
      extism: await extismPeer({ smallFile, smallContent, fsRoot, port, httpBody: HTTP_BODY }),
      isolated_vm: await isolatedVmPeer(),
    };
  } finally {
    if (!NATIVE_PROMISING) WebAssembly.promising = PROMISING_STUB;
  }
});

let variantComponent;
await section('build', async () => {
  const out = { what: 'buildSkill(skills/hello, {engine, outFile}) in a fresh process; ms = the build itself, wall = process start to end' };
  const dir = await tempDir('agentos-bench-build-');
  for (const engine of ['quickjs', 'starlingmonkey']) {
    const outFile = join(dir, `hello-${engine}.wasm`);
    const r = await child([join(SCRIPTS, 'build-child.mjs'), SKILLS.hello, engine, outFile]);
    out[engine] = { ms: round(r.data.ms), wall_ms: round(r.exitMs), bytes: r.data.bytes, steps: r.data.steps };
  }
  // The variant fixture (hello + a patchable marker) for the 20-distinct-components load.
  variantComponent = join(dir, 'variant.wasm');
  const v = await child([join(SCRIPTS, 'build-child.mjs'), join(ROOT, 'bench/fixtures/variant'), 'quickjs', variantComponent]);
  out.variant_fixture_quickjs = { ms: round(v.data.ms), bytes: v.data.bytes };
  return out;
});

const clearCache = async (cache) => {
  if (!existsSync(cache)) return;
  for (const e of await readdir(cache)) await rm(join(cache, e), { recursive: true, force: true });
};

/** `n` child runs of cold-child.mjs on `store`'s home; `cold` empties the transpile cache before each. */
async function coldRuns(store, skillId, command, argsJson, { n, cold, all = false }) {
  const { home, cacheDir } = store;
  const runs = [];
  for (let i = 0; i < n; i++) {
    if (cold) await clearCache(cacheDir);
    const r = await child([join(SCRIPTS, 'cold-child.mjs'), home, skillId, command, argsJson, all ? 'all' : 'one']);
    runs.push(r);
  }
  const pick = (f) => summarizeMs(runs.map(f));
  return {
    runs: n,
    in_child_first_result: pick((r) => r.data.first_result),
    parent_wall_first_result: pick((r) => r.firstLineMs),
    parent_wall_exit: pick((r) => r.exitMs),
    breakdown_median_ms: {
      node_bootstrap: pick((r) => r.data.node_bootstrap_ms).median_ms,
      import_dist_index: pick((r) => r.data.imported - r.data.script_start).median_ms,
      registry_open: pick((r) => r.data.registry_open - r.data.imported).median_ms,
      load: pick((r) => r.data.loaded - r.data.registry_open).median_ms,
      first_invoke: pick((r) => r.data.first_result - r.data.loaded).median_ms,
      // inside load: the loader's own prepareMs (transpile on a cold cache,
      // cache check and compile); inside the first invoke: the worker's instantiateMs.
      // concurrent loads overlap: the longest one, not the sum
      loader_prepare_max: pick((r) => Math.max(...r.data.prepareMs)).median_ms,
      worker_instantiate: runs.every((r) => typeof r.data.workerInstantiateMs === 'number') ? pick((r) => r.data.workerInstantiateMs).median_ms : null,
    },
  };
}

await section('cold_start', async () => {
  const store = await makeStore([SKILLS.hello]);
  store.cacheDir = store.registry.cacheDir;
  store.registry.close();
  const out = {
    what: 'fresh `node` process: import dist/index.js, new SkillRegistry, loader.load, new SkillInvoker, first invoke of hello greet (QuickJS). in_child = performance.now() at the result (0 = process start, performance.timeOrigin); parent_wall = spawn to the result line / to exit',
    warm_cache: await coldRuns(store, 'example.hello', 'greet', GREET_JSON, { n: 5, cold: false }),
    cold_cache: await coldRuns(store, 'example.hello', 'greet', GREET_JSON, { n: 3, cold: true }),
  };
  // What the imports cost on their own (each in a fresh process, dependencies included), and
  // the host bundled into one file by esbuild (native and wasm-carrying packages left external):
  // how much of the import is module loading rather than evaluation.
  const bundleDir = join(ROOT, 'node_modules/.cache/agentos-bench');
  await mkdir(bundleDir, { recursive: true });
  const esbuild = await import('esbuild');
  let bundled = true;
  await esbuild.build({
    entryPoints: [join(ROOT, 'dist/index.js')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: join(bundleDir, 'host-bundle.mjs'),
    external: ['better-sqlite3', '@bytecodealliance/*', 'componentize-qjs', 'esbuild'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'error',
  }).catch((e) => {
    bundled = false;
    out.bundle_error = String(e.message ?? e);
  });
  out.import_ms = {};
  const specs = ['../../dist/index.js', ...(bundled ? ['../../node_modules/.cache/agentos-bench/host-bundle.mjs'] : []), '../../dist/registry.js', '../../dist/loader.js', '../../dist/invoker.js', '@bytecodealliance/jco', 'undici', 'zod', 'esbuild', 'better-sqlite3'];
  for (const spec of specs) {
    const samples = [];
    // Three runs for the host entry points, one for single dependencies (context only).
    const n = spec.startsWith('../../') ? 3 : 1;
    for (let i = 0; i < n; i++) {
      const p = await new Promise((resolve, reject) => {
        const c = spawn(process.execPath, [join(SCRIPTS, 'import-child.mjs'), spec], { stdio: ['ignore', 'pipe', 'inherit'] });
        let o = '';
        c.stdout.on('data', (d) => (o += d));
        c.on('exit', (code) => (code === 0 ? resolve(Number(o)) : reject(new Error(`import ${spec} failed`))));
      });
      samples.push(p);
    }
    out.import_ms[spec.replace('../../', '').replace('node_modules/.cache/agentos-bench/host-bundle.mjs', 'dist/index.js bundled (esbuild)')] = summarizeMs(samples).median_ms;
  }
  return out;
});

await section('load20', async () => {
  const out = { what: 'loadEnabledSkills() with 20 installed+enabled skills in a fresh process (then the first invoke of one of them)' };
  // 20 copies of hello: one component hash, so one transpile and one compile.
  const copies = [];
  for (let i = 1; i <= 20; i++) copies.push(await copySkill(SKILLS.hello, (m) => void (m.id = `example.hello-${i}`)));
  const same = await makeStore(copies);
  same.cacheDir = same.registry.cacheDir;
  same.registry.close();
  out.same_component = {
    warm_cache: await coldRuns(same, 'example.hello-1', 'greet', GREET_JSON, { n: 2, cold: false, all: true }),
    cold_cache: await coldRuns(same, 'example.hello-1', 'greet', GREET_JSON, { n: 2, cold: true, all: true }),
  };
  // 20 distinct components: the variant fixture patched 20 ways (different bytes, same size).
  if (variantComponent && existsSync(variantComponent)) {
    const root = await tempDir('agentos-bench-variants-');
    const dirs = await writeVariants(join(ROOT, 'bench/fixtures/variant'), variantComponent, root, 20);
    const distinct = await makeStore(dirs, {}, { load: false });
    distinct.cacheDir = distinct.registry.cacheDir;
    distinct.registry.close();
    // The cold run fills the cache for the warm ones.
    const cold = await coldRuns(distinct, 'bench.variant-1', 'greet', GREET_JSON, { n: 1, cold: true, all: true });
    const warm = await coldRuns(distinct, 'bench.variant-1', 'greet', GREET_JSON, { n: 2, cold: false, all: true });
    out.distinct_components = { warm_cache: warm, cold_cache: cold };
  } else {
    out.distinct_components = { skipped: 'the variant fixture was not built (run the build section)' };
  }
  return out;
});

await section('memory', async () => {
  const store = await makeStore([SKILLS.hostile, SKILLS.hostileSm]);
  store.registry.close();
  const N = 8;
  const out = { what: `RSS of a fresh process (--expose-gc, gc before each reading) after load, after 1 warm worker, after ${N} warm workers of one skill (pool maxWorkers ${N}, reuseInstances); per instance = (RSS_${N} - RSS_loaded) / ${N}`, N };
  const mib = (b) => round(b / 2 ** 20, 1);
  const runs = [
    ['quickjs', 'test.hostile', 'reuse'],
    ['starlingmonkey', 'test.hostile-sm', 'reuse'],
    ['quickjs_fresh_mode', 'test.hostile', 'fresh'],
    ['bare_worker_threads', 'test.hostile', 'threads'],
  ];
  for (const [name, id, mode] of runs) {
    const r = (await child(['--expose-gc', join(SCRIPTS, 'memory-child.mjs'), store.home, id, 'ok', String(N), mode])).data;
    out[name] = {
      rss_loaded_mib: mib(r.loaded.rss),
      first_instance_mib: mib(r.one.rss - r.loaded.rss),
      per_instance_mib: mib((r.all.rss - r.loaded.rss) / N),
      marginal_per_instance_mib: mib((r.all.rss - r.one.rss) / (N - 1)),
      workers: r.workers_after_all,
      instantiate_ms_in_workers: r.instantiateMs ? summarizeMs(r.instantiateMs) : undefined,
    };
  }
  return out;
});

await section('profile', async () => {
  const store = await makeStore([SKILLS.hello]);
  store.registry.close();
  const out = { what: 'one caller invoking greet back to back for a few seconds, pool maxWorkers 1' };
  const secs = String(Math.max(1, Math.round((BUDGET_MS * 1.5) / 1000)));
  for (const mode of ['reuse', 'fresh', 'session']) {
    const plain = (await child([join(SCRIPTS, 'profile-child.mjs'), store.home, 'example.hello', 'greet', GREET_JSON, secs, mode])).data;
    if (mode === 'session') {
      // CPU split only (the profile of a warm session instance is the reuse one's): saves a run.
      out[mode] = {
        wall_per_invoke_us: round(plain.wall_per_invoke_us, 1),
        process_cpu_per_invoke_us: round(plain.process_cpu_per_invoke_us, 1),
        cpu_split_per_invoke: plain.cpu_split_per_invoke,
        invocations: plain.invocations,
      };
      continue;
    }
    const dir = await tempDir('agentos-bench-prof-');
    const prof = (await child(['--cpu-prof', `--cpu-prof-dir=${dir}`, join(SCRIPTS, 'profile-child.mjs'), store.home, 'example.hello', 'greet', GREET_JSON, secs, mode])).data;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
    const window = { startUs: prof.windowStartUs, endUs: prof.windowEndUs };
    const threads = {};
    for (const f of files) {
      // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile: tid 0 is the main thread.
      const tid = f.split('.')[4];
      threads[tid === '0' ? 'main' : `worker_${tid}`] = await summarizeProfile(join(dir, f), { window, top: 15 });
    }
    out[mode] = {
      wall_per_invoke_us: round(plain.wall_per_invoke_us, 1),
      process_cpu_per_invoke_us: round(plain.process_cpu_per_invoke_us, 1),
      cpu_split_per_invoke: plain.cpu_split_per_invoke,
      invocations: plain.invocations,
      profiled_wall_per_invoke_us: round(prof.wall_per_invoke_us, 1),
      threads,
    };
  }
  return out;
});

// ---------------------------------------------------------------------------------------------
// Goals (targets, not assertions).

function goals() {
  const g = [];
  const floor = R.floor?.greet?.median_us;
  const add = (name, target, value, unit, met, note) => g.push({ name, target, value, unit, met, note });
  if (floor && R.host) {
    const r = ratio(R.host.reuse_greet?.median_us, floor);
    add('warm invoke <= 2.0x in-process floor (reuseInstances: true)', '<= 2.0x', r, 'x', r !== null && r <= 2, `${R.host.reuse_greet.median_us} us vs ${floor} us`);
    const rp = ratio(R.host.fresh_greet_paced?.median_us, floor);
    add('warm invoke <= 2.0x floor (default fresh instance, paced)', '<= 2.0x', rp, 'x', rp !== null && rp <= 2, `${R.host.fresh_greet_paced?.median_us} us with ${R.host.fresh_greet_paced?.gap_ms} ms between calls`);
    const ff = R.floor.greet_first_call_on_fresh_instance?.median_us;
    if (ff) {
      const rf = ratio(R.host.fresh_greet_paced?.median_us, ff);
      add('warm invoke <= 2.0x floor (fresh instance, paced, against the first-call-on-a-fresh-instance floor)', '<= 2.0x', rf, 'x', rf !== null && rf <= 2, `${R.host.fresh_greet_paced?.median_us} us vs ${ff} us`);
    }
    const rb = ratio(R.host.fresh_greet_back_to_back?.median_us, floor);
    add('warm invoke <= 2.0x floor (default fresh instance, back to back)', '<= 2.0x', rb, 'x', rb !== null && rb <= 2, `${R.host.fresh_greet_back_to_back?.median_us} us`);
    if (R.host.session_greet) {
      const rs = ratio(R.host.session_greet.median_us, floor);
      add("warm invoke <= 2.0x floor (default mode, { session: 'bench' }, back to back)", '<= 2.0x', rs, 'x', rs !== null && rs <= 2, `${R.host.session_greet.median_us} us vs ${floor} us`);
    }
  }
  if (R.host_calls?.trivial_greet) {
    const base = R.host_calls.trivial_greet.median_us;
    const fsCost = round(R.host_calls.fs_read_invoke.median_us - base, 1);
    const netCost = round(R.host_calls.net_fetch_invoke.median_us - base, 1);
    add('one guarded host call adds <= 15 us (fs read-file)', '<= 15 us', fsCost, 'us', fsCost <= 15, 'median(fs-cmd read invoke) - median(greet invoke), same invoker');
    add('one guarded host call adds <= 15 us (net fetch, loopback)', '<= 15 us', netCost, 'us', netCost <= 15, `includes the HTTP request itself (raw undici keep-alive: ${R.host_calls.raw_http_keepalive?.median_us} us)`);
    const ss = R.host_calls.session;
    if (ss?.trivial_greet) {
      const c = round(ss.fs_read_invoke.median_us - ss.trivial_greet.median_us, 1);
      add("one guarded host call adds <= 15 us (fs read-file, default mode, { session })", '<= 15 us', c, 'us', c <= 15, 'same, against the session greet of the same invoker');
    }
  }
  if (R.cold_start?.warm_cache) {
    const v = R.cold_start.warm_cache.in_child_first_result.median_ms;
    add('fresh process -> first QuickJS result <= 150 ms (warm disk cache)', '<= 150 ms', v, 'ms', v <= 150, `parent wall to the result: ${R.cold_start.warm_cache.parent_wall_first_result.median_ms} ms`);
    const c = R.cold_start.cold_cache.in_child_first_result.median_ms;
    add('fresh process -> first QuickJS result <= 150 ms (cold disk cache)', '<= 150 ms', c, 'ms', c <= 150, 'transpile included');
  }
  for (const mode of ['reuse', 'fresh', 'session']) {
    const t = R.throughput?.[mode];
    if (!t?.c1) continue;
    const r = ratio(t.c2.per_s, t.c1.per_s);
    add(`throughput c2 >= 1.7x c1 (${mode})`, '>= 1.7x', r, 'x', r !== null && r >= 1.7, `${t.c1.per_s}/s -> ${t.c2.per_s}/s`);
  }
  if (R.memory?.quickjs) {
    const v = R.memory.quickjs.per_instance_mib;
    add('<= 8 MiB resident per warm QuickJS instance', '<= 8 MiB', v, 'MiB', v <= 8, `bare worker thread: ${R.memory.bare_worker_threads?.per_instance_mib} MiB`);
  }
  return g;
}

R.goals = goals();
R.meta.total_seconds = round((performance.now() - started) / 1000, 1);
R.meta.loadavg_at_end = os.loadavg().map((x) => round(x, 2));

server.close();
await cleanup();

// A partial run (BENCH_ONLY) never replaces the committed figures.
const file = join(ROOT, ONLY ? 'node_modules/.cache/agentos-bench/results.partial.json' : 'bench/results.json');
await mkdir(join(file, '..'), { recursive: true });
await writeFile(file, JSON.stringify(R, null, 2) + '\n');
say(`wrote ${file}`);
if (!ONLY) {
  await writeReport(R, join(ROOT, 'BENCHMARKS.md'));
  say('wrote BENCHMARKS.md');
}
for (const g of R.goals) say(`${g.met ? 'met   ' : 'MISSED'} ${g.name}: ${g.value} ${g.unit} (${g.note})`);
