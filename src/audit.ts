/**
 * The audit trail: every security event (and every install/enable/disable/uninstall), stored in
 * the registry's SQLite database and forwarded to a structured logger.
 *
 * Secrets never reach the table or the log: `meta` (including any args object in it) goes
 * through `redactSecrets`, and URLs in `target` and `reason` lose their credentials and secret
 * query parameters (`redactUrlsInText`).
 */

import type Database from 'better-sqlite3';
import type pino from 'pino';
import type { AuditEvent, AuditEventInput, AuditEventType, AuditLogger, AuditQuery } from './types.js';
import { lazyRequire } from './lazy.js';

/** pino, loaded by the first createDefaultLogger() rather than on import (see lazy.ts). */
const loadPino = lazyRequire<typeof pino>('pino');

export const REDACTED = '[REDACTED]';
/** Longest target or reason an audit event keeps. */
const MAX_TEXT = 4096;

/** Event types logged at `warn` (the rest at `info`). */
export const SECURITY_EVENT_TYPES: ReadonlySet<string> = new Set<AuditEventType>([
  'phase_violation',
  'not_enabled',
  'permission_denied',
  'limit_exceeded',
  'integrity_failure',
  'timeout',
]);

// ---------------------------------------------------------------------------------------------
// Redaction

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
/** Unwritten events kept in memory while the database refuses writes. */
const MAX_PENDING = 100_000;

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

// ---------------------------------------------------------------------------------------------
// Logger

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * A pino logger writing JSON lines to stderr (synchronously, so nothing is lost at exit), at
 * the level in `$AGENTOS_LOG_LEVEL` (default `warn`; `silent` turns it off).
 */
export function createDefaultLogger(env: NodeJS.ProcessEnv = process.env): pino.Logger {
  const wanted = (env['AGENTOS_LOG_LEVEL'] ?? '').trim().toLowerCase();
  const level = LEVELS.has(wanted) ? wanted : 'warn';
  const pinoFn = loadPino();
  return pinoFn({ name: 'agentos-skills', level }, pinoFn.destination({ dest: 2, sync: true }));
}

// ---------------------------------------------------------------------------------------------
// Storage

