/**
 * SkillRegistry: the installed skills, in SQLite, with their components stored content-addressed
 * next to the database. Several processes may share one store: WAL, a busy timeout, schema
 * migrations keyed on `PRAGMA user_version`, and every check-then-write under the write lock.
 *
 * ```
 * <store>/db.sqlite                   skills, usage figures, audit trail
 * <store>/components/<sha256>.wasm    one file per distinct component
 * <store>/cache/                      the loader's prepared components
 * ```
 */

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { openDatabase, type SqlDatabase } from './store/sqlite.js';
import { AUDIT_SCHEMA_SQL, AuditTrail, DEFAULT_AUDIT_RETENTION, type AuditRetention } from './audit.js';
import { ALLOWED_IMPORT_PREFIX, assertSkillImports, componentImports, ForbiddenImportsError } from './build/inspect-component.js';
import { assertComponentModules } from './build/component-modules.js';
import {
  IntegrityError,
  ManifestError,
  PolicyViolationError,
  SkillError,
  SkillModuleNotFoundError,
  SkillNotEnabledError,
} from './errors.js';
import { isSha256Hex, registryDbPath, resolveHome } from './home.js';
import { DEFAULT_MAX_MANIFEST_BYTES, diffPermissions, loadManifest } from './manifest.js';
import { checkManifestAgainstPolicy, DEFAULT_HOST_POLICY, HostPolicyError, effectiveLimits, type HostPolicy } from './policy.js';
import { StoreWriter } from './store-writer.js';
import { migrateTokensAndCallers, TokenStore, type TokenGrant, type TokenInfo } from './store/tokens.js';
import { readRegularFileSync, UnsafeFileError } from './safe-read.js';
import { checkRootsAgainstProtected, hostProtectedPaths, protectedOverlaps, type ProtectedPath } from './protected-paths.js';
import type { AuditEvent, AuditEventInput, AuditLogger, AuditQuery, SkillManifest } from './types.js';

export interface InstalledSkill {
  id: string;
  name: string;
  version: string;
  description: string;
  manifest: SkillManifest;
  enabled: boolean;
  /** sha256 (hex) of the stored component. */
  componentHash: string;
  /** `<store>/components/<componentHash>.wasm`. */
  componentPath: string;
  componentSize: number;
  /** The component's imports as recorded at install (all within `agentos:skill`). */
  imports: string[];
  /** Absolute folder it was installed from. */
  sourceDir: string;
  installedAt: string;
  updatedAt: string;
  /**
   * Set when the stored manifest cannot be used (over the size cap, from an older version):
   * `manifest` is then a stand-in without commands or permissions, and the skill cannot be
   * enabled or loaded until it is reinstalled.
   */
  manifestError?: string | undefined;
}

export interface InstallResult extends InstalledSkill {
  /** What this install asks for beyond the version it replaced; non-empty => it was disabled. */
  addedPermissions: string[];
  /** Version replaced by this install, if the id was installed before. */
  previousVersion?: string | undefined;
}

export interface SkillRegistryOptions {
  /** Database file. Default `<home>/store/skill/db.sqlite`. */
  path?: string | undefined;
  /** agentos home. Default `$AGENTOS_HOME`, else `~/.agentos`. */
  home?: string | undefined;
  /** Receives every audit event (pino-compatible). */
  logger?: AuditLogger | undefined;
  /** The operator's policy every install and enable is checked against. Default `DEFAULT_HOST_POLICY`. */
  hostPolicy?: HostPolicy | undefined;
  /**
   * Automatic audit retention, per setting: this option, else the host policy's
   * `auditMaxAgeDays` / `auditMaxEvents`, else DEFAULT_AUDIT_RETENTION (90 days, 100 000
   * events). Applied in bounded steps at open and as rows are written. `false`: keep everything.
   */
  auditRetention?: AuditRetention | false | undefined;
}

export interface UsageFigures {
  skillId: string;
  invocations: number;
  failures: number;
  /** Failures per error code (`TIMEOUT`, `PERMISSION_DENIED`, ...; `UNKNOWN` when none was given). */
  failuresByCode: Record<string, number>;
  totalMs: number;
  meanMs: number;
  maxMs: number;
  lastAt: string | null;
}

/** Largest component install reads unless the host policy says otherwise (`maxComponentBytes`). */
export const DEFAULT_MAX_COMPONENT_BYTES = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Schema migrations. Append only: each runs once, in its own transaction, and bumps user_version.

