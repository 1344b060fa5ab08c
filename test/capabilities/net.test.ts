import { once } from 'node:events';
/**
 * net.fetch through the real stack: node:http servers on 127.0.0.1 (port 0).
 *
 * Loopback is a private address: every test that must REACH a server says so explicitly with
 * `allowPrivateNetworks: true` (the `reach()` helper); tests that must NOT reach it use a policy
 * without that allowance, or without the host, and assert the server saw zero requests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetCapability, type NetCapability, type NetCapabilityOptions } from '../../src/capabilities/net.js';
import { pinnedLookup } from '../../src/capabilities/net-connections.js';
import type { CallContext, CapResult, FetchLike, NetRequest, NetResponse } from '../../src/capabilities/types.js';
import { compileNetPolicy } from '../../src/guards/net-guard.js';

// ---------------------------------------------------------------------------------------------
// harness

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface TestServer {
  port: number;
  origin: string;
  seen: Seen[];
  readonly hits: number;
  server: http.Server | https.Server;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

const servers: Array<http.Server | https.Server> = [];
const caps: NetCapability[] = [];
const envBackup: Record<string, string | undefined> = {};

afterEach(async () => {
  for (const [k, v] of Object.entries(envBackup)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
    delete envBackup[k];
  }
  await Promise.all(caps.splice(0).map((c) => c.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

function listen(server: http.Server | https.Server, scheme: 'http' | 'https' = 'http'): Promise<TestServer> {
  servers.push(server);
  const seen: Seen[] = [];
  server.prependListener('request', (req: http.IncomingMessage) => {
    // recorded before the handler runs; body filled once read
    const entry: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0) };
    seen.push(entry);
    (req as http.IncomingMessage & { entry?: Seen }).entry = entry;
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        origin: `${scheme}://127.0.0.1:${port}`,
        seen,
        get hits() {
          return seen.length;
        },
        server,
      });
    });
  });
}

function startServer(handler: Handler): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry = (req as http.IncomingMessage & { entry?: Seen }).entry;
      if (entry) entry.body = body;
      handler(req, res, body);
    });
  });
  return listen(server);
}

function text(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers });
  res.end(body);
}

const ok: Handler = (_req, res) => text(res, 200, 'hello');

/** A capability for tests; closed after each test. */
function cap(allow: string[], opts: Partial<NetCapabilityOptions> & { allowPrivateNetworks?: boolean } = {}): NetCapability {
  const { allowPrivateNetworks, ...rest } = opts;
  const c = createNetCapability({
    policy: compileNetPolicy(allow, { allowPrivateNetworks: allowPrivateNetworks ?? false }),
    ...rest,
  });
  caps.push(c);
  return c;
}

/** A capability that may reach loopback: the private-network allowance made explicit. */
function reach(allow: string[], opts: Partial<NetCapabilityOptions> = {}): NetCapability {
  return cap(allow, { ...opts, allowPrivateNetworks: true });
}

function ctx(signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal };
}

function get(url: string, headers: Array<[string, string]> = []): NetRequest {
  return { method: 'GET', url, headers: headers.map(([name, value]) => ({ name, value })) };
}

function bodyText(r: CapResult<NetResponse>): string {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.tag}: ${r.error.val}`);
  return Buffer.from(r.value.body).toString('utf8');
}

function header(r: CapResult<NetResponse>, name: string): string[] {
  if (!r.ok) return [];
  return r.value.headers.filter((h) => h.name === name).map((h) => h.value);
}

/** A resolver that records its calls and answers from a script. */
function scriptedResolver(...answers: Array<Array<{ address: string; family: 4 | 6 }>>) {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const a = answers[Math.min(calls.length - 1, answers.length - 1)];
    return a ?? [];
  };
  return { calls, resolver };
}

const v4 = (address: string) => ({ address, family: 4 as const });
const v6 = (address: string) => ({ address, family: 6 as const });

function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() - start > ms) reject(new Error('condition not met in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---------------------------------------------------------------------------------------------

describe('net.fetch through the real stack', () => {
  it('GET reaches the server and returns status, lower-case headers and body', async () => {
    const srv = await startServer((_req, res) => text(res, 200, 'hello', { 'X-Custom': 'yes' }));
    const net = reach([srv.origin]);
    const r = await net.fetch(get(`${srv.origin}/path?q=1`, [['Accept', 'text/plain']]), ctx());
    expect(bodyText(r)).toBe('hello');
    expect(r.ok && r.value.status).toBe(200);
    expect(header(r, 'x-custom')).toEqual(['yes']);
    expect(r.ok && r.value.headers.every((h) => h.name === h.name.toLowerCase())).toBe(true);
    expect(srv.hits).toBe(1);
    expect(srv.seen[0]?.url).toBe('/path?q=1');
    expect(srv.seen[0]?.headers.host).toBe(`127.0.0.1:${srv.port}`);
    expect(srv.seen[0]?.headers.accept).toBe('text/plain');
    expect(srv.seen[0]?.headers['user-agent']).toMatch(/agentos-skills/);
  });

  it('POST sends the body with a content-length computed by the client', async () => {
    const srv = await startServer((req, res, body) => text(res, 201, `${req.method} ${body.toString()}`));
    const net = reach([srv.origin]);
    const r = await net.fetch(
      {
        method: 'post',
        url: `${srv.origin}/items`,
        headers: [{ name: 'content-type', value: 'application/json' }],
        body: new TextEncoder().encode('{"a":1}'),
      },
      ctx(),
    );
    expect(r.ok && r.value.status).toBe(201);
    expect(bodyText(r)).toBe('POST {"a":1}');
    expect(srv.seen[0]?.headers['content-length']).toBe('7');
    expect(srv.seen[0]?.headers['content-type']).toBe('application/json');
  });

  it('keeps every set-cookie as its own header entry and no cookie is sent back by the host', async () => {
    const srv = await startServer((req, res) => {
      if (req.url === '/set') {
        res.writeHead(200, { 'set-cookie': ['a=1; Path=/', 'b=2; Path=/'] });
        res.end('ok');
      } else text(res, 200, String(req.headers.cookie ?? 'none'));
    });
    const net = reach([srv.origin]);
    const r = await net.fetch(get(`${srv.origin}/set`), ctx());
    expect(header(r, 'set-cookie')).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(bodyText(await net.fetch(get(`${srv.origin}/echo`), ctx()))).toBe('none');
  });

  it('HEAD works, and a user-agent set by the skill replaces the default', async () => {
    const srv = await startServer((req, res) => text(res, 200, 'not sent for HEAD', { 'x-ua': String(req.headers['user-agent']) }));
    const net = reach([srv.origin]);
    const r = await net.fetch({ method: 'head', url: srv.origin, headers: [{ name: 'User-Agent', value: 'my-skill/1' }] }, ctx());
    expect(r.ok && r.value.status).toBe(200);
    expect(r.ok && r.value.body.byteLength).toBe(0);
    expect(header(r, 'x-ua')).toEqual(['my-skill/1']);
    expect(srv.seen[0]?.method).toBe('HEAD');
  });

  it('the default resolver (dns.lookup) feeds the pinned connection: localhost, private networks allowed', async () => {
    const srv = await startServer((req, res) => text(res, 200, `host=${req.headers.host}`));
    // explicit: loopback allowed; 'localhost' resolves through /etc/hosts, no network needed
    const net = reach([`http://localhost:${srv.port}`]);
    const r = await net.fetch(get(`http://localhost:${srv.port}/`), ctx());
    expect(bodyText(r)).toBe(`host=localhost:${srv.port}`);
  });

  it('an IP-literal URL does not consult the resolver', async () => {
    const srv = await startServer(ok);
    const { calls, resolver } = scriptedResolver([v4('127.0.0.1')]);
    const net = reach([srv.origin], { resolver });
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('hello');
    expect(calls).toEqual([]);
  });
});

