// MCP over HTTP (issue 16): N concurrent Streamable HTTP sessions (the SDK's own client, each with
// its own bearer token, over loopback) calling hello.greet with distinct names for a fixed time,
// on one McpHttpServer (one invoker, one registry watch). Throughput, latency percentiles, and
// wrong answers (must be 0). Runs alone too: node bench/sections/mcp-http.mjs
import { pathToFileURL } from 'node:url';
import { DIST, SKILLS } from '../lib/env.mjs';
import { cleanup, copySkill, invokerFor, makeStore } from '../lib/hosts.mjs';
import { BUDGET_MS } from '../lib/stats.mjs';

export const name = 'mcp-http';

const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { startMcpHttpServer } = await import(`${DIST}/mcp/http.js`);

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null;
}

async function round(store, sessions, ms) {
  const invoker = invokerFor(store);
  const server = await startMcpHttpServer({
    registry: store.registry,
    loader: store.loader,
    invoker,
    host: '127.0.0.1',
    port: 0,
    limits: { maxConcurrent: 64, perMinute: 1_000_000 },
  });
  const clients = [];
  try {
    for (let i = 0; i < sessions; i++) {
      const token = store.registry.createToken(`bench-${sessions}-${i}`);
      const c = new Client({ name: 'bench', version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      clients.push(c);
    }
    // Warm-up: one call per session.
    await Promise.all(clients.map((c) => c.callTool({ name: 'example_hello__greet', arguments: { name: 'warm' } })));
    const lat = [];
    let wrong = 0;
    const end = performance.now() + ms;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; performance.now() < end; k++) {
          const who = `s${i}-${k}`;
          const t = performance.now();
          const r = await c.callTool({ name: 'example_hello__greet', arguments: { name: who } });
          lat.push(performance.now() - t);
          const text = r.content?.[0]?.text;
          if (r.isError || text !== JSON.stringify({ greeting: `Hello, ${who}!` })) wrong++;
        }
      }),
    );
    const elapsed = performance.now() - t0;
    lat.sort((a, b) => a - b);
    const r2 = (x) => (x === null ? null : Math.round(x * 100) / 100);
    return { sessions, calls: lat.length, wrong, calls_per_s: Math.round((lat.length / elapsed) * 1000), p50_ms: r2(pct(lat, 50)), p99_ms: r2(pct(lat, 99)), max_ms: r2(lat.at(-1) ?? null) };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await server.close({ graceMs: 0 });
  }
}

export async function run() {
  const store = await makeStore([await copySkill(SKILLS.hello)]);
  const out = { what: 'N concurrent MCP Streamable HTTP sessions (SDK client, one token each, loopback) calling hello.greet back to back; one server process, one invoker', rounds: [] };
  try {
    for (const n of [1, 8, 32]) out.rounds.push(await round(store, n, Math.max(BUDGET_MS, 1000)));
  } finally {
    store.registry.close();
  }
  out.wrong_answers = out.rounds.reduce((a, r) => a + r.wrong, 0);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    console.log(JSON.stringify(await run(), null, 2));
  } finally {
    await cleanup();
  }
}
