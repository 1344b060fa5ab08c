/**
 * The whole host, end to end, with real components built by the real build step
 * (`npm test` builds the example skills first), real worker threads, real SQLite, real files
 * and real HTTP on loopback. Each of the seed runtime's examples and exceptions, in order.
 */
import { once } from 'node:events';
import { chmod, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommandNotFoundError,
  IntegrityError,
  InvalidArgumentsError,
  ManifestError,
  PermissionDeniedError,
  PhaseViolationError,
  PolicyViolationError,
  SkillExecutionError,
  SkillInvoker,
  SkillLoader,
  SkillModuleNotFoundError,
  SkillNotEnabledError,
  SkillRegistry,
  SkillTimeoutError,
} from '../src/index.js';
import type { FetchLike } from '../src/capabilities/types.js';
import { copySkill, host, removeTempDirs, SKILLS, tempDir, type Host } from './helpers.js';

afterAll(removeTempDirs);

/** A loopback HTTP server that counts what reaches it. */
async function countingServer(body = 'hello from loopback'): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.headers.host}${req.url}`);
    res.setHeader('content-type', 'text/plain');
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { server, port, hits };
}

/** The `fetch` seam: a fake far internet that records every request it is asked for. */
function fakeInternet(): { fetch: FetchLike; seen: string[] } {
  const seen: string[] = [];
  const fetch: FetchLike = async (url, init) => {
    seen.push(`${init.method} ${url}`);
    return new Response(`<html>${new URL(url).hostname}</html>`, { status: 200, headers: { 'content-type': 'text/html' } });
  };
  return { fetch, seen };
}

describe('seed examples', () => {
  let h: Host;
  let fsRoot: string;
  const internet = fakeInternet();

  beforeAll(async () => {
    fsRoot = await tempDir('agentos-root-');
    const files = await copySkill(SKILLS.files, (m) => {
      m.requires.permissions.fs = { read: true, write: true, paths: [fsRoot] };
    });
    h = await host([SKILLS.hello, SKILLS.fetch, files], { fetch: internet.fetch });
  });
  afterAll(() => h.close());

  it('greets (no permissions)', async () => {
    await expect(h.invoker.invoke('example.hello', 'greet', { name: 'Ada' })).resolves.toEqual({ greeting: 'Hello, Ada!' });
  });

  it('fetches an allowed domain through the injected transport', async () => {
    const out = (await h.invoker.invoke('example.fetch', 'fetch', { domain: 'api.github.com' })) as { status: number; body: string };
    expect(out.status).toBe(200);
    expect(out.body).toContain('api.github.com');
    expect(internet.seen).toContain('GET https://api.github.com/');
  });

  it('fetches a wildcard-allowed subdomain', async () => {
    const out = (await h.invoker.invoke('example.fetch', 'fetch', { domain: 'docs.example.com' })) as { status: number };
    expect(out.status).toBe(200);
  });

  it('denies a domain outside allow_domains, and the transport is never asked', async () => {
    const before = internet.seen.length;
    const err = await h.invoker.invoke('example.fetch', 'fetch', { domain: 'evil.com' }).catch((e) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).toMatchObject({ code: 'PERMISSION_DENIED', capability: 'net', skillId: 'example.fetch', command: 'fetch' });
    expect(err.rule).toMatch(/^net\./);
    expect(err.target).toContain('evil.com');
    expect(internet.seen.length).toBe(before);
  });

  it('writes and reads a file inside its root', async () => {
    const path = join(fsRoot, 'note.txt');
    await h.invoker.invoke('example.files', 'cmd', { operation: 'write', path, content: 'hi there' });
    expect(await readFile(path, 'utf8')).toBe('hi there');
    const out = (await h.invoker.invoke('example.files', 'cmd', { operation: 'read', path })) as { content: string };
    expect(out.content).toBe('hi there');
  });

  it('denies a read outside its roots', async () => {
    const err = await h.invoker.invoke('example.files', 'cmd', { operation: 'read', path: '/etc/passwd' }).catch((e) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).toMatchObject({ capability: 'fs', target: '/etc/passwd', operation: 'read-file' });
    expect(err.rule).toMatch(/^fs\./);
    const audited = h.registry.auditEvents({ type: 'permission_denied', skillId: 'example.files', limit: 1 })[0]!;
    expect(audited.meta?.rule).toBe(err.rule);
  });

  it('denies traversal and symlink escapes', async () => {
    const outside = await tempDir('agentos-outside-');
    await writeFile(join(outside, 'secret.txt'), 'secret');
    await symlink(outside, join(fsRoot, 'link-out'));
    await symlink(join(outside, 'secret.txt'), join(fsRoot, 'secret-link'));
    const attempts = [
      join(fsRoot, '..', outside.split('/').pop()!, 'secret.txt'),
      `${fsRoot}/../../${outside}/secret.txt`,
      join(fsRoot, 'link-out', 'secret.txt'),
      join(fsRoot, 'secret-link'),
      join(fsRoot, 'link-out') + '/',
    ];
    for (const path of attempts) {
      const err = await h.invoker.invoke('example.files', 'cmd', { operation: 'read', path }).catch((e) => e);
      expect(err, path).toBeInstanceOf(PermissionDeniedError);
    }
    // a write through the symlinked directory does not land outside
    const err = await h.invoker
      .invoke('example.files', 'cmd', { operation: 'write', path: join(fsRoot, 'link-out', 'planted.txt'), content: 'x' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    await expect(readFile(join(outside, 'planted.txt'))).rejects.toThrow(/ENOENT/);
  });

  it('each denial is in the audit trail with its metadata', () => {
    const events = h.registry.auditEvents({ type: 'permission_denied', limit: 100 });
    expect(events.some((e) => e.capability === 'net' && e.target?.includes('evil.com'))).toBe(true);
    expect(events.some((e) => e.capability === 'fs' && e.target === '/etc/passwd' && e.operation === 'read-file')).toBe(true);
    for (const e of events) {
      expect(e.invocationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(e.reason).toBeTruthy();
      expect(e.command).toBe(e.skillId === 'example.fetch' ? 'fetch' : 'cmd');
    }
  });

  it('unknown command and bad args are typed errors', async () => {
    await expect(h.invoker.invoke('example.hello', 'nope', {})).rejects.toBeInstanceOf(CommandNotFoundError);
    const err = await h.invoker.invoke('example.hello', 'greet', { name: 42 }).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentsError);
    expect(err.problems[0].path).toBe('/name');
    await expect(h.invoker.invoke('example.hello', 'greet', 'not an object')).rejects.toBeInstanceOf(InvalidArgumentsError);
  });
});

describe('a denied write leaves the file as it was', () => {
  it('read-only skill cannot overwrite', async () => {
    const root = await tempDir('agentos-ro-');
    const target = join(root, 'keep.txt');
    await writeFile(target, 'original');
    const files = await copySkill(SKILLS.files, (m) => {
      m.id = 'example.files-ro';
      m.requires.permissions.fs = { read: true, write: false, paths: [root] };
    });
    const h = await host([files]);
    try {
      const err = await h.invoker.invoke('example.files-ro', 'cmd', { operation: 'write', path: target, content: 'pwned' }).catch((e) => e);
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect(err.operation).toBe('write-file');
      expect(await readFile(target, 'utf8')).toBe('original');
      await expect(h.invoker.invoke('example.files-ro', 'cmd', { operation: 'read', path: target })).resolves.toMatchObject({ content: 'original' });
    } finally {
      await h.close();
    }
  });
});

describe('gates', () => {
  let h: Host;
  beforeAll(async () => {
    h = await host([SKILLS.hello]);
  });
  afterAll(() => h.close());

  it('the phase gate comes before everything, even for unknown skills', async () => {
    const planning = new SkillInvoker(h.loader); // default phase: planning
    expect(planning.phase).toBe('planning');
    await expect(planning.invoke('example.hello', 'greet', { name: 'A' })).rejects.toBeInstanceOf(PhaseViolationError);
    await expect(planning.invoke('no.such.skill', 'x', { bad: true })).rejects.toBeInstanceOf(PhaseViolationError);
    expect(planning.poolStats.workers).toBe(0);
    const ev = h.registry.auditEvents({ type: 'phase_violation' });
    expect(ev.map((e) => e.skillId)).toEqual(expect.arrayContaining(['example.hello', 'no.such.skill']));
    planning.setPhase('execution');
    await expect(planning.invoke('example.hello', 'greet', { name: 'A' })).resolves.toEqual({ greeting: 'Hello, A!' });
    planning.setPhase('planning');
    await expect(planning.invoke('example.hello', 'greet', { name: 'A' })).rejects.toBeInstanceOf(PhaseViolationError);
    await planning.close();
  });

  it('unknown skills are not enabled', async () => {
    const err = await h.invoker.invoke('no.such.skill', 'greet', {}).catch((e) => e);
    expect(err).toBeInstanceOf(SkillNotEnabledError);
    expect(err.state).toBe('not_installed');
  });

  it('disable() takes effect at the next invoke, and a disabled skill is never instantiated', async () => {
    const fresh = new SkillInvoker(h.loader, { phase: 'execution' });
    h.registry.disable('example.hello');
    try {
      const err = await fresh.invoke('example.hello', 'greet', { name: 'A' }).catch((e) => e);
      expect(err).toBeInstanceOf(SkillNotEnabledError);
      expect(err.state).toBe('disabled');
      expect(fresh.poolStats.workers).toBe(0);
      // and an invoker that had a warm instance stops using it at once
      h.registry.enable('example.hello');
      await fresh.invoke('example.hello', 'greet', { name: 'A' });
      expect(fresh.poolStats.workers).toBe(1);
      h.registry.disable('example.hello');
      await expect(fresh.invoke('example.hello', 'greet', { name: 'A' })).rejects.toBeInstanceOf(SkillNotEnabledError);
      expect(fresh.poolStats.workers).toBe(0);
      expect(h.registry.auditEvents({ type: 'not_enabled', skillId: 'example.hello' }).length).toBeGreaterThanOrEqual(2);
    } finally {
      h.registry.enable('example.hello');
      await fresh.close();
    }
  });

  it('a disable, uninstall or re-install through another connection to the store stops the next invoke', async () => {
    const inv = new SkillInvoker(h.loader, { phase: 'execution' });
    const other = new SkillRegistry({ home: h.home });
    try {
      for (let i = 0; i < 3; i++) await expect(inv.invoke('example.hello', 'greet', { name: 'A' })).resolves.toEqual({ greeting: 'Hello, A!' });
      other.disable('example.hello');
      await expect(inv.invoke('example.hello', 'greet', { name: 'A' })).rejects.toMatchObject({ state: 'disabled' });
      other.enable('example.hello');
      await expect(inv.invoke('example.hello', 'greet', { name: 'A' })).resolves.toEqual({ greeting: 'Hello, A!' });
      other.uninstall('example.hello');
      await expect(inv.invoke('example.hello', 'greet', { name: 'A' })).rejects.toMatchObject({ state: 'not_installed' });
      // Re-installed (new skills start disabled), then enabled: runs again.
      await other.install(SKILLS.hello);
      await expect(inv.invoke('example.hello', 'greet', { name: 'A' })).rejects.toMatchObject({ state: 'disabled' });
      other.enable('example.hello');
      await expect(inv.invoke('example.hello', 'greet', { name: 'A' })).resolves.toEqual({ greeting: 'Hello, A!' });
    } finally {
      if (!h.registry.isEnabled('example.hello')) h.registry.enable('example.hello');
      other.close();
      await inv.close();
    }
  });

  it('usage figures are counted per skill and reach the registry', async () => {
    const inv = new SkillInvoker(h.loader, { phase: 'execution' });
    const before = h.registry.usage('example.hello');
    await inv.invoke('example.hello', 'greet', { name: 'U' });
    await inv.invoke('example.hello', 'nope', {}).catch(() => undefined);
    expect(inv.usage('example.hello')).toMatchObject({ invocations: 2, ok: 1, failures: { COMMAND_NOT_FOUND: 1 } });
    // lastAt: ISO text of the last invocation's end, the same in usage() and usage(id).
    const at = inv.usage('example.hello')!.lastAt!;
    expect(new Date(at).toISOString()).toBe(at);
    expect(Date.now() - Date.parse(at)).toBeGreaterThanOrEqual(0);
    expect(inv.usage().find((u) => u.skillId === 'example.hello')?.lastAt).toBe(at);
    expect(Object.keys(inv.usage('example.hello')!)).toEqual(['skillId', 'invocations', 'ok', 'failures', 'totalMs', 'meanMs', 'lastAt']);
    await inv.close(); // flushes the batched figures
    const after = h.registry.usage('example.hello');
    expect(after.invocations - before.invocations).toBe(2);
    expect(after.failuresByCode.COMMAND_NOT_FOUND).toBeGreaterThanOrEqual(1);
  });

  it('an enabled skill that was never loaded is not enabled for the invoker', async () => {
    const loader = new SkillLoader(h.registry);
    const inv = new SkillInvoker(loader, { phase: 'execution' });
    const err = await inv.invoke('example.hello', 'greet', { name: 'A' }).catch((e) => e);
    expect(err).toBeInstanceOf(SkillNotEnabledError);
    expect(err.state).toBe('not_loaded');
    await loader.load('example.hello');
    await expect(inv.invoke('example.hello', 'greet', { name: 'B' })).resolves.toEqual({ greeting: 'Hello, B!' });
    await inv.close();
  });
});

describe('a host call in flight when the invocation ends', () => {
  // A far server that never answers: the request only ends when its signal aborts.
  const started: AbortSignal[] = [];
  const hanging: FetchLike = (_url, init) =>
    new Promise((_resolve, reject) => {
      started.push(init.signal!);
      init.signal!.addEventListener('abort', () => reject(init.signal!.reason), { once: true });
    });
  let h: Host;
  beforeAll(async () => {
    h = await host([SKILLS.fetch], { fetch: hanging });
  });
  afterAll(() => h.close());

  it('the deadline aborts the request the capability made', async () => {
    const err = await h.invoker.invoke('example.fetch', 'fetch', { domain: 'api.github.com' }, { timeoutMs: 300 }).catch((e) => e);
    expect(err).toBeInstanceOf(SkillTimeoutError);
    expect(started).toHaveLength(1);
    // By the invocation's end, not by the fetch call's own deadline (the skill's 10 s).
    expect(started[0]!.aborted).toBe(true);
    expect((started[0]!.reason as Error).message).toBe('aborted');
  });

  it("the caller's abort aborts the request the capability made", async () => {
    started.length = 0;
    const ac = new AbortController();
    const p = h.invoker.invoke('example.fetch', 'fetch', { domain: 'api.github.com' }, { signal: ac.signal }).catch((e) => e);
    while (started.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(started[0]!.aborted).toBe(false);
    ac.abort();
    expect((await p).code).toBe('ABORTED');
    expect(started[0]!.aborted).toBe(true);
    expect((started[0]!.reason as Error).message).toBe('aborted');
    // and the skill runs again after it
    const err = await h.invoker.invoke('example.fetch', 'fetch', { domain: 'api.github.com' }, { timeoutMs: 300 }).catch((e) => e);
    expect(err).toBeInstanceOf(SkillTimeoutError);
  });
});

describe('stored components', () => {
  it('a tampered component is refused with IntegrityError, audited', async () => {
    const home = await tempDir();
    const registry = new SkillRegistry({ home });
    const s = await registry.install(SKILLS.hello);
    registry.enable(s.id);
    const bytes = await readFile(s.componentPath);
    bytes[bytes.length - 10] ^= 0xff;
    await chmod(s.componentPath, 0o644);
    await writeFile(s.componentPath, bytes);
    const err = await new SkillLoader(registry).load(s.id).catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.expected).toBe(s.componentHash);
    expect(registry.auditEvents({ type: 'integrity_failure' })).toHaveLength(1);
    registry.close();
  });

  it('a missing component is refused with SkillModuleNotFoundError', async () => {
    const home = await tempDir();
    const registry = new SkillRegistry({ home });
    const s = await registry.install(SKILLS.hello);
    registry.enable(s.id);
    await rm(s.componentPath);
    const err = await new SkillLoader(registry).load(s.id).catch((e) => e);
    expect(err).toBeInstanceOf(SkillModuleNotFoundError);
    expect(err.message).toContain(s.id);
    registry.close();
  });

  it('a malformed manifest is refused at install, naming the key, with nothing stored', async () => {
    const home = await tempDir();
    const registry = new SkillRegistry({ home });
    const bad = await copySkill(SKILLS.hello, (m) => {
      m.requires = { permissions: { net: { allow_domains: 'api.github.com' } } };
    });
    const err = await registry.install(bad).catch((e) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect(err.message).toContain('requires.permissions.net.allow_domains');
    expect(registry.list()).toEqual([]);
    registry.close();
  });
});

describe('hostile skills', () => {
  let h: Host;
  beforeAll(async () => {
    h = await host([SKILLS.hostile]);
  });
  afterAll(() => h.close());

  it('a spinning skill is stopped by its timeout and usable right after', async () => {
    const t0 = Date.now();
    const err = await h.invoker.invoke('test.hostile', 'spin', {}).catch((e) => e);
    expect(err).toBeInstanceOf(SkillTimeoutError);
    expect(err.timeoutMs).toBe(1000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await expect(h.invoker.invoke('test.hostile', 'ok', { x: 1 })).resolves.toEqual({ x: 1 });
    const ev = h.registry.auditEvents({ type: 'limit_exceeded', skillId: 'test.hostile' });
    expect(ev.some((e) => e.operation === 'timeout')).toBe(true);
  });

  it('a thrown error is a SkillExecutionError carrying the guest message', async () => {
    const err = await h.invoker.invoke('test.hostile', 'throw', { message: 'kaboom' }).catch((e) => e);
    expect(err).toBeInstanceOf(SkillExecutionError);
    expect(err.guestMessage).toContain('kaboom');
    expect(err.trapped).toBe(false);
    await expect(h.invoker.invoke('test.hostile', 'ok', { y: 2 })).resolves.toEqual({ y: 2 });
  });

  it('a trap is a SkillExecutionError, and the instance is replaced', async () => {
    const err = await h.invoker.invoke('test.hostile', 'trap', {}).catch((e) => e);
    expect(err).toBeInstanceOf(SkillExecutionError);
    expect(err.trapped).toBe(true);
    await expect(h.invoker.invoke('test.hostile', 'ok', { z: 3 })).resolves.toEqual({ z: 3 });
    expect(h.registry.auditEvents({ type: 'execution_error', skillId: 'test.hostile' }).length).toBeGreaterThanOrEqual(2);
  });

  it('a denial the guest swallowed still fails the invocation', async () => {
    const err = await h.invoker.invoke('test.hostile', 'deny-swallow', {}).catch((e) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err.target).toBe('/etc/passwd');
  });
});

describe('real HTTP over loopback', () => {
  it('goes through the real stack when loopback is explicitly allowed, and never reaches a denied host', async () => {
    const { server, port, hits } = await countingServer();
    const other = await countingServer('must not be reached');
    try {
      const skill = await copySkill(SKILLS.fetch, (m) => {
        m.id = 'example.fetch-local';
        // The explicit allowance this test needs: plain http to this port on loopback, and the
        // operator's permission to reach a private address at all.
        m.requires.permissions.net.allow_domains = [`http://127.0.0.1:${port}`];
      });
      const h = await host([skill], {}, { hostPolicy: { allowPrivateNetworks: true } });
      try {
        const out = (await h.invoker.invoke('example.fetch-local', 'fetch', { domain: `127.0.0.1:${port}`, scheme: 'http', path: '/hello' })) as {
          status: number;
          body: string;
        };
        expect(out).toMatchObject({ status: 200, body: 'hello from loopback' });
        expect(hits).toEqual([`GET 127.0.0.1:${port}/hello`]);
        const err = await h.invoker.invoke('example.fetch-local', 'fetch', { domain: `127.0.0.1:${other.port}`, scheme: 'http' }).catch((e) => e);
        expect(err).toBeInstanceOf(PermissionDeniedError);
        expect(other.hits).toEqual([]);
      } finally {
        await h.close();
      }
      // Without the operator's allowance, a manifest asking for a loopback address is refused
      // at install, naming the entry: never silently narrowed.
      const err = await host([skill]).catch((e) => e);
      expect(err).toBeInstanceOf(PolicyViolationError);
      expect(err.message).toContain(`http://127.0.0.1:${port}`);
      expect(hits).toHaveLength(1);
    } finally {
      server.close();
      other.server.close();
    }
  });
});

describe('close()', () => {
  it('rejects in-flight invocations and ends every worker', async () => {
    const h = await host([SKILLS.hostile]);
    const pending = h.invoker.invoke('test.hostile', 'spin', {}).catch((e) => e);
    await new Promise((r) => setTimeout(r, 200));
    await h.close();
    const err = await pending;
    expect(err.code).toBe('CLOSED');
    expect(h.invoker.poolStats.workers).toBe(0);
    await expect(h.invoker.invoke('test.hostile', 'ok', {})).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