describe('denials: the server is never reached', () => {
  it('a host outside allow_domains is denied with the rule, zero requests', async () => {
    const srv = await startServer(ok);
    const net = reach(['api.example.com']);
    const url = `${srv.origin}/secret`;
    const r = await net.fetch(get(url), ctx());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.tag).toBe('denied');
    expect(r.denial).toMatchObject({ capability: 'net', target: url, operation: 'GET' });
    expect(r.denial?.rule).toBeTruthy();
    expect(r.denial?.reason).toBe(r.error.val);
    expect(srv.hits).toBe(0);
  });

  it('loopback listed in allow_domains is still denied without allowPrivateNetworks', async () => {
    const srv = await startServer(ok);
    const net = cap([srv.origin], { allowPrivateNetworks: false });
    const r = await net.fetch(get(`${srv.origin}/`), ctx());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.tag).toBe('denied');
    expect(srv.hits).toBe(0);
  });

  it('localhost (an internal name) is denied without allowPrivateNetworks, before any lookup', async () => {
    const srv = await startServer(ok);
    const net = cap([`http://localhost:${srv.port}`], { allowPrivateNetworks: false });
    const r = await net.fetch(get(`http://localhost:${srv.port}/`), ctx());
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.tag).toBe('denied');
      expect(r.denial?.target).toBe(`http://localhost:${srv.port}/`);
      expect(r.denial?.rule).toBeTruthy();
    }
    expect(srv.hits).toBe(0);
  });

  it('a malformed URL is invalid, nothing sent', async () => {
    const net = reach(['api.example.com']);
    const r = await net.fetch(get('not a url'), ctx());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.tag).toBe('invalid');
  });
});

