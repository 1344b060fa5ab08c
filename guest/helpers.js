// Conveniences for skill authors, imported as '@agentos/skills/guest' (build-skill bundles this
// file in its place). Everything is synchronous: capability calls block until the host answers.
// Types: guest/helpers.d.ts.

import { readFile, writeFile, listDir, stat as statPath, remove as removePath, makeDir } from 'agentos:skill/fs@0.1.0';
import { fetch as hostFetch } from 'agentos:skill/net@0.1.0';
import { log as hostLog } from 'agentos:skill/log@0.1.0';

const TAGS = ['denied', 'not-found', 'invalid', 'limit', 'failed'];

/** A capability call failed; `tag` and `val` are the WIT `error` variant the host returned. */
export class CapabilityError extends Error {
  constructor(tag, val, operation) {
    super(operation ? `${operation}: ${tag}: ${val}` : `${tag}: ${val}`);
    this.name = 'CapabilityError';
    this.tag = tag;
    this.val = val;
    // Same shape as the raw error of a failed import, so the build's wrapper reports the tag.
    this.payload = { tag, val };
  }
}

/** The `{tag, val}` of a failed capability call, from any caught value; undefined otherwise. */
export function capabilityError(e) {
  if (e === null || typeof e !== 'object') return undefined;
  const v = 'payload' in e ? e.payload : e;
  if (v !== null && typeof v === 'object' && TAGS.includes(v.tag) && typeof v.val === 'string') {
    return { tag: v.tag, val: v.val };
  }
  return undefined;
}

function call(operation, fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CapabilityError) throw e;
    const v = capabilityError(e);
    if (v) throw new CapabilityError(v.tag, v.val, operation);
    throw e;
  }
}

// ---- text ----------------------------------------------------------------------------------
// QuickJS has no TextEncoder/TextDecoder; StarlingMonkey has both.

export function encodeUtf8(text) {
  if (typeof TextEncoder === 'function') return new TextEncoder().encode(text);
  const out = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

export function decodeUtf8(bytes) {
  if (typeof TextDecoder === 'function') return new TextDecoder().decode(bytes);
  let s = '';
  let chunk = [];
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let c = 0xfffd;
    let n = 1;
    if (b < 0x80) c = b;
    else if (b >= 0xc2 && b < 0xe0 && cont(bytes, i + 1)) {
      c = ((b & 31) << 6) | (bytes[i + 1] & 63);
      n = 2;
    } else if (b >= 0xe0 && b < 0xf0 && cont(bytes, i + 1) && cont(bytes, i + 2)) {
      c = ((b & 15) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63);
      n = 3;
      if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)) c = 0xfffd;
    } else if (b >= 0xf0 && b < 0xf5 && cont(bytes, i + 1) && cont(bytes, i + 2) && cont(bytes, i + 3)) {
      c = ((b & 7) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) | (bytes[i + 3] & 63);
      n = 4;
      if (c < 0x10000 || c > 0x10ffff) c = 0xfffd;
    }
    i += n;
    if (c >= 0x10000) {
      c -= 0x10000;
      chunk.push(0xd800 + (c >> 10), 0xdc00 + (c & 1023));
    } else chunk.push(c);
    if (chunk.length >= 8192) {
      s += String.fromCharCode.apply(null, chunk);
      chunk = [];
    }
  }
  return s + String.fromCharCode.apply(null, chunk);
}

function cont(bytes, i) {
  return i < bytes.length && (bytes[i] & 0xc0) === 0x80;
}

// ---- files ---------------------------------------------------------------------------------

export function readBytes(path) {
  return call(`fs.readFile(${JSON.stringify(path)})`, () => readFile(path));
}

export function readText(path) {
  return decodeUtf8(readBytes(path));
}

export function readJson(path) {
  return JSON.parse(readText(path));
}

export function writeBytes(path, data) {
  call(`fs.writeFile(${JSON.stringify(path)})`, () => writeFile(path, data));
}

export function writeText(path, text) {
  writeBytes(path, encodeUtf8(String(text)));
}

export function writeJson(path, value) {
  writeText(path, JSON.stringify(value, null, 2) + '\n');
}

// u64 sizes are numbers in QuickJS and BigInts in StarlingMonkey: always numbers here.
function entry(e) {
  return { name: e.name, kind: e.kind, size: Number(e.size) };
}

export function list(path) {
  return call(`fs.listDir(${JSON.stringify(path)})`, () => listDir(path)).map(entry);
}

export function stat(path) {
  return entry(call(`fs.stat(${JSON.stringify(path)})`, () => statPath(path)));
}

/** true if the path exists, false when the host says not-found (denied and other errors throw). */
export function exists(path) {
  try {
    stat(path);
    return true;
  } catch (e) {
    if (e instanceof CapabilityError && e.tag === 'not-found') return false;
    throw e;
  }
}

export function remove(path) {
  call(`fs.remove(${JSON.stringify(path)})`, () => removePath(path));
}

export function mkdir(path) {
  call(`fs.makeDir(${JSON.stringify(path)})`, () => makeDir(path));
}

// ---- network -------------------------------------------------------------------------------

function toHeaderList(headers) {
  if (!headers) return [];
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return pairs.map(([name, value]) => ({ name: String(name), value: String(value) }));
}

/** A request through agentos:skill/net; the response body as bytes. */
export function fetchBytes(url, init = {}) {
  const body = init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? encodeUtf8(init.body) : init.body;
  const method = (init.method || 'GET').toUpperCase();
  const res = call(`net.fetch(${method} ${url})`, () =>
    hostFetch({ method, url: String(url), headers: toHeaderList(init.headers), body }),
  );
  const headers = {};
  for (const h of res.headers) {
    const k = h.name.toLowerCase();
    headers[k] = k in headers ? `${headers[k]}, ${h.value}` : h.value;
  }
  return { status: res.status, ok: res.status >= 200 && res.status < 300, headers, body: res.body };
}

/** `{ status, ok, headers, text }`; any HTTP status is a response, not an error. */
export function fetchText(url, init) {
  const r = fetchBytes(url, init);
  return { status: r.status, ok: r.ok, headers: r.headers, text: decodeUtf8(r.body) };
}

/** The parsed JSON body. Throws an Error for a non-2xx status or a body that is not JSON. */
export function fetchJson(url, init = {}) {
  const headers = Object.assign({ accept: 'application/json' }, Array.isArray(init.headers) ? Object.fromEntries(init.headers) : init.headers);
  const r = fetchText(url, Object.assign({}, init, { headers }));
  if (!r.ok) throw new Error(`HTTP ${r.status} from ${url}`);
  try {
    return JSON.parse(r.text);
  } catch {
    throw new Error(`response from ${url} is not JSON`);
  }
}

// ---- log -----------------------------------------------------------------------------------

function text(parts) {
  return parts.map((p) => (typeof p === 'string' ? p : safeJson(p))).join(' ');
}

function safeJson(v) {
  try {
    const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));
    return s === undefined ? String(v) : s;
  } catch {
    return String(v);
  }
}

export const log = {
  debug: (...parts) => hostLog('debug', text(parts)),
  info: (...parts) => hostLog('info', text(parts)),
  warn: (...parts) => hostLog('warn', text(parts)),
  error: (...parts) => hostLog('error', text(parts)),
};
