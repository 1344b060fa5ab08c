/**
 * net.fetch, the flow (src/capabilities/net.ts), through the real stack: what reaches a server,
 * what is denied before anything is sent, redirects decided hop by hop, the body and deadline
 * limits. Fixtures: ./net-support.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createNetCapability } from '../../src/capabilities/net.js';
import type { NetRequest } from '../../src/capabilities/types.js';
import { compileNetPolicy } from '../../src/guards/net-guard.js';
import {
  bodyText,
  cap,
  closeNetFixtures,
  ctx,
  envBackup,
  freePort,
  get,
  header,
  ok,
  reach,
  scriptedResolver,
  startServer,
  text,
  v4,
  waitFor,
} from './net-support.js';

afterEach(closeNetFixtures);

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
});

describe('request rules', () => {
  it('a GET with a body is invalid', async () => {
    const srv = await startServer(ok);
    const net = reach([srv.origin]);
    const r = await net.fetch({ method: 'GET', url: srv.origin, headers: [], body: new Uint8Array(1) }, ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'invalid' } });
    expect(srv.hits).toBe(0);
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
