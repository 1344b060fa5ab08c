/**
 * `net.fetch`: the flow of one call, done only after the net guard said yes, and re-checking
 * what can change between the check and the act. Every hop (the first request and each redirect
 * the host follows itself) takes the same steps, each visible in this file:
 *   1. guard: `decideUrl` (scheme, host, port, userinfo, IP literal, method), then the request's
 *      own rules (method, body, headers: http-headers.ts). A no is returned as a denial, which
 *      the host-call layer audits with its rule before the skill sees it.
 *   2. guard the addresses: with the default transport, ONE resolution of the host name through
 *      `resolver`, every answer checked with `decideAddress` (net-connections.ts pins the socket
 *      to that checked list; no second lookup). An injected `fetch` resolves names itself and is
 *      TRUSTED for it: only an IP-literal URL can be checked.
 *   3. secrets (net-secrets.ts): `{{secret:NAME}}` placeholders in header values are replaced,
 *      for this hop's origin only (decided again on every hop; a redirect drops a header whose
 *      secret may not follow). Each value put in is reported to the invocation (`onSecretUsed`).
 *   4. delegate, at one boundary (`sendHop`): the transport sends the request (net-transport.ts);
 *      nothing leaves the host anywhere else.
 *   5. the response headers, then either the next hop (3xx + Location, decided again from step 1)
 *      or the body, read here with a running byte count.
 *
 * Decisions (tested in test/capabilities/net*.test.ts and http-headers.test.ts):
 * - Methods: what the guard allows (it answers the upper-cased method); a body on GET/HEAD is
 *   `invalid` (as in fetch); CONNECT is refused here too, whatever a policy says.
 * - Deadline: `timeoutMs` bounds the whole call (every hop, DNS, connect, body). Hitting it is a
 *   `limit`; `ctx.signal` aborting (invocation timeout/abort/close) is `failed` (net-errors.ts).
 * - Too many redirects: `limit`, no LimitHit record (no kind for it).
 * - Response body over `maxResponseBytes`: the request is aborted (socket destroyed), `limit`
 *   with `limit: { limit: 'response_size', max, message }`.
 * - Request body over `maxRequestBytes`: `limit` with `limit: { limit: 'io_bytes', ... }`.
 * - Redirects follow the fetch spec's method rewrite (303 -> GET; 301/302 POST -> GET); the
 *   header rules for a redirect are in http-headers.ts.
 * - No proxy from the environment (HTTP_PROXY/HTTPS_PROXY/NO_PROXY are never read), no cookies,
 *   no credentials from the host.
 * - `fetch()` never throws: every outcome is a CapResult.
 */

import { isIP } from 'node:net';
import { decideAddress, decideUrl, type NetPolicy } from '../guards/net-guard.js';
import { DEFAULT_INVOKER_LIMITS } from '../limits.js';
import { checkRequestHeaders, headersAfterRedirect, withDefaultUserAgent } from './http-headers.js';
import { ConnectionCache, defaultResolver, literalIp, lookupHost, type NetResolver, type ResolvedAddress } from './net-connections.js';
import { abortFailure, denial, fail, limitHit, mapError, type AbortCause, type Failure } from './net-errors.js';
import { injectSecrets, type NetSecrets, type SecretUse } from './net-secrets.js';
import { sendInjected, sendPinned, type Hop, type HopResponse } from './net-transport.js';
import type { CallContext, CapResult, FetchLike, NetRequest, NetResponse } from './types.js';

export type { NetSecrets, SecretUse } from './net-secrets.js';

/** The call context of `net.fetch`: the invocation's, plus where the secrets it used are reported. */
export interface NetCallContext extends CallContext {
  /** Called for each secret value put into a request of this call, before it is sent. */
  onSecretUsed?: ((use: SecretUse) => void) | undefined;
}

export type { NetResolver, ResolvedAddress } from './net-connections.js';

