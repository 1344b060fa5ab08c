// Peers doing the same work here: Extism's JS SDK (a WAT plugin, no JS engine inside) in the
// foreground and in worker mode, and isolated-vm running the hello skill's JS logic. Each is
// reported as skipped when it is not installed (isolated-vm lives in bench/peers).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { FIXTURES, PEERS, ROOT } from '../lib/env.mjs';
import { withoutPromisingStub } from '../lib/promising.mjs';
import { latency } from '../lib/stats.mjs';

const ECHO_INPUT = '{"a":1,"b":"two"}';

export const name = 'peers';

export async function run(ctx) {
  // Extism reads WebAssembly.promising when it is imported and takes JSPI to be present if it is
  // a function: hide the bench's stub from it.
  return withoutPromisingStub(async () => ({
    extism: await extismPeer(ctx.fixtures),
    isolated_vm: await isolatedVmPeer(),
  }));
}

async function loadExtism() {
  try {
    return await import('@extism/extism');
  } catch (e) {
    return { error: `@extism/extism is not installed (${e.code ?? e.message}); npm install -D @extism/extism@2.0.0-rc13` };
  }
}

/** `ctx`: the shared fixtures (lib/fixtures.mjs): { smallFile, smallContent, fsRoot, port, httpBody }. */
export async function extismPeer(ctx, opts = {}) {
  const ext = await loadExtism();
  if (ext.error) return { skipped: ext.error };
  const { parse } = await import('@bytecodealliance/jco');
  const wasm = await parse(await readFile(join(FIXTURES, 'extism/plugin.wat'), 'utf8'));
  const createPlugin = ext.createPlugin ?? ext.default;
  const root = ctx.fsRoot;
  const functions = {
    'extism:host/user': {
      // The same check the fs guard starts with (inside the root), then the read.
      async read_file(cp, addr) {
        const p = cp.read(addr).text();
        if (!p.startsWith(root + '/')) throw new Error(`denied: ${p}`);
        return cp.store(await readFile(p));
      },
    },
  };
  const out = { version: JSON.parse(await readFile(join(ROOT, 'node_modules/@extism/extism/package.json'), 'utf8')).version };
  const fg = await createPlugin({ wasm: [{ data: wasm }] }, { useWasi: false, functions: { 'extism:host/user': { read_file: (cp, a) => cp.store(new Uint8Array(0)) } } });
  const check = (await fg.call('echo', ECHO_INPUT))?.text();
  if (check !== ECHO_INPUT) throw new Error(`extism echo returned ${check}`);
  out.foreground_echo = await latency(() => fg.call('echo', ECHO_INPUT), opts);
  await fg.close();

  const bg = await createPlugin(
    { wasm: [{ data: wasm }] },
    { useWasi: false, runInWorker: true, allowedHosts: ['127.0.0.1'], functions, timeoutMs: 5000 },
  );
  out.worker_echo = await latency(() => bg.call('echo', ECHO_INPUT), opts);
  const rd = (await bg.call('read', ctx.smallFile))?.text();
  if (rd !== ctx.smallContent) throw new Error(`extism read returned ${rd}`);
  out.worker_host_fn_read = await latency(() => bg.call('read', ctx.smallFile), opts);
  const req = JSON.stringify({ url: `http://127.0.0.1:${ctx.port}/`, method: 'GET', headers: {} });
  const got = (await bg.call('http', req))?.text();
  if (got !== ctx.httpBody) throw new Error(`extism http returned ${got}`);
  out.worker_http = await latency(() => bg.call('http', req), opts);
  await bg.close();
  return out;
}

async function loadIvm() {
  // bench/peers holds it (a native addon compiled from source, kept out of the main install).
  const require = createRequire(join(PEERS, 'package.json'));
  try {
    return require('isolated-vm');
  } catch (e) {
    return { error: `isolated-vm is not installed (${e.code ?? e.message}); npm install --prefix bench/peers` };
  }
}

export async function isolatedVmPeer(opts = {}) {
  const ivm = await loadIvm();
  if (ivm.error) return { skipped: ivm.error };
  const src = await readFile(join(FIXTURES, 'isolated-vm-greet.js'), 'utf8');
  const iso = new ivm.Isolate({ memoryLimit: 32 });
  const script = iso.compileScriptSync(src);
  const context = iso.createContextSync();
  const fn = script.runSync(context, { reference: true });
  const args = ['greet', '{"name":"Ada"}'];
  const check = fn.applySync(undefined, args);
  if (check !== '{"greeting":"Hello, Ada!"}') throw new Error(`isolated-vm greet returned ${check}`);
  const out = { version: require_(ivm) };
  out.sync_greet = await latency(() => fn.applySync(undefined, args), opts);
  out.async_greet = await latency(() => fn.apply(undefined, args), opts);
  // The analog of a fresh instance per invocation: a new context for every call.
  out.fresh_context_greet = await latency(() => {
    const c = iso.createContextSync();
    const f = script.runSync(c, { reference: true });
    const r = f.applySync(undefined, args);
    f.release();
    c.release();
    return r;
  }, opts);
  fn.release();
  context.release();
  const heap = iso.getHeapStatisticsSync();
  out.isolate_heap_mib = Math.round((heap.total_heap_size / 2 ** 20) * 10) / 10;
  iso.dispose();
  return out;
}

function require_(ivm) {
  try {
    return createRequire(join(PEERS, 'package.json'))('isolated-vm/package.json').version;
  } catch {
    return 'unknown';
  }
}
