/**
 * Bearer tokens for the MCP HTTP server: who may call, and which skills they may see.
 *
 * A token is `aos_<id>_<secret>` (id: 8 random bytes, secret: 32 random bytes, base64url). Only
 * sha256(token) is stored; the token itself is shown once, by `create`. A check looks the row up
 * by the id (not secret) and compares the hashes with `timingSafeEqual`, so neither the lookup
 * nor the comparison leaks how much of a guess was right. Every check reads the store, so a
 * revocation (from any process sharing it) takes effect at the next request.
 *
 * Also here: the migration for the columns and tables issue 16 adds (tokens, the audit trail's
 * `caller`, usage per caller).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SkillError } from '../errors.js';
import type { SqlDatabase, SqlStatement } from './sqlite.js';

/** Names an operator types and the audit trail shows: short, no spaces or control characters. */
export const TOKEN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const TOKEN_RE = /^aos_([A-Za-z0-9_-]{11})_([A-Za-z0-9_-]{43})$/;

export interface TokenInfo {
  name: string;
  /** Skill ids this token may see and call; null = every enabled skill. */
  skills: string[] | null;
  createdAt: string;
  lastUsedAt: string | null;
}

/** What a valid token grants. */
export interface TokenGrant {
  name: string;
  skills: string[] | null;
}

/** Schema of issue 16: tokens, `audit_events.caller`, usage per caller. Idempotent. */
export function migrateTokensAndCallers(db: SqlDatabase): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS mcp_tokens (
      name         TEXT PRIMARY KEY,
      lookup_id    TEXT NOT NULL UNIQUE,
      hash         TEXT NOT NULL,
      skills       TEXT,
      created_at   TEXT NOT NULL,
      last_used_at TEXT
    );
    CREATE TABLE IF NOT EXISTS caller_usage (
      caller      TEXT NOT NULL,
      skill_id    TEXT NOT NULL,
      invocations INTEGER NOT NULL DEFAULT 0,
      failures    INTEGER NOT NULL DEFAULT 0,
      total_ms    REAL NOT NULL DEFAULT 0,
      last_at     TEXT,
      PRIMARY KEY (caller, skill_id)
    );
  `);
  ensureAuditCallerColumn(db);
}

/** `audit_events.caller` (nullable) and its index, added if missing. */
export function ensureAuditCallerColumn(db: SqlDatabase): void {
  const cols = db.prepare('PRAGMA table_info(audit_events)').all() as { name: string }[];
  if (cols.length > 0 && !cols.some((c) => c.name === 'caller')) db.exec('ALTER TABLE audit_events ADD COLUMN caller TEXT');
  if (cols.length > 0) db.exec('CREATE INDEX IF NOT EXISTS audit_events_caller ON audit_events (caller, at, id)');
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export class TokenError extends SkillError {
  constructor(message: string) {
    super('INVALID_ARGUMENTS', message);
    this.name = 'TokenError';
  }
}

export class TokenStore {
  private readonly stmts: Record<'insert' | 'byName' | 'byLookup' | 'delete' | 'list' | 'touch', SqlStatement>;

  constructor(private readonly db: SqlDatabase) {
    this.stmts = {
      insert: db.prepare('INSERT INTO mcp_tokens (name, lookup_id, hash, skills, created_at) VALUES (?, ?, ?, ?, ?)'),
      byName: db.prepare('SELECT name FROM mcp_tokens WHERE name = ?'),
      byLookup: db.prepare('SELECT name, hash, skills FROM mcp_tokens WHERE lookup_id = ?'),
      delete: db.prepare('DELETE FROM mcp_tokens WHERE name = ?'),
      list: db.prepare('SELECT name, skills, created_at, last_used_at FROM mcp_tokens ORDER BY name'),
      touch: db.prepare('UPDATE mcp_tokens SET last_used_at = ? WHERE name = ? AND (last_used_at IS NULL OR last_used_at < ?)'),
    };
  }

  /** A new token for `name` (which must not exist yet); the only time the token is seen. */
  create(name: string, opts: { skills?: readonly string[] | undefined } = {}): string {
    if (typeof name !== 'string' || !TOKEN_NAME_RE.test(name)) {
      throw new TokenError(`token name ${JSON.stringify(name)} is not valid: 1-64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit`);
    }
    const skills = opts.skills === undefined ? null : [...new Set(opts.skills)].sort();
    if (skills !== null && (skills.length === 0 || skills.some((s) => typeof s !== 'string' || s === ''))) {
      throw new TokenError('a scoped token needs at least one skill id (leave skills out for every skill)');
    }
    const lookupId = randomBytes(8).toString('base64url');
    const token = `aos_${lookupId}_${randomBytes(32).toString('base64url')}`;
    this.db
      .transaction(() => {
        if (this.stmts.byName.get(name)) throw new TokenError(`a token named '${name}' exists already; revoke it first`);
        this.stmts.insert.run(name, lookupId, sha256(token).toString('hex'), skills === null ? null : JSON.stringify(skills), new Date().toISOString());
      })
      .immediate();
    return token;
  }

  /** Forget the token named `name`; false when there was none. */
  revoke(name: string): boolean {
    return this.stmts.delete.run(name).changes > 0;
  }

  list(): TokenInfo[] {
    return (this.stmts.list.all() as { name: string; skills: string | null; created_at: string; last_used_at: string | null }[]).map((r) => ({
      name: r.name,
      skills: r.skills === null ? null : (JSON.parse(r.skills) as string[]),
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
    }));
  }

  /** What `token` grants, or undefined if it is not a live token. Constant-time in the secret. */
  verify(token: string): TokenGrant | undefined {
    const m = typeof token === 'string' ? TOKEN_RE.exec(token) : null;
    if (!m) return undefined;
    const row = this.stmts.byLookup.get(m[1]) as { name: string; hash: string; skills: string | null } | undefined;
    const given = sha256(token);
    // Compared even when no row matched, so an unknown id costs the same as a wrong secret.
    const stored = row ? Buffer.from(row.hash, 'hex') : Buffer.alloc(given.length);
    const same = stored.length === given.length && timingSafeEqual(stored, given);
    if (!row || !same) return undefined;
    return { name: row.name, skills: row.skills === null ? null : (JSON.parse(row.skills) as string[]) };
  }

  /** Record that `name` was used (at most once a minute per token, to keep writes rare). */
  touch(name: string, at: Date = new Date()): void {
    try {
      this.stmts.touch.run(at.toISOString(), name, new Date(at.getTime() - 60_000).toISOString());
    } catch {
      // Best effort: a busy store must not fail a request over a "last used" figure.
    }
  }
}