export interface NetCapabilityOptions {
  policy: NetPolicy;
  /** Injected transport (the SkillInvoker `fetch` option), used only after a yes. */
  fetch?: FetchLike | undefined;
  /** DNS seam; default `dns.promises.lookup(host, { all: true })`. Called once per hop. */
  resolver?: NetResolver | undefined;
  /** Redirects the host follows before answering `limit`. Default: DEFAULT_INVOKER_LIMITS.maxRedirects (5). */
  maxRedirects?: number | undefined;
  /** Deadline of one `fetch()` call, all hops included; also bounded by `ctx.signal`. Default 30 s. */
  timeoutMs?: number | undefined;
  /** Default: DEFAULT_INVOKER_LIMITS.maxResponseBytes (10 MiB). */
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
  /** The skill's declared secrets and where their values come from; none = every placeholder is denied. */
  secrets?: NetSecrets | undefined;
}

export interface NetCapability {
  fetch(req: NetRequest, ctx: NetCallContext): Promise<CapResult<NetResponse>>;
  /** Aborts in-flight requests (they answer `failed`) and closes their connections. */
  close(): Promise<void>;
}

/**
 * Defaults of the options above. The two the invoker also sets (redirects, response size) are
 * the per-invocation defaults of limits.ts, never a copy; the rest exist only here.
 */
export const NET_DEFAULTS = {
  maxRedirects: DEFAULT_INVOKER_LIMITS.maxRedirects,
  timeoutMs: 30_000,
  maxResponseBytes: DEFAULT_INVOKER_LIMITS.maxResponseBytes,
  maxRequestBytes: 10 * 1024 * 1024,
  maxRequestHeaders: 100,
  maxRequestHeaderBytes: 64 * 1024,
  userAgent: 'agentos-skills/0.1',
  keepAliveMs: 4_000,
  maxIdleConnections: 32,
} as const;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A request that passed step 1: what its first hop sends. */
type FirstHop = Omit<Hop, 'operation' | 'signal'>;

