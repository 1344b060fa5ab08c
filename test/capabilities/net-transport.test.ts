/**
 * The two transports of net.fetch (src/capabilities/net-transport.ts): the pinned undici client
 * (its one retry of an idempotent request on a connection the server dropped) and the injected
 * fetch seam (called only after a yes, manual redirects, caps and deadline still applied).
 * Fixtures: ./net-support.ts.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FetchLike } from '../../src/capabilities/types.js';
import { bodyText, cap, closeNetFixtures, ctx, get, header, ok, reach, startServer, text, track, waitFor } from './net-support.js';

afterEach(closeNetFixtures);

describe('the pinned client', () => {
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
});
