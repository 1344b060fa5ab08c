/**
 * The audit trail: every security event (and every install/enable/disable/uninstall), stored in
 * the registry's SQLite database and forwarded to a structured logger.
 *
 * Secrets never reach the table or the log: `meta` (including any args object in it) goes
 * through `redactSecrets`, and URLs in `target` and `reason` lose their credentials and secret
 * query parameters (`redactUrlsInText`).
 */

import type { SqlDatabase, SqlStatement } from './store/sqlite.js';
import type pino from 'pino';
import type { AuditEvent, AuditEventInput, AuditEventType, AuditLogger, AuditQuery } from './types.js';
import { lazyRequire } from './lazy.js';
import { StoreWriter } from './store-writer.js';
import { SECURITY_EVENT_TYPES } from './audit-events.js';
import { redactSecrets, redactUrlsInText } from './redact.js';
import { jsonForTerminal } from './cli/sanitize.js';
import { ensureAuditCallerColumn } from './store/tokens.js';

/** pino, loaded by the first createDefaultLogger() rather than on import (see lazy.ts). */
const loadPino = lazyRequire<typeof pino>('pino');

/** Longest target or reason an audit event keeps. */
const MAX_TEXT = 4096;

// Which types are logged at `warn`: audit-events.ts; redaction: redact.ts (both re-exported here for existing imports).
export { SECURITY_EVENT_TYPES };
export { isSecretKey, REDACTED, redactSecrets, redactUrl, redactUrlsInText } from './redact.js';

// ---------------------------------------------------------------------------------------------
// Logger

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * A pino logger writing JSON lines to stderr (synchronously, so nothing is lost at exit), at
 * the level in `$AGENTOS_LOG_LEVEL` (default `warn`; `silent` turns it off). `out` replaces stderr.
 *
 * stderr is usually a terminal and events carry skill-controlled text: pino's JSON escapes C0
 * controls but leaves C1 (U+0080-009F, e.g. the CSI U+009B) and bidi controls raw, so each line is
 * rewritten with those as `\uXXXX` (still JSON, parsing back to the same value).
 */
export function createDefaultLogger(env: NodeJS.ProcessEnv = process.env, out?: { write(line: string): unknown }): pino.Logger {
  const wanted = (env['AGENTOS_LOG_LEVEL'] ?? '').trim().toLowerCase();
  const level = LEVELS.has(wanted) ? wanted : 'warn';
  const pinoFn = loadPino();
  const dest = out ?? pinoFn.destination({ dest: 2, sync: true });
  return pinoFn({ name: 'agentos-skills', level }, { write: (line: string) => dest.write(jsonForTerminal(line)) });
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
  caller?: string | null;
}

export interface AuditTrailOptions {
  logger?: AuditLogger | undefined;
  /** Create the table if missing (default true; the registry's migrations also create it). */
  ensureSchema?: boolean | undefined;
  /** Queue the rows go through (the registry shares one with its usage figures). Default: a new one on `db`. */
  writer?: StoreWriter | undefined;
  /**
   * Automatic retention, applied in bounded steps at open and every `AUTO_PRUNE_EVERY` rows
   * written. Default none for a bare AuditTrail; the SkillRegistry passes DEFAULT_AUDIT_RETENTION.
   */
  retention?: AuditRetention | false | undefined;
}

/** Automatic retention: events older than `maxAgeDays` and beyond the newest `maxEvents` are deleted. */
export interface AuditRetention {
  maxAgeDays?: number | undefined;
  maxEvents?: number | undefined;
}