describe('DNS: resolved once, every answer checked, the socket pinned to it', () => {
  it('pins the connection to the checked address: api.test -> 127.0.0.1, Host: api.test', async () => {
    const srv = await startServer((req, res) => text(res, 200, `host=${req.headers.host}`));
    const { calls, resolver } = scriptedResolver([v4('127.0.0.1')]);
    // explicit: loopback allowed for this test, api.test is not in any real DNS
    const net = reach([`http://api.test:${srv.port}`], { resolver });
    const r = await net.fetch(get(`http://api.test:${srv.port}/x`), ctx());
    expect(bodyText(r)).toBe(`host=api.test:${srv.port}`);
    expect(calls).toEqual(['api.test']);
    expect(srv.hits).toBe(1);
  });

  it('a list mixing public and private answers is denied, server never reached', async () => {
    const srv = await startServer(ok);
    const { calls, resolver } = scriptedResolver([v4('93.184.216.34'), v4('127.0.0.1')]);
    const net = cap([`http://api.test:${srv.port}`], { resolver, allowPrivateNetworks: false });
    const r = await net.fetch(get(`http://api.test:${srv.port}/`), ctx());
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.tag).toBe('denied');
      expect(r.denial?.target).toBe(`http://api.test:${srv.port}/`);
      expect(r.denial?.rule).toBeTruthy();
    }
    expect(calls).toHaveLength(1);
    expect(srv.hits).toBe(0);
  });

  it.each([
    ['IPv4-mapped IPv6 loopback', v6('::ffff:127.0.0.1')],
    ['IPv6 loopback', v6('::1')],
    ['link-local metadata', v4('169.254.169.254')],
    ['RFC 1918', v4('10.0.0.1')],
    ['unspecified', v4('0.0.0.0')],
  ])('a %s answer is denied', async (_label, answer) => {
    const srv = await startServer(ok);
    const { resolver } = scriptedResolver([answer]);
    // short deadline: if the check were missing, the test fails fast instead of hanging on a connect
    const net = cap([`http://api.test:${srv.port}`], { resolver, allowPrivateNetworks: false, timeoutMs: 500 });
    const r = await net.fetch(get(`http://api.test:${srv.port}/`), ctx());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.tag).toBe('denied');
    expect(srv.hits).toBe(0);
  });

  it('DNS rebinding: the name is resolved once and the socket goes to the checked address', async () => {
    // Everything stays on loopback: the "checked" answer is 127.0.0.1, and a rebinding resolver
    // would hand a second lookup 127.0.0.2, where another server listens on the same port.
    const checked = await startServer((_req, res) => text(res, 200, 'checked'));
    const rebound = http.createServer((_req, res) => text(res, 200, 'rebound'));
    let reboundHits = 0;
    rebound.on('request', () => reboundHits++);
    rebound.listen(checked.port, '127.0.0.2');
    await once(rebound, 'listening');
    try {
      const { calls, resolver } = scriptedResolver([v4('127.0.0.1')], [v4('127.0.0.2')]);
      const net = reach([`http://api.test:${checked.port}`], { resolver });
      const r = await net.fetch(get(`http://api.test:${checked.port}/`), ctx());
      expect(bodyText(r)).toBe('checked');
      // one lookup, never a second one between the check and the connect
      expect(calls).toEqual(['api.test']);
      expect(reboundHits).toBe(0);
    } finally {
      rebound.close();
    }
  });

  it('the pinned lookup answers only from the checked list, whatever net asks', () => {
    const lookup = pinnedLookup([v4('192.0.2.10'), v6('2001:db8::1')]);
    const got: unknown[] = [];
    lookup('evil.example', { all: true }, (err, addr) => got.push(err, addr));
    lookup('evil.example', { family: 6 }, (err, addr, fam) => got.push(err, addr, fam));
    lookup('evil.example', {}, (err, addr, fam) => got.push(err, addr, fam));
    expect(got).toEqual([
      null,
      [
        { address: '192.0.2.10', family: 4 },
        { address: '2001:db8::1', family: 6 },
      ],
      null,
      '2001:db8::1',
      6,
      null,
      '192.0.2.10',
      4,
    ]);
  });

  it('NXDOMAIN is not-found', async () => {
    const resolver = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nope.test'), { code: 'ENOTFOUND' });
    };
    const net = reach(['nope.test'], { resolver });
    const r = await net.fetch(get('https://nope.test/'), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'not-found' } });
  });

  it('an empty answer is not-found, a bogus one is failed', async () => {
    const empty = reach(['a.test'], { resolver: async () => [] });
    expect(await empty.fetch(get('https://a.test/'), ctx())).toMatchObject({ ok: false, error: { tag: 'not-found' } });
    const bogus = reach(['a.test'], { resolver: async () => [{ address: 'not-an-ip', family: 4 as const }] });
    expect(await bogus.fetch(get('https://a.test/'), ctx())).toMatchObject({ ok: false, error: { tag: 'failed' } });
  });
});

describe('redirects: followed by the host, every hop decided again', () => {
  it('a redirect to a forbidden host is a denial (operation redirect, target the Location), second server never hit', async () => {
    const evil = await startServer(ok);
    const target = `${evil.origin}/steal`;
    const srv = await startServer((_req, res) => text(res, 302, '', { location: target }));
    const net = reach([srv.origin]);
    const r = await net.fetch(get(`${srv.origin}/start`), ctx());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.tag).toBe('denied');
    expect(r.denial).toMatchObject({ capability: 'net', operation: 'redirect', target });
    expect(srv.hits).toBe(1);
    expect(evil.hits).toBe(0);
  });

  it('every redirect hop is resolved and address-checked again (pinned to its own answer)', async () => {
    const b = await startServer((req, res) => text(res, 200, `b host=${req.headers.host}`));
    const a = await startServer((_req, res) => text(res, 302, '', { location: `http://b.test:${b.port}/landing` }));
    const { calls, resolver } = scriptedResolver([v4('127.0.0.1')]);
    // explicit: loopback allowed (both servers live there); b.test only exists in the scripted resolver
    const net = reach([a.origin, `http://b.test:${b.port}`], { resolver });
    const r = await net.fetch(get(`${a.origin}/`), ctx());
    expect(bodyText(r)).toBe(`b host=b.test:${b.port}`);
    expect(calls).toEqual(['b.test']);
  });

  it('a redirect whose name resolves to a metadata address is denied at the address check (even with private networks allowed)', async () => {
    const srv = await startServer((_req, res) => text(res, 302, '', { location: 'https://cloud.test/latest/meta-data/' }));
    const { calls, resolver } = scriptedResolver([v4('169.254.169.254')]);
    // explicit: loopback allowed for the first hop; cloud.test is allowed by name
    const net = reach([srv.origin, 'cloud.test'], { resolver, timeoutMs: 500 });
    const r = await net.fetch(get(`${srv.origin}/`), ctx());
    expect(r).toMatchObject({
      ok: false,
      error: { tag: 'denied' },
      denial: { capability: 'net', operation: 'redirect', target: 'https://cloud.test/latest/meta-data/', rule: 'net.cloud_metadata' },
    });
    expect(calls).toEqual(['cloud.test']);
  });

  it('redirect chain over the hop limit is a limit, and stops', async () => {
    const srv = await startServer((req, res) => {
      const n = Number((req.url ?? '/0').slice(1)) || 0;
      text(res, 302, '', { location: `/${n + 1}` });
    });
    const net = reach([srv.origin], { maxRedirects: 3 });
    const r = await net.fetch(get(`${srv.origin}/0`), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'limit' } });
    expect(srv.hits).toBe(4); // the first request + 3 followed redirects
  });

  it('a redirect to another allowed host is followed; credentials are dropped when the origin changes', async () => {
    const b = await startServer((req, res) =>
      text(res, 200, `b auth=${req.headers.authorization ?? '-'} cookie=${req.headers.cookie ?? '-'} x=${req.headers['x-keep'] ?? '-'}`),
    );
    const a = await startServer((req, res) => {
      if (req.url === '/same') text(res, 200, `a auth=${req.headers.authorization ?? '-'}`);
      else if (req.url === '/hop') text(res, 301, '', { location: '/same' });
      else text(res, 302, '', { location: `${b.origin}/landing` });
    });
    const net = reach([a.origin, b.origin]);
    const headers: Array<[string, string]> = [
      ['authorization', 'Bearer s3cret'],
      ['cookie', 'sid=1'],
      ['x-keep', 'yes'],
    ];
    const cross = await net.fetch(get(`${a.origin}/start`, headers), ctx());
    expect(bodyText(cross)).toBe('b auth=- cookie=- x=yes');
    expect(b.seen[0]?.url).toBe('/landing');
    const same = await net.fetch(get(`${a.origin}/hop`, headers), ctx());
    expect(bodyText(same)).toBe('a auth=Bearer s3cret');
  });

  it('303 turns POST into GET without body or body headers; 302 POST -> GET; 307/308 keep method and body', async () => {
    const srv = await startServer((req, res, body) => {
      const m = /^\/(\d{3})$/.exec(req.url ?? '');
      if (m) text(res, Number(m[1]), '', { location: '/final' });
      else text(res, 200, `${req.method} ${body.toString() || '-'} ct=${req.headers['content-type'] ?? '-'}`);
    });
    const net = reach([srv.origin]);
    const post = (code: number): NetRequest => ({
      method: 'POST',
      url: `${srv.origin}/${code}`,
      headers: [{ name: 'content-type', value: 'text/plain' }],
      body: new TextEncoder().encode('payload'),
    });
    expect(bodyText(await net.fetch(post(303), ctx()))).toBe('GET - ct=-');
    expect(bodyText(await net.fetch(post(302), ctx()))).toBe('GET - ct=-');
    expect(bodyText(await net.fetch(post(301), ctx()))).toBe('GET - ct=-');
    expect(bodyText(await net.fetch(post(307), ctx()))).toBe('POST payload ct=text/plain');
    expect(bodyText(await net.fetch(post(308), ctx()))).toBe('POST payload ct=text/plain');
    // 303 on PUT becomes GET too; 302 on PUT keeps PUT
    const put = (code: number): NetRequest => ({ ...post(code), method: 'PUT' });
    expect(bodyText(await net.fetch(put(303), ctx()))).toBe('GET - ct=-');
    expect(bodyText(await net.fetch(put(302), ctx()))).toBe('PUT payload ct=text/plain');
  });

  it('a 3xx without Location is returned as is', async () => {
    const srv = await startServer((_req, res) => text(res, 302, 'no location'));
    const net = reach([srv.origin]);
    const r = await net.fetch(get(`${srv.origin}/`), ctx());
    expect(r.ok && r.value.status).toBe(302);
    expect(bodyText(r)).toBe('no location');
  });
});

