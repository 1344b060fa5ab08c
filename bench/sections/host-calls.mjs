// Host calls: the cost of one guarded fs or net call inside an invocation (against the trivial
// greet of the same invoker), the capabilities called directly, and the raw I/O for context.
import { DIST, GREET, SKILLS } from '../lib/env.mjs';
import { copySkill, invokerFor, makeStore } from '../lib/hosts.mjs';
import { latency } from '../lib/stats.mjs';

export const name = 'host_calls';

export async function run(ctx) {
  const { fsRoot, smallFile, smallContent, httpBody: HTTP_BODY, port, counted } = ctx.fixtures;
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
  const gapMs = ctx.results.host?.fresh_greet_paced?.gap_ms ?? 40;
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
  const callCtx = { signal: new AbortController().signal };
  const c1 = await fsCap.readFile(smallFile, callCtx);
  if (!c1.ok) throw new Error(`fs capability: ${JSON.stringify(c1.error)}`);
  const netReq = { method: 'GET', url: `http://127.0.0.1:${port}/`, headers: [] };
  const c2 = await netCap.fetch(netReq, callCtx);
  if (!c2.ok) throw new Error(`net capability: ${JSON.stringify(c2.error)}`);
  out.capability_fs_readFile = await latency(() => fsCap.readFile(smallFile, callCtx));
  out.capability_net_fetch = await counted(() => latency(() => netCap.fetch(netReq, callCtx)));
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
}
