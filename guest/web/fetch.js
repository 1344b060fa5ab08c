// fetch(), Headers, Request, Response: the Fetch Standard's everyday surface over
// agentos:skill/net, so the host's net guard decides every request. The host call is
// synchronous; fetch() still returns a promise (resolved at once), and body readers (text(),
// json(), arrayBuffer(), bytes()) return promises, as on the web. A refused or failed request
// rejects with a TypeError whose `payload` is the capability error ({tag, val}), so an
// uncaught one is reported by the host as that error (e.g. PermissionDeniedError).
//
// Not here: streams (body is always fully read), Blob/FormData bodies, AbortSignal, redirect
// modes (the host follows its own policy), caching and CORS (there is no origin).

import { fetch as hostFetch } from 'agentos:skill/net@0.1.1';
import { decodeUtf8, encodeUtf8 } from './text.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STANDARD_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'];

function normaliseValue(v) {
  return String(v).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
}

function checkName(name) {
  const n = String(name);
  if (!TOKEN.test(n)) throw new TypeError(`Headers: '${n}' is not a valid header name`);
  return n.toLowerCase();
}

function checkValue(value) {
  const v = normaliseValue(value);
  if (/[\0\r\n]/.test(v)) throw new TypeError('Headers: a header value cannot contain NUL, CR or LF');
  return v;
}

export class Headers {
  #list = []; // [lowercased name, value], in insertion order

  constructor(init) {
    if (init === undefined || init === null) return;
    if (init instanceof Headers) {
      for (const [n, v] of init.#list) this.#list.push([n, v]);
    } else if (typeof init === 'object' && typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) {
        const p = Array.from(pair);
        if (p.length !== 2) throw new TypeError('Headers: each header must be a [name, value] pair');
        this.append(p[0], p[1]);
      }
    } else if (typeof init === 'object') {
      for (const k of Object.keys(init)) this.append(k, init[k]);
    } else {
      throw new TypeError('Headers: init must be an object, an iterable of pairs or a Headers');
    }
  }

  append(name, value) {
    this.#list.push([checkName(name), checkValue(value)]);
  }

  delete(name) {
    const n = checkName(name);
    this.#list = this.#list.filter(([k]) => k !== n);
  }

  get(name) {
    const n = checkName(name);
    const values = this.#list.filter(([k]) => k === n).map(([, v]) => v);
    return values.length === 0 ? null : values.join(', ');
  }

  getSetCookie() {
    return this.#list.filter(([k]) => k === 'set-cookie').map(([, v]) => v);
  }

  has(name) {
    const n = checkName(name);
    return this.#list.some(([k]) => k === n);
  }

  set(name, value) {
    const n = checkName(name);
    const v = checkValue(value);
    const i = this.#list.findIndex(([k]) => k === n);
    if (i < 0) {
      this.#list.push([n, v]);
      return;
    }
    this.#list[i] = [n, v];
    this.#list = this.#list.filter(([k], j) => j <= i || k !== n);
  }

  /** Sorted by name, values of one name combined (set-cookie kept apart), as the standard says. */
  *entries() {
    const names = [...new Set(this.#list.map(([k]) => k))].sort();
    for (const n of names) {
      if (n === 'set-cookie') for (const v of this.getSetCookie()) yield [n, v];
      else yield [n, this.get(n)];
    }
  }

  *keys() {
    for (const [k] of this.entries()) yield k;
  }

  *values() {
    for (const [, v] of this.entries()) yield v;
  }

  forEach(callback, thisArg) {
    for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this);
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  get [Symbol.toStringTag]() {
    return 'Headers';
  }

  /** The raw list for the host call. */
  static list(h) {
    return h.#list.map(([name, value]) => ({ name, value }));
  }
}

/** A body init -> [bytes or null, default content-type or null]. */
function extractBody(body) {
  if (body === undefined || body === null) return [null, null];
  if (typeof body === 'string') return [encodeUtf8(body), 'text/plain;charset=UTF-8'];
  if (typeof URLSearchParams === 'function' && body instanceof URLSearchParams) {
    return [encodeUtf8(body.toString()), 'application/x-www-form-urlencoded;charset=UTF-8'];
  }
  if (body instanceof ArrayBuffer) return [new Uint8Array(body.slice(0)), null];
  if (ArrayBuffer.isView(body)) {
    return [new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)), null];
  }
  if (body instanceof Body) return [body._bytes(), body.headers.get('content-type')];
  // Anything else is turned into text, as the web does for unknown objects.
  return [encodeUtf8(String(body)), 'text/plain;charset=UTF-8'];
}

class Body {
  #bytes;
  #used = false;

  _setBody(bytes) {
    this.#bytes = bytes;
  }

  _bytes() {
    return this.#bytes ?? new Uint8Array(0);
  }

  get body() {
    return this.#bytes === null ? null : this.#bytes;
  }

  get bodyUsed() {
    return this.#used;
  }