describe('limits and failures', () => {
  it('a body over the cap is a response_size limit and the server-side stream is stopped', async () => {
    let written = 0;
    let closed = false;
    const srv = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const timer = setInterval(() => {
        if (res.destroyed || res.writableEnded) return;
        written += chunk.length;
        res.write(chunk);
      }, 2);
      res.on('close', () => {
        closed = true;
        clearInterval(timer);
      });
    });
    const net = reach([srv.origin], { maxResponseBytes: 64 * 1024 });
    const r = await net.fetch(get(`${srv.origin}/big`), ctx());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.tag).toBe('limit');
    expect(r.limit).toMatchObject({ limit: 'response_size', max: 64 * 1024 });
    await waitFor(() => closed);
    const atClose = written;
    await new Promise((res) => setTimeout(res, 50));
    expect(written).toBe(atClose);
  });

  it('a declared content-length over the cap is refused before reading', async () => {
    const srv = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(1024 * 1024) });
      res.write(Buffer.alloc(1024));
    });
    const net = reach([srv.origin], { maxResponseBytes: 1000 });
    const r = await net.fetch(get(`${srv.origin}/`), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'limit' }, limit: { limit: 'response_size', max: 1000 } });
  });

  it('a HEAD answer announcing a large content-length is not a limit (no body comes)', async () => {
    const srv = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(1024 * 1024) });
      res.end();
    });
    const net = reach([srv.origin], { maxResponseBytes: 1000 });
    const r = await net.fetch({ method: 'HEAD', url: srv.origin, headers: [] }, ctx());
    expect(r.ok && r.value.status).toBe(200);
    expect(header(r, 'content-length')).toEqual([String(1024 * 1024)]);
  });

  it('a body exactly at the cap is fine', async () => {
    const srv = await startServer((_req, res) => text(res, 200, 'x'.repeat(1000)));
    const net = reach([srv.origin], { maxResponseBytes: 1000 });
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toHaveLength(1000);
  });

  it('a slow server hits the deadline: limit, and the connection is dropped', async () => {
    let serverSawClose = false;
    const srv = await startServer((req) => {
      req.socket.on('close', () => (serverSawClose = true));
      // never answers
    });
    const net = reach([srv.origin], { timeoutMs: 200 });
    const started = Date.now();
    const r = await net.fetch(get(`${srv.origin}/slow`), ctx());
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r).toMatchObject({ ok: false, error: { tag: 'limit' } });
    if (!r.ok) expect(r.error.val).toMatch(/timed out/);
    await waitFor(() => serverSawClose);
  });

  it('a body that trickles past the deadline is a limit too', async () => {
    const srv = await startServer((_req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write('.'), 20);
      res.on('close', () => clearInterval(t));
    });
    const net = reach([srv.origin], { timeoutMs: 200 });
    expect(await net.fetch(get(`${srv.origin}/`), ctx())).toMatchObject({ ok: false, error: { tag: 'limit' } });
  });

  it('ctx.signal aborting is failed, promptly', async () => {
    const srv = await startServer(() => undefined);
    const net = reach([srv.origin]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const r = await net.fetch(get(`${srv.origin}/`), ctx(ac.signal));
    expect(r).toMatchObject({ ok: false, error: { tag: 'failed' } });
    const pre = new AbortController();
    pre.abort();
    expect(await net.fetch(get(`${srv.origin}/`), ctx(pre.signal))).toMatchObject({ ok: false, error: { tag: 'failed' } });
  });

  it('connection refused is failed with a short message', async () => {
    const port = await freePort();
    const net = reach([`http://127.0.0.1:${port}`]);
    const r = await net.fetch(get(`http://127.0.0.1:${port}/`), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'failed', val: 'connection refused' } });
  });

  it('a request body over maxRequestBytes is an io_bytes limit, nothing sent', async () => {
    const srv = await startServer(ok);
    const net = reach([srv.origin], { maxRequestBytes: 10 });
    const r = await net.fetch({ method: 'POST', url: srv.origin, headers: [], body: new Uint8Array(11) }, ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'limit' }, limit: { limit: 'io_bytes', max: 10 } });
    expect(srv.hits).toBe(0);
  });

  it('close() ends in-flight calls (failed) and later calls', async () => {
    const srv = await startServer(() => undefined);
    const net = reach([srv.origin]);
    const pending = net.fetch(get(`${srv.origin}/`), ctx());
    await waitFor(() => srv.hits === 1);
    await net.close();
    expect(await pending).toMatchObject({ ok: false, error: { tag: 'failed' } });
    expect(await net.fetch(get(`${srv.origin}/`), ctx())).toMatchObject({ ok: false, error: { tag: 'failed' } });
  });

  it('bad options are refused at construction, not at fetch time', () => {
    const policy = compileNetPolicy(['api.example.com']);
    expect(() => createNetCapability({ policy, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createNetCapability({ policy, maxResponseBytes: -1 })).toThrow(/maxResponseBytes/);
    expect(() => createNetCapability({ policy, maxRedirects: 1.5 })).toThrow(/maxRedirects/);
  });

  it('never throws, even on a malformed request object', async () => {
    const net = reach(['api.example.com']);
    const r = await net.fetch({ method: 'GET', url: 'https://api.example.com/', headers: 'nope' } as unknown as NetRequest, ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'invalid' } });
  });
});