/** What a SkillRegistry keeps when nothing else is configured: 90 days, at most 100 000 events. */
export const DEFAULT_AUDIT_RETENTION: Readonly<Required<AuditRetention>> = Object.freeze({ maxAgeDays: 90, maxEvents: 100_000 });
/** Rows written between two automatic retention steps. */
export const AUTO_PRUNE_EVERY = 1000;
/** Rows one automatic retention step deletes at most (keeps each step short on the main thread). */
export const AUTO_PRUNE_BATCH = 2000;

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
    caller: r.caller ?? null,
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
  readonly db: SqlDatabase;
  /** The queue rows are written through (short busy bound, retried with backoff; see store-writer.ts). */
  readonly writer: StoreWriter;
  private readonly logger: AuditLogger | undefined;
  private readonly insertStmt: SqlStatement;
  private readonly retention: AuditRetention | undefined;
  private sincePrune = 0;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(db: SqlDatabase, opts: AuditTrailOptions = {}) {
    this.db = db;
    this.logger = opts.logger;
    if (opts.ensureSchema !== false) {
      db.exec(AUDIT_SCHEMA_SQL);
      ensureAuditCallerColumn(db);
    }
    this.insertStmt = db.prepare(
      `INSERT INTO audit_events (at, type, invocation_id, skill_id, command, capability, target, operation, reason, meta, caller)
       VALUES (@at, @type, @invocationId, @skillId, @command, @capability, @target, @operation, @reason, @meta, @caller)`,
    );
    this.writer =
      opts.writer ??
      new StoreWriter(db, {
        onError: (err, pending) =>
          this.log({ kind: 'audit_write_failed', error: (err as Error)?.message, pending }, 'audit write failed; kept in memory, retried', true),
      });
    // Rows dropped from a full queue leave a trace once the store takes writes again.
    this.writer.onDropped((n) => {
      const e = this.build({
        type: 'audit_dropped',
        reason: `${n} store writes (audit events, usage figures) dropped: the store refused writes and the in-memory queue was full`,
        meta: { dropped: n },
      });
      this.insertRow(e);
      this.log({ kind: 'audit', ...e }, `audit ${e.type}`, true);
    });
    const r = opts.retention === false ? undefined : opts.retention;
    this.retention = r && (r.maxAgeDays !== undefined || r.maxEvents !== undefined) ? validRetention(r) : undefined;
    if (this.retention) {
      this.writer.onWritten((batch) => {
        this.sincePrune += batch.length;
        if (this.sincePrune >= AUTO_PRUNE_EVERY) this.schedulePrune(0);
      });
      // At open: one bounded step now, the rest (if any) on a timer.
      this.pruneStep();
    }
  }

  /** Number of events (and other store writes) not yet written because the database refused them; retried with backoff. */
  get pendingCount(): number {
    return this.writer.pending;
  }

  /**
   * Redact, store and log one event. Fills `at` (now) when absent. If the database refuses the
   * write (locked for longer than busy_timeout, disk full), the event is kept in memory, retried
   * before the next one and on `flush()`, and still goes to the logger.
   */
  record(input: AuditEventInput): AuditEvent {
    const e = this.build(input);
    this.writer.enqueue({ run: () => this.insertRow(e), value: e });
    this.log({ kind: 'audit', ...e }, `audit ${e.type}`, SECURITY_EVENT_TYPES.has(e.type));
    return e;
  }

  /** The stored shape of `input`: time filled in, text clipped and redacted. */
  private build(input: AuditEventInput): AuditEvent {
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
      caller: input.caller === undefined || input.caller === null ? null : clip(String(input.caller)),
    };
    if (input.meta !== undefined && input.meta !== null) e.meta = redactSecrets(input.meta);
    if (badAt !== undefined) e.meta = { ...e.meta, givenAt: badAt };
    return e;
  }

  private insertRow(e: AuditEvent): void {
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
      caller: e.caller ?? null,
    });
  }

  /** Write everything still queued (short busy bound). Throws if the database still refuses it. */
  flush(): void {
    this.writer.flush();
  }

  /** Stop automatic retention and make the last write attempt with the longer bound (the registry's close). */
  close(): number {
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = undefined;
    return this.writer.close();
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
    if (q.caller !== undefined) {
      where.push('caller = ?');
      params.push(q.caller);
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

  /**
   * Events matching `q`, newest first; at most `q.limit` (default 100). Events still queued
   * because the store is locked are included.
   */
  query(q: AuditQuery = {}): AuditEvent[] {
    this.tryFlush();
    const { sql, params } = this.select(q, 100);
    const stored = (this.db.prepare(sql).all(...params) as AuditRow[]).map(rowToEvent);
    const queued = this.queuedMatching(q);
    if (queued.length === 0) return stored;
    // Queued events were recorded after every stored one with the same time: they sort first.
    const merged = [...queued.reverse(), ...stored].map((e, i) => ({ e, i }));
    merged.sort((a, b) => (a.e.at < b.e.at ? 1 : a.e.at > b.e.at ? -1 : a.i - b.i));
    const limit = q.limit ?? 100;
    return merged.slice(0, limit).map((x) => x.e);
  }

  private queuedMatching(q: AuditQuery): AuditEvent[] {
    const since = q.since !== undefined ? isoTime(q.since) : undefined;
    return (this.writer.pendingValues() as AuditEvent[]).filter(
      (e) =>
        typeof e === 'object' &&
        e !== null &&
        'type' in e &&
        'at' in e &&
        (q.skillId === undefined || e.skillId === q.skillId) &&
        (q.type === undefined || e.type === q.type) &&
        (q.caller === undefined || e.caller === q.caller) &&
        (since === undefined || e.at >= since),
    );
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
    this.writer.tryFlush();
  }

  /**
   * One bounded step of automatic retention (at most AUTO_PRUNE_BATCH rows, short busy bound):
   * the oldest rows past `maxAgeDays`, then the oldest beyond `maxEvents`. Another step is
   * scheduled when more remain, or when the store was locked.
   */
  private pruneStep(): void {
    const r = this.retention;
    if (!r || !this.db.open) return;
    let deleted = 0;
    try {
      deleted = this.writer.bounded(() =>
        this.db
          .transaction(() => {
            let n = 0;
            if (r.maxAgeDays !== undefined) {
              const cutoff = new Date(Date.now() - r.maxAgeDays * 86_400_000).toISOString();
              n += this.db
                .prepare('DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY at, id LIMIT ?)')
                .run(cutoff, AUTO_PRUNE_BATCH).changes;
            }
            if (r.maxEvents !== undefined && n < AUTO_PRUNE_BATCH) {
              const { total } = this.db.prepare('SELECT count(*) AS total FROM audit_events').get() as { total: number };
              const excess = Math.min(total - r.maxEvents, AUTO_PRUNE_BATCH - n);
              if (excess > 0) {
                n += this.db
                  .prepare('DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events ORDER BY at, id LIMIT ?)')
                  .run(excess).changes;
              }
            }
            return n;
          })
          .immediate(),
      );
    } catch (e) {
      this.log({ kind: 'audit_prune_failed', error: (e as Error)?.message }, 'automatic audit retention deferred', false);
      this.schedulePrune(1000);
      return;
    }
    this.sincePrune = 0;
    if (deleted >= AUTO_PRUNE_BATCH) this.schedulePrune(10);
  }

  private schedulePrune(ms: number): void {
    if (this.pruneTimer || !this.retention) return;
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = undefined;
      this.pruneStep();
    }, ms);
    this.pruneTimer.unref();
  }
}

function validRetention(r: AuditRetention): AuditRetention {
  if (r.maxAgeDays !== undefined && !(r.maxAgeDays > 0)) throw new RangeError(`audit retention maxAgeDays must be > 0, got ${r.maxAgeDays}`);
  if (r.maxEvents !== undefined && (!Number.isInteger(r.maxEvents) || r.maxEvents < 1)) {
    throw new RangeError(`audit retention maxEvents must be a positive integer, got ${r.maxEvents}`);
  }
  return { maxAgeDays: r.maxAgeDays, maxEvents: r.maxEvents };
}