  #consume(what) {
    if (this.#used) return Promise.reject(new TypeError(`${what}: body stream already read`));
    this.#used = true;
    return Promise.resolve(this.#bytes ?? new Uint8Array(0));
  }

  arrayBuffer() {
    return this.#consume('arrayBuffer').then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }

  bytes() {
    return this.#consume('bytes').then((b) => new Uint8Array(b));
  }

  text() {
    return this.#consume('text').then((b) => decodeUtf8(b));
  }

  json() {
    return this.#consume('json').then((b) => JSON.parse(decodeUtf8(b)));
  }
}

export class Request extends Body {
  #url;
  #method;
  #headers;

  constructor(input, init = {}) {
    super();
    const from = input instanceof Request ? input : null;
    this.#url = from ? from.url : input !== null && typeof input === 'object' && 'href' in input ? String(input.href) : String(input);
    if (typeof URL === 'function') {
      try {
        this.#url = new URL(this.#url).href;
      } catch {
        throw new TypeError(`Request: '${this.#url}' is not a valid absolute URL`);
      }
    }
    let method = init.method !== undefined ? String(init.method) : from ? from.method : 'GET';
    if (!TOKEN.test(method)) throw new TypeError(`Request: '${method}' is not a valid method`);
    const upper = method.toUpperCase();
    if (STANDARD_METHODS.includes(upper)) method = upper;
    if (['CONNECT', 'TRACE', 'TRACK'].includes(upper)) throw new TypeError(`Request: '${method}' is a forbidden method`);
    this.#method = method;
    this.#headers = new Headers(init.headers !== undefined ? init.headers : from ? from.headers : undefined);
    let bytes = null;
    if (init.body !== undefined && init.body !== null) {
      if (method === 'GET' || method === 'HEAD') throw new TypeError('Request: a GET or HEAD request cannot have a body');
      const [b, type] = extractBody(init.body);
      bytes = b;
      if (type && !this.#headers.has('content-type')) this.#headers.set('content-type', type);
    } else if (from && init.body === undefined) {
      bytes = from.body;
    }
    this._setBody(bytes);
  }

  get url() {
    return this.#url;
  }

  get method() {
    return this.#method;
  }

  get headers() {
    return this.#headers;
  }

  clone() {
    if (this.bodyUsed) throw new TypeError('Request.clone: body already read');
    return new Request(this);
  }

  get [Symbol.toStringTag]() {
    return 'Request';
  }
}

const REASONS = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 412: 'Precondition Failed', 413: 'Content Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export class Response extends Body {
  #status;
  #statusText;
  #headers;
  #url = '';
  #type = 'default';

  constructor(body = null, init = {}) {
    super();
    const status = init.status === undefined ? 200 : Number(init.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`Response: status ${init.status} is outside the range [200, 599]`);
    }
    this.#status = status;
    this.#statusText = init.statusText === undefined ? '' : String(init.statusText);
    this.#headers = new Headers(init.headers);
    let bytes = null;
    if (body !== null && body !== undefined) {
      if ([101, 204, 205, 304].includes(status)) throw new TypeError(`Response: a ${status} response cannot have a body`);
      const [b, type] = extractBody(body);
      bytes = b;
      if (type && !this.#headers.has('content-type')) this.#headers.set('content-type', type);
    }
    this._setBody(bytes);
  }

  static json(data, init = {}) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError('Response.json: the data cannot be turned into JSON');
    const r = new Response(text, init);
    r.headers.set('content-type', 'application/json');
    return r;
  }

  static error() {
    const r = new Response(null, { status: 200 });
    r.#status = 0;
    r.#type = 'error';
    return r;
  }

  /** A response from the host: any status (1xx-5xx), url set. */
  static _fromHost(status, headerList, body, url) {
    const r = new Response(null, { status: 200 });
    r.#status = status;
    r.#statusText = REASONS[status] ?? '';
    for (const h of headerList) r.#headers.append(h.name, h.value);
    r._setBody(body);
    r.#url = url;
    r.#type = 'basic';
    return r;
  }

  get status() {
    return this.#status;
  }

  get ok() {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText() {
    return this.#statusText;
  }

  get headers() {
    return this.#headers;
  }

  get url() {
    return this.#url;
  }

  get type() {
    return this.#type;
  }

  get redirected() {
    return false;
  }

  clone() {
    if (this.bodyUsed) throw new TypeError('Response.clone: body already read');
    const r = Response._fromHost(this.#status, Headers.list(this.#headers), this.body, this.#url);
    r.#statusText = this.#statusText;
    r.#type = this.#type;
    return r;
  }

  get [Symbol.toStringTag]() {
    return 'Response';
  }
}

export function fetch(input, init) {
  return new Promise((resolve, reject) => {
    const req = new Request(input, init);
    const body = req.body;
    let res;
    try {
      res = hostFetch({ method: req.method, url: req.url, headers: Headers.list(req.headers), body: body === null ? undefined : body });
    } catch (e) {
      const v = e !== null && typeof e === 'object' && 'payload' in e ? e.payload : e;
      const variant = v !== null && typeof v === 'object' && typeof v.tag === 'string' ? { tag: v.tag, val: String(v.val) } : undefined;
      const err = new TypeError(variant ? `fetch ${req.method} ${req.url} failed: ${variant.tag}: ${variant.val}` : `fetch ${req.method} ${req.url} failed`);
      if (variant) err.payload = variant;
      err.cause = e;
      reject(err);
      return;
    }
    resolve(Response._fromHost(res.status, res.headers, res.body, req.url));
  });
}

for (const [name, value] of [['Headers', Headers], ['Request', Request], ['Response', Response], ['fetch', fetch]]) {
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}