describe('keep-alive: connections reused only for the same origin and the same checked addresses', () => {
  /** Counts the TCP connections a server accepts and how many of them have closed. */
  function track(server: http.Server | https.Server) {
    const sockets: Socket[] = [];
    let closed = 0;
    server.on('connection', (s: Socket) => {
      sockets.push(s);
      s.on('close', () => closed++);
    });
    return {
      sockets,
      get connections() {
        return sockets.length;
      },
      get closed() {
        return closed;
      },
    };
  }

  /** A second server on 127.0.0.2, same port as `port`, answering `body`. */
  async function twin(port: number, body: string): Promise<{ server: http.Server; hits: () => number }> {
    let hits = 0;
    const server = http.createServer((_req, res) => {
      hits++;
      text(res, 200, body);
    });
    servers.push(server);
    server.listen(port, '127.0.0.2');
    await once(server, 'listening');
    return { server, hits: () => hits };
  }

  it('two sequential requests to one origin share one TCP connection (the name is still resolved each time)', async () => {
    const srv = await startServer((req, res) => text(res, 200, `host=${req.headers.host}`));
    const t = track(srv.server);
    const { calls, resolver } = scriptedResolver([v4('127.0.0.1')]);
    const net = reach([`http://api.test:${srv.port}`, srv.origin], { resolver });
    expect(bodyText(await net.fetch(get(`http://api.test:${srv.port}/a`), ctx()))).toBe(`host=api.test:${srv.port}`);
    expect(bodyText(await net.fetch(get(`http://api.test:${srv.port}/b`), ctx()))).toBe(`host=api.test:${srv.port}`);
    expect(calls).toEqual(['api.test', 'api.test']);
    expect(t.connections).toBe(1);
    // an IP-literal URL keys on its address: its own connection, reused too
    expect(bodyText(await net.fetch(get(`${srv.origin}/c`), ctx()))).toBe(`host=127.0.0.1:${srv.port}`);
    expect(bodyText(await net.fetch(get(`${srv.origin}/d`), ctx()))).toBe(`host=127.0.0.1:${srv.port}`);
    expect(t.connections).toBe(2);
    expect(srv.hits).toBe(4);
  });

  it('a changed resolver answer gets a new connection to the newly checked address; the old answer reuses its own', async () => {
    const one = await startServer((_req, res) => text(res, 200, 'one'));
    const t = track(one.server);
    const two = await twin(one.port, 'two');
    const t2 = track(two.server);
    const { calls, resolver } = scriptedResolver([v4('127.0.0.1')], [v4('127.0.0.2')], [v4('127.0.0.1')], [v4('127.0.0.2'), v4('127.0.0.1')]);
    const net = reach([`http://api.test:${one.port}`], { resolver });
    const url = `http://api.test:${one.port}/`;
    expect(bodyText(await net.fetch(get(url), ctx()))).toBe('one');
    expect(bodyText(await net.fetch(get(url), ctx()))).toBe('two');
    expect(bodyText(await net.fetch(get(url), ctx()))).toBe('one');
    expect(t.connections).toBe(1);
    expect(t2.connections).toBe(1);
    expect(two.hits()).toBe(1);
    // another address SET (even one containing a known address) is another key: a new connection
    const r = await net.fetch(get(url), ctx());
    expect(r.ok).toBe(true);
    expect(t.connections + t2.connections).toBe(3);
    expect(calls).toHaveLength(4);
  });

  it('a warm connection does not let a rebinding answer through: the new answer is checked and denied, nothing sent', async () => {
    const one = await startServer((_req, res) => text(res, 200, 'one'));
    const two = await twin(one.port, 'two');
    const { calls, resolver } = scriptedResolver([v4('127.0.0.1')], [v4('127.0.0.2')], [v4('127.0.0.1'), v4('127.0.0.2')], [v4('127.0.0.1')]);
    // explicit: loopback allowed, except 127.0.0.2, which the operator denies
    const net = createNetCapability({
      policy: compileNetPolicy([`http://api.test:${one.port}`], { allowPrivateNetworks: true, deniedDomains: ['127.0.0.2'] }),
      resolver,
    });
    caps.push(net);
    const url = `http://api.test:${one.port}/`;
    expect(bodyText(await net.fetch(get(url), ctx()))).toBe('one');
    expect(await net.fetch(get(url), ctx())).toMatchObject({ ok: false, error: { tag: 'denied' }, denial: { rule: 'net.host_denied_by_policy' } });
    expect(await net.fetch(get(url), ctx())).toMatchObject({ ok: false, error: { tag: 'denied' } });
    expect(bodyText(await net.fetch(get(url), ctx()))).toBe('one');
    expect(calls).toHaveLength(4);
    expect(one.hits).toBe(2);
    expect(two.hits()).toBe(0);
  });

  it('two names on one address never share a connection', async () => {
    const srv = await startServer((req, res) => text(res, 200, `host=${req.headers.host}`));
    const t = track(srv.server);
    const { resolver } = scriptedResolver([v4('127.0.0.1')]);
    const net = reach([`http://a.test:${srv.port}`, `http://b.test:${srv.port}`], { resolver });
    for (const name of ['a', 'b', 'a', 'b']) {
      expect(bodyText(await net.fetch(get(`http://${name}.test:${srv.port}/`), ctx()))).toBe(`host=${name}.test:${srv.port}`);
    }
    expect(t.connections).toBe(2);
  });

  it('after a body-cap hit the connection is destroyed; the next request works on a new one', async () => {
    const srv = await startServer((req, res) => {
      if (req.url === '/big') text(res, 200, 'x'.repeat(5000));
      else if (req.url === '/declared') {
        res.writeHead(200, { 'content-length': String(1024 * 1024) });
        res.write(Buffer.alloc(1024));
      } else text(res, 200, 'small');
    });
    const t = track(srv.server);
    const net = reach([srv.origin], { maxResponseBytes: 1000 });
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('small');
    expect(await net.fetch(get(`${srv.origin}/big`), ctx())).toMatchObject({ ok: false, limit: { limit: 'response_size' } });
    await waitFor(() => t.closed === 1);
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('small');
    expect(t.connections).toBe(2);
    expect(await net.fetch(get(`${srv.origin}/declared`), ctx())).toMatchObject({ ok: false, limit: { limit: 'response_size' } });
    await waitFor(() => t.closed === 2);
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('small');
    expect(t.connections).toBe(3);
  });

  it('after an abort (ctx.signal or deadline) mid-response the connection is destroyed; the next request works', async () => {
    const srv = await startServer((req, res) => {
      if (req.url === '/stall') {
        res.writeHead(200);
        res.write('partial');
      } else text(res, 200, 'fine');
    });
    const t = track(srv.server);
    const net = reach([srv.origin], { timeoutMs: 1000 });
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('fine');
    const ac = new AbortController();
    const stalled = net.fetch(get(`${srv.origin}/stall`), ctx(ac.signal));
    await waitFor(() => srv.hits === 2);
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    expect(await stalled).toMatchObject({ ok: false, error: { tag: 'failed' } });
    await waitFor(() => t.closed === 1);
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('fine');
    expect(t.connections).toBe(2);
    // the deadline, on a reused connection
    expect(await net.fetch(get(`${srv.origin}/stall`), ctx())).toMatchObject({ ok: false, error: { tag: 'limit' } });
    await waitFor(() => t.closed === 2);
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('fine');
    expect(t.connections).toBe(3);
  });

  it('close() closes idle keep-alive sockets (the server sees them end)', async () => {
    const a = await startServer(ok);
    const b = await startServer(ok);
    const ta = track(a.server);
    const tb = track(b.server);
    const net = reach([a.origin, b.origin]);
    expect(bodyText(await net.fetch(get(`${a.origin}/`), ctx()))).toBe('hello');
    expect(bodyText(await net.fetch(get(`${b.origin}/`), ctx()))).toBe('hello');
    await new Promise((r) => setTimeout(r, 50));
    expect(ta.closed + tb.closed).toBe(0);
    await net.close();
    await waitFor(() => ta.closed === 1 && tb.closed === 1);
  });

  it('an idle connection is closed after keepAliveMs', async () => {
    const srv = await startServer(ok);
    const t = track(srv.server);
    const net = reach([srv.origin], { keepAliveMs: 100 });
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('hello');
    await waitFor(() => t.closed === 1);
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('hello');
    expect(t.connections).toBe(2);
  });

  it('the idle cache is an LRU bounded by maxIdleConnections', async () => {
    const a = await startServer(ok);
    const b = await startServer(ok);
    const ta = track(a.server);
    const tb = track(b.server);
    const net = reach([a.origin, b.origin], { maxIdleConnections: 1 });
    expect(bodyText(await net.fetch(get(`${a.origin}/`), ctx()))).toBe('hello');
    expect(bodyText(await net.fetch(get(`${b.origin}/`), ctx()))).toBe('hello');
    await waitFor(() => ta.closed === 1); // evicted when b's went back
    expect(bodyText(await net.fetch(get(`${b.origin}/`), ctx()))).toBe('hello');
    expect(tb.connections).toBe(1);
    expect(bodyText(await net.fetch(get(`${a.origin}/`), ctx()))).toBe('hello');
    expect(ta.connections).toBe(2);
  });

  it('keepAliveMs: 0 turns reuse off (a connection per request)', async () => {
    const srv = await startServer(ok);
    const t = track(srv.server);
    const net = reach([srv.origin], { keepAliveMs: 0 });
    for (let i = 0; i < 3; i++) expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('hello');
    expect(t.connections).toBe(3);
  });

  it('concurrent calls to one origin get their own connections (no queue behind a busy one)', async () => {
    const held: http.ServerResponse[] = [];
    const srv = await startServer((req, res) => {
      if (req.url !== '/hold') return text(res, 200, 'quick');
      held.push(res);
      // both answered only once both arrived: serialized requests would hit the deadline
      if (held.length === 2) for (const h of held) text(h, 200, 'held');
    });
    const t = track(srv.server);
    const net = reach([srv.origin], { timeoutMs: 2000 });
    // one idle connection in the cache: the first call takes it, the second must not wait for it
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('quick');
    const [r1, r2] = await Promise.all([net.fetch(get(`${srv.origin}/hold`), ctx()), net.fetch(get(`${srv.origin}/hold`), ctx())]);
    expect(bodyText(r1)).toBe('held');
    expect(bodyText(r2)).toBe('held');
    expect(t.connections).toBe(2);
    // both went back to the cache: two more concurrent calls need no new connection
    held.length = 0;
    const [r3, r4] = await Promise.all([net.fetch(get(`${srv.origin}/hold`), ctx()), net.fetch(get(`${srv.origin}/hold`), ctx())]);
    expect(bodyText(r3)).toBe('held');
    expect(bodyText(r4)).toBe('held');
    expect(t.connections).toBe(2);
  });

  it('a redirect to another origin uses the connection of that origin', async () => {
    const b = await startServer((req, res) => text(res, 200, `b ${req.url}`));
    const tb = track(b.server);
    const a = await startServer((_req, res) => text(res, 302, '', { location: `${b.origin}/landing` }));
    const net = reach([a.origin, b.origin]);
    expect(bodyText(await net.fetch(get(`${b.origin}/first`), ctx()))).toBe('b /first');
    expect(bodyText(await net.fetch(get(`${a.origin}/start`), ctx()))).toBe('b /landing');
    expect(bodyText(await net.fetch(get(`${b.origin}/again`), ctx()))).toBe('b /again');
    expect(tb.connections).toBe(1);
  });

  it('a reused connection the server drops is retried once on a new one for GET, never for POST', async () => {
    const perSocket = new WeakMap<Socket, number>();
    const srv = await startServer((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      // a server closing the idle connection just as the next request arrives
      if (req.url === '/flaky' && n > 1) req.socket.destroy();
      else text(res, 200, `${req.method} ok`);
    });
    const t = track(srv.server);
    const net = reach([srv.origin]);
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('GET ok');
    expect(bodyText(await net.fetch(get(`${srv.origin}/flaky`), ctx()))).toBe('GET ok');
    expect(t.connections).toBe(2);
    expect(srv.seen.map((s) => s.url)).toEqual(['/', '/flaky', '/flaky']);
    const post = await net.fetch({ method: 'POST', url: `${srv.origin}/flaky`, headers: [], body: new Uint8Array(1) }, ctx());
    expect(post).toMatchObject({ ok: false, error: { tag: 'failed', val: 'connection closed by the server' } });
    expect(srv.seen.filter((s) => s.method === 'POST')).toHaveLength(1);
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('GET ok');
  });

  it('bad keep-alive options are refused at construction', () => {
    const policy = compileNetPolicy(['api.example.com']);
    expect(() => createNetCapability({ policy, keepAliveMs: -1 })).toThrow(/keepAliveMs/);
    expect(() => createNetCapability({ policy, maxIdleConnections: 0.5 })).toThrow(/maxIdleConnections/);
  });
});

