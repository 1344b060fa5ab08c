/**
 * MCP over HTTP (issue 16) with the SDK's own client over real HTTP on loopback: bearer tokens
 * (401s, scopes, revocation at once, sessions bound to their token), concurrent sessions on one
 * invoker and one registry watch, callers in the audit and the usage figures, per-token limits,
 * the loopback rule, and the real CLI process ending cleanly on SIGTERM with calls in flight.
 *
 * Needs `npm run build` (the CLI from dist/) and the built example skills.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkillRegistry } from '../src/index.js';
import { InsecureListenError, isLoopbackHost, McpHttpServer, parseListen, startMcpHttpServer } from '../src/mcp/http.js';
import { copySkill, host, ROOT, SKILLS, type Host } from './helpers.js';

const MAIN = join(ROOT, 'dist/cli/main.js');
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function text(r: CallToolResult): string {
  const c = r.content[0];
  return c && c.type === 'text' ? c.text : '';
}

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'agentos-http-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

describe('MCP over HTTP, in process', () => {
  let h: Host;
  let server: McpHttpServer;
  const tokens: Record<string, string> = {};
  const clients: Client[] = [];
  let listCalls = 0;

  beforeAll(async () => {
    h = await host([await copySkill(SKILLS.hello), await copySkill(SKILLS.hostile)]);
    tokens.alice = h.registry.createToken('alice');
    tokens.bob = h.registry.createToken('bob', { skills: ['example.hello'] });
    tokens.carol = h.registry.createToken('carol', { skills: ['example.hello'] });
    tokens.dave = h.registry.createToken('dave');
    const list = h.registry.list.bind(h.registry);
    h.registry.list = () => {
      listCalls++;
      return list();
    };
    server = await startMcpHttpServer({
      registry: h.registry,
      loader: h.loader,
      invoker: h.invoker,
      host: '127.0.0.1',
      port: 0,
      limits: { maxConcurrent: 2, perMinute: 40 },
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await server?.close({ graceMs: 0 });
    await h?.close();
  });

  async function client(name: string): Promise<Client> {
    const c = await connect(server.url, tokens[name]!);
    clients.push(c);
    return c;
  }

  it('answers GET /healthz without a token', async () => {
    const r = await fetch(server.url.replace('/mcp', '/healthz'));
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true, tools: expect.any(Number) });
  });

  it.each([
    ['no Authorization header', undefined],
    ['an unknown token', 'aos_AAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a malformed token', 'hunter2'],
    ['the right token under Basic', 'Basic '],
    ['an empty bearer', ''],
  ])('refuses %s with 401', async (_label, auth) => {
    const headers: Record<string, string> = { ...HEADERS };
    if (auth === 'Basic ') headers.authorization = `Basic ${tokens.alice}`;
    else if (auth !== undefined) headers.authorization = `Bearer ${auth}`;
    const r = await fetch(server.url, { method: 'POST', headers, body: JSON.stringify(INIT) });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('a token sees every enabled skill; a scoped token sees and calls only its skills', async () => {
    const alice = await client('alice');
    const bob = await client('bob');
    const all = (await alice.listTools()).tools.map((t) => t.name);
    const scoped = (await bob.listTools()).tools.map((t) => t.name);
    expect(all).toContain('test_hostile__ok');
    expect(all).toContain('example_hello__greet');
    expect(scoped.length).toBeGreaterThan(0);
    expect(scoped.every((n) => n.startsWith('example_hello__'))).toBe(true);
    const r = (await bob.callTool({ name: 'example_hello__greet', arguments: { name: 'Bob' } })) as CallToolResult;
    expect(JSON.parse(text(r))).toEqual({ greeting: 'Hello, Bob!' });
    // Out of scope: the same answer as a tool that does not exist.
    await expect(bob.callTool({ name: 'test_hostile__ok', arguments: {} })).rejects.toThrow(McpError);
    await expect(bob.callTool({ name: 'test_hostile__ok', arguments: {} })).rejects.toThrow(/Unknown tool/);
  });

  it('serves many concurrent sessions on one invoker with every answer right, and one registry watch', async () => {
    // One token per agent (limits are per token: 2 at once here), half of them scoped.
    const names = Array.from({ length: 12 }, (_, i) => `agent-${i}`);
    for (const [i, n] of names.entries()) tokens[n] = h.registry.createToken(n, i % 2 ? {} : { skills: ['example.hello'] });
    const sessions = await Promise.all(names.map((n) => client(n)));
    const results = (
      await Promise.all(
        sessions.map(async (c, i) => {
          const got: (readonly [string, string])[] = [];
          for (const k of [0, 1, 2]) {
            const r = (await c.callTool({ name: 'example_hello__greet', arguments: { name: `${names[i]}-${k}` } })) as CallToolResult;
            got.push([text(r), `${names[i]}-${k}`] as const);
          }
          return got;
        }),
      )
    ).flat();
    expect(results).toHaveLength(36);
    for (const [got, name] of results) expect(JSON.parse(got)).toEqual({ greeting: `Hello, ${name}!` });
    expect(server.sessionCount).toBeGreaterThanOrEqual(12);
    // Idle with 12+ sessions open: the store is read by one watch (about once a second), not once per session.
    const before = listCalls;
    await new Promise((r) => setTimeout(r, 2500));
    expect(listCalls - before).toBeLessThanOrEqual(4);
  });

  it('stamps the caller on audit events and usage, and filters by it', async () => {
    const alice = await client('alice');
    const r = (await alice.callTool({ name: 'test_hostile__deny-escape', arguments: {} })) as CallToolResult;
    expect(text(r)).toMatch(/^PERMISSION_DENIED/);
    const [denied] = h.registry.auditEvents({ caller: 'alice', type: 'permission_denied', limit: 1 });
    expect(denied).toMatchObject({ caller: 'alice', skillId: 'test.hostile', command: 'deny-escape' });
    expect(h.registry.auditEvents({ caller: 'bob' }).every((e) => e.caller === 'bob')).toBe(true);
    h.invoker.flushUsage();
    const usage = h.registry.usageByCaller('bob');
    expect(usage.find((u) => u.skillId === 'example.hello')?.invocations).toBeGreaterThan(0);
    expect(h.registry.usageByCaller('alice').find((u) => u.skillId === 'test.hostile')?.failures).toBeGreaterThan(0);
  });

  it('a session belongs to the token that opened it', async () => {
    const init = await fetch(server.url, { method: 'POST', headers: { ...HEADERS, authorization: `Bearer ${tokens.alice}` }, body: JSON.stringify(INIT) });
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id');
    expect(sid).toBeTruthy();
    await init.body?.cancel();
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
    const other = await fetch(server.url, {
      method: 'POST',
      headers: { ...HEADERS, authorization: `Bearer ${tokens.bob}`, 'mcp-session-id': sid!, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify(list),
    });
    expect(other.status).toBe(404);
    await other.body?.cancel();
  });

  it('a revoked token is refused at its next request, from any process sharing the store', async () => {
    const dave = await client('dave');
    const ok = (await dave.callTool({ name: 'example_hello__greet', arguments: { name: 'Dave' } })) as CallToolResult;
    expect(ok.isError).toBeFalsy();
    const other = new SkillRegistry({ home: h.home });
    try {
      expect(other.revokeToken('dave')).toBe(true);
    } finally {
      other.close();
    }
    await expect(dave.callTool({ name: 'example_hello__greet', arguments: { name: 'Dave' } })).rejects.toThrow(/401|Unauthorized|invalid or revoked/i);
    await expect(connect(server.url, tokens.dave!)).rejects.toThrow(/401|Unauthorized|invalid or revoked/i);
    expect(h.registry.listTokens().map((t) => t.name)).not.toContain('dave');
  });

  it('refuses calls over a token\'s concurrent limit with RATE_LIMITED, audited', async () => {
    const alice = await client('alice');
    // spin runs to its 1 s deadline: two of them fill alice's two slots.
    const calls = [0, 1, 2].map(() => alice.callTool({ name: 'test_hostile__spin', arguments: {} }) as Promise<CallToolResult>);
    const results = await Promise.all(calls);
    const codes = results.map((r) => text(r).split(':')[0]).sort();
    expect(codes).toEqual(['RATE_LIMITED', 'TIMEOUT', 'TIMEOUT']);
    const refused = results.find((r) => text(r).startsWith('RATE_LIMITED'))!;
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ error: { code: 'RATE_LIMITED', limit: 'concurrent', max: 2, caller: 'alice' } });
    const [ev] = h.registry.auditEvents({ type: 'rate_limited', caller: 'alice', limit: 1 });
    expect(ev).toMatchObject({ caller: 'alice', skillId: 'test.hostile', command: 'spin', operation: 'concurrent' });
  });

  it('refuses calls over a token\'s per-minute limit with RATE_LIMITED, audited', async () => {
    const carol = await client('carol');
    const out: string[] = [];
    for (let i = 0; i < 41; i++) {
      const r = (await carol.callTool({ name: 'example_hello__greet', arguments: { name: `c${i}` } })) as CallToolResult;
      out.push(text(r));
    }
    expect(out.slice(0, 40).every((t) => t.startsWith('{'))).toBe(true);
    expect(out[40]).toMatch(/^RATE_LIMITED: caller 'carol' started 40 call\(s\) in the last minute/);
    expect(h.registry.auditEvents({ type: 'rate_limited', caller: 'carol' })[0]).toMatchObject({ operation: 'per_minute' });
  });
});

describe('listening address', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.1', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['example.com', false],
  ])('%s is loopback: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it('parses HOST:PORT and refuses anything else', () => {
    expect(parseListen('127.0.0.1:8790')).toEqual({ host: '127.0.0.1', port: 8790 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    for (const bad of ['8790', '127.0.0.1', '127.0.0.1:99999', ':80', 'a:b']) expect(() => parseListen(bad)).toThrow(/HOST:PORT/);
  });

  it('refuses plain HTTP beyond loopback unless told (TLS or insecureListen)', async () => {
    const h = await host([]);
    try {
      const base = { registry: h.registry, loader: h.loader, invoker: h.invoker, port: 0 };
      expect(() => new McpHttpServer({ ...base, host: '0.0.0.0' })).toThrow(InsecureListenError);
      expect(() => new McpHttpServer({ ...base, host: '0.0.0.0' })).toThrow(/--tls-cert.*--insecure-listen/);
      expect(() => new McpHttpServer({ ...base, host: '0.0.0.0', insecureListen: true })).not.toThrow();
    } finally {
      await h.close();
    }
  });
});

describe('agentos-skills mcp --listen (real process)', () => {
  let home: string;
  let token: string;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run 'npm run build' first`);
    const h = await host([await copySkill(SKILLS.hello), await copySkill(SKILLS.hostile)]);
    home = h.home;
    token = h.registry.createToken('ops');
    await h.close();
  });

  async function start(extra: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
    const child = spawn(process.execPath, [MAIN, 'mcp', '--home', home, '--listen', '127.0.0.1:0', ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no 'listening on' line within 20 s; stderr:\n${stderr}`)), 20_000);
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /listening on (\S+)/.exec(stderr);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before listening; stderr:\n${stderr}`)));
    });
    return { child, url, stderr: () => stderr };
  }

  function exited(child: ChildProcess): Promise<number | null> {
    if (child.exitCode !== null) return Promise.resolve(child.exitCode);
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  it('on SIGTERM, a call in flight past the grace period ends as a CLOSED tool result, then the process exits 0', async () => {
    const { child, url, stderr } = await start(['--grace-ms', '100']);
    const client = await connect(url, token);
    const call = client.callTool({ name: 'test_hostile__spin', arguments: {} }) as Promise<CallToolResult>;
    await new Promise((r) => setTimeout(r, 400));
    child.kill('SIGTERM');
    const r = await call;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^CLOSED: /);
    expect(await exited(child)).toBe(0);
    expect(stderr()).toMatch(/shutting down: SIGTERM/);
    await client.close().catch(() => {});
  });

  it('on SIGTERM, a call in flight within the grace period finishes with its own result, then the process exits 0', async () => {
    const { child, url } = await start(['--grace-ms', '8000']);
    const client = await connect(url, token);
    const call = client.callTool({ name: 'test_hostile__spin', arguments: {} }) as Promise<CallToolResult>;
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    const r = await call;
    // spin's own end: its 1 s deadline, a typed TIMEOUT result.
    expect(text(r)).toMatch(/^TIMEOUT: /);
    expect(await exited(child)).toBe(0);
    // New connections are refused once shutting down.
    await expect(connect(url, token)).rejects.toThrow();
    await client.close().catch(() => {});
  });

  it('refuses a non-loopback address without TLS as a usage error', async () => {
    const child = spawn(process.execPath, [MAIN, 'mcp', '--home', home, '--listen', '0.0.0.0:0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await exited(child)).toBe(2);
    expect(stderr).toMatch(/not a loopback address.*--insecure-listen/s);
  });
});
