/**
 * The header rules of `net.fetch`, request side: what a skill may send, and what a redirect
 * takes away.
 *
 * - A header the host (or the HTTP client) owns is REFUSED with `invalid` rather than dropped
 *   silently, so a skill never believes it sent something it did not (`HOST_OWNED_HEADERS`, and
 *   any `proxy-*`).
 * - Names must be HTTP tokens; values must not contain CR, LF, NUL or other control characters
 *   (header injection). Names are lower-cased, values trimmed.
 * - `authorization` and `cookie` set by the skill are sent (they are the skill's own) and dropped
 *   when a redirect changes origin; the body headers go when a redirect turns the request into a
 *   GET. Nothing from the host is added except a default `user-agent`.
 */

import { fail, type Failure } from './net-errors.js';
import type { NetHeader } from './types.js';

/** A request header list after the checks: lower-case names, in the skill's order. */
export type HeaderList = [string, string][];

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

/** Headers describing a request body: removed when a redirect turns the request into a GET. */
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-location']);
/** Credentials removed when a redirect changes origin. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const BAD_HEADER_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export interface HeaderLimits {
  /** Headers one request may carry. */
  maxHeaders: number;
  /** Their names and values together, bytes (name + value + 4 each). */
  maxBytes: number;
}

/** Validates and lower-cases the skill's headers; refuses host-owned and malformed ones. */
export function checkRequestHeaders(input: NetHeader[], limits: HeaderLimits): HeaderList | Failure {
  if (input.length > limits.maxHeaders) {
    return fail('invalid', `too many request headers (${input.length} > ${limits.maxHeaders})`);
  }
  const out: HeaderList = [];
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
    if (bytes > limits.maxBytes) {
      return fail('invalid', `request headers exceed ${limits.maxBytes} bytes`);
    }
    out.push([name, h.value.trim()]);
  }
  return out;
}

/** The checked headers plus the host's default `user-agent` when the skill set none. */
export function withDefaultUserAgent(headers: HeaderList, userAgent: string): HeaderList {
  if (!headers.some(([n]) => n === 'user-agent')) headers.push(['user-agent', userAgent]);
  return headers;
}

/** The headers a redirected request keeps: no body headers once it is a GET, no credentials across origins. */
export function headersAfterRedirect(headers: HeaderList, change: { becameGet: boolean; crossOrigin: boolean }): HeaderList {
  let out = headers;
  if (change.becameGet) out = out.filter(([n]) => !BODY_HEADERS.has(n));
  if (change.crossOrigin) out = out.filter(([n]) => !CREDENTIAL_HEADERS.has(n));
  return out;
}
