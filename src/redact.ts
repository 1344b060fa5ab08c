/**
 * Redaction: what keeps secrets out of the audit trail and its log. A key that names a secret
 * (`isSecretKey`) has its value replaced, header records `{ name, value }` too, and URLs lose
 * their credentials and secret query parameters, also inside free text.
 */

export const REDACTED = '[REDACTED]';

/** Words that make a key secret when they appear as a word of it (`api_key`, `x-api-key`, `apiKey`). */
const SECRET_WORDS = new Set([
  'token',
  'secret',
  'secrets',
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'apikey',
  'key',
  'authorization',
  'auth',
  'oauth',
  'cookie',
  'cookies',
  'credential',
  'credentials',
  'private',
  'privatekey',
]);
/** Substrings that make a key secret even inside one word (`accesstoken`, `clientsecret`, `XAPIKEY`). */
const SECRET_SUBSTRINGS = ['password', 'passwd', 'secret', 'apikey', 'authorization', 'credential', 'privatekey', 'cookie'];

function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/**
 * Whether a key names a secret: token, secret, password, passwd, api_key/apikey, key,
 * authorization, auth, cookie, credential(s), private (case-insensitive, as a word of the key:
 * `x-api-key`, `accessToken`, `Set-Cookie`, `client_secret`, `PRIVATE_KEY`), or a single-word key
 * containing password/secret/apikey/... or ending in `token` (`accesstoken`, `csrftoken`).
 * `max_tokens`, `author`, `monkey` are not secret.
 */
export function isSecretKey(key: string): boolean {
  const words = keyWords(key);
  if (words.some((w) => SECRET_WORDS.has(w))) return true;
  const joined = words.join('');
  if (SECRET_SUBSTRINGS.some((s) => joined.includes(s))) return true;
  return words.some((w) => w.endsWith('token'));
}

const MAX_REDACT_DEPTH = 32;

/**
 * A JSON-safe deep copy of `value` with every value under a secret-looking key (`isSecretKey`)
 * replaced by `"[REDACTED]"`. Also redacts the value of header records such as
 * `{ name: 'Authorization', value: 'Bearer ...' }`, and the credentials / secret query
 * parameters of URLs inside any string (`redactUrlsInText`). Cycles become `"[Circular]"`, BigInt a
 * string, Dates ISO strings, byte arrays `"[n bytes]"`; functions and symbols are dropped;
 * nesting beyond 32 levels becomes `"[Truncated]"`.
 */
export function redactSecrets<T = unknown>(value: T): T {
  const stack = new Set<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redactUrlsInText(v);
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'function' || typeof v === 'symbol') return undefined;
    if (v === null || typeof v !== 'object') return v;
    if (depth >= MAX_REDACT_DEPTH) return '[Truncated]';
    if (stack.has(v)) return '[Circular]';
    stack.add(v);
    try {
      if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1) ?? null);
      if (v instanceof Date) return v.toISOString();
      if (v instanceof Uint8Array) return `[${v.byteLength} bytes]`;
      const obj = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      // A header-like record: { name: 'Authorization', value: 'Bearer ...' }.
      const headerName = typeof obj['name'] === 'string' && 'value' in obj ? (obj['name'] as string) : undefined;
      for (const [k, x] of Object.entries(obj)) {
        if (isSecretKey(k) || (k === 'value' && headerName !== undefined && isSecretKey(headerName))) {
          out[k] = REDACTED;
          continue;
        }
        const w = walk(x, depth + 1);
        if (w !== undefined) out[k] = w;
      }
      return out;
    } finally {
      stack.delete(v);
    }
  };
  return walk(value, 0) as T;
}

/**
 * A URL with its userinfo and the values of secret-looking query parameters replaced by
 * `REDACTED`. Anything that does not parse as an absolute URL is returned unchanged.
 */
export function redactUrl(s: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return s;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return s;
  }
  let changed = false;
  if (u.username || u.password) {
    u.username = 'REDACTED';
    u.password = '';
    changed = true;
  }
  for (const k of [...new Set(u.searchParams.keys())]) {
    if (isSecretKey(k)) {
      u.searchParams.set(k, 'REDACTED');
      changed = true;
    }
  }
  return changed ? u.toString() : s;
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/** `redactUrl` applied to every `scheme://...` run inside free text (reasons, messages). */
export function redactUrlsInText(s: string): string {
  if (!s.includes('://')) return s;
  return s.replace(URL_IN_TEXT, (u) => redactUrl(u));
}
