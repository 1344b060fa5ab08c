#!/usr/bin/env node
// One-off probe (not part of `npm run bench`): how long a capability call takes *inside* an
// invocation (timed around the invoker's own capability object) against the same call in a loop
// on the main thread, for fs read-file, net fetch to a loopback server, and net fetch with an
// injected fetch that answers at once (no socket). Needs dist/ and the example skills built.
//   node bench/probe-hostcall.mjs [iterations=2000]
import http from 'node:http';
import { realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SKILLS } from './lib/env.mjs';
import { cleanup, copySkill, invokerFor, makeStore, tempDir } from './lib/hosts.mjs';

const N = Number(process.argv[2] ?? 2000);
const median = (a) => Math.round([...a].sort((x, y) => x - y)[a.length >> 1] * 10) / 10;
const now = () => performance.now() * 1000; // µs

const server = http.createServer((q, s) => {
  s.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
  s.end('ok');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const root = await realpath(await tempDir('agentos-probe-'));
const file = join(root, 'small.txt');
await writeFile(file, 'a small file for the fs host-call benchmark\n');
const filesDir = await copySkill(SKILLS.files, (m) => void (m.requires.permissions.fs.paths = [root]));
const fetchDir = await copySkill(SKILLS.fetch, (m) => void (m.requires.permissions.net.allow_domains = [`http://127.0.0.1:${port}`]));
const store = await makeStore([filesDir, fetchDir], { hostPolicy: { allowPrivateNetworks: true } });

async function probe(name, invokerOpts, skillId, command, args, capName, method, direct) {
  const inv = invokerFor(store, { reuseInstances: true, ...invokerOpts });
  await inv.invoke(skillId, command, args);
  // The invoker's per-skill capabilities (a private map; best effort).
  const caps = [...inv.caps.values()].find((c) => c[capName]);
  const cap = caps[capName];
  const orig = cap[method].bind(cap);
  const inside = [];
  cap[method] = async (...a) => {
    const t = now();
    const r = await orig(...a);
    inside.push(now() - t);
    return r;
  };
  for (let i = 0; i < 200; i++) await inv.invoke(skillId, command, args);
  inside.length = 0;
  const lat = [];
  for (let i = 0; i < N; i++) {
    const t = now();
    await inv.invoke(skillId, command, args);
    lat.push(now() - t);
  }
  const loop = [];
  for (let i = 0; i < N; i++) {
    const t = now();
    await direct(orig);
    loop.push(now() - t);
  }
  await inv.close();
  console.log(JSON.stringify({ probe: name, invoke_median_us: median(lat), capability_inside_invoke_median_us: median(inside), capability_in_a_loop_median_us: median(loop) }));
}

const ctx = () => ({ signal: new AbortController().signal });
const netReq = { method: 'GET', url: `http://127.0.0.1:${port}/`, headers: [{ name: 'user-agent', value: 'agentos-skill-example/1.0' }] };
const fetchArgs = { domain: `127.0.0.1:${port}`, scheme: 'http', path: '/' };
await probe('fs read-file', {}, 'example.files', 'cmd', { operation: 'read', path: file }, 'fs', 'readFile', (f) => f(file, ctx()));
await probe('net fetch, loopback', {}, 'example.fetch', 'fetch', fetchArgs, 'net', 'fetch', (f) => f(netReq, ctx()));
const instant = async () => new Response('ok', { status: 200, headers: { 'content-type': 'text/plain' } });
await probe('net fetch, injected instant fetch', { fetch: instant }, 'example.fetch', 'fetch', fetchArgs, 'net', 'fetch', (f) => f(netReq, ctx()));
store.registry.close();
server.close();
await cleanup();
