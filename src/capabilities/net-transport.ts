/**
 * The two transports of `net.fetch`: where one hop's request leaves the host. Both are called
 * only after the flow (net.ts) decided the hop's URL and, for the pinned client, every address;
 * both answer a `HopResponse` whose body the flow reads, or throw (the flow maps the error).
 *
 * - `sendPinned` (the default): an undici Client from the connection cache, pinned to the checked
 *   addresses. A request that fails on a REUSED connection before any response byte (the server
 *   closed the idle connection as it went out) is sent once more on a new connection to the same
 *   checked addresses (no second resolution) when its method is idempotent (GET, HEAD, OPTIONS,
 *   PUT, DELETE); a POST or PATCH is not repeated.
 * - `sendInjected` (the SkillInvoker `fetch` option): called with `redirect: 'manual'` so every
 *   redirect comes back to the flow; it is TRUSTED for name resolution (only an IP-literal URL
 *   can be checked, which the flow does before calling it).
 *
 * Response headers: a list of {name, value}, names lower-case, repeated headers kept as separate
 * entries; `set-cookie` is KEPT: the skill is the HTTP client, there is no host cookie jar.
 */

import type { Dispatcher } from 'undici';
import { raceAbort, poolKey, type ConnectionCache, type ResolvedAddress } from './net-connections.js';
import { errCode, fail, type Failure } from './net-errors.js';
import type { HeaderList } from './http-headers.js';
import type { FetchLike, NetHeader } from './types.js';

/** One request of a call: the first one, or a redirect the host follows. */
export interface Hop {
  url: URL;
  method: string;
  headers: HeaderList;
  body: Uint8Array | undefined;
  /** 'GET'... for the first hop, 'redirect' after. */
  operation: string;
  /** Aborted by the deadline, ctx.signal or close(). */
  signal: AbortSignal;
}

/** One response of one hop, before its body is read. */
export interface HopResponse {
  status: number;
  headers: NetHeader[];
  /** Body length the transport announced, when it is the number of bytes that will be read. */
  declaredLength: number | undefined;
  /** Next body chunk, or null at the end. */
  read(): Promise<Uint8Array | null>;
  /** Stop: abort the request, release the connection. Idempotent. */
  dispose(): void;
}

/** Methods sent once more when a reused connection fails before any response byte (RFC 9110 9.2.2). */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Errors of a connection the server closed (or reset) under a request. */
const STALE_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** The default transport: a pinned undici Client, reused only for the same origin and checked addresses. */
export async function sendPinned(cache: ConnectionCache, hop: Hop, addresses: readonly ResolvedAddress[]): Promise<HopResponse> {
  const { url } = hop;
  const key = poolKey(url, addresses);
  if (hop.signal.aborted) throw hop.signal.reason;
  let pc = cache.checkout(key) ?? cache.open(url, addresses, key);

  let res: Dispatcher.ResponseData;
  for (;;) {
    try {
      res = await pc.client.request({
        path: `${url.pathname}${url.search}`,
        method: hop.method as Dispatcher.HttpMethod,
        headers: hop.headers.flat(),
        body: hop.body ?? null,
        signal: hop.signal,
      });
      break;
    } catch (err) {
      const reused = pc.uses > 0;
      cache.discard(pc);
      // The server closed an idle connection as the request went out: once more, on a new
      // connection to the same checked addresses, if sending it twice is harmless.
      const stale = reused && STALE_CONNECTION_CODES.has(errCode(err) ?? '');
      if (stale && IDEMPOTENT_METHODS.has(hop.method) && !hop.signal.aborted && !cache.closed) {
        pc = cache.open(url, addresses, key);
        continue;
      }
      throw err;
    }
  }
  pc.uses++;
  const used = pc;
  let settled = false;
  /** Hands the Client back (body read to the end) or destroys it (anything else). Idempotent. */
  const settle = (reusable: boolean): void => {
    if (settled) return;
    settled = true;
    cache.release(used, reusable && !hop.signal.aborted);
  };

  const headers: NetHeader[] = [];
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.push({ name: name.toLowerCase(), value: v });
  }
  const cl = res.headers['content-length'];
  const declared = typeof cl === 'string' && /^\d+$/.test(cl) ? Number(cl) : undefined;
  // Destroying the body early (cap, redirect, deadline) emits an AbortError: errors are read
  // through the iterator, this listener only keeps a late one from becoming an uncaught exception.
  res.body.on('error', () => undefined);
  const iterator = res.body[Symbol.asyncIterator]();
  return {
    status: res.statusCode,
    headers,
    declaredLength: declared,
    async read() {
      const next = (await raceAbort(iterator.next(), hop.signal)) as IteratorResult<Buffer>;
      if (next.done) {
        // The whole response went through: the connection is clean, it may carry another one.
        settle(true);
        return null;
      }
      return next.value;
    },
    dispose() {
      if (settled) return;
      // Not read to the end (cap, redirect, deadline, abort, error): this connection is done.
      res.body.destroy();
      settle(false);
    },
  };
}

/** The injected transport: the caller's fetch, with manual redirects and a per-hop abort. */
export async function sendInjected(fetchImpl: FetchLike, hop: Hop): Promise<HopResponse | Failure> {
  // A hop controller, so one hop can be stopped (body cap, redirect) without the deadline.
  const hopAbort = new AbortController();
  const onAbort = (): void => hopAbort.abort(hop.signal.reason);
  if (hop.signal.aborted) onAbort();
  else hop.signal.addEventListener('abort', onAbort, { once: true });
  const detach = (): void => hop.signal.removeEventListener('abort', onAbort);

  let res: Response;
  try {
    res = await raceAbort(
      Promise.resolve().then(() =>
        fetchImpl(hop.url.href, {
          method: hop.method,
          headers: hop.headers.map(([n, v]) => [n, v] as [string, string]),
          body: hop.body,
          redirect: 'manual',
          signal: hopAbort.signal,
        }),
      ),
      hop.signal,
    );
  } catch (err) {
    detach();
    hopAbort.abort();
    throw err;
  }
  if (res.type === 'opaqueredirect' || res.status === 0) {
    detach();
    hopAbort.abort();
    return fail('failed', 'the injected transport returned an opaque response (redirects must be manual and visible)');
  }
  const headers: NetHeader[] = [];
  res.headers.forEach((value, name) => {
    if (name.toLowerCase() !== 'set-cookie') headers.push({ name: name.toLowerCase(), value });
  });
  const getSetCookie = (res.headers as { getSetCookie?: () => string[] }).getSetCookie;
  if (typeof getSetCookie === 'function') {
    for (const v of getSetCookie.call(res.headers)) headers.push({ name: 'set-cookie', value: v });
  } else {
    const v = res.headers.get('set-cookie');
    if (v !== null) headers.push({ name: 'set-cookie', value: v });
  }
  const reader = res.body?.getReader();
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    detach();
    reader?.cancel().catch(() => undefined);
    hopAbort.abort();
  };
  return {
    status: res.status,
    headers,
    // fetch may decompress: the announced length is not the number of bytes read.
    declaredLength: undefined,
    async read() {
      if (!reader) return null;
      const next = await raceAbort(reader.read(), hop.signal);
      if (next.done) {
        detach();
        disposed = true;
        return null;
      }
      return next.value;
    },
    dispose,
  };
}
