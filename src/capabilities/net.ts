/**
 * The I/O behind `net.fetch`: done only after the net guard said yes, and re-checking what can
 * change between the check and the act.
 *
 * Every hop (the first request and each redirect the host follows itself) goes through:
 *   1. `decideUrl` (scheme, host, port, userinfo, IP literal, method), then
 *   2. with the default client: ONE resolution of the host name through `resolver`, every
 *      returned address checked with `decideAddress`, and a socket that can only connect to the
 *      checked addresses (the connector's `lookup` answers from that checked list, it never asks
 *      DNS again: a rebinding answer has no second lookup to slip into). TLS still verifies the
 *      certificate against the host name (servername = host, not the address).
 *   3. the request, the response headers, then either the next hop (3xx + Location) or the body,
 *      read with a running byte count.
 *
 * Connection reuse (keep-alive), default client only:
 * - Step 2 runs for EVERY hop, reused connection or not: the resolver is asked, every answer is
 *   checked, and only then is a connection chosen. An undici `Client` is pinned for life to the
 *   address list it was created with, so it is reused only when the key
 *   `origin (scheme, host, port) + the sorted checked addresses` is exactly the same (the same
 *   addresses in another order are the same set); any other answer (rebinding, a changed record,
 *   one address more or less) means another key, a new Client, a new connection to the newly
 *   checked addresses. An IP-literal URL keys on its address. The host name is part of the key,
 *   so two names on one address never share a connection (Host header, TLS servername and
 *   session are per name).
 * - A Client carries one request at a time and is only handed out when idle: concurrent calls to
 *   one origin get their own connections, as before, never a queue behind a slow one.
 * - A Client goes back to the cache only after its response body was read to the end. A body
 *   cap hit, a redirect (its body is not read), an error, the deadline, `ctx.signal` or close()
 *   destroy that Client (and its socket) instead: a half-read or aborted response never poisons
 *   the next request.
 * - The cache is an LRU of at most `maxIdleConnections` idle Clients (default 32); an idle socket
 *   is closed by undici after `keepAliveMs` (default 4 s; a server's shorter `Keep-Alive: timeout`
 *   hint wins, a longer one does not), and a sweep destroys Clients idle that long. `close()`
 *   destroys everything, idle or busy. `keepAliveMs: 0` turns reuse off (a Client per hop).
 * - A request that fails on a REUSED connection before any response byte (the server closed the
 *   idle connection as the request went out) is sent once more on a new connection to the same
 *   checked addresses (no second resolution) when its method is idempotent (GET, HEAD, OPTIONS,
 *   PUT, DELETE); a POST or PATCH is not repeated and answers `failed`.
 * - The cache belongs to one capability, and the invoker creates one capability per skill (per
 *   installed version): connections are never shared between skills.
 *
 * Decisions (documented here, tested in test/capabilities/net.test.ts):
 * - Request headers: a header the host owns is REFUSED with `invalid` rather than dropped
 *   silently, so a skill never believes it sent something it did not (see `HOST_OWNED_HEADERS`:
 *   host, connection, keep-alive, proxy-*, transfer-encoding, te, trailer, upgrade,
 *   content-length, expect, http2-settings). Names must be HTTP tokens, values must not
 *   contain CR, LF, NUL or other control characters (header injection). `authorization` and
 *   `cookie` set by the skill are sent (they are the skill's own), and dropped when a redirect
 *   changes origin. Nothing from the host is added except a default `user-agent`.
 * - Methods: what the guard allows (it answers the upper-cased method); a body on GET/HEAD is
 *   `invalid` (as in fetch); CONNECT is refused here too, whatever a policy says.
 * - Deadline: `timeoutMs` bounds the whole call (every hop, DNS, connect, body). Hitting it is a
 *   `limit` ("a limit was hit: ... deadline" in the WIT docs), without a LimitHit record because
 *   LimitHit has no deadline kind. `ctx.signal` aborting (invocation timeout/abort/close) is
 *   `failed`: the invocation is going away, the limit that fired is the invocation's.
 * - Too many redirects: `limit`, no LimitHit record (no kind for it either).
 * - Response body over `maxResponseBytes`: the request is aborted (socket destroyed), `limit`
 *   with `limit: { limit: 'response_size', max, message }`.
 * - Request body over `maxRequestBytes`: `limit` with `limit: { limit: 'io_bytes', ... }`.
 * - Response headers: a list of {name, value}, names lower-case, repeated headers kept as
 *   separate entries; `set-cookie` is KEPT: the skill is the HTTP client, there is no host
 *   cookie jar, and a cookie only goes anywhere if the skill sends it back itself.
 * - No proxy from the environment (HTTP_PROXY/HTTPS_PROXY/NO_PROXY are never read: private
 *   undici `Client`s of this capability, never the global dispatcher or EnvHttpProxyAgent), no
 *   cookies, no credentials from the host.
 * - An injected `fetch` (the SkillInvoker option) is called only after the URL guard's yes, with
 *   `redirect: 'manual'`; it is TRUSTED for name resolution (no address check is possible, only
 *   IP-literal URLs are checked with `decideAddress`). Redirects are still followed here, every
 *   hop decided again.
 * - `fetch()` never throws: every outcome is a CapResult.
 */

