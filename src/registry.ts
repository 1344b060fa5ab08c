/**
 * SkillRegistry: the installed skills, in SQLite, with their components stored content-addressed
 * next to the database. Several processes may share one store: WAL, a busy timeout, schema
 * migrations keyed on `PRAGMA user_version`, and every check-then-write under the write lock.
 *
 * ```
 * <store>/db.sqlite                   skills, usage figures, audit trail, tokens
 * <store>/components/<sha256>.wasm    one file per distinct component
 * <store>/cache/                      the loader's prepared components
 * ```
 *
 * This file is the public face (install, enable/disable, uninstall, list/get, audit and usage
 * access); the parts live in store/: migrations.ts (schema), skill-rows.ts (the skills table),
 * component-store.ts (the component files), install-checks.ts (what install verifies),
 * usage.ts (usage figures), transpile-cache.ts (what the loader cached), secrets.ts (secret
 * values), tokens.ts (MCP bearer tokens), sqlite.ts (the driver).
 */

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { openDatabase, type SqlDatabase } from './store/sqlite.js';
import { AuditTrail, DEFAULT_AUDIT_RETENTION, type AuditRetention } from './audit.js';
import { assertComponentModules } from './build/component-modules.js';
import { ManifestError, PolicyViolationError, SkillError, SkillNotEnabledError } from './errors.js';
import { sha256 } from './hash.js';
import { registryDbPath, resolveHome } from './home.js';
import { diffPermissions, loadManifest } from './manifest.js';
import { checkManifestAgainstPolicy, DEFAULT_HOST_POLICY, effectiveLimits, type HostPolicy } from './policy.js';
import { StoreWriter } from './store-writer.js';
import { homeHostPolicy } from './policy-file.js';
import { TokenStore, type TokenGrant, type TokenInfo } from './store/tokens.js';
import { SecretStore } from './store/secrets.js';
import { checkRootsAgainstProtected, hostProtectedPaths, type ProtectedPath } from './protected-paths.js';
import { ComponentStore } from './store/component-store.js';
import { assertPolicyClearOfProtected, assertRootsClearOfProtected, checkImports, DEFAULT_MAX_COMPONENT_BYTES, readComponent } from './store/install-checks.js';
import { migrate } from './store/migrations.js';
import { SkillRows, type InstalledSkill } from './store/skill-rows.js';
import { UsageTable, type CallerUsage, type UsageFigures, type UsageSample } from './store/usage.js';
import { TranspileCacheTable, type TranspileCacheFiles } from './store/transpile-cache.js';
import type { AuditEvent, AuditEventInput, AuditLogger, AuditQuery, SkillManifest } from './types.js';

