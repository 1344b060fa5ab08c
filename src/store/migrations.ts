/**
 * The store's schema, as migrations keyed on `PRAGMA user_version`. Append only: each runs once,
 * in its own transaction under the write lock, and bumps user_version, so several processes may
 * open (and migrate) one store at the same time.
 */

import { AUDIT_SCHEMA_SQL } from '../audit.js';
import { StoreError } from '../errors.js';
import type { SqlDatabase } from './sqlite.js';
import { migrateTokensAndCallers } from './tokens.js';

export type Migration = (db: SqlDatabase) => void;

export const MIGRATIONS: readonly Migration[] = [
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS skills (
        id             TEXT PRIMARY KEY,
        name           TEXT NOT NULL,
        version        TEXT NOT NULL,
        description    TEXT NOT NULL,
        manifest       TEXT NOT NULL,
        enabled        INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
        component_hash TEXT NOT NULL,
        component_size INTEGER NOT NULL,
        imports        TEXT NOT NULL,
        source_dir     TEXT NOT NULL,
        installed_at   TEXT NOT NULL,
        updated_at     TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS skills_component_hash ON skills (component_hash);
    `);
    db.exec(AUDIT_SCHEMA_SQL);
  },
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS skill_usage (
        skill_id    TEXT PRIMARY KEY,
        invocations INTEGER NOT NULL DEFAULT 0,
        failures    INTEGER NOT NULL DEFAULT 0,
        total_ms    REAL NOT NULL DEFAULT 0,
        max_ms      REAL NOT NULL DEFAULT 0,
        last_at     TEXT
      );
      CREATE TABLE IF NOT EXISTS skill_usage_failures (
        skill_id TEXT NOT NULL,
        code     TEXT NOT NULL,
        count    INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (skill_id, code)
      );
    `);
  },
  (db) => {
    // manifest_rev: a random token renewed by every write of a row's manifest, so that every
    // process can keep its parsed manifests and know, without reading the text, when one changed.
    // transpile_cache: the sha256 and size of every file the loader wrote to <store>/cache/<hash>,
    // recorded here because a skill allowed to write the cache folder must not be able to vouch
    // for what it planted there.
    db.exec(`
      ALTER TABLE skills ADD COLUMN manifest_rev TEXT NOT NULL DEFAULT '';
      UPDATE skills SET manifest_rev = lower(hex(randomblob(16)));
      CREATE TABLE IF NOT EXISTS transpile_cache (
        component_hash TEXT PRIMARY KEY,
        files          TEXT NOT NULL,
        created_at     TEXT NOT NULL
      );
    `);
  },
  // Issue 16: MCP bearer tokens (hashed), audit_events.caller, usage per caller.
  (db) => migrateTokensAndCallers(db),
];

/** Bring `db` to the latest schema. Safe to call from several processes at once. */
export function migrate(db: SqlDatabase, migrations: readonly Migration[] = MIGRATIONS): number {
  const current = () => db.pragma('user_version', { simple: true }) as number;
  if (current() > migrations.length) {
    throw new StoreError(
      `the skill store ${db.name} has schema version ${current()}, newer than this version of @agentos/skills understands (${migrations.length}); upgrade it`,
    );
  }
  for (let i = 0; i < migrations.length; i++) {
    if (current() > i) continue;
    const step = db.transaction(() => {
      // Re-read under the write lock: another process may have run this step meanwhile.
      if (current() > i) return;
      migrations[i]!(db);
      db.pragma(`user_version = ${i + 1}`);
    });
    step.immediate();
  }
  return current();
}