describe('request headers: host-owned or malformed ones are refused (invalid), nothing sent', () => {
  it.each([
    ['host', 'evil.example'],
    ['Host', 'evil.example'],
    ['connection', 'close'],
    ['keep-alive', 'timeout=5'],
    ['proxy-authorization', 'Basic eA=='],
    ['proxy-anything', 'x'],
    ['transfer-encoding', 'chunked'],
    ['content-length', '5'],
    ['upgrade', 'websocket'],
    ['te', 'trailers'],
    ['x-injected', 'a\r\nhost: evil'],
    ['x-nul', 'a\u0000b'],
    ['bad name', 'x'],
    ['', 'x'],
  ])('%s', async (name, value) => {
    const srv = await startServer(ok);
    const net = reach([srv.origin]);
    const r = await net.fetch(get(`${srv.origin}/`, [[name, value]]), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'invalid' } });
    expect(srv.hits).toBe(0);
  });

  it('a GET with a body is invalid', async () => {
    const srv = await startServer(ok);
    const net = reach([srv.origin]);
    const r = await net.fetch({ method: 'GET', url: srv.origin, headers: [], body: new Uint8Array(1) }, ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'invalid' } });
    expect(srv.hits).toBe(0);
  });

  it('the guard decides before header validation: a denied URL with bad headers is a denial', async () => {
    const net = reach(['api.example.com']);
    const r = await net.fetch(get('https://evil.example/', [['host', 'x']]), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'denied' } });
    expect(r.ok ? undefined : r.denial?.operation).toBe('GET');
  });
});

