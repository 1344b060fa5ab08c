/**
 * The one SQLite connection type the store uses, on whichever driver this Node.js has.
 *
 * - Node 22.13+ and 24: the built-in `node:sqlite`. better-sqlite3 12 (a raw node::ObjectWrap
 *   addon) aborts Node 24 at random: Node 24's ObjectWrap destructor removes an environment
 *   cleanup hook, and a Statement finalised by the GC where no Environment is current trips
 *   `CHECK(env != nullptr)` (SIGABRT). better-sqlite3 13 fixes that but crashes Node 20.
 * - Node 20: better-sqlite3 12, which has no such problem there (and node:sqlite does not exist).
 *
 * Both sit behind the small better-sqlite3-shaped surface below (the subset the store uses), so
 * the store's SQL and code are the same on every Node. `AGENTOS_SQLITE_DRIVER=better-sqlite3` or
 * `=node` forces one (tests run the store on both where both exist).
 */
import { createRequire } from 'node:module';

/** Positional values, or one object of named ones (`@name` in the SQL). */
export type SqlParams = unknown[];

export interface RunResult {
  /** Numbers: neither driver is asked for BigInts. */
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqlStatement {
  run(...params: SqlParams): RunResult;
  get(...params: SqlParams): unknown;
  all(...params: SqlParams): unknown[];
  iterate(...params: SqlParams): IterableIterator<unknown>;
}

export interface Transaction<A extends unknown[], R> {
  (...args: A): R;
  deferred(...args: A): R;
  immediate(...args: A): R;
  exclusive(...args: A): R;
}

export interface SqlDatabase {
  /** The database file. */
  readonly name: string;
  readonly open: boolean;
  readonly inTransaction: boolean;
  exec(sql: string): unknown;
  prepare(sql: string): SqlStatement;
  /** `PRAGMA <source>`: the rows, or with `simple` the first column of the first row. */
  pragma(source: string, opts?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): Transaction<A, R>;
  close(): void;
}

export type SqliteDriver = 'node' | 'better-sqlite3';

export interface OpenOptions {
  /** Busy timeout of the connection, ms. */
  timeoutMs: number;
  readonly?: boolean | undefined;
}

const require = createRequire(import.meta.url);

interface NodeSqliteModule {
  DatabaseSync: new (path: string, opts?: Record<string, unknown>) => NodeDatabaseSync;
}
interface NodeDatabaseSync {
  readonly isOpen: boolean;
  readonly isTransaction?: boolean;
  exec(sql: string): void;
  prepare(sql: string): NodeStatementSync;
  close(): void;
}
interface NodeStatementSync {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate?(...params: unknown[]): IterableIterator<unknown>;
}

let nodeSqlite: NodeSqliteModule | null | undefined;

/** `node:sqlite`, loaded without its one-time ExperimentalWarning (Node 22 prints one). */
function loadNodeSqlite(): NodeSqliteModule | null {
  if (nodeSqlite !== undefined) return nodeSqlite;
  const emit = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/SQLite is an experimental feature/.test(text)) return;
    return (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    const mod = (get ? get('node:sqlite') : require('node:sqlite')) as NodeSqliteModule | undefined;
    nodeSqlite = mod && typeof mod.DatabaseSync === 'function' ? mod : null;
  } catch {
    nodeSqlite = null;
  } finally {
    process.emitWarning = emit;
  }
  return nodeSqlite;
}

/** The driver this process uses: node:sqlite where Node has it (22.13+), else better-sqlite3. */
export function sqliteDriver(): SqliteDriver {
  const forced = process.env.AGENTOS_SQLITE_DRIVER;
  if (forced === 'node' || forced === 'better-sqlite3') return forced;
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 22 && loadNodeSqlite() ? 'node' : 'better-sqlite3';
}

export function openDatabase(file: string, opts: OpenOptions): SqlDatabase {
  const driver = sqliteDriver();
  if (driver === 'node') {
    const mod = loadNodeSqlite();
    if (!mod) throw new Error('AGENTOS_SQLITE_DRIVER=node, but this Node.js has no node:sqlite');
    return new NodeSqliteDatabase(mod, file, opts);
  }
  const Better = require('better-sqlite3') as new (f: string, o: { timeout: number; readonly: boolean }) => SqlDatabase;
  return new Better(file, { timeout: opts.timeoutMs, readonly: opts.readonly === true });
}