import { promises as dnsPromises, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import type { Client, Dispatcher } from 'undici';
import { lazyRequire } from '../lazy.js';

/** undici is about half of the library's import time; only a skill's first request needs it. */
const undici = lazyRequire<typeof import('undici')>('undici');
import { decideAddress, decideUrl, type NetDenial, type NetPolicy } from '../guards/net-guard.js';
import type { CallContext, CapResult, FetchLike, GuestErrorTag, NetHeader, NetRequest, NetResponse } from './types.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type NetResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface NetCapabilityOptions {
  policy: NetPolicy;
  /** Injected transport (the SkillInvoker `fetch` option), used only after a yes. */
  fetch?: FetchLike | undefined;
  /** DNS seam; default `dns.promises.lookup(host, { all: true })`. Called once per hop. */
  resolver?: NetResolver | undefined;
  /** Redirects the host follows before answering `limit`. Default 5. */
  maxRedirects?: number | undefined;
  /** Deadline of one `fetch()` call, all hops included; also bounded by `ctx.signal`. Default 30 s. */
  timeoutMs?: number | undefined;
  /** Default 10 MiB. */
  maxResponseBytes?: number | undefined;
  /** Default 10 MiB. */
  maxRequestBytes?: number | undefined;
  /** Default user-agent sent when the skill sets none. */
  userAgent?: string | undefined;
  /**
   * How long an idle keep-alive connection is kept (undici `keepAliveTimeout`, also the cap on a
   * server's `Keep-Alive: timeout` hint, and the idle age the sweep destroys). Default 4 s.
   * 0 turns connection reuse off: a new connection per hop, closed after it.
   */
  keepAliveMs?: number | undefined;
  /** Idle connections kept per capability (LRU). Default 32; 0 turns reuse off. */
  maxIdleConnections?: number | undefined;
}

export interface NetCapability {
  fetch(req: NetRequest, ctx: CallContext): Promise<CapResult<NetResponse>>;
  /** Aborts in-flight requests (they answer `failed`) and closes their connections. */
  close(): Promise<void>;
}

export const NET_DEFAULTS = {
  maxRedirects: 5,
  timeoutMs: 30_000,
  maxResponseBytes: 10 * 1024 * 1024,
  maxRequestBytes: 10 * 1024 * 1024,
  maxRequestHeaders: 100,
  maxRequestHeaderBytes: 64 * 1024,
  userAgent: 'agentos-skills/0.1',
  keepAliveMs: 4_000,
  maxIdleConnections: 32,
} as const;