export function createNetCapability(opts: NetCapabilityOptions): NetCapability {
  const policy = opts.policy;
  const resolver: NetResolver = opts.resolver ?? defaultResolver;
  const injected = opts.fetch;
  const maxRedirects = count('maxRedirects', opts.maxRedirects, NET_DEFAULTS.maxRedirects, 0);
  // setTimeout treats anything above 2^31-1 ms as 1 ms: clamp instead.
  const timeoutMs = Math.min(count('timeoutMs', opts.timeoutMs, NET_DEFAULTS.timeoutMs, 1), MAX_TIMER_MS);
  const maxResponseBytes = count('maxResponseBytes', opts.maxResponseBytes, NET_DEFAULTS.maxResponseBytes, 0);
  const maxRequestBytes = count('maxRequestBytes', opts.maxRequestBytes, NET_DEFAULTS.maxRequestBytes, 0);
  const userAgent = opts.userAgent ?? NET_DEFAULTS.userAgent;
  const connections = new ConnectionCache({
    timeoutMs,
    keepAliveMs: Math.min(count('keepAliveMs', opts.keepAliveMs, NET_DEFAULTS.keepAliveMs, 0), MAX_TIMER_MS),
    maxIdle: count('maxIdleConnections', opts.maxIdleConnections, NET_DEFAULTS.maxIdleConnections, 0),
  });

  let closed = false;
  /** Every in-flight call's controller, aborted by close(). */
  const inflight = new Set<AbortController>();

  /** One call: its deadline and aborts around `run`, and every outcome as a CapResult. */
  async function fetch(req: NetRequest, ctx: NetCallContext): Promise<CapResult<NetResponse>> {
    if (closed) return fail('failed', 'the net capability is closed');
    const call = openCall(ctx?.signal);
    try {
      if (call.signal.aborted) return abortFailure('aborted', timeoutMs);
      return await run(req, call.signal, ctx?.onSecretUsed);
    } catch (err) {
      if (call.signal.aborted) return abortFailure(call.cause(), timeoutMs);
      return mapError(err);
    } finally {
      call.end();
    }
  }

  /** A call's signal: aborted by its deadline, by `ctxSignal`, or by close() (the first one is the cause). */
  function openCall(ctxSignal: AbortSignal | undefined) {
    const ac = new AbortController();
    inflight.add(ac);
    let why: AbortCause | undefined;
    const timer = setTimeout(() => {
      why ??= 'deadline';
      ac.abort(new Error('deadline'));
    }, timeoutMs);
    const onCtxAbort = (): void => {
      why ??= 'aborted';
      ac.abort(new Error('aborted'));
    };
    if (ctxSignal?.aborted) onCtxAbort();
    else ctxSignal?.addEventListener('abort', onCtxAbort, { once: true });
    return {
      signal: ac.signal,
      cause: (): AbortCause | undefined => why ?? (closed ? 'closed' : undefined),
      end(): void {
        clearTimeout(timer);
        ctxSignal?.removeEventListener('abort', onCtxAbort);
        inflight.delete(ac);
      },
    };
  }

  /** Steps 1 to 5: the first hop, then every redirect, until a body is read or a step says no. */
  async function run(req: NetRequest, signal: AbortSignal, onSecretUsed: NetCallContext['onSecretUsed']): Promise<CapResult<NetResponse>> {
    const first = checkRequest(req);
    if ('ok' in first) return first;
    // `hop` keeps the skill's placeholders; each send gets its own copy with the values put in.
    let hop: Hop = { ...first, operation: first.method, signal };
    for (let redirects = 0; ; ) {
      const res = await sendHop(hop, redirects === 0 ? 'first' : 'redirect', onSecretUsed);
      if ('ok' in res) return res;

      const location = REDIRECT_STATUSES.has(res.status) ? res.headers.find((h) => h.name === 'location')?.value : undefined;
      if (location === undefined) return readBody(res, hop.method);

      res.dispose();
      const next = redirectHop(hop, res.status, location);
      if ('ok' in next) return next;
      if (redirects >= maxRedirects) return fail('limit', `too many redirects (more than ${maxRedirects})`);
      redirects++;
      hop = next;
    }
  }

  /** Step 1: the guard's yes on the URL, then the request's own rules. */
  function checkRequest(req: NetRequest): FirstHop | Failure {
    if (!req || typeof req.url !== 'string' || typeof req.method !== 'string' || !Array.isArray(req.headers)) {
      return fail('invalid', 'request must have a method, a url and a header list');
    }
    // The guard first: a forbidden URL is a denial whatever else is wrong with the request.
    const decision = decideUrl(policy, req.method, req.url);
    if (!decision.allow) return denial(decision, req.url, req.method.toUpperCase());
    const method = decision.method;

    if (method === 'CONNECT') return fail('invalid', 'method CONNECT is not supported');
    const body = req.body;
    if (body !== undefined && body !== null && !(body instanceof Uint8Array)) return fail('invalid', 'body must be bytes');
    if (body && (method === 'GET' || method === 'HEAD')) return fail('invalid', `a ${method} request cannot have a body`);
    if (body && body.byteLength > maxRequestBytes) {
      return limitHit('io_bytes', maxRequestBytes, `request body of ${body.byteLength} bytes exceeds the ${maxRequestBytes}-byte limit`);
    }
    const headers = checkRequestHeaders(req.headers, {
      maxHeaders: NET_DEFAULTS.maxRequestHeaders,
      maxBytes: NET_DEFAULTS.maxRequestHeaderBytes,
    });
    if (!Array.isArray(headers)) return headers;
    return { url: decision.url, method, headers: withDefaultUserAgent(headers, userAgent), body: body ?? undefined };
  }

  /** Steps 2 to 4 of one hop: the address guard, the secrets, then the transport, the one place a request leaves the host. */
  async function sendHop(hop: Hop, which: 'first' | 'redirect', onSecretUsed: NetCallContext['onSecretUsed']): Promise<HopResponse | Failure> {
    if (injected) {
      // The injected fetch resolves names itself (trusted): only an IP-literal host is checked here.
      const literal = checkLiteral(hop);
      if (literal) return literal;
      const sent = await injectSecrets(opts.secrets, hop, which, onSecretUsed);
      return 'ok' in sent ? sent : sendInjected(injected, sent);
    }
    const addresses = await checkedAddresses(hop);
    if (!Array.isArray(addresses)) return addresses;
    const sent = await injectSecrets(opts.secrets, hop, which, onSecretUsed);
    return 'ok' in sent ? sent : sendPinned(connections, sent, addresses);
  }

  /** Step 2 (default transport): the addresses this hop may connect to, every one decided. */
  async function checkedAddresses(hop: Hop): Promise<ResolvedAddress[] | Failure> {
    const { url } = hop;
    const ip = literalIp(url.hostname);
    if (ip !== undefined) return checkLiteral(hop) ?? [{ address: ip, family: isIP(ip) === 6 ? 6 : 4 }];
    // Resolve ONCE; every answer must pass, or nothing is connected.
    const answers = await lookupHost(resolver, url.hostname, hop.signal);
    if (!Array.isArray(answers)) return answers;
    const addresses: ResolvedAddress[] = [];
    for (const a of answers) {
      const family = a && typeof a.address === 'string' ? isIP(a.address) : 0;
      if (family === 0) return fail('failed', `resolver returned an invalid address for '${url.hostname}'`);
      const d = decideAddress(policy, url.hostname, a.address);
      if (!d.allow) return denial(d, url.href, hop.operation);
      addresses.push({ address: a.address, family: family === 6 ? 6 : 4 });
    }
    return addresses;
  }

  /** Address check of an IP-literal host (both transports): no DNS involved. */
  function checkLiteral(hop: Hop): Failure | undefined {
    const ip = literalIp(hop.url.hostname);
    if (ip === undefined) return undefined;
    const d = decideAddress(policy, hop.url.hostname, ip);
    return d.allow ? undefined : denial(d, hop.url.href, hop.operation);
  }

  /** Step 5, a redirect: the next hop (method and headers rewritten, then decided from step 1 again), or why not. */
  function redirectHop(prev: Hop, status: number, location: string): Hop | Failure {
    let url: URL;
    try {
      url = new URL(location, prev.url);
    } catch {
      return fail('failed', `redirect (${status}) to an invalid Location`);
    }
    // fetch spec, "HTTP-redirect fetch": 303 turns anything but GET/HEAD into GET; 301/302 turn POST into GET.
    const becameGet =
      (status === 303 && prev.method !== 'GET' && prev.method !== 'HEAD') || ((status === 301 || status === 302) && prev.method === 'POST');
    const method = becameGet ? 'GET' : prev.method;
    const headers = headersAfterRedirect(prev.headers, { becameGet, crossOrigin: url.origin !== prev.url.origin });
    // Decided before the hop count, so a redirect to a forbidden host is always audited as such.
    const d = decideUrl(policy, method, url.href);
    if (!d.allow) return denial(d, url.href, 'redirect');
    return { url: d.url, method: d.method, headers, body: becameGet ? undefined : prev.body, operation: 'redirect', signal: prev.signal };
  }

  /** Step 5, the answer: the body, read with a running byte count against `maxResponseBytes`. */
  async function readBody(res: HopResponse, method: string): Promise<CapResult<NetResponse>> {
    const tooLarge = (): Failure => {
      res.dispose();
      return limitHit('response_size', maxResponseBytes, `response body exceeds the ${maxResponseBytes}-byte limit`);
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
    fetch,
    async close() {
      closed = true;
      for (const ac of inflight) ac.abort(new Error('closed'));
      await connections.close();
    },
  };
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** An option that must be a whole number >= min (Infinity allowed); a bad one is a programming error. */
function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (Number.isFinite(value) && !Number.isInteger(value))) {
    throw new TypeError(`net capability option ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
