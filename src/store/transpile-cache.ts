/**
 * The transpile_cache table: what the loader wrote to `<store>/cache/<componentHash>` (file name
 * -> sha256 and size). Kept in the database, not next to the files, so that whoever can write
 * the cache folder cannot vouch for what they put there. The registry exposes it thinly.
 */
import type { SqlDatabase } from './sqlite.js';

/**
 * File name -> its sha256 and size, as the loader wrote it; for a core module also what its code
 * can change (code-facts.ts: decoding 1.3 MiB of code takes 11-44 ms, so it is worked out once,
 * when the files are written; the loader adds them to records of older versions).
 */
export type TranspileCacheFiles = Record<
  string,
  { sha256: string; size: number; writesTables?: boolean | undefined; dropsSegments?: boolean | undefined }
>;

export class TranspileCacheTable {
  private readonly stmts: ReturnType<typeof prepare>;

  constructor(db: SqlDatabase) {
    this.stmts = prepare(db);
  }

  /** The recorded files of a component; undefined when none (or the row cannot be read). */
  get(componentHash: string): TranspileCacheFiles | undefined {
    const row = this.stmts.get.get(componentHash) as { files: string } | undefined;
    if (!row) return undefined;
    try {
      return JSON.parse(row.files) as TranspileCacheFiles;
    } catch {
      return undefined;
    }
  }

  /** Record (or replace) the files of a component; `undefined` forgets them. */
  set(componentHash: string, files: TranspileCacheFiles | undefined): void {
    if (files === undefined) this.stmts.delete.run(componentHash);
    else this.stmts.put.run(componentHash, JSON.stringify(files), new Date().toISOString());
  }
}

function prepare(db: SqlDatabase) {
  return {
    get: db.prepare('SELECT files FROM transpile_cache WHERE component_hash = ?'),
    put: db.prepare(`
      INSERT INTO transpile_cache (component_hash, files, created_at) VALUES (?, ?, ?)
      ON CONFLICT (component_hash) DO UPDATE SET files = excluded.files, created_at = excluded.created_at`),
    delete: db.prepare('DELETE FROM transpile_cache WHERE component_hash = ?'),
  };
}