/** Headers the host (or the HTTP client) owns: a skill setting one is refused with `invalid`. */
export const HOST_OWNED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'expect',
  'http2-settings',
]);

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Methods sent once more when a reused connection fails before any response byte (RFC 9110 9.2.2). */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Errors of a connection the server closed (or reset) under a request. */
const STALE_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);
/** Headers describing a request body: removed when a redirect turns the request into a GET. */
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-location']);
/** Credentials removed when a redirect changes origin. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const BAD_HEADER_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

type Failure = Extract<CapResult<never>, { ok: false }>;

function fail(tag: GuestErrorTag, val: string): Failure {
  return { ok: false, error: { tag, val } };
}

function denial(decision: NetDenial, target: string, operation: string): Failure {
  return {
    ok: false,
    error: { tag: decision.kind === 'invalid' ? 'invalid' : 'denied', val: decision.reason },
    denial: { capability: 'net', target, operation, reason: decision.reason, rule: decision.rule },
  };
}

/** One response of one hop, before its body is read. */
interface HopResponse {
  status: number;
  headers: NetHeader[];
  /** Body length the transport announced, when it is the number of bytes that will be read. */
  declaredLength: number | undefined;
  /** Next body chunk, or null at the end. */
  read(): Promise<Uint8Array | null>;
  /** Stop: abort the request, release the connection. Idempotent. */
  dispose(): void;
}

interface Hop {
  url: URL;
  method: string;
  headers: [string, string][];
  body: Uint8Array | undefined;
  /** 'GET'... for the first hop, 'redirect' after. */
  operation: string;
  /** Aborted by the deadline, ctx.signal or close(). */
  signal: AbortSignal;
}

type Transport = (hop: Hop) => Promise<HopResponse | Failure>;

/** An undici Client of the default transport: one connection, pinned to `key`'s addresses. */
interface PooledClient {
  client: Client;
  /** `origin + sorted checked addresses`: the only key under which this Client is handed out. */
  key: string;
  /** Requests already sent on it (> 0: the next one goes over a reused connection). */
  uses: number;
  /** When it went back to the cache (performance.now()). */
  idleSince: number;
}

