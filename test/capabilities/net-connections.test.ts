/**
 * Where net.fetch connects (src/capabilities/net-connections.ts): the host name resolved once,
 * every answer checked, the socket pinned to the checked list (TLS still verified against the
 * name), and the keep-alive cache that reuses a connection only for the same origin and the same
 * checked addresses. Fixtures: ./net-support.ts.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { pinnedLookup } from '../../src/capabilities/net-connections.js';
import { createNetCapability } from '../../src/capabilities/net.js';
import { compileNetPolicy } from '../../src/guards/net-guard.js';
import {
  bodyText,
  cap,
  caps,
  closeNetFixtures,
  ctx,
  get,
  listen,
  ok,
  reach,
  scriptedResolver,
  servers,
  startServer,
  text,
  track,
  v4,
  v6,
  waitFor,
} from './net-support.js';

afterEach(closeNetFixtures);

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
});

describe('keep-alive: connections reused only for the same origin and the same checked addresses', () => {
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

  it('bad keep-alive options are refused at construction', () => {
    const policy = compileNetPolicy(['api.example.com']);
    expect(() => createNetCapability({ policy, keepAliveMs: -1 })).toThrow(/keepAliveMs/);
    expect(() => createNetCapability({ policy, maxIdleConnections: 0.5 })).toThrow(/maxIdleConnections/);
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