/** The SQLite result code of a driver error (5 = SQLITE_BUSY, 6 = SQLITE_LOCKED), if any. */
export function sqliteErrorCode(e: unknown): number | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const err = e as { errcode?: unknown; code?: unknown };
  if (typeof err.errcode === 'number') return err.errcode & 0xff; // node:sqlite: extended code
  if (typeof err.code === 'string' && err.code.startsWith('SQLITE_')) {
    const primary = err.code.split('_').slice(0, 2).join('_');
    return PRIMARY_CODES[primary];
  }
  return undefined;
}

const PRIMARY_CODES: Record<string, number> = { SQLITE_BUSY: 5, SQLITE_LOCKED: 6 };

/** The store is locked by another connection (retry later). */
export function isBusyError(e: unknown): boolean {
  const c = sqliteErrorCode(e);
  return c === 5 || c === 6;
}

class NodeSqliteStatement implements SqlStatement {
  constructor(private readonly stmt: NodeStatementSync) {}
  run(...params: SqlParams): RunResult {
    return this.stmt.run(...params);
  }
  get(...params: SqlParams): unknown {
    return this.stmt.get(...params);
  }
  all(...params: SqlParams): unknown[] {
    return this.stmt.all(...params);
  }
  iterate(...params: SqlParams): IterableIterator<unknown> {
    if (this.stmt.iterate) return this.stmt.iterate(...params);
    return this.stmt.all(...params)[Symbol.iterator]();
  }
}

class NodeSqliteDatabase implements SqlDatabase {
  private readonly db: NodeDatabaseSync;
  private depth = 0;

  constructor(
    mod: NodeSqliteModule,
    readonly name: string,
    opts: OpenOptions,
  ) {
    this.db = new mod.DatabaseSync(name, { timeout: opts.timeoutMs, readOnly: opts.readonly === true });
    // Older node:sqlite ignores the option: the pragma sets the same thing.
    this.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.timeoutMs))}`);
  }

  get open(): boolean {
    return this.db.isOpen;
  }

  get inTransaction(): boolean {
    return this.db.isTransaction ?? this.depth > 0;
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  prepare(sql: string): SqlStatement {
    return new NodeSqliteStatement(this.db.prepare(sql));
  }

  pragma(source: string, opts: { simple?: boolean } = {}): unknown {
    const rows = this.db.prepare(`PRAGMA ${source}`).all() as Record<string, unknown>[];
    if (!opts.simple) return rows;
    const first = rows[0];
    return first === undefined ? undefined : Object.values(first)[0];
  }

  transaction<A extends unknown[], R>(fn: (...args: A) => R): Transaction<A, R> {
    // As better-sqlite3: BEGIN <mode> ... COMMIT, rolled back if fn throws; nested calls use
    // savepoints.
    const run = (mode: string, args: A): R => {
      const nested = this.inTransaction;
      const sp = `agentos_sp_${this.depth}`;
      this.db.exec(nested ? `SAVEPOINT ${sp}` : `BEGIN ${mode}`);
      this.depth++;
      try {
        const out = fn(...args);
        this.db.exec(nested ? `RELEASE ${sp}` : 'COMMIT');
        return out;
      } catch (e) {
        if (nested) {
          this.db.exec(`ROLLBACK TO ${sp}`);
          this.db.exec(`RELEASE ${sp}`);
        } else if (this.db.isTransaction !== false) {
          try {
            this.db.exec('ROLLBACK');
          } catch {
            // SQLite already rolled back (e.g. after SQLITE_FULL)
          }
        }
        throw e;
      } finally {
        this.depth--;
      }
    };
    const tx = ((...args: A) => run('DEFERRED', args)) as Transaction<A, R>;
    tx.deferred = (...args: A) => run('DEFERRED', args);
    tx.immediate = (...args: A) => run('IMMEDIATE', args);
    tx.exclusive = (...args: A) => run('EXCLUSIVE', args);
    return tx;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}
