/**
 * Secrets end to end (issue 14): real components in real workers, a real store, the real CLI,
 * and a loopback HTTP server that echoes everything it received (headers, and the Authorization
 * value again in a response header, in base64 and URL-encoded in the body). The `fetch` seam maps
 * api.example.com / other.example.com / api.github.com to that server and says which origin
 * each request was for, so the test can check where the value went.
 */
import { statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PermissionDeniedError } from '../src/errors.js';
import type { FetchLike } from '../src/capabilities/types.js';
import { host, removeTempDirs, ROOT, tempDir, type Host } from './helpers.js';
import { cli, requireBuiltCli, requireBuiltSkill } from './cli/run-cli.js';

const PROBE = join(ROOT, 'test/fixtures/secret-probe');
const GITHUB = join(ROOT, 'skills/github-issues');
const VALUE = 'tok_9f8e7d6c5b4a3210ZYXW';

interface Received {
  origin: string;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

let server: Server;
let port = 0;
const received: Received[] = [];

beforeAll(async () => {
  requireBuiltCli();
  requireBuiltSkill(PROBE);
  requireBuiltSkill(GITHUB);
  server = createServer((req, res) => {
    const origin = String(req.headers['x-test-origin']);
    const headers = { ...req.headers };
    delete headers['x-test-origin'];
    received.push({ origin, method: req.method!, path: req.url!, headers });
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to')! }).end();
      return;
    }
    if (url.pathname.startsWith('/repos/octo/hello/issues')) {
      if (req.headers['authorization'] !== `Bearer ${VALUE}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Bad credentials' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify([
          { number: 2, title: 'Second', state: 'open', user: { login: 'ada' }, labels: [{ name: 'bug' }], html_url: 'https://github.com/octo/hello/issues/2' },
          { number: 1, title: 'A PR', state: 'open', user: { login: 'bob' }, labels: [], pull_request: {} },
        ]),
      );
      return;
    }
    const auth = String(req.headers['authorization'] ?? '');
    const key = String(req.headers['x-api-key'] ?? '');
    res.writeHead(200, { 'content-type': 'application/json', 'x-echo-auth': auth, 'x-echo-key': key });
    res.end(
      JSON.stringify({
        headers,
        b64: Buffer.from(auth).toString('base64'),
        b64key: Buffer.from(key).toString('base64'),
        b64url: Buffer.from(`user:${key}`).toString('base64url'),
        urlenc: encodeURIComponent(key),
        hex: Buffer.from(key).toString('hex'),
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await removeTempDirs();
});

/** The seam: every far host is the loopback server, told which origin the request was for. */
const loopback: FetchLike = async (url, init) => {
  const u = new URL(url);
  return fetch(`http://127.0.0.1:${port}${u.pathname}${u.search}`, {
    method: init.method,
    headers: [...init.headers, ['x-test-origin', u.origin]],
    body: init.body,
    redirect: 'manual',
    signal: init.signal,
  });
};

let h: Host | undefined;
const logs: unknown[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  received.length = 0;
  logs.length = 0;
});

async function probeHost(opts: Parameters<typeof host>[1] = {}): Promise<Host> {
  h = await host([PROBE], { fetch: loopback, logger: { info: (o) => void logs.push(o), warn: (o) => void logs.push(o) }, ...opts });
  return h;
}

/** Everything the host wrote about the run: audit rows, logger calls, the result. */
function everything(x: Host, result: unknown): string {
  return JSON.stringify([x.registry.auditEvents({ limit: 1000 }), logs, result]);
}

const forms = (v: string) => [v, Buffer.from(v).toString('base64'), Buffer.from(`Bearer ${v}`).toString('base64'), Buffer.from(v).toString('hex')];

describe('secret substitution, end to end', () => {
  it('the server receives the value; the skill sees [REDACTED] even when the server echoes it (headers, body, base64, hex, URL-encoded)', async () => {
    const x = await probeHost();
    x.registry.setSecret('test.secret-probe', 'API_TOKEN', VALUE);
    const lines: string[] = [];
    const out = (await x.invoker.invoke(
      'test.secret-probe',
      'send',
      { url: 'https://api.example.com/echo', headers: { authorization: 'Bearer {{secret:API_TOKEN}}', 'x-api-key': '{{secret:API_TOKEN}}' } },
      { onLog: (l) => lines.push(l.message) },
    )) as { status: number; headers: Record<string, string>; body: string };

    expect(received).toHaveLength(1);
    expect(received[0]!.origin).toBe('https://api.example.com');
    expect(received[0]!.headers['authorization']).toBe(`Bearer ${VALUE}`);
    expect(received[0]!.headers['x-api-key']).toBe(VALUE);

    expect(out.status).toBe(200);
    expect(out.headers['x-echo-auth']).toBe('Bearer [REDACTED]');
    expect(out.headers['x-echo-key']).toBe('[REDACTED]');
    const body = JSON.parse(out.body);
    expect(body.headers.authorization).toBe('Bearer [REDACTED]');
    for (const k of ['b64key', 'urlenc', 'hex']) expect(body[k]).toBe('[REDACTED]');
    expect(body.b64).not.toContain(Buffer.from(VALUE).toString('base64').slice(4, 20));
    expect(body.b64url).toContain('[REDACTED]');

    const all = everything(x, out) + lines.join('\n');
    for (const f of forms(VALUE)) expect(all).not.toContain(f);
    // Audited: which secret went where, never the value.
    const used = x.registry.auditEvents({ type: 'secret_used' });
    expect(used).toHaveLength(1);
    expect(used[0]).toMatchObject({ skillId: 'test.secret-probe', target: 'https://api.example.com', operation: 'API_TOKEN', capability: 'net' });
  });

  it('a redirect to another origin drops the header: the other origin never receives the value', async () => {
    const x = await probeHost();
    x.registry.setSecret('test.secret-probe', 'API_TOKEN', VALUE);
    const out = (await x.invoker.invoke('test.secret-probe', 'send', {
      url: `https://api.example.com/redirect?to=${encodeURIComponent('https://other.example.com/echo')}`,
      headers: { 'x-api-key': '{{secret:API_TOKEN}}', authorization: 'Bearer {{secret:API_TOKEN}}', 'x-plain': 'kept' },
    })) as { status: number; body: string };
    expect(out.status).toBe(200);
    expect(received.map((r) => r.origin)).toEqual(['https://api.example.com', 'https://other.example.com']);
    expect(received[0]!.headers['x-api-key']).toBe(VALUE);
    const other = received[1]!;
    expect(JSON.stringify(other.headers)).not.toContain(VALUE);
    expect(other.headers['x-api-key']).toBeUndefined();
    expect(other.headers['authorization']).toBeUndefined();
    expect(other.headers['x-plain']).toBe('kept');
    expect(everything(x, out)).not.toContain(VALUE);
  });

  it('a redirect within the allowed origin keeps the secret (decided again on that hop)', async () => {
    const x = await probeHost();
    x.registry.setSecret('test.secret-probe', 'API_TOKEN', VALUE);
    await x.invoker.invoke('test.secret-probe', 'send', {
      url: `https://api.example.com/redirect?to=${encodeURIComponent('/echo')}`,
      headers: { 'x-api-key': '{{secret:API_TOKEN}}' },
    });
    expect(received.map((r) => [r.origin, r.headers['x-api-key']])).toEqual([
      ['https://api.example.com', VALUE],
      ['https://api.example.com', VALUE],
    ]);
    expect(x.registry.auditEvents({ type: 'secret_used' })).toHaveLength(2);
  });

  const denials: [string, string, Record<string, string>, RegExp, string][] = [
    ['mismatched origin', 'https://other.example.com/echo', { authorization: 'Bearer {{secret:API_TOKEN}}' }, /secret API_TOKEN may not be sent to https:\/\/other\.example\.com/, 'secret.origin_not_allowed'],
    ['undeclared', 'https://api.example.com/echo', { authorization: 'Bearer {{secret:NOPE}}' }, /secret NOPE is not declared/, 'secret.undeclared'],
    ['unset', 'https://api.example.com/echo', { authorization: 'Bearer {{secret:SPARE_TOKEN}}' }, /secret SPARE_TOKEN is not set/, 'secret.unset'],
  ];
  it.each(denials)('%s: PermissionDeniedError (net) naming the secret, nothing sent, value nowhere', async (_name, url, headers, message, rule) => {
    const x = await probeHost();
    x.registry.setSecret('test.secret-probe', 'API_TOKEN', VALUE);
    const err = await x.invoker.invoke('test.secret-probe', 'send', { url, headers }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    const e = err as PermissionDeniedError;
    expect(e.capability).toBe('net');
    expect(e.message).toMatch(message);
    expect(received).toHaveLength(0);
    const denied = x.registry.auditEvents({ type: 'permission_denied' });
    expect(denied[0]!.meta).toMatchObject({ rule });
    expect(everything(x, String(e.message))).not.toContain(VALUE);
  });

  it('the invoker seam supplies values from the host vault (and is asked with the skill and the name)', async () => {
    const asked: string[] = [];
    const x = await probeHost({
      secrets: async (skillId, name) => {
        asked.push(`${skillId}/${name}`);
        return name === 'API_TOKEN' ? 'vault-value-123456' : undefined;
      },
    });
    const out = (await x.invoker.invoke('test.secret-probe', 'send', { url: 'https://api.example.com/echo', headers: { 'x-api-key': '{{secret:API_TOKEN}}' } })) as { headers: Record<string, string> };
    expect(asked).toEqual(['test.secret-probe/API_TOKEN']);
    expect(received[0]!.headers['x-api-key']).toBe('vault-value-123456');
    expect(out.headers['x-echo-key']).toBe('[REDACTED]');
  });

  it('store: values refused when too short or with control characters; list shows names, never values; uninstall removes them', async () => {
    const x = await probeHost();
    const r = x.registry;
    expect(() => r.setSecret('test.secret-probe', 'API_TOKEN', 'short')).toThrow(/shorter than 8/);
    expect(() => r.setSecret('test.secret-probe', 'API_TOKEN', 'line1\nline2xx')).toThrow(/control character/);
    expect(() => r.setSecret('test.secret-probe', 'bad-name', VALUE)).toThrow(/must match/);
    expect(() => r.setSecret('no.such', 'API_TOKEN', VALUE)).toThrow(/not_installed|not installed/);
    r.setSecret('test.secret-probe', 'API_TOKEN', VALUE);
    const listed = r.listSecrets('test.secret-probe');
    expect(listed.map((s) => s.name)).toEqual(['API_TOKEN']);
    expect(JSON.stringify(listed)).not.toContain(VALUE);
    const file = join(x.home, 'store/skill/secrets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(r.deleteSecret('test.secret-probe', 'API_TOKEN')).toBe(true);
    expect(r.deleteSecret('test.secret-probe', 'API_TOKEN')).toBe(false);
    r.setSecret('test.secret-probe', 'API_TOKEN', VALUE);
    r.uninstall('test.secret-probe');
    expect(r.listSecrets('test.secret-probe')).toEqual([]);
  });
});

describe('CLI secret set | list | rm (the real bin)', () => {
  it('set reads the value from stdin (never argv); list and rm never print it', async () => {
    const home = await tempDir('agentos-home-');
    expect((await cli(['install', PROBE], { home })).code).toBe(0);
    const set = await cli(['secret', 'set', 'test.secret-probe', 'API_TOKEN'], { home, input: `${VALUE}\n` });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout + set.stderr).not.toContain(VALUE);
    expect(set.stdout).toMatch(/Set secret API_TOKEN of test\.secret-probe \(it may be sent to https:\/\/api\.example\.com\)/);
    const list = await cli(['secret', 'list', '--json'], { home });
    expect(list.json().result).toEqual([expect.objectContaining({ skillId: 'test.secret-probe', name: 'API_TOKEN' })]);
    expect(list.stdout).not.toContain(VALUE);
    expect(statSync(join(home, 'store/skill/secrets.json')).mode & 0o777).toBe(0o600);
    // The folder holding it (the database's) is the owner's alone too.
    expect(statSync(join(home, 'store/skill')).mode & 0o777).toBe(0o700);
    const info = await cli(['info', 'test.secret-probe'], { home });
    expect(info.stdout).toMatch(/secrets\s+API_TOKEN -> https:\/\/api\.example\.com/);
    const undeclared = await cli(['secret', 'set', 'test.secret-probe', 'OTHER'], { home, input: `${VALUE}\n` });
    expect(undeclared.code).not.toBe(0);
    expect(undeclared.stderr).toMatch(/does not declare a secret named 'OTHER'/);
    const rm = await cli(['secret', 'rm', 'test.secret-probe', 'API_TOKEN'], { home });
    expect(rm.code).toBe(0);
    expect((await cli(['secret', 'list', 'test.secret-probe', '--json'], { home })).json().result).toEqual([]);
  });

  it('a value the store refuses (too short) is a usage error (exit 2), nothing stored; list shows the secret and the rules', async () => {
    const home = await tempDir('agentos-home-');
    await cli(['install', PROBE], { home });
    const short = await cli(['secret', 'set', 'test.secret-probe', 'API_TOKEN'], { home, input: 'abc\n' });
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/API_TOKEN of test\.secret-probe not set/);
    expect((await cli(['secret', 'list', '--json'], { home })).json().result).toEqual([]);
    // `list` counts secrets and net rules too (it used to say `none` for a skill with only those).
    const list = await cli(['list'], { home });
    expect(list.stdout).toMatch(/test\.secret-probe .*net 2 domains, 2 secrets/);
    expect((await cli(['install', GITHUB], { home })).code).toBe(0);
    expect((await cli(['list'], { home })).stdout).toMatch(/example\.github-issues .*net GET https:\/\/api\.github\.com\/repos\/\*, secret GITHUB_TOKEN/);
  });

  it('there is no argv form: an extra argument is a usage error, and the value is not stored', async () => {
    const home = await tempDir('agentos-home-');
    await cli(['install', PROBE], { home });
    const r = await cli(['secret', 'set', 'test.secret-probe', 'API_TOKEN', VALUE], { home, input: '' });
    expect(r.code).not.toBe(0);
    expect((await cli(['secret', 'list', '--json'], { home })).json().result).toEqual([]);
  });
});

describe('skills/github-issues: a token the skill never sees', () => {
  it('lists issues with the operator token; GitHub receives it, nothing else holds it', async () => {
    h = await host([GITHUB], { fetch: loopback, logger: { info: (o) => void logs.push(o), warn: (o) => void logs.push(o) } });
    h.registry.setSecret('example.github-issues', 'GITHUB_TOKEN', VALUE);
    const out = await h.invoker.invoke('example.github-issues', 'list', { repo: 'octo/hello' });
    expect(out).toEqual([{ number: 2, title: 'Second', state: 'open', author: 'ada', labels: ['bug'], url: 'https://github.com/octo/hello/issues/2' }]);
    expect(received[0]).toMatchObject({ origin: 'https://api.github.com', method: 'GET', path: '/repos/octo/hello/issues?state=open&per_page=20' });
    expect(received[0]!.headers['authorization']).toBe(`Bearer ${VALUE}`);
    expect(everything(h, out)).not.toContain(VALUE);
  });

  it('without the token set: denied naming GITHUB_TOKEN, nothing sent', async () => {
    h = await host([GITHUB], { fetch: loopback });
    const err = await h.invoker.invoke('example.github-issues', 'list', { repo: 'octo/hello' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(String((err as Error).message)).toMatch(/GITHUB_TOKEN is not set/);
    expect(received).toHaveLength(0);
  });
});
