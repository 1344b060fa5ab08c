/**
 * How net.fetch says no (src/capabilities/net-errors.ts): resolver and transport failures become
 * short, guest-safe CapResults with the right WIT tag, and fetch() never throws.
 * Fixtures: ./net-support.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mapError } from '../../src/capabilities/net-errors.js';
import type { FetchLike, NetRequest } from '../../src/capabilities/types.js';
import { cap, closeNetFixtures, ctx, freePort, get, reach } from './net-support.js';

afterEach(closeNetFixtures);

describe('failures as results: the right tag, a short message, never a throw', () => {
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

  it('connection refused is failed with a short message', async () => {
    const port = await freePort();
    const net = reach([`http://127.0.0.1:${port}`]);
    const r = await net.fetch(get(`http://127.0.0.1:${port}/`), ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'failed', val: 'connection refused' } });
  });

  it('never throws, even on a malformed request object', async () => {
    const net = reach(['api.example.com']);
    const r = await net.fetch({ method: 'GET', url: 'https://api.example.com/', headers: 'nope' } as unknown as NetRequest, ctx());
    expect(r).toMatchObject({ ok: false, error: { tag: 'invalid' } });
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

describe('mapError: an error code (on the error or its cause) as a tag and a short message', () => {
  it.each([
    ['ECONNREFUSED', 'failed', 'connection refused'],
    ['ENOTFOUND', 'not-found', 'host not found'],
    ['UND_ERR_SOCKET', 'failed', 'connection closed by the server'],
    ['ENETUNREACH', 'failed', 'host unreachable'],
    ['UND_ERR_CONNECT_TIMEOUT', 'failed', 'connection timed out'],
    ['UND_ERR_HEADERS_TIMEOUT', 'limit', 'the server was too slow to answer'],
    ['UND_ERR_HEADERS_OVERFLOW', 'failed', 'response headers too large'],
    ['HPE_INVALID_CHUNK_SIZE', 'failed', 'malformed HTTP response'],
    ['CERT_HAS_EXPIRED', 'failed', 'TLS error (CERT_HAS_EXPIRED)'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'failed', 'TLS error (ERR_TLS_CERT_ALTNAME_INVALID)'],
    ['UND_ERR_INVALID_ARG', 'invalid', 'invalid request: fetch failed'],
    ['EWHATEVER', 'failed', 'network error (EWHATEVER)'],
  ])('%s -> %s: %s', (code, tag, val) => {
    // the inner message names an address: it never reaches the guest
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect 10.1.2.3:443'), { code }) });
    expect(mapError(err)).toEqual({ ok: false, error: { tag, val } });
  });

  it('an error without a code is a plain network error (its message, which may name an address, is dropped)', () => {
    expect(mapError(new Error('connect 10.1.2.3:443'))).toEqual({ ok: false, error: { tag: 'failed', val: 'network error' } });
  });
});