export function createNetCapability(opts: NetCapabilityOptions): NetCapability {
  const policy = opts.policy;
  const resolver: NetResolver = opts.resolver ?? defaultResolver;
  const maxRedirects = count('maxRedirects', opts.maxRedirects, NET_DEFAULTS.maxRedirects, 0);
  // setTimeout treats anything above 2^31-1 ms as 1 ms: clamp instead.
  const timeoutMs = Math.min(count('timeoutMs', opts.timeoutMs, NET_DEFAULTS.timeoutMs, 1), MAX_TIMER_MS);
  const maxResponseBytes = count('maxResponseBytes', opts.maxResponseBytes, NET_DEFAULTS.maxResponseBytes, 0);
  const maxRequestBytes = count('maxRequestBytes', opts.maxRequestBytes, NET_DEFAULTS.maxRequestBytes, 0);
  const userAgent = opts.userAgent ?? NET_DEFAULTS.userAgent;
  const keepAliveMs = Math.min(count('keepAliveMs', opts.keepAliveMs, NET_DEFAULTS.keepAliveMs, 0), MAX_TIMER_MS);
  const maxIdle = count('maxIdleConnections', opts.maxIdleConnections, NET_DEFAULTS.maxIdleConnections, 0);
  const reuse = keepAliveMs > 0 && maxIdle > 0;

  let closed = false;
  /** Every in-flight call's controller, aborted by close(). */
  const inflight = new Set<AbortController>();
  /** Every undici client, busy or idle, destroyed by close(). */
  const clients = new Set<Client>();
  /** Idle clients, least recently used first. Only ever holds clients whose last body was read to the end. */
  const idle: PooledClient[] = [];
  let sweepTimer: NodeJS.Timeout | undefined;

  const injected = opts.fetch;
  const transport: Transport = injected ? (hop) => viaInjectedFetch(injected, hop) : (hop) => viaPinnedClient(hop);

  /** Address check of an IP-literal host (both transports): no DNS involved. */
  function checkLiteral(hop: Hop): Failure | undefined {
    const ip = literalIp(hop.url.hostname);
    if (ip === undefined) return undefined;
    const d = decideAddress(policy, hop.url.hostname, ip);
    return d.allow ? undefined : denial(d, hop.url.href, hop.operation);
  }

  async function viaPinnedClient(hop: Hop): Promise<HopResponse | Failure> {
    const { url } = hop;
    let addresses: ResolvedAddress[];
    const ip = literalIp(url.hostname);
    if (ip !== undefined) {
      const bad = checkLiteral(hop);
      if (bad) return bad;
      addresses = [{ address: ip, family: isIP(ip) === 6 ? 6 : 4 }];
    } else {
      // Resolve ONCE; every answer must pass, or nothing is connected.
      let answers: ResolvedAddress[];
      try {
        answers = await raceAbort(Promise.resolve().then(() => resolver(url.hostname)), hop.signal);
      } catch (err) {
        if (hop.signal.aborted) throw err;
        return dnsFailure(url.hostname, err);
      }
      if (!Array.isArray(answers) || answers.length === 0) return fail('not-found', `host '${url.hostname}' not found`);
      addresses = [];
      for (const a of answers) {
        const family = a && typeof a.address === 'string' ? isIP(a.address) : 0;
        if (family === 0) return fail('failed', `resolver returned an invalid address for '${url.hostname}'`);
        const d = decideAddress(policy, url.hostname, a.address);
        if (!d.allow) return denial(d, url.href, hop.operation);
        addresses.push({ address: a.address, family: family === 6 ? 6 : 4 });
      }
    }

    // The pool key: a Client is pinned to the addresses it was created with, so it may only
    // carry a request whose own, fresh, checked answer is that same set.
    const key = `${url.origin} ${addresses
      .map((a) => a.address)
      .sort()
      .join(' ')}`;
    if (hop.signal.aborted) throw hop.signal.reason;
    let pc = checkout(key) ?? newClient(url, addresses, key, ip !== undefined);

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
        discard(pc);
        // The server closed an idle connection as the request went out: once more, on a new
        // connection to the same checked addresses, if sending it twice is harmless.
        const stale = reused && STALE_CONNECTION_CODES.has(errCode(err) ?? '');
        if (stale && IDEMPOTENT_METHODS.has(hop.method) && !hop.signal.aborted && !closed) {
          pc = newClient(url, addresses, key, ip !== undefined);
          continue;
        }
        throw err;
      }
    }
    pc.uses++;
    const used = pc;
    let settled = false;
    /** Hands the client back (body read to the end) or destroys it (anything else). Idempotent. */
    const settle = (reusable: boolean): void => {
      if (settled) return;
      settled = true;
      release(used, reusable && !hop.signal.aborted);
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

  function newClient(url: URL, addresses: ResolvedAddress[], key: string, literal: boolean): PooledClient {
    const client = new (undici().Client)(url.origin, {
      connect: {
        // The pin: whatever net/tls ask, the answer is the checked list. No DNS from here on,
        // for this connection and for any reconnection of this Client.
        lookup: pinnedLookup(addresses),
        // Certificate checked against the name, not the address.
        ...(literal ? {} : { servername: url.hostname }),
        timeout: timeoutMs,
      },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // Idle connections close after keepAliveMs; a server's Keep-Alive hint may shorten that, not lengthen it.
      keepAliveTimeout: reuse ? keepAliveMs : 1,
      keepAliveMaxTimeout: reuse ? keepAliveMs : 1,
      pipelining: 1,
    });
    clients.add(client);
    return { client, key, uses: 0, idleSince: 0 };
  }

  /** The most recently used idle client for `key`, taken out of the cache. */
  function checkout(key: string): PooledClient | undefined {
    for (let i = idle.length - 1; i >= 0; i--) {
      const pc = idle[i]!;
      if (pc.key !== key) continue;
      idle.splice(i, 1);
      if (pc.client.closed || pc.client.destroyed) {
        discard(pc);
        continue;
      }
      return pc;
    }
    return undefined;
  }

  function discard(pc: PooledClient): void {
    clients.delete(pc.client);
    pc.client.destroy().catch(() => undefined);
  }

  function release(pc: PooledClient, reusable: boolean): void {
    if (!reusable || !reuse || closed || pc.client.closed || pc.client.destroyed) {
      discard(pc);
      return;
    }
    pc.idleSince = performance.now();
    idle.push(pc);
    while (idle.length > maxIdle) discard(idle.shift()!);
    armSweep();
  }

  /** While the cache holds clients: destroy those idle for keepAliveMs (undici closed their sockets by then). */
  function armSweep(): void {
    if (sweepTimer !== undefined || idle.length === 0) return;
    sweepTimer = setTimeout(() => {
      sweepTimer = undefined;
      const now = performance.now();
      for (let i = idle.length - 1; i >= 0; i--) {
        const pc = idle[i]!;
        if (now - pc.idleSince >= keepAliveMs) {
          idle.splice(i, 1);
          discard(pc);
        }
      }
      armSweep();
    }, keepAliveMs);
    // Never keeps the process (or a dropped capability) alive.
    sweepTimer.unref();
  }

  async function viaInjectedFetch(fetchImpl: FetchLike, hop: Hop): Promise<HopResponse | Failure> {
    const bad = checkLiteral(hop);
    if (bad) return bad;
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

  async function run(req: NetRequest, signal: AbortSignal): Promise<CapResult<NetResponse>> {
    if (!req || typeof req.url !== 'string' || typeof req.method !== 'string' || !Array.isArray(req.headers)) {
      return fail('invalid', 'request must have a method, a url and a header list');
    }
    // The guard first: a forbidden URL is a denial whatever else is wrong with the request.
    const first = decideUrl(policy, req.method, req.url);
    if (!first.allow) return denial(first, req.url, req.method.toUpperCase());
    let method = first.method;

    if (method === 'CONNECT') return fail('invalid', 'method CONNECT is not supported');
    const body = req.body;
    if (body !== undefined && body !== null && !(body instanceof Uint8Array)) return fail('invalid', 'body must be bytes');
    if (body && (method === 'GET' || method === 'HEAD')) return fail('invalid', `a ${method} request cannot have a body`);
    if (body && body.byteLength > maxRequestBytes) {
      const message = `request body of ${body.byteLength} bytes exceeds the ${maxRequestBytes}-byte limit`;
      return { ok: false, error: { tag: 'limit', val: message }, limit: { limit: 'io_bytes', max: maxRequestBytes, message } };
    }
    const checked = checkRequestHeaders(req.headers);
    if (!Array.isArray(checked)) return checked;
    let headers = checked;
    if (!headers.some(([n]) => n === 'user-agent')) headers.push(['user-agent', userAgent]);

    let url = first.url;
    let hopBody: Uint8Array | undefined = body ?? undefined;
    let operation = method;
    for (let redirects = 0; ; ) {
      const res = await transport({ url, method, headers, body: hopBody, operation, signal });
      if ('ok' in res) return res;

      const location = REDIRECT_STATUSES.has(res.status) ? res.headers.find((h) => h.name === 'location')?.value : undefined;
      if (location === undefined) return readBody(res, method);

      res.dispose();
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        return fail('failed', `redirect (${res.status}) to an invalid Location`);
      }
      // fetch spec, "HTTP-redirect fetch": 303 turns anything but GET/HEAD into GET; 301/302 turn POST into GET.
      if ((res.status === 303 && method !== 'GET' && method !== 'HEAD') || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        hopBody = undefined;
        headers = headers.filter(([n]) => !BODY_HEADERS.has(n));
      }
      if (next.origin !== url.origin) headers = headers.filter(([n]) => !CREDENTIAL_HEADERS.has(n));
      operation = 'redirect';
      // Decided before the hop count, so a redirect to a forbidden host is always audited as such.
      const d = decideUrl(policy, method, next.href);
      if (!d.allow) return denial(d, next.href, operation);
      if (redirects >= maxRedirects) return fail('limit', `too many redirects (more than ${maxRedirects})`);
      redirects++;
      url = d.url;
      method = d.method;
    }
  }

  async function readBody(res: HopResponse, method: string): Promise<CapResult<NetResponse>> {
    const tooLarge = (): Failure => {
      res.dispose();
      const message = `response body exceeds the ${maxResponseBytes}-byte limit`;
      return { ok: false, error: { tag: 'limit', val: message }, limit: { limit: 'response_size', max: maxResponseBytes, message } };
    };
    // HEAD, 204 and 304 carry no body whatever their content-length says.
    const bodiless = method === 'HEAD' || res.status === 204 || res.status === 304;
    if (!bodiless && res.declaredLength !== undefined && res.declaredLength > maxResponseBytes) return tooLarge();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const chunk = await res.read();
        if (chunk === null) break;
        total += chunk.byteLength;
        if (total > maxResponseBytes) return tooLarge();
        chunks.push(chunk);
      }
    } catch (err) {
      res.dispose();
      throw err;
    }
    res.dispose();
    const body = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      body.set(c, at);
      at += c.byteLength;
    }
    return { ok: true, value: { status: res.status, headers: res.headers, body } };
  }

  return {
    async fetch(req, ctx) {
      if (closed) return fail('failed', 'the net capability is closed');
      const ac = new AbortController();
      inflight.add(ac);
      let why: 'deadline' | 'aborted' | 'closed' | undefined;
      const timer = setTimeout(() => {
        why ??= 'deadline';
        ac.abort(new Error('deadline'));
      }, timeoutMs);
      const onCtxAbort = (): void => {
        why ??= 'aborted';
        ac.abort(new Error('aborted'));
      };
      const ctxSignal: AbortSignal | undefined = ctx?.signal;
      if (ctxSignal?.aborted) onCtxAbort();
      else ctxSignal?.addEventListener('abort', onCtxAbort, { once: true });
      try {
        if (ac.signal.aborted) return fail('failed', 'the invocation was aborted');
        return await run(req, ac.signal);
      } catch (err) {
        if (ac.signal.aborted) {
          if (closed && why === undefined) why = 'closed';
          if (why === 'deadline') return fail('limit', `net.fetch timed out after ${timeoutMs} ms`);
          if (why === 'closed') return fail('failed', 'the net capability is closed');
          return fail('failed', 'the invocation was aborted');
        }
        return mapError(err);
      } finally {
        clearTimeout(timer);
        ctxSignal?.removeEventListener('abort', onCtxAbort);
        inflight.delete(ac);
      }
    },

    async close() {
      closed = true;
      if (sweepTimer !== undefined) clearTimeout(sweepTimer);
      sweepTimer = undefined;
      for (const ac of inflight) ac.abort(new Error('closed'));
      idle.length = 0;
      const pending = [...clients].map((c) => c.destroy().catch(() => undefined));
      clients.clear();
      await Promise.all(pending);
    },
  };
}

