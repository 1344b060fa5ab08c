/**
 * The per-invocation secret redactor: every secret value the host put into a request of this
 * invocation, and its common encodings, become `[REDACTED]` in what the skill and the caller see
 * (response headers and bodies, guest errors, logs, results, errors, audit events).
 *
 * Forms searched for each value:
 *   - the value itself, and as a JSON string body (quotes and backslashes escaped);
 *   - URL-encoded (`encodeURIComponent`, and form style with `+` for spaces);
 *   - hex, lower and upper case;
 *   - base64 and base64url, at each of the three byte alignments (so `base64("Bearer " + value)`
 *     and `base64("user:" + value)` are caught too): the run of characters that depends only on
 *     the value's bytes.
 * A body is redacted as a whole buffer (the host reads it fully before the guest sees it), so a
 * value split across network chunks is still found. Not caught: any other transformation a
 * server might apply (reversed, split, hashed, another encoding); see the README's security model.
 */
import { REDACTED } from './redact.js';

export { REDACTED };

/** Shortest value the store and the vault seam accept: shorter ones cannot be redacted meaningfully. */
export const MIN_SECRET_LENGTH = 8;
/** Longest value accepted (it travels in a header). */
export const MAX_SECRET_LENGTH = 8192;

/** Why a value cannot be used as a secret (never quoting it), or undefined when it can. */
export function secretValueProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'the value must be a string';
  if (value.length < MIN_SECRET_LENGTH) return `the value is shorter than ${MIN_SECRET_LENGTH} characters (too short to redact reliably)`;
  if (value.length > MAX_SECRET_LENGTH) return `the value is longer than ${MAX_SECRET_LENGTH} characters`;
  // It goes into a header value: no control characters (CR/LF would split the request).
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'the value contains a control character (newline, tab, NUL...)';
  if (value.trim() !== value) return 'the value has leading or trailing whitespace';
  return undefined;
}

/** Shortest encoded run searched for (a shorter base64 core would match by chance). */
const MIN_NEEDLE = 6;

/** The forms of `value` to search for. */
export function secretForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms = new Set<string>([
    value,
    JSON.stringify(value).slice(1, -1),
    encodeURIComponent(value),
    encodeURIComponent(value).replace(/%20/g, '+'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
  ]);
  for (let shift = 0; shift < 3; shift++) {
    const shifted = Buffer.concat([Buffer.alloc(shift), bytes]);
    const full = Math.floor(shifted.length / 3) * 4;
    // Characters before `skip` mix in the prefix's bits; after `full`, the next bytes'.
    const skip = [0, 2, 3][shift]!;
    for (const enc of ['base64', 'base64url'] as const) {
      const core = shifted.toString(enc).slice(skip, full);
      if (core.length >= MIN_NEEDLE) forms.add(core);
      if (shift === 0) forms.add(shifted.toString(enc));
    }
  }
  // Longest first, so a form that contains another is replaced whole.
  return [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
}

export class SecretRedactor {
  private forms: string[] = [];
  private byteForms: Buffer[] = [];
  private readonly values = new Set<string>();

  /** Adds a value that was sent (idempotent). */
  add(value: string): void {
    if (this.values.has(value)) return;
    this.values.add(value);
    const all = new Set([...this.forms, ...secretForms(value)]);
    this.forms = [...all].sort((a, b) => b.length - a.length);
    this.byteForms = this.forms.map((f) => Buffer.from(f, 'utf8'));
  }

  get empty(): boolean {
    return this.values.size === 0;
  }

  text(s: string): string {
    if (this.forms.length === 0 || typeof s !== 'string') return s;
    let out = s;
    for (const f of this.forms) if (out.includes(f)) out = out.split(f).join(REDACTED);
    return out;
  }

  bytes(b: Uint8Array): Uint8Array {
    if (this.byteForms.length === 0) return b;
    let buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    let changed = false;
    const mark = Buffer.from(REDACTED, 'utf8');
    for (const needle of this.byteForms) {
      if (buf.indexOf(needle) < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, from)) {
        parts.push(buf.subarray(from, at), mark);
        from = at + needle.length;
      }
      parts.push(buf.subarray(from));
      buf = Buffer.concat(parts);
      changed = true;
    }
    return changed ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : b;
  }

  /** A deep copy of a JSON-like value with every string (and key) redacted. */
  json<T>(v: T): T {
    if (this.forms.length === 0) return v;
    const walk = (x: unknown, depth: number): unknown => {
      if (typeof x === 'string') return this.text(x);
      if (x === null || typeof x !== 'object' || depth > 64) return x;
      if (x instanceof Uint8Array) return this.bytes(x);
      if (Array.isArray(x)) return x.map((y) => walk(y, depth + 1));
      const out: Record<string, unknown> = {};
      for (const [k, y] of Object.entries(x)) out[this.text(k)] = walk(y, depth + 1);
      return out;
    };
    return walk(v, 0) as T;
  }
}