describe('the injected fetch seam', () => {
  function fakeFetch(script: (url: string, n: number) => Response) {
    const calls: Array<{ url: string; init: Parameters<FetchLike>[1] }> = [];
    const fetch: FetchLike = async (url, init) => {
      calls.push({ url, init });
      return script(url, calls.length);
    };
    return { calls, fetch };
  }

  it('is called only after a yes, with redirect manual and a signal', async () => {
    const { calls, fetch } = fakeFetch(() => new Response('far away', { status: 200, headers: { 'x-a': '1' } }));
    const net = cap(['api.example.com'], { fetch });
    const denied = await net.fetch(get('https://evil.example/'), ctx());
    expect(denied).toMatchObject({ ok: false, error: { tag: 'denied' } });
    expect(calls).toHaveLength(0);
    const r = await net.fetch(get('https://api.example.com/v1', [['accept', 'application/json']]), ctx());
    expect(bodyText(r)).toBe('far away');
    expect(header(r, 'x-a')).toEqual(['1']);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe('https://api.example.com/v1');
    expect(calls[0]?.init.redirect).toBe('manual');
    expect(calls[0]?.init.method).toBe('GET');
    expect(calls[0]?.init.signal).toBeInstanceOf(AbortSignal);
    expect(calls[0]?.init.headers).toContainEqual(['accept', 'application/json']);
  });

  it('redirects are still followed by the host and re-decided', async () => {
    const { calls, fetch } = fakeFetch((url) => {
      if (url.endsWith('/to-evil')) return new Response(null, { status: 302, headers: { location: 'https://evil.example/x' } });
      if (url.endsWith('/to-ok')) return new Response(null, { status: 307, headers: { location: '/final' } });
      return new Response('final', { status: 200 });
    });
    const net = cap(['api.example.com'], { fetch });
    const bad = await net.fetch(get('https://api.example.com/to-evil'), ctx());
    expect(bad).toMatchObject({
      ok: false,
      error: { tag: 'denied' },
      denial: { operation: 'redirect', target: 'https://evil.example/x' },
    });
    expect(calls.map((c) => c.url)).toEqual(['https://api.example.com/to-evil']);
    const good = await net.fetch(get('https://api.example.com/to-ok'), ctx());
    expect(bodyText(good)).toBe('final');
    expect(calls.map((c) => c.url).slice(1)).toEqual(['https://api.example.com/to-ok', 'https://api.example.com/final']);
  });

  it("Node's own fetch as the seam: manual redirects are visible and re-decided", async () => {
    const evil = await startServer(ok);
    const b = await startServer((_req, res) => text(res, 200, 'landed'));
    const a = await startServer((req, res) =>
      text(res, 302, '', { location: req.url === '/evil' ? `${evil.origin}/` : `${b.origin}/landing` }),
    );
    // explicit: loopback allowed (all servers live there); evil is simply not listed
    const net = reach([a.origin, b.origin], { fetch: globalThis.fetch as FetchLike });
    expect(bodyText(await net.fetch(get(`${a.origin}/good`), ctx()))).toBe('landed');
    const r = await net.fetch(get(`${a.origin}/evil`), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'denied' }, denial: { operation: 'redirect', target: `${evil.origin}/` } });
    expect(evil.hits).toBe(0);
  });

  it('a response over the cap through the seam is a limit, and its stream is cancelled', async () => {
    let cancelled = false;
    const fetch: FetchLike = async () => {
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          c.enqueue(new Uint8Array(1024));
        },
        cancel() {
          cancelled = true;
        },
      });
      return new Response(stream, { status: 200 });
    };
    const net = cap(['api.example.com'], { fetch, maxResponseBytes: 4096 });
    const r = await net.fetch(get('https://api.example.com/'), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'limit' }, limit: { limit: 'response_size' } });
    await waitFor(() => cancelled);
  });

  it('a transport that never answers hits the deadline', async () => {
    const fetch: FetchLike = () => new Promise<Response>(() => undefined);
    const net = cap(['api.example.com'], { fetch, timeoutMs: 100 });
    expect(await net.fetch(get('https://api.example.com/'), ctx())).toMatchObject({ ok: false, error: { tag: 'limit' } });
  });

  it('a transport that throws is failed', async () => {
    const fetch: FetchLike = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) });
    };
    const net = cap(['api.example.com'], { fetch });
    expect(await net.fetch(get('https://api.example.com/'), ctx())).toMatchObject({
      ok: false,
      error: { tag: 'failed', val: 'connection refused' },
    });
  });
});

