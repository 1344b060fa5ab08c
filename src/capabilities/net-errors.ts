/**
 * How `net.fetch` says no: every outcome that is not a response becomes a CapResult failure the
 * guest can read (a WIT `error` tag and a short sentence), never a thrown error.
 *
 * - A guard's no is a `denial` (audited by the host-call layer with its rule).
 * - A cap is a `limit`, with a LimitHit record when the WIT has a kind for it.
 * - A transport error is mapped from its code to a short, guest-safe message: no addresses, no
 *   stacks, nothing about the host beyond what the skill already knows.
 */

import type { NetDenial } from '../guards/net-guard.js';
import type { CapResult, DenialOf, GuestErrorTag, LimitHit } from './types.js';

export type Failure = Extract<CapResult<never>, { ok: false }>;

export function fail(tag: GuestErrorTag, val: string): Failure {
  return { ok: false, error: { tag, val } };
}

/** A guard's no, with what the audit needs: the target as the skill gave it and the rule. */
export function denial(
  decision: Pick<NetDenial, 'allow' | 'kind' | 'reason'> & { rule: DenialOf<'net'>['rule'] },
  target: string,
  operation: string,
): Failure {
  return {
    ok: false,
    error: { tag: decision.kind === 'invalid' ? 'invalid' : 'denied', val: decision.reason },
    denial: { capability: 'net', target, operation, reason: decision.reason, rule: decision.rule },
  };
}

/** A byte cap hit, with its LimitHit record. */
export function limitHit(limit: Extract<LimitHit['limit'], 'response_size' | 'io_bytes'>, max: number, message: string): Failure {
  return { ok: false, error: { tag: 'limit', val: message }, limit: { limit, max, message } };
}

/** Why a call's signal aborted: its own deadline, the invocation going away, or close(). */
export type AbortCause = 'deadline' | 'aborted' | 'closed';

/**
 * The deadline is a `limit` (the WIT's "a limit was hit: ... deadline"; no LimitHit record, there
 * is no deadline kind); the invocation or the capability going away is `failed`.
 */
export function abortFailure(cause: AbortCause | undefined, timeoutMs: number): Failure {
  if (cause === 'deadline') return fail('limit', `net.fetch timed out after ${timeoutMs} ms`);
  if (cause === 'closed') return fail('failed', 'the net capability is closed');
  return fail('failed', 'the invocation was aborted');
}

/** The first string `code` on an error or its `cause` chain (undici wraps socket errors). */
export function errCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A resolver failure: a name that does not exist is `not-found`, anything else `failed`. */
export function dnsFailure(hostname: string, err: unknown): Failure {
  const code = errCode(err);
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'ENODATA' || code === 'EAI_NODATA') {
    return fail('not-found', `host '${hostname}' not found`);
  }
  return fail('failed', `could not resolve '${hostname}'${code ? ` (${code})` : ''}`);
}

/** A transport error as a short, guest-safe message (no addresses, no stacks). */
export function mapError(err: unknown): Failure {
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