/** DDL of the audit table; idempotent. Also part of the registry's first migration. */
export const AUDIT_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS audit_events (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  at            TEXT NOT NULL,
  type          TEXT NOT NULL,
  invocation_id TEXT,
  skill_id      TEXT,
  command       TEXT,
  capability    TEXT,
  target        TEXT,
  operation     TEXT,
  reason        TEXT,
  meta          TEXT
);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at, id);
CREATE INDEX IF NOT EXISTS audit_events_skill ON audit_events (skill_id, at, id);
CREATE INDEX IF NOT EXISTS audit_events_type ON audit_events (type, at, id);
`;

interface AuditRow {
  id: number;
  at: string;
  type: string;
  invocation_id: string | null;
  skill_id: string | null;
  command: string | null;
  capability: string | null;
  target: string | null;
  operation: string | null;
  reason: string | null;
  meta: string | null;
}

export interface AuditTrailOptions {
  logger?: AuditLogger | undefined;
  /** Create the table if missing (default true; the registry's migrations also create it). */
  ensureSchema?: boolean | undefined;
}

export interface PruneOptions {
  /** Delete events older than this many days. */
  maxAgeDays?: number | undefined;
  /** Keep only the newest this many events. */
  maxEvents?: number | undefined;
  /** Reference time for maxAgeDays (default now). */
  now?: Date | undefined;
}

function isoTime(t: string | Date | undefined): string {
  if (t === undefined) return new Date().toISOString();
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) throw new TypeError(`not a valid time: ${JSON.stringify(String(t))}`);
  return d.toISOString();
}

function str(v: unknown): string | null {
  return v === undefined || v === null ? null : String(v);
}

function rowToEvent(r: AuditRow): AuditEvent {
  const e: AuditEvent = {
    at: r.at,
    type: r.type as AuditEventType,
    invocationId: r.invocation_id,
    skillId: r.skill_id,
    command: r.command,
    capability: r.capability as AuditEvent['capability'],
    target: r.target,
    operation: r.operation,
    reason: r.reason,
  };
  if (r.meta !== null) {
    try {
      e.meta = JSON.parse(r.meta) as Record<string, unknown>;
    } catch {
      e.meta = { unparsable: r.meta };
    }
  }
  return e;
}

export class AuditTrail {
  readonly db: Database.Database;
  private readonly logger: AuditLogger | undefined;
  private readonly insertStmt: Database.Statement;
  /** Events whose INSERT failed (e.g. the DB stayed locked past busy_timeout); retried first. */
  private readonly pending: AuditEvent[] = [];

  constructor(db: Database.Database, opts: AuditTrailOptions = {}) {
    this.db = db;
    this.logger = opts.logger;
    if (opts.ensureSchema !== false) db.exec(AUDIT_SCHEMA_SQL);
    this.insertStmt = db.prepare(
      `INSERT INTO audit_events (at, type, invocation_id, skill_id, command, capability, target, operation, reason, meta)
       VALUES (@at, @type, @invocationId, @skillId, @command, @capability, @target, @operation, @reason, @meta)`,
    );
  }

  /** Number of events not yet written because the database refused them; retried on the next write. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /**
   * Redact, store and log one event. Fills `at` (now) when absent. If the database refuses the
   * write (locked for longer than busy_timeout, disk full), the event is kept in memory, retried
   * before the next one and on `flush()`, and still goes to the logger.
   */
  record(input: AuditEventInput): AuditEvent {
    // Targets and reasons can carry guest-chosen text: bounded so a skill cannot bloat the trail.
    const clip = (t: string) => (t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT)}... [${t.length - MAX_TEXT} more chars]` : t);
    let at: string;
    let badAt: string | undefined;
    try {
      at = isoTime(input.at);
    } catch {
      at = isoTime(undefined);
      badAt = String(input.at);
    }
    const e: AuditEvent = {
      at,
      type: input.type,
      invocationId: str(input.invocationId),
      skillId: str(input.skillId),
      command: str(input.command),
      capability: (input.capability ?? null) as AuditEvent['capability'],
      target: input.target === undefined || input.target === null ? null : redactUrlsInText(clip(String(input.target))),
      operation: str(input.operation),
      reason: input.reason === undefined || input.reason === null ? null : redactUrlsInText(clip(String(input.reason))),
    };
    if (input.meta !== undefined && input.meta !== null) e.meta = redactSecrets(input.meta);
    if (badAt !== undefined) e.meta = { ...e.meta, givenAt: badAt };

    if (this.pending.length >= MAX_PENDING) {
      const dropped = this.pending.shift();
      this.log({ kind: 'audit_dropped', event: dropped }, 'audit backlog full; oldest unwritten event dropped', true);
    }
    this.pending.push(e);
    try {
      this.flush();
    } catch (err) {
      this.log({ kind: 'audit_write_failed', error: (err as Error).message, pending: this.pending.length }, 'audit write failed; kept in memory', true);
    }
    this.log({ kind: 'audit', ...e }, `audit ${e.type}`, SECURITY_EVENT_TYPES.has(e.type));
    return e;
  }

  /** Write any events still held in memory. Throws if the database still refuses them. */
  flush(): void {
    if (this.pending.length === 0) return;
    const write = this.db.transaction((events: AuditEvent[]) => {
      for (const e of events) {
        this.insertStmt.run({
          at: e.at,
          type: e.type,
          invocationId: e.invocationId,
          skillId: e.skillId,
          command: e.command,
          capability: e.capability,
          target: e.target,
          operation: e.operation,
          reason: e.reason,
          meta: e.meta === undefined ? null : JSON.stringify(e.meta),
        });
      }
    });
    const batch = this.pending.slice();
    write(batch);
    this.pending.splice(0, batch.length);
  }

  private log(obj: object, msg: string, warn: boolean): void {
    const l = this.logger;
    if (!l) return;
    try {
      if (warn) (l.warn ?? l.info)?.call(l, obj, msg);
      else (l.info ?? l.warn)?.call(l, obj, msg);
    } catch {
      // A broken logger must not break the audit trail.
    }
  }

  private select(q: AuditQuery, defaultLimit: number | undefined): { sql: string; params: unknown[] } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.skillId !== undefined) {
      where.push('skill_id = ?');
      params.push(q.skillId);
    }
    if (q.type !== undefined) {
      where.push('type = ?');
      params.push(q.type);
    }
    if (q.since !== undefined) {
      where.push('at >= ?');
      params.push(isoTime(q.since));
    }
    let sql = `SELECT * FROM audit_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC`;
    const limit = q.limit ?? defaultLimit;
    if (limit !== undefined) {
      if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
      sql += ' LIMIT ?';
      params.push(limit);
    }
    return { sql, params };
  }

  /** Events matching `q`, newest first; at most `q.limit` (default 100). */
  query(q: AuditQuery = {}): AuditEvent[] {
    this.tryFlush();
    const { sql, params } = this.select(q, 100);
    return (this.db.prepare(sql).all(...params) as AuditRow[]).map(rowToEvent);
  }

  /**
   * Stream matching events (newest first, no default limit) as JSON lines, one `write` call per
   * event (no trailing newline in `line`). Returns how many were written.
   */
  exportJsonLines(q: AuditQuery, write: (line: string) => void): number {
    this.tryFlush();
    const { sql, params } = this.select(q, undefined);
    let n = 0;
    for (const row of this.db.prepare(sql).iterate(...params) as IterableIterator<AuditRow>) {
      write(JSON.stringify(rowToEvent(row)));
      n++;
    }
    return n;
  }

  /** Retention: delete events older than `maxAgeDays` and beyond the newest `maxEvents`. Returns the number deleted. */
  prune(opts: PruneOptions): number {
    this.tryFlush();
    let deleted = 0;
    const tx = this.db.transaction(() => {
      if (opts.maxAgeDays !== undefined) {
        if (!(opts.maxAgeDays >= 0)) throw new RangeError(`maxAgeDays must be >= 0, got ${opts.maxAgeDays}`);
        const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.maxAgeDays * 86_400_000).toISOString();
        deleted += this.db.prepare('DELETE FROM audit_events WHERE at < ?').run(cutoff).changes;
      }
      if (opts.maxEvents !== undefined) {
        if (!Number.isInteger(opts.maxEvents) || opts.maxEvents < 0) throw new RangeError(`maxEvents must be a non-negative integer, got ${opts.maxEvents}`);
        deleted += this.db
          .prepare('DELETE FROM audit_events WHERE id NOT IN (SELECT id FROM audit_events ORDER BY at DESC, id DESC LIMIT ?)')
          .run(opts.maxEvents).changes;
      }
    });
    tx.immediate();
    return deleted;
  }

  /** Number of stored events. */
  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
  }

  private tryFlush(): void {
    try {
      this.flush();
    } catch {
      // still refused; kept for later
    }
  }
}