describe('environment', () => {
  it('HTTP_PROXY / HTTPS_PROXY pointing at a dead proxy do not affect the request', async () => {
    const deadProxy = await freePort();
    for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) {
      envBackup[k] = process.env[k];
    }
    process.env.HTTP_PROXY = process.env.http_proxy = `http://127.0.0.1:${deadProxy}`;
    process.env.HTTPS_PROXY = process.env.https_proxy = `http://127.0.0.1:${deadProxy}`;
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    const srv = await startServer(ok);
    const net = reach([srv.origin]);
    expect(bodyText(await net.fetch(get(`${srv.origin}/`), ctx()))).toBe('hello');
    expect(srv.hits).toBe(1);
  });
});

// TLS: the certificate is verified against the host name (servername = the name, not the
// pinned address). Needs openssl to mint a throwaway self-signed certificate.
const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasOpenssl)('TLS', () => {
  it('connects to the pinned address, sends SNI = host name, and refuses an untrusted certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'net-tls-'));
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=api.test', '-addext', 'subjectAltName=DNS:api.test'],
        { stdio: 'ignore' },
      );
      const key = readFileSync(join(dir, 'key.pem'));
      const cert = readFileSync(join(dir, 'cert.pem'));
      const snis: string[] = [];
      const server = https.createServer(
        {
          key,
          cert,
          SNICallback: (name, cb) => {
            snis.push(name);
            cb(null, tls.createSecureContext({ key, cert }));
          },
        },
        (_req, res) => text(res, 200, 'hello'),
      );
      server.on('tlsClientError', () => undefined);
      const srv = await listen(server, 'https');
      const { calls, resolver } = scriptedResolver([v4('127.0.0.1')]);
      // explicit: loopback allowed; api.test exists only in the scripted resolver
      const net = reach([`https://api.test:${srv.port}`], { resolver });
      const r = await net.fetch(get(`https://api.test:${srv.port}/`), ctx());
      expect(r).toMatchObject({ ok: false, error: { tag: 'failed' } });
      if (!r.ok) expect(r.error.val).toMatch(/TLS/);
      expect(calls).toEqual(['api.test']);
      expect(snis).toEqual(['api.test']);
      expect(srv.hits).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