// ---------------------------------------------------------------------------------------------

const MAX_TIMER_MS = 2 ** 31 - 1;

/** An option that must be a whole number >= min (Infinity allowed); a bad one is a programming error. */
function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (Number.isFinite(value) && !Number.isInteger(value))) {
    throw new TypeError(`net capability option ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

async function defaultResolver(hostname: string): Promise<ResolvedAddress[]> {
  const answers: LookupAddress[] = await dnsPromises.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

/** The IP of an IP-literal URL host (brackets removed), or undefined for a name. */
function literalIp(hostname: string): string | undefined {
  const h = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(h) ? h : undefined;
}

type PinnedLookup = (
  hostname: string,
  options: { family?: number | string; all?: boolean } | number | undefined,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/**
 * A `lookup` for net/tls that answers from the checked list only: the socket can connect to a
 * checked address and nothing else. It never consults DNS.
 */
export function pinnedLookup(addresses: readonly ResolvedAddress[]): PinnedLookup {
  return (_hostname, options, callback) => {
    const family = typeof options === 'number' ? options : options?.family;
    const wanted = family === 4 || family === 'IPv4' ? 4 : family === 6 || family === 'IPv6' ? 6 : 0;
    const list = wanted === 0 ? addresses : addresses.filter((a) => a.family === wanted);
    const first = list[0];
    if (first === undefined) {
      const err: NodeJS.ErrnoException = new Error(`no checked IPv${wanted} address`);
      err.code = 'ENOTFOUND';
      callback(err, '', 0);
      return;
    }
    if (typeof options === 'object' && options?.all) {
      callback(null, list.map((a) => ({ address: a.address, family: a.family })));
    } else {
      callback(null, first.address, first.family);
    }
  };
}

/** Validates and lower-cases the skill's headers; refuses host-owned and malformed ones. */
function checkRequestHeaders(input: NetHeader[]): [string, string][] | Failure {
  if (input.length > NET_DEFAULTS.maxRequestHeaders) {
    return fail('invalid', `too many request headers (${input.length} > ${NET_DEFAULTS.maxRequestHeaders})`);
  }
  const out: [string, string][] = [];
  let bytes = 0;
  for (const h of input) {
    if (!h || typeof h.name !== 'string' || typeof h.value !== 'string') return fail('invalid', 'a header must have a name and a value');
    const name = h.name.toLowerCase();
    if (!TOKEN.test(name)) return fail('invalid', `invalid header name ${JSON.stringify(h.name)}`);
    if (BAD_HEADER_VALUE.test(h.value)) return fail('invalid', `header '${name}' has a control character (CR, LF, NUL...) in its value`);
    if (HOST_OWNED_HEADERS.has(name) || name.startsWith('proxy-')) {
      return fail('invalid', `header '${name}' is set by the host, a skill may not send it`);
    }
    bytes += name.length + h.value.length + 4;
    if (bytes > NET_DEFAULTS.maxRequestHeaderBytes) {
      return fail('invalid', `request headers exceed ${NET_DEFAULTS.maxRequestHeaderBytes} bytes`);
    }
    out.push([name, h.value.trim()]);
  }
  return out;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function errCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function dnsFailure(hostname: string, err: unknown): Failure {
  const code = errCode(err);
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'ENODATA' || code === 'EAI_NODATA') {
    return fail('not-found', `host '${hostname}' not found`);
  }
  return fail('failed', `could not resolve '${hostname}'${code ? ` (${code})` : ''}`);
}

/** A transport error as a short, guest-safe message (no addresses, no stacks). */
function mapError(err: unknown): Failure {
  const code = errCode(err) ?? '';
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_NONAME':
      return fail('not-found', 'host not found');
    case 'ECONNREFUSED':
      return fail('failed', 'connection refused');
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return fail('failed', 'connection closed by the server');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return fail('failed', 'host unreachable');
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return fail('failed', 'connection timed out');
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return fail('limit', 'the server was too slow to answer');
    case 'UND_ERR_HEADERS_OVERFLOW':
      return fail('failed', 'response headers too large');
    case 'HPE_INVALID_CONSTANT':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return fail('failed', 'malformed HTTP response');
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
      return fail('invalid', `invalid request: ${shortMessage(err)}`);
  }
  if (/^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$|HOSTNAME_MISMATCH)/.test(code)) {
    return fail('failed', `TLS error (${code})`);
  }
  if (code.startsWith('HPE_')) return fail('failed', 'malformed HTTP response');
  if (err instanceof TypeError && !code) return fail('failed', `network error: ${shortMessage(err)}`);
  return fail('failed', code ? `network error (${code})` : 'network error');
}

function shortMessage(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.length > 120 ? `${m.slice(0, 117)}...` : m;
}
