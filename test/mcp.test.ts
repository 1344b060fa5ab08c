/**
 * The MCP server: tool naming and schemas (pure), the server in process over the SDK's
 * in-memory transport (name collisions between real skills), and the real
 * `node dist/cli/main.js mcp` process driven by the SDK's own Client over stdio.
 *
 * Needs `npm run build` (the CLI from dist/) and the built example skills.
 */
import { existsSync, readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SkillRegistry } from '../src/index.js';
import { createMcpServer, errorResult, successResult } from '../src/mcp/server.js';
import { assignToolNames, baseToolName, MAX_TOOL_NAME, skillTools, TOOL_NAME_RE, toInputSchema, toolNameKey } from '../src/mcp/tools.js';
import { copySkill, host, removeTempDirs, ROOT, SKILLS, tempDir, type Host } from './helpers.js';

afterAll(removeTempDirs);

const MAIN = join(ROOT, 'dist/cli/main.js');

function text(r: CallToolResult): string {
  const first = r.content[0];
  return first && first.type === 'text' ? first.text : '';
}

// ---------------------------------------------------------------------------------------------

describe('tool names', () => {
  const names = (keys: [string, string][]) => {
    const m = assignToolNames(keys.map(([skillId, command]) => ({ skillId, command })));
    return keys.map(([s, c]) => m.get(toolNameKey(s, c)));
  };

  it('maps <id>.<command> to <id with dots as underscores>__<command>', () => {
    expect(baseToolName('example.hello', 'greet')).toBe('example_hello__greet');
    expect(names([['example.hello', 'greet'], ['example.hello', 'echo'], ['test.hostile', 'deny-swallow']])).toEqual([
      'example_hello__greet',
      'example_hello__echo',
      'test_hostile__deny-swallow',
    ]);
  });

  it('suffixes every member of a collision with a hash of its own id and command', () => {
    const [a, b, c] = names([['a.b', 'run'], ['a_b', 'run'], ['a.b', 'other']]);
    expect(a).toMatch(/^a_b__run_[0-9a-f]{8}$/);
    expect(b).toMatch(/^a_b__run_[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(c).toBe('a_b__other');
    // Deterministic: the same name whatever the order the skills come in.
    const [b2, a2] = names([['a_b', 'run'], ['a.b', 'run']]);
    expect([a2, b2]).toEqual([a, b]);
  });

  it('resolves a name crafted to equal another tool\'s suffixed name', () => {
    const [a] = names([['x.y', 'go'], ['x_y', 'go']]);
    const crafted = a!.slice('x_y__'.length); // go_<hash>
    const all = names([['x.y', 'go'], ['x_y', 'go'], ['x_y', crafted]]);
    expect(new Set(all).size).toBe(3);
    for (const n of all) expect(n).toMatch(TOOL_NAME_RE);
  });

  it('shortens names over 64 characters with a hash, keeping them distinct', () => {
    const id = `${'very.long.skill.identifier.'.repeat(4)}x`;
    const [one, two] = names([[id, 'first-command-with-a-long-name'], [id, 'first-command-with-a-long-name-2']]);
    expect(one!.length).toBeLessThanOrEqual(MAX_TOOL_NAME);
    expect(two!.length).toBeLessThanOrEqual(MAX_TOOL_NAME);
    expect(one).toMatch(TOOL_NAME_RE);
    expect(one).not.toBe(two);
    expect(one!.startsWith('very_long_skill_identifier_')).toBe(true);
  });

  it('gives every pair of a large random-ish set a unique valid name', () => {
    const keys: [string, string][] = [];
    for (let i = 0; i < 200; i++) keys.push([`s${i % 7}.${'a'.repeat(i % 90)}`, `c${i % 3}`], [`s${i % 7}_${'a'.repeat(i % 90)}`, `c${i % 3}`]);
    const unique = [...new Map(keys.map((k) => [k.join('\n'), k])).values()];
    const all = names(unique);
    expect(new Set(all).size).toBe(unique.length);
    for (const n of all) expect(n).toMatch(TOOL_NAME_RE);
  });
});

describe('tool definitions', () => {
  it('makes an object schema out of no schema, and never edits the manifest', () => {
    expect(toInputSchema(undefined)).toEqual({ type: 'object', properties: {} });
    const args = { properties: { a: true, b: false, c: { type: 'string' } }, required: ['c'] };
    const copy = structuredClone(args);
    expect(toInputSchema(args)).toEqual({ type: 'object', properties: { a: {}, b: { not: {} }, c: { type: 'string' } }, required: ['c'] });
    expect(args).toEqual(copy);
  });

  it('turns the manifest into descriptions, schemas and hints', () => {
    const skill = (id: string, permissions: Record<string, unknown>, commands: Record<string, unknown>) =>
      ({
        id,
        version: '1.0.0',
        componentHash: 'h',
        manifest: { id, name: id.toUpperCase(), version: '1.0.0', description: `skill ${id}`, component: 'c', commands, requires: { permissions, limits: {} } },
      }) as never;
    const tools = skillTools([
      skill('w.net', { net: { allow_domains: ['api.example.com'] } }, { get: { description: ' GET it ' } }),
      skill('r.fs', { fs: { read: true, write: false, paths: ['/tmp'] } }, { read: {} }),
      skill('w.fs', { fs: { read: true, write: true, paths: ['/tmp'] } }, { write: {} }),
    ]);
    const by = Object.fromEntries(tools.map((t) => [t.name, t.definition]));
    expect(Object.keys(by)).toEqual(['r_fs__read', 'w_fs__write', 'w_net__get']);
    expect(by['w_net__get']).toMatchObject({ description: 'GET it', title: 'W.NET: get', annotations: { readOnlyHint: false, openWorldHint: true } });
    expect(by['r_fs__read']).toMatchObject({ description: 'skill r.fs', annotations: { readOnlyHint: true, openWorldHint: false } });
    expect(by['w_fs__write']).toMatchObject({ annotations: { readOnlyHint: false, openWorldHint: false } });
  });

  it('shapes results and typed errors', () => {
    expect(successResult({ a: 1 })).toEqual({ content: [{ type: 'text', text: '{"a":1}' }], structuredContent: { a: 1 } });
    expect(successResult([1, 2])).toEqual({ content: [{ type: 'text', text: '[1,2]' }] });
    expect(successResult(null)).toEqual({ content: [{ type: 'text', text: 'null' }] });
    const r = errorResult(new Error('boom'));
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^INTERNAL: boom/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('MCP server in process', () => {
  let h: Host;
  let client: Client;

  beforeAll(async () => {
    // Two skills whose ids map to the same tool names: dup.hello and dup_hello.
    const a = await copySkill(SKILLS.hello, (m) => {
      m.id = 'dup.hello';
    });
    const b = await copySkill(SKILLS.hello, (m) => {
      m.id = 'dup_hello';
      m.commands.greet.description = 'the other greeter';
    });
    h = await host([a, b, SKILLS.hostile]);
    const server = createMcpServer({ registry: h.registry, loader: h.loader, invoker: h.invoker, pollIntervalMs: 0 });
    await server.refresh();
    const [ct, st] = InMemoryTransport.createLinkedPair();
    await server.connect(st);
    client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(ct);
  });
  afterAll(async () => {
    await client?.close();
    await h?.close();
  });

  it('disambiguates colliding skills deterministically and routes each call to its own skill', async () => {
    const { tools } = await client.listTools();
    const greets = tools.filter((t) => t.name.startsWith('dup_hello__greet'));
    expect(greets).toHaveLength(2);
    for (const t of tools) expect(t.name).toMatch(TOOL_NAME_RE);
    expect(new Set(tools.map((t) => t.name)).size).toBe(tools.length);
    const other = greets.find((t) => t.description === 'the other greeter')!;
    expect(other.name).toBe(assignToolNames([{ skillId: 'dup.hello', command: 'greet' }, { skillId: 'dup_hello', command: 'greet' }]).get(toolNameKey('dup_hello', 'greet')));

    const r = (await client.callTool({ name: other.name, arguments: { name: 'Bo' } })) as CallToolResult;
    expect(r.structuredContent).toEqual({ greeting: 'Hello, Bo!' });
    expect(h.invoker.usage('dup_hello')?.invocations).toBe(1);
    expect(h.invoker.usage('dup.hello')).toBeUndefined();
  });

  it("passes the request's AbortSignal to invoke: a cancelled call stops the skill", async () => {
    // Warm up first: an abort that lands while the pool is still starting the skill's worker
    // is not handled by the invoker (reported separately), so abort only once it is running.
    expect(((await client.callTool({ name: 'test_hostile__ok', arguments: {} })) as CallToolResult).isError).toBeFalsy();
    await new Promise((r) => setTimeout(r, 1000));
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 300);
    await expect(client.callTool({ name: 'test_hostile__spin', arguments: {} }, undefined, { signal: ac.signal })).rejects.toThrow();
    await expect.poll(() => h.invoker.usage('test.hostile')?.failures, { timeout: 5000 }).toEqual({ ABORTED: 1 });
    expect(Date.now() - t0).toBeLessThan(1000); // before the skill's own 1000 ms timeout
    const r = (await client.callTool({ name: 'test_hostile__ok', arguments: { still: 'here' } })) as CallToolResult;
    expect(r.structuredContent).toEqual({ still: 'here' });
  });
});

// ---------------------------------------------------------------------------------------------

interface Session {
  client: Client;
  transport: StdioClientTransport;
  child: ChildProcess;
  stderr: () => string;
  errors: Error[];
  /** Resolves at the next tools/list_changed notification after this call. */
  nextListChanged(timeoutMs?: number): Promise<void>;
}

async function connect(home: string, extraArgs: string[] = []): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MAIN, 'mcp', '--home', home, ...extraArgs],
    stderr: 'pipe',
    cwd: ROOT,
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const errors: Error[] = [];
  const client = new Client({ name: 'agentos-test', version: '1.0.0' });
  client.onerror = (e) => errors.push(e);
  const waiters: (() => void)[] = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    for (const w of waiters.splice(0)) w();
  });
  await client.connect(transport);
  const child = (transport as unknown as { _process: ChildProcess })._process;
  return {
    client,
    transport,
    child,
    stderr: () => stderr,
    errors,
    nextListChanged(timeoutMs = 15_000) {
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no tools/list_changed within ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}

/** Exit status, once the process has exited and its stdio is drained. */
function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const status = () => ({ code: child.exitCode, signal: child.signalCode });
  if ((child.exitCode !== null || child.signalCode !== null) && child.stdout?.destroyed !== false) return Promise.resolve(status());
  return new Promise((resolve) => child.once('close', () => resolve(status())));
}

/**
 * One store for every spawned server (its prepared-component cache is then warm after the first):
 * hello, fetch and hostile installed and enabled, files installed but not enabled.
 */
let store: Promise<{ home: string; fsRoot: string }> | undefined;
function sharedStore(): Promise<{ home: string; fsRoot: string }> {
  store ??= (async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run 'npm run build' first`);
    const home = await tempDir('agentos-mcp-home-');
    const fsRoot = await tempDir('agentos-mcp-root-');
    const files = await copySkill(SKILLS.files, (m) => {
      m.requires.permissions.fs = { read: true, write: true, paths: [fsRoot] };
    });
    const registry = new SkillRegistry({ home });
    try {
      for (const dir of [await copySkill(SKILLS.hello), await copySkill(SKILLS.fetch), await copySkill(SKILLS.hostile)]) {
        registry.enable((await registry.install(dir)).id);
      }
      await registry.install(files); // installed, not enabled: enabled while a server runs
    } finally {
      registry.close();
    }
    return { home, fsRoot };
  })();
  return store;
}

describe('agentos-skills mcp (real process over stdio)', () => {
  let home: string;
  let fsRoot: string;
  let s: Session;

  beforeAll(async () => {
    ({ home, fsRoot } = await sharedStore());
    s = await connect(home);
  });
  afterAll(async () => {
    await s?.client.close().catch(() => {});
  });

  it('lists one tool per command of each enabled skill, with descriptions, schemas and hints', async () => {
    const { tools } = await s.client.listTools();
    const names = tools.map((t) => t.name);
    // One tool per command, in manifest order, for each enabled skill (ids sorted).
    const expected: string[] = [];
    for (const dir of [SKILLS.fetch, SKILLS.hello, SKILLS.hostile]) {
      const m = parseYaml(readFileSync(join(dir, 'skill.yaml'), 'utf8')) as { id: string; commands: Record<string, unknown> };
      for (const cmd of Object.keys(m.commands)) expected.push(`${m.id.replace(/\./g, '_')}__${cmd}`);
    }
    expect(names).toEqual(expected);
    expect(names).toContain('test_hostile__deny-escape');
    const by = Object.fromEntries(tools.map((t) => [t.name, t])) as Record<string, Tool>;
    expect(by['example_hello__greet']).toMatchObject({
      description: 'Say hello to someone',
      inputSchema: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
        additionalProperties: false,
      },
      annotations: { title: 'Hello: greet', readOnlyHint: true, openWorldHint: false },
    });
    expect(by['example_fetch__fetch']).toMatchObject({ annotations: { readOnlyHint: false, openWorldHint: true } });
    expect(by['test_hostile__spin']!.inputSchema).toEqual({ type: 'object', properties: {} });
    expect(s.client.getServerCapabilities()?.tools).toEqual({ listChanged: true });
  });

  it('calls a tool: the JSON result as text and as structuredContent', async () => {
    const r = (await s.client.callTool({ name: 'example_hello__greet', arguments: { name: 'Ada' } })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(JSON.parse(text(r))).toEqual({ greeting: 'Hello, Ada!' });
    expect(r.structuredContent).toEqual({ greeting: 'Hello, Ada!' });
  });

  it('returns a denied call as isError with PERMISSION_DENIED, and audits it', async () => {
    const r = (await s.client.callTool({ name: 'example_fetch__fetch', arguments: { domain: 'evil.com' } })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^PERMISSION_DENIED: net /);
    expect(text(r)).toContain('evil.com');
    expect(text(r)).toContain('ask the operator');
    expect(r.structuredContent).toMatchObject({ error: { code: 'PERMISSION_DENIED', capability: 'net', skillId: 'example.fetch' } });
    const registry = new SkillRegistry({ home });
    try {
      const [ev] = registry.auditEvents({ skillId: 'example.fetch', type: 'permission_denied', limit: 1 });
      expect(ev?.target).toContain('evil.com');
    } finally {
      registry.close();
    }
  });

  it('a denial the skill swallowed is still PERMISSION_DENIED', async () => {
    const r = (await s.client.callTool({ name: 'test_hostile__deny-swallow', arguments: {} })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^PERMISSION_DENIED: fs /);
  });

  it('returns invalid arguments as isError with INVALID_ARGUMENTS', async () => {
    const r = (await s.client.callTool({ name: 'example_hello__greet', arguments: { name: 5 } })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^INVALID_ARGUMENTS: .*\/name/);
    expect(text(r)).toContain('inputSchema');
    const missing = (await s.client.callTool({ name: 'example_hello__greet', arguments: {} })) as CallToolResult;
    expect(text(missing)).toMatch(/^INVALID_ARGUMENTS: .*\/name is required/);
  });

  it('returns a timed-out call as isError with TIMEOUT, and keeps serving', async () => {
    const t0 = Date.now();
    const r = (await s.client.callTool({ name: 'test_hostile__spin', arguments: {} })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^TIMEOUT: .*1000 ms/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const after = (await s.client.callTool({ name: 'example_hello__greet', arguments: { name: 'again' } })) as CallToolResult;
    expect(after.structuredContent).toEqual({ greeting: 'Hello, again!' });
    const trap = (await s.client.callTool({ name: 'test_hostile__trap', arguments: {} })) as CallToolResult;
    expect(text(trap)).toMatch(/^EXECUTION_ERROR: /);
  });

  it('answers an unknown tool with a protocol error (-32602)', async () => {
    const err = await s.client.callTool({ name: 'no_such__tool', arguments: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(ErrorCode.InvalidParams);
    expect((err as McpError).message).toContain('no_such__tool');
  });

  it('picks up a skill enabled (then disabled) by another process, with tools/list_changed', async () => {
    const changed = s.nextListChanged();
    const other = new SkillRegistry({ home });
    try {
      other.enable('example.files');
    } finally {
      other.close();
    }
    await changed;
    const { tools } = await s.client.listTools();
    const cmd = tools.find((t) => t.name === 'example_files__cmd');
    expect(cmd).toMatchObject({ description: 'One file operation on an absolute path', annotations: { readOnlyHint: false, openWorldHint: false } });

    const path = join(fsRoot, 'note.txt');
    const w = (await s.client.callTool({ name: 'example_files__cmd', arguments: { operation: 'write', path, content: 'from mcp' } })) as CallToolResult;
    expect(w.isError).toBeFalsy();
    const r = (await s.client.callTool({ name: 'example_files__cmd', arguments: { operation: 'read', path } })) as CallToolResult;
    expect(r.structuredContent).toMatchObject({ content: 'from mcp' });

    const gone = s.nextListChanged();
    const again = new SkillRegistry({ home });
    try {
      again.disable('example.files');
    } finally {
      again.close();
    }
    await gone;
    expect((await s.client.listTools()).tools.map((t) => t.name)).not.toContain('example_files__cmd');
    const err = await s.client.callTool({ name: 'example_files__cmd', arguments: { operation: 'read', path } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
  });

  it('wrote nothing but protocol to stdout', () => {
    expect(s.errors).toEqual([]);
  });

  it('exits by itself when the client closes', async () => {
    const done = exited(s.child);
    // The SDK's client ends the server's stdin, and sends SIGTERM only if the process is still
    // there 2 s later: the stderr line tells which of the two ended it.
    await s.client.close();
    expect(await done).toEqual({ code: 0, signal: null });
    expect(s.stderr()).toContain('shutting down: stdin ended');
    expect(s.stderr()).not.toContain('SIGTERM');
  });
});

describe('agentos-skills mcp: phase and signals', () => {
  let home: string;

  beforeAll(async () => {
    ({ home } = await sharedStore());
  });

  it('--phase planning lists the tools but refuses every call with PHASE_VIOLATION', async () => {
    const s = await connect(home, ['--phase', 'planning']);
    try {
      expect((await s.client.listTools()).tools.map((t) => t.name)).toContain('example_hello__greet');
      const r = (await s.client.callTool({ name: 'example_hello__greet', arguments: { name: 'Ada' } })) as CallToolResult;
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/^PHASE_VIOLATION: /);
    } finally {
      await s.client.close();
    }
  });

  it('answers the requests already received when stdin ends, with nothing but JSON-RPC on stdout', async () => {
    const child = spawn(process.execPath, [MAIN, 'mcp', '--home', home], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = exited(child);
    const send = (m: object) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'pipe', version: '1' } } });
    send({ method: 'notifications/initialized' });
    send({ id: 2, method: 'tools/call', params: { name: 'example_hello__greet', arguments: { name: 'Pipe' } } });
    send({ id: 3, method: 'tools/call', params: { name: 'example_hello__greet', arguments: {} } });
    child.stdin.end();
    expect(await done).toEqual({ code: 0, signal: null });
    const lines = stdout.split('\n').filter((l) => l !== '');
    const messages = lines.map((l) => JSON.parse(l) as { id?: number; result?: CallToolResult });
    for (const m of messages) expect(m).toMatchObject({ jsonrpc: '2.0' });
    const byId = new Map(messages.filter((m) => m.id !== undefined).map((m) => [m.id, m.result]));
    expect(byId.get(2)?.structuredContent).toEqual({ greeting: 'Hello, Pipe!' });
    expect(byId.get(3)?.isError).toBe(true);
    expect(stderr).toContain('shutting down: stdin ended');
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`shuts down cleanly on ${sig}`, async () => {
      const s = await connect(home);
      const r = (await s.client.callTool({ name: 'example_hello__echo', arguments: { x: [1, 'two'] } })) as CallToolResult;
      expect(r.structuredContent).toEqual({ x: [1, 'two'] });
      const done = exited(s.child);
      s.child.kill(sig);
      expect(await done).toEqual({ code: 0, signal: null });
      expect(s.stderr()).toContain(`shutting down: ${sig}`);
      await s.client.close().catch(() => {});
    });
  }
});
