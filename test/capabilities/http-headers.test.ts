/**
 * The request header rules of net.fetch (src/capabilities/http-headers.ts), through the real
 * stack: a host-owned or malformed header is refused before anything is sent.
 * Fixtures: ./net-support.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeNetFixtures, ctx, get, ok, reach, startServer } from './net-support.js';

afterEach(closeNetFixtures);

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

  it('the guard decides before header validation: a denied URL with bad headers is a denial', async () => {
    const net = reach(['api.example.com']);
    const r = await net.fetch(get('https://evil.example/', [['host', 'x']]), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'denied' } });
    expect(r.ok ? undefined : r.denial?.operation).toBe('GET');
  });
});