type Migration = (db: SqlDatabase) => void;

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
    throw new SkillError(
      'EXECUTION_ERROR',
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

// ---------------------------------------------------------------------------------------------

/** A skills row without its manifest text (read only when the parsed copy is stale). */
interface SkillRow {
  id: string;
  name: string;
  version: string;
  description: string;
  manifest_rev: string;
  /** Size of the stored manifest JSON in bytes (octet_length: the text itself is not read). */
  manifest_bytes: number;
  enabled: number;
  component_hash: string;
  component_size: number;
  imports: string;
  source_dir: string;
  installed_at: string;
  updated_at: string;
}

const ROW_COLUMNS =
  'id, name, version, description, manifest_rev, octet_length(manifest) AS manifest_bytes, enabled, component_hash, component_size, imports, source_dir, installed_at, updated_at';

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/**
 * The host policy may not point `allowedRoots` at the host's own directories: an entry equal to
 * or inside one could only ever grant protected paths. (An entry that contains one, such as
 * `/home`, is fine: every root is still checked against the protected directories.)
 */
function assertPolicyClearOfProtected(policy: HostPolicy, protectedPaths: readonly ProtectedPath[]): void {
  const issues: { path: string; message: string }[] = [];
  (policy.allowedRoots ?? []).forEach((root, i) => {
    const inside = protectedOverlaps(root, protectedPaths).filter((m) => !m.startsWith('contains '));
    if (inside.length > 0) issues.push({ path: `allowedRoots[${i}]`, message: `${JSON.stringify(root)} ${inside.join('; it also ')}; no skill may reach the host's own files` });
  });
  if (issues.length > 0) throw new HostPolicyError('(host policy)', issues);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Write `bytes` to `file` so that `file` is either absent or complete: temp file, fsync, rename. */
function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Directory fsync is best effort (not supported everywhere).
  }
}

function fileHasHash(file: string, hash: string): boolean {
  try {
    return sha256(readFileSync(file)) === hash;
  } catch {
    return false;
  }
}

/** Temp files a crashed install left behind (older than an hour, so never one in progress). */
function removeStaleTempFiles(dir: string): void {
  try {
    const cutoff = Date.now() - 3_600_000;
    for (const name of readdirSync(dir)) {
      if (!name.startsWith('.tmp-')) continue;
      const file = path.join(dir, name);
      try {
        if (statSync(file).mtimeMs < cutoff) unlinkSync(file);
      } catch {
        /* raced with another process; fine */
      }
    }
  } catch {
    /* best effort */
  }
}

function unlinkIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export class SkillRegistry {
  /** Database file. */
  readonly path: string;
  /** agentos home the store belongs to (the database's folder when only `path` was given). */
  readonly home: string;
  /** `<store>/components`. */
  readonly componentsDir: string;
  readonly audit: AuditTrail;
  readonly hostPolicy: HostPolicy;
  /**
   * Directories no skill root may overlap and the fs guard never lets a skill into: this store's
   * home, store and cache, and the host package (canonical).
   */
  readonly protectedPaths: readonly ProtectedPath[];
  private readonly db: SqlDatabase;
  private readonly storeDir: string;
  private readonly logger: AuditLogger | undefined;
  private readonly stmts: ReturnType<SkillRegistry['prepareStatements']>;
  /** Parsed manifests by skill id, valid while the row's manifest_rev is unchanged. */
  private readonly parsed = new Map<string, { rev: string; manifest: SkillManifest; imports: string[]; manifestError?: string }>();
  /** Audit rows and usage figures: queued, written with a short busy bound, retried off the hot path. */
  private readonly writer: StoreWriter;
  private tokenStore: TokenStore | undefined;
  private closed = false;

  constructor(opts: string | SkillRegistryOptions = {}) {
    const o: SkillRegistryOptions = typeof opts === 'string' ? { path: opts } : opts;
    if (o.path !== undefined) {
      this.path = path.resolve(o.path);
      this.home = o.home !== undefined ? resolveHome(o.home) : path.dirname(this.path);
    } else {
      this.home = resolveHome(o.home);
      this.path = registryDbPath(this.home);
    }
    this.storeDir = path.dirname(this.path);
    this.componentsDir = path.join(this.storeDir, 'components');
    this.hostPolicy = o.hostPolicy ?? DEFAULT_HOST_POLICY;
    this.logger = o.logger;

    mkdirSync(this.componentsDir, { recursive: true });
    mkdirSync(path.join(this.storeDir, 'cache'), { recursive: true });
    this.protectedPaths = hostProtectedPaths({ home: this.home, store: this.storeDir, cache: this.cacheDir, components: this.componentsDir });
    assertPolicyClearOfProtected(this.hostPolicy, this.protectedPaths);
    removeStaleTempFiles(this.componentsDir);
    this.db = openDatabase(this.path, { timeoutMs: 5000 });
    try {
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma('journal_mode = WAL');
      // WAL + NORMAL: a crashed process never loses a committed write; only an OS crash or power
      // loss may lose the last few commits.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      migrate(this.db);
      this.stmts = this.prepareStatements();
      // The connection keeps the 5 s busy timeout for operator actions (install, enable, ...: they
      // return the new state, so they wait for another process's lock); what is written while
      // skills run goes through the writer, whose attempts wait at most a few ms.
      this.writer = new StoreWriter(this.db, {
        onError: (err, pending) => this.logFailure('store write deferred (store busy); kept in memory, retried', err, { pending }),
      });
      const policy = this.hostPolicy;
      const retention =
        o.auditRetention === false
          ? false
          : {
              maxAgeDays: o.auditRetention?.maxAgeDays ?? policy.auditMaxAgeDays ?? DEFAULT_AUDIT_RETENTION.maxAgeDays,
              maxEvents: o.auditRetention?.maxEvents ?? policy.auditMaxEvents ?? DEFAULT_AUDIT_RETENTION.maxEvents,
            };
      this.audit = new AuditTrail(this.db, { logger: o.logger, ensureSchema: false, writer: this.writer, retention });
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  private prepareStatements() {
    const db = this.db;
    return {
      get: db.prepare(`SELECT ${ROW_COLUMNS} FROM skills WHERE id = ?`),
      manifestText: db.prepare('SELECT manifest, manifest_rev FROM skills WHERE id = ?'),
      state: db.prepare('SELECT enabled, component_hash FROM skills WHERE id = ?'),
      list: db.prepare(`SELECT ${ROW_COLUMNS} FROM skills ORDER BY id`),
      upsert: db.prepare(`
        INSERT INTO skills (id, name, version, description, manifest, manifest_rev, enabled, component_hash, component_size, imports, source_dir, installed_at, updated_at)
        VALUES (@id, @name, @version, @description, @manifest, lower(hex(randomblob(16))), @enabled, @component_hash, @component_size, @imports, @source_dir, @installed_at, @updated_at)
        ON CONFLICT (id) DO UPDATE SET
          name = excluded.name, version = excluded.version, description = excluded.description,
          manifest = excluded.manifest, manifest_rev = excluded.manifest_rev, enabled = excluded.enabled, component_hash = excluded.component_hash,
          component_size = excluded.component_size, imports = excluded.imports, source_dir = excluded.source_dir,
          updated_at = excluded.updated_at`),
      setEnabled: db.prepare('UPDATE skills SET enabled = ?, updated_at = ? WHERE id = ?'),
      delete: db.prepare('DELETE FROM skills WHERE id = ?'),
      hashRefs: db.prepare('SELECT count(*) AS n FROM skills WHERE component_hash = ?'),
      cacheGet: db.prepare('SELECT files FROM transpile_cache WHERE component_hash = ?'),
      cachePut: db.prepare(`
        INSERT INTO transpile_cache (component_hash, files, created_at) VALUES (?, ?, ?)
        ON CONFLICT (component_hash) DO UPDATE SET files = excluded.files, created_at = excluded.created_at`),
      cacheDelete: db.prepare('DELETE FROM transpile_cache WHERE component_hash = ?'),
      usageUpsert: db.prepare(`
        INSERT INTO skill_usage (skill_id, invocations, failures, total_ms, max_ms, last_at)
        VALUES (@skillId, 1, @failed, @ms, @ms, @at)
        ON CONFLICT (skill_id) DO UPDATE SET
          invocations = invocations + 1, failures = failures + @failed, total_ms = total_ms + @ms,
          max_ms = max(max_ms, @ms), last_at = @at`),
      usageCodeUpsert: db.prepare(`
        INSERT INTO skill_usage_failures (skill_id, code, count) VALUES (?, ?, 1)
        ON CONFLICT (skill_id, code) DO UPDATE SET count = count + 1`),
      usageGet: db.prepare('SELECT * FROM skill_usage WHERE skill_id = ?'),
      usageAll: db.prepare('SELECT * FROM skill_usage ORDER BY skill_id'),
      usageCodes: db.prepare('SELECT code, count FROM skill_usage_failures WHERE skill_id = ? ORDER BY code'),
      usageDelete: db.prepare('DELETE FROM skill_usage WHERE skill_id = ?'),
      usageCodesDelete: db.prepare('DELETE FROM skill_usage_failures WHERE skill_id = ?'),
      callerUsageUpsert: db.prepare(`
        INSERT INTO caller_usage (caller, skill_id, invocations, failures, total_ms, last_at) VALUES (@caller, @skillId, 1, @failed, @ms, @at)
        ON CONFLICT (caller, skill_id) DO UPDATE SET
          invocations = invocations + 1, failures = failures + @failed, total_ms = total_ms + @ms, last_at = @at`),
    };
  }

  /** `<store>/cache`: where the loader keeps prepared components. */
  get cacheDir(): string {
    return path.join(this.storeDir, 'cache');
  }

  /**
   * What the loader wrote to `<cacheDir>/<componentHash>`: file name -> sha256 and size. Kept in
   * the database, not next to the files, so that whoever can write the cache folder cannot
   * vouch for what they put there.
   */
  transpileCacheRecord(componentHash: string): Record<string, { sha256: string; size: number }> | undefined {
    this.assertOpen();
    const row = this.stmts.cacheGet.get(componentHash) as { files: string } | undefined;
    if (!row) return undefined;
    try {
      return JSON.parse(row.files) as Record<string, { sha256: string; size: number }>;
    } catch {
      return undefined;
    }
  }

  /** Record (or replace) the transpile cache files of a component; `undefined` forgets them. */
  recordTranspileCache(componentHash: string, files: Record<string, { sha256: string; size: number }> | undefined): void {
    this.assertOpen();
    if (files === undefined) this.stmts.cacheDelete.run(componentHash);
    else this.stmts.cachePut.run(componentHash, JSON.stringify(files), new Date().toISOString());
  }

  /** Where the component with this sha256 is stored. */
  componentPath(hash: string): string {
    if (!isSha256Hex(hash)) throw new TypeError(`not a sha256 hex digest: ${JSON.stringify(hash)}`);
    return path.join(this.componentsDir, `${hash}.wasm`);
  }

  // -------------------------------------------------------------------------------------------
  // Install

  /**
   * Install (or re-install) the skill in `dir`: validate its manifest, check its component's
   * imports and the host policy, store the component, record the skill. New skills start
   * disabled; a re-install that asks for more permissions than the installed version is
   * disabled too (see `addedPermissions`), otherwise it keeps its enabled state.
   *
   * Nothing is written unless everything passed: a failed install leaves the database and the
   * components folder as they were.
   *
   * @throws ManifestError (manifest missing/invalid, component path escaping through a symlink),
   *   SkillModuleNotFoundError (component not built), IntegrityError (not a component, or it
   *   imports anything outside `agentos:skill`, or a core module that cannot be read),
   *   PolicyViolationError (asks more than the host allows), ResourceLimitError (its core modules
   *   declare more memory, table entries, globals, ... than the limits allow).
   */
  async install(dir: string): Promise<InstallResult> {
    this.assertOpen();
    const sourceDir = path.resolve(dir);
    let manifest: SkillManifest | undefined;
    try {
      const loaded = await loadManifest(sourceDir, { maxBytes: this.hostPolicy.maxManifestBytes });
      manifest = loaded.manifest;
      const skillId = manifest.id;
      const componentFile = path.resolve(sourceDir, manifest.component);
      const bytes = await this.readComponent(sourceDir, componentFile, loaded.file, skillId);
      const imports = await this.checkImports(bytes, componentFile, skillId);

      const overlaps = checkRootsAgainstProtected(manifest.requires?.permissions?.fs?.paths ?? [], this.protectedPaths, () => '');
      if (overlaps.length > 0) {
        const roots = manifest.requires?.permissions?.fs?.paths ?? [];
        throw new ManifestError(
          loaded.file,
          roots.flatMap((root, i) => {
            const m = checkRootsAgainstProtected([root], this.protectedPaths, () => '')[0];
            return m ? [{ path: `requires.permissions.fs.paths[${i}]`, message: m.trim() }] : [];
          }),
          { skillId },
        );
      }
      const violations = checkManifestAgainstPolicy(manifest, this.hostPolicy);
      if (violations.length > 0) throw new PolicyViolationError(violations, { skillId });
      // Every size its core modules declare, against the memory cap it will run under.
      assertComponentModules(bytes, effectiveLimits(manifest, this.hostPolicy).memoryMb, componentFile, skillId);

      return this.store(manifest, bytes, imports, sourceDir);
    } catch (e) {
      this.logFailure('install failed', e, { dir: sourceDir, skillId: manifest?.id });
      throw e;
    }
  }

  private async readComponent(sourceDir: string, file: string, manifestFile: string, skillId: string): Promise<Uint8Array> {
    // Only a regular file inside the folder, size-capped, checked on the opened descriptor: a
    // symlink to /dev/zero or a FIFO must not make install allocate gigabytes or block forever.
    const maxBytes = this.hostPolicy.maxComponentBytes ?? DEFAULT_MAX_COMPONENT_BYTES;
    try {
      return readRegularFileSync(file, { within: sourceDir, maxBytes });
    } catch (e) {
      if (!(e instanceof UnsafeFileError)) throw e;
      if (e.reason === 'missing') {
        throw new SkillModuleNotFoundError(
          file,
          `component of '${skillId}' not found at ${file}; build it first: npm run build-skill -- ${sourceDir}`,
          { skillId, cause: e },
        );
      }
      if (e.reason === 'directory') {
        throw new SkillModuleNotFoundError(file, `component of '${skillId}' at ${file} is a directory, not a .wasm file`, { skillId, cause: e });
      }
      const why = e.reason === 'outside' ? e.message.replace(`${file} `, '').replace(/, outside /, ', outside the skill folder ') : e.message.replace(`${file} `, '');
      throw new ManifestError(manifestFile, [{ path: 'component', message: why }], { skillId, cause: e });
    }
  }

  private async checkImports(bytes: Uint8Array, file: string, skillId: string): Promise<string[]> {
    let imports: string[];
    try {
      imports = await componentImports(bytes);
    } catch (e) {
      if (e instanceof SkillError) throw e;
      throw new IntegrityError(
        'a WebAssembly component',
        'unreadable',
        `${file} is not a valid WebAssembly component: ${(e as Error).message}`,
        { skillId, cause: e },
      );
    }
    try {
      assertSkillImports(imports, file);
    } catch (e) {
      if (e instanceof SkillError) throw e;
      const forbidden = e instanceof ForbiddenImportsError ? e.forbidden : imports;
      throw new IntegrityError(
        `imports within ${ALLOWED_IMPORT_PREFIX}* only`,
        forbidden.join(', '),
        `skill '${skillId}' cannot be installed: ${(e as Error).message}`,
        { skillId, cause: e },
      );
    }
    return imports;
  }

  private store(manifest: SkillManifest, bytes: Uint8Array, imports: string[], sourceDir: string): InstallResult {
    const hash = sha256(bytes);
    const target = this.componentPath(hash);
    const ensureComponent = (): boolean => {
      if (existsSync(target) && fileHasHash(target, hash)) return false;
      writeFileAtomic(target, bytes);
      return true;
    };
    // Written before the transaction (the slow part), and checked again under the write lock:
    // another process's uninstall may have collected it meanwhile.
    let wrote = ensureComponent();
    const now = new Date().toISOString();
    let previous: InstalledSkill | undefined;
    let added: string[] = [];
    const tx = this.db.transaction(() => {
      const oldRow = this.stmts.get.get(manifest.id) as SkillRow | undefined;
      previous = oldRow ? this.toSkill(oldRow) : undefined;
      added = previous ? diffPermissions(previous.manifest, manifest) : [];
      const enabled = previous ? previous.enabled && added.length === 0 : false;
      if (!existsSync(target)) wrote = ensureComponent() || wrote;
      this.stmts.upsert.run({
        id: manifest.id,
        name: manifest.name,
        version: manifest.version,
        description: manifest.description,
        manifest: JSON.stringify(manifest),
        enabled: enabled ? 1 : 0,
        component_hash: hash,
        component_size: bytes.length,
        imports: JSON.stringify(imports),
        source_dir: sourceDir,
        installed_at: previous?.installedAt ?? now,
        updated_at: now,
      });
    });
    try {
      tx.immediate();
    } catch (e) {
      if (wrote) this.collectComponent(hash);
      throw e;
    }
    if (previous && previous.componentHash !== hash) this.collectComponent(previous.componentHash);

    const skill = this.get(manifest.id)!;
    this.audit.record({
      type: 'installed',
      skillId: skill.id,
      reason: previous
        ? `re-installed ${previous.version} -> ${skill.version}${added.length ? `; disabled, new permissions: ${added.join('; ')}` : ''}`
        : `installed ${skill.version}`,
      target: sourceDir,
      meta: {
        version: skill.version,
        previousVersion: previous?.version,
        componentHash: hash,
        addedPermissions: added.length ? added : undefined,
        enabled: skill.enabled,
      },
    });
    return { ...skill, addedPermissions: added, previousVersion: previous?.version };
  }

  /** Delete a stored component if no skill references it (under the write lock). */
  private collectComponent(hash: string): void {
    try {
      this.db
        .transaction(() => {
          const { n } = this.stmts.hashRefs.get(hash) as { n: number };
          if (n === 0) unlinkIfPresent(this.componentPath(hash));
        })
        .immediate();
    } catch (e) {
      // A leftover file is harmless (content-addressed); note it and move on.
      this.logFailure('could not remove unreferenced component', e, { hash });
    }
  }

  // -------------------------------------------------------------------------------------------
  // State changes

  /** Enable an installed skill, after re-checking it against the host policy. */
  enable(id: string): InstalledSkill {
    this.assertOpen();
    const skill = this.mustGet(id);
    if (skill.manifestError !== undefined) {
      throw new ManifestError(`(stored manifest of '${id}')`, [{ path: '', message: skill.manifestError }], { skillId: id });
    }
    // Roots re-checked against the host's own directories now (canonical again: a root may have
    // become a symlink into the home since install).
    const violations = [
      ...checkRootsAgainstProtected(skill.manifest.requires?.permissions?.fs?.paths ?? [], this.protectedPaths),
      ...checkManifestAgainstPolicy(skill.manifest, this.hostPolicy),
    ];
    if (violations.length > 0) {
      this.logFailure('enable refused by host policy', new PolicyViolationError(violations, { skillId: id }), { skillId: id });
      throw new PolicyViolationError(violations, { skillId: id });
    }
    return this.setEnabled(id, true);
  }

  disable(id: string): InstalledSkill {
    this.assertOpen();
    this.mustGet(id);
    return this.setEnabled(id, false);
  }

  private setEnabled(id: string, enabled: boolean): InstalledSkill {
    const changes = this.stmts.setEnabled.run(enabled ? 1 : 0, new Date().toISOString(), id).changes;
    if (changes === 0) throw new SkillNotEnabledError('not_installed', { skillId: id });
    const skill = this.get(id)!;
    this.audit.record({ type: enabled ? 'enabled' : 'disabled', skillId: id, meta: { version: skill.version } });
    return skill;
  }

  /** Remove a skill, its usage figures, and its component file unless another skill shares it. */
  uninstall(id: string): InstalledSkill {
    this.assertOpen();
    let removed: InstalledSkill | undefined;
    this.db
      .transaction(() => {
        const row = this.stmts.get.get(id) as SkillRow | undefined;
        if (!row) return;
        removed = this.toSkill(row);
        this.stmts.delete.run(id);
        this.stmts.usageDelete.run(id);
        this.stmts.usageCodesDelete.run(id);
      })
      .immediate();
    if (!removed) throw new SkillNotEnabledError('not_installed', { skillId: id });
    this.parsed.delete(id);
    this.collectComponent(removed.componentHash);
    this.audit.record({ type: 'uninstalled', skillId: id, meta: { version: removed.version, componentHash: removed.componentHash } });
    return removed;
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  list(): InstalledSkill[] {
    this.assertOpen();
    return (this.stmts.list.all() as SkillRow[]).map((r) => this.toSkill(r));
  }

  get(id: string): InstalledSkill | undefined {
    this.assertOpen();
    const row = this.stmts.get.get(id) as SkillRow | undefined;
    return row ? this.toSkill(row) : undefined;
  }

  isEnabled(id: string): boolean {
    return this.state(id)?.enabled ?? false;
  }

  /**
   * Just what the invoker checks on every call, without parsing the stored manifest: whether the
   * skill is installed and enabled, and the hash of its current component.
   */
  state(id: string): { enabled: boolean; componentHash: string } | undefined {
    this.assertOpen();
    const row = this.stmts.state.get(id) as { enabled: number; component_hash: string } | undefined;
    return row ? { enabled: row.enabled === 1, componentHash: row.component_hash } : undefined;
  }

  private mustGet(id: string): InstalledSkill {
    const s = this.get(id);
    if (!s) throw new SkillNotEnabledError('not_installed', { skillId: id });
    return s;
  }

  private toSkill(r: SkillRow): InstalledSkill {
    const { manifest, imports, manifestError } = this.parsedRow(r);
    return {
      id: r.id,
      name: r.name,
      version: r.version,
      description: r.description,
      manifest,
      enabled: r.enabled === 1,
      componentHash: r.component_hash,
      componentPath: this.componentPath(r.component_hash),
      componentSize: r.component_size,
      imports,
      sourceDir: r.source_dir,
      installedAt: r.installed_at,
      updatedAt: r.updated_at,
      ...(manifestError !== undefined ? { manifestError } : {}),
    };
  }

  /**
   * The row's manifest and imports, parsed once per revision (list() runs every second in the
   * MCP server). The parsed objects are shared between calls, hence frozen. A stored manifest over
   * the cap (written by an older version) is never read: a stand-in that grants nothing is
   * returned with `manifestError`, and enable/load refuse the skill.
   */
  private parsedRow(r: SkillRow): { manifest: SkillManifest; imports: string[]; manifestError?: string } {
    const hit = this.parsed.get(r.id);
    if (hit && r.manifest_rev !== '' && hit.rev === r.manifest_rev) return hit;
    const cap = 2 * Math.max(this.hostPolicy.maxManifestBytes ?? 0, DEFAULT_MAX_MANIFEST_BYTES);
    let entry: { rev: string; manifest: SkillManifest; imports: string[]; manifestError?: string };
    if (r.manifest_bytes > cap) {
      entry = {
        rev: r.manifest_rev,
        manifest: deepFreeze({
          id: r.id,
          name: r.name,
          version: r.version,
          description: r.description,
          component: '',
          commands: {},
          requires: { permissions: {}, limits: {} },
        }),
        imports: [],
        manifestError: `the stored manifest of '${r.id}' is ${r.manifest_bytes} bytes, over the ${cap} byte limit; reinstall the skill`,
      };
    } else {
      const t = this.stmts.manifestText.get(r.id) as { manifest: string; manifest_rev: string } | undefined;
      const text = t?.manifest ?? '{}';
      entry = {
        rev: t?.manifest_rev ?? r.manifest_rev,
        manifest: deepFreeze(JSON.parse(text) as SkillManifest),
        imports: deepFreeze(JSON.parse(r.imports) as string[]),
      };
    }
    this.parsed.set(r.id, entry);
    return entry;
  }

  // -------------------------------------------------------------------------------------------
  // Audit and usage

  /** Audit events, newest first (default limit 100). */
  auditEvents(q: AuditQuery = {}): AuditEvent[] {
    this.assertOpen();
    return this.audit.query(q);
  }

  recordAudit(e: AuditEventInput): AuditEvent {
    this.assertOpen();
    return this.audit.record(e);
  }

  /** Count one invocation of `skillId` (one upsert, two on failure, in one transaction). */
  recordUsage(skillId: string, u: { ok: boolean; code?: string | undefined; ms: number }): void {
    this.recordUsageBatch([{ skillId, ...u }]);
  }

  /**
   * Count many invocations in one transaction (the invoker batches them off its hot path).
   * Queued like audit rows: written now if the store takes it within a few ms, else retried.
   */
  recordUsageBatch(batch: readonly { skillId: string; ok: boolean; code?: string | undefined; ms: number; caller?: string | undefined }[]): void {
    this.assertOpen();
    if (batch.length === 0) return;
    const at = new Date().toISOString();
    const rows = batch.map((u) => ({ ...u }));
    this.writer.enqueue({
      run: () => {
        for (const u of rows) {
          const ms = Number.isFinite(u.ms) && u.ms > 0 ? u.ms : 0;
          this.stmts.usageUpsert.run({ skillId: u.skillId, failed: u.ok ? 0 : 1, ms, at });
          if (!u.ok) this.stmts.usageCodeUpsert.run(u.skillId, u.code ?? 'UNKNOWN');
          if (u.caller !== undefined) this.stmts.callerUsageUpsert.run({ caller: u.caller, skillId: u.skillId, failed: u.ok ? 0 : 1, ms, at });
        }
      },
    });
  }

  /** Usage figures of one skill (zeros if never invoked), or of every skill invoked so far. */
  usage(skillId: string): UsageFigures;
  usage(): UsageFigures[];
  usage(skillId?: string): UsageFigures | UsageFigures[] {
    this.assertOpen();
    this.writer.tryFlush();
    type UsageRow = { skill_id: string; invocations: number; failures: number; total_ms: number; max_ms: number; last_at: string | null };
    const figures = (r: UsageRow): UsageFigures => {
      const codes = this.stmts.usageCodes.all(r.skill_id) as { code: string; count: number }[];
      return {
        skillId: r.skill_id,
        invocations: r.invocations,
        failures: r.failures,
        failuresByCode: Object.fromEntries(codes.map((c) => [c.code, c.count])),
        totalMs: r.total_ms,
        meanMs: r.invocations > 0 ? r.total_ms / r.invocations : 0,
        maxMs: r.max_ms,
        lastAt: r.last_at,
      };
    };
    if (skillId === undefined) return (this.stmts.usageAll.all() as UsageRow[]).map(figures);
    const row = this.stmts.usageGet.get(skillId) as UsageRow | undefined;
    return figures(row ?? { skill_id: skillId, invocations: 0, failures: 0, total_ms: 0, max_ms: 0, last_at: null });
  }

  // -------------------------------------------------------------------------------------------
  // Bearer tokens of the MCP HTTP server (see store/tokens.ts)

  private get tokens(): TokenStore {
    this.assertOpen();
    return (this.tokenStore ??= new TokenStore(this.db));
  }

  /** A new bearer token named `name` (shown only now; stored hashed). `skills`: the only skills it may see and call. */
  createToken(name: string, opts: { skills?: readonly string[] | undefined } = {}): string {
    return this.tokens.create(name, opts);
  }

  /** Revoke the token named `name` at once; false when there is none. */
  revokeToken(name: string): boolean {
    return this.tokens.revoke(name);
  }

  listTokens(): TokenInfo[] {
    return this.tokens.list();
  }

  /** What a presented bearer token grants; undefined when it is not a live token. */
  verifyToken(token: string): TokenGrant | undefined {
    const grant = this.tokens.verify(token);
    // Off the request path, like the audit rows: a busy store never holds up a request.
    if (grant) this.writer.enqueue({ run: () => this.tokens.touch(grant.name) });
    return grant;
  }

  /** Invocations per caller and skill (callers named by tokens or `invoke(..., { caller })`). */
  usageByCaller(caller?: string): { caller: string; skillId: string; invocations: number; failures: number; totalMs: number; lastAt: string | null }[] {
    this.assertOpen();
    this.writer.tryFlush();
    const rows = this.db
      .prepare(`SELECT * FROM caller_usage${caller === undefined ? '' : ' WHERE caller = ?'} ORDER BY caller, skill_id`)
      .all(...(caller === undefined ? [] : [caller])) as { caller: string; skill_id: string; invocations: number; failures: number; total_ms: number; last_at: string | null }[];
    return rows.map((r) => ({ caller: r.caller, skillId: r.skill_id, invocations: r.invocations, failures: r.failures, totalMs: r.total_ms, lastAt: r.last_at }));
  }

  // -------------------------------------------------------------------------------------------

  /** Schema version of the open database (PRAGMA user_version). */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    if (this.closed) return;
    // Last attempt with the longer bound; what still fails is lost (the logger already has the audit events).
    const lost = this.audit.close();
    if (lost > 0) this.logFailure('store writes lost at close: the store stayed locked', new Error(`${lost} writes unwritten`), { lost });
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new SkillError('CLOSED', `the skill registry ${this.path} is closed`);
  }

  private logFailure(msg: string, err: unknown, ctx: Record<string, unknown>): void {
    try {
      const e = err as { code?: unknown; message?: unknown };
      this.logger?.warn?.({ kind: 'registry', ...ctx, code: e?.code, error: String(e?.message ?? err) }, msg);
    } catch {
      /* a broken logger must not break the registry */
    }
  }
}