// Moved to store/; re-exported so that existing imports from './registry.js' keep working.
export { DEFAULT_MAX_COMPONENT_BYTES } from './store/install-checks.js';
export { MIGRATIONS, migrate } from './store/migrations.js';
export type { InstalledSkill } from './store/skill-rows.js';
export type { UsageFigures } from './store/usage.js';

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
  /** Receives every audit event (pino-compatible): the one place audit events are logged. */
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
  private readonly components: ComponentStore;
  private readonly skills: SkillRows;
  private readonly usageTable: UsageTable;
  private readonly transpileCache: TranspileCacheTable;
  /** Audit rows and usage figures: queued, written with a short busy bound, retried off the hot path. */
  private readonly writer: StoreWriter;
  private tokenStore: TokenStore | undefined;
  private secretStore: SecretStore | undefined;
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
    // No policy given: the home's policy.yaml when there is one (as the CLI and the MCP server do).
    this.hostPolicy = o.hostPolicy ?? homeHostPolicy(this.home) ?? DEFAULT_HOST_POLICY;
    this.logger = o.logger;

    this.components = new ComponentStore(this.componentsDir);
    mkdirSync(path.join(this.storeDir, 'cache'), { recursive: true });
    this.protectedPaths = hostProtectedPaths({ home: this.home, store: this.storeDir, cache: this.cacheDir, components: this.componentsDir });
    assertPolicyClearOfProtected(this.hostPolicy, this.protectedPaths);
    this.components.removeStaleTempFiles();
    this.db = openDatabase(this.path, { timeoutMs: 5000 });
    try {
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma('journal_mode = WAL');
      // WAL + NORMAL: a crashed process never loses a committed write; only an OS crash or power
      // loss may lose the last few commits.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      migrate(this.db);
      this.skills = new SkillRows(this.db, { componentPath: (hash) => this.componentPath(hash), maxManifestBytes: this.hostPolicy.maxManifestBytes });
      this.transpileCache = new TranspileCacheTable(this.db);
      // The connection keeps the 5 s busy timeout for operator actions (install, enable, ...: they
      // return the new state, so they wait for another process's lock); what is written while
      // skills run goes through the writer, whose attempts wait at most a few ms.
      this.writer = new StoreWriter(this.db, {
        onError: (err, pending) => this.logFailure('store write deferred (store busy); kept in memory, retried', err, { pending }),
      });
      this.usageTable = new UsageTable(this.db, this.writer);
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

  /** `<store>/cache`: where the loader keeps prepared components. */
  get cacheDir(): string {
    return path.join(this.storeDir, 'cache');
  }

  /**
   * What the loader wrote to `<cacheDir>/<componentHash>`: file name -> sha256 and size. Kept in
   * the database, not next to the files, so that whoever can write the cache folder cannot
   * vouch for what they put there.
   */
  transpileCacheRecord(componentHash: string): TranspileCacheFiles | undefined {
    this.assertOpen();
    return this.transpileCache.get(componentHash);
  }

  /** Record (or replace) the transpile cache files of a component; `undefined` forgets them. */
  recordTranspileCache(componentHash: string, files: TranspileCacheFiles | undefined): void {
    this.assertOpen();
    this.transpileCache.set(componentHash, files);
  }

  /** Where the component with this sha256 is stored. */
  componentPath(hash: string): string {
    return this.components.pathOf(hash);
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
      const maxBytes = this.hostPolicy.maxComponentBytes ?? DEFAULT_MAX_COMPONENT_BYTES;
      const bytes = readComponent(sourceDir, componentFile, loaded.file, skillId, maxBytes);
      const imports = await checkImports(bytes, componentFile, skillId);
      assertRootsClearOfProtected(manifest, loaded.file, this.protectedPaths);
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

  private store(manifest: SkillManifest, bytes: Uint8Array, imports: string[], sourceDir: string): InstallResult {
    const hash = sha256(bytes);
    // Written before the transaction (the slow part), and checked again under the write lock:
    // another process's uninstall may have collected it meanwhile.
    let wrote = this.components.ensure(hash, bytes);
    const now = new Date().toISOString();
    let previous: InstalledSkill | undefined;
    let added: string[] = [];
    const tx = this.db.transaction(() => {
      const oldRow = this.skills.row(manifest.id);
      previous = oldRow ? this.skills.toSkill(oldRow) : undefined;
      added = previous ? diffPermissions(previous.manifest, manifest) : [];
      const enabled = previous ? previous.enabled && added.length === 0 : false;
      if (!this.components.has(hash)) wrote = this.components.ensure(hash, bytes) || wrote;
      this.skills.upsert({
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
          if (this.skills.hashRefs(hash) === 0) this.components.remove(hash);
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
    const changes = this.skills.setEnabled(id, enabled, new Date().toISOString());
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
        const row = this.skills.row(id);
        if (!row) return;
        removed = this.skills.toSkill(row);
        this.skills.delete(id);
        this.usageTable.delete(id);
      })
      .immediate();
    if (!removed) throw new SkillNotEnabledError('not_installed', { skillId: id });
    this.collectComponent(removed.componentHash);
    this.secrets.deleteSkill(id);
    this.audit.record({ type: 'uninstalled', skillId: id, meta: { version: removed.version, componentHash: removed.componentHash } });
    return removed;
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  list(): InstalledSkill[] {
    this.assertOpen();
    return this.skills.list();
  }

  get(id: string): InstalledSkill | undefined {
    this.assertOpen();
    return this.skills.get(id);
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
    return this.skills.state(id);
  }

  private mustGet(id: string): InstalledSkill {
    const s = this.get(id);
    if (!s) throw new SkillNotEnabledError('not_installed', { skillId: id });
    return s;
  }

  // -------------------------------------------------------------------------------------------
  // Audit and usage

  /** Audit events, newest first (default limit 100). */
  auditEvents(q: AuditQuery = {}): AuditEvent[] {
    this.assertOpen();
    return this.audit.query(q);
  }

  /** Record (and log, once, to this registry's logger) one audit event. */
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
  recordUsageBatch(batch: readonly UsageSample[]): void {
    this.assertOpen();
    this.usageTable.record(batch);
  }

  /** Usage figures of one skill (zeros if never invoked), or of every skill invoked so far. */
  usage(skillId: string): UsageFigures;
  usage(): UsageFigures[];
  usage(skillId?: string): UsageFigures | UsageFigures[] {
    this.assertOpen();
    this.writer.tryFlush();
    return skillId === undefined ? this.usageTable.all() : this.usageTable.get(skillId);
  }

  /** Invocations per caller and skill (callers named by tokens or `invoke(..., { caller })`). */
  usageByCaller(caller?: string): CallerUsage[] {
    this.assertOpen();
    this.writer.tryFlush();
    return this.usageTable.byCaller(caller);
  }

  // -------------------------------------------------------------------------------------------
  // Secret values of skills (see store/secrets.ts): set, listed and removed here, never returned to a skill

  private get secrets(): SecretStore {
    return (this.secretStore ??= new SecretStore(this.storeDir));
  }

  /** Sets (or replaces) secret `name` of installed skill `id`. The value: 8+ characters, no control characters. */
  setSecret(id: string, name: string, value: string): void {
    this.assertOpen();
    if (!this.state(id)) throw new SkillNotEnabledError('not_installed', { skillId: id });
    this.secrets.set(id, name, value);
  }

  /** False when it was not set. */
  deleteSecret(id: string, name: string): boolean {
    this.assertOpen();
    return this.secrets.delete(id, name);
  }

  /** Names and times set, never values. */
  listSecrets(id: string): { name: string; setAt: string }[] {
    return this.secrets.list(id).map(({ name, setAt }) => ({ name, setAt }));
  }

  /** Every skill's secrets (names and times), for `secret list`. */
  listAllSecrets(): { skillId: string; name: string; setAt: string }[] {
    return this.secrets.list();
  }

  /** The value, for the host's substitution at the net capability only (the invoker's default `secrets`). */
  readSecret(id: string, name: string): string | undefined {
    return this.secrets.get(id, name);
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
