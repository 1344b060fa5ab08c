/**
 * Rows of the `skills` table and the InstalledSkill they read as. A row's manifest and imports
 * are parsed once per revision (`manifest_rev`, renewed by every write of the manifest), so
 * list() and get() do not re-parse JSON on every call; the parsed objects are shared, hence frozen.
 */

import { DEFAULT_MAX_MANIFEST_BYTES } from '../manifest.js';
import type { SkillManifest } from '../types.js';
import type { SqlDatabase } from './sqlite.js';

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

/** A skills row without its manifest text (read only when the parsed copy is stale). */
export interface SkillRow {
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

/** What install writes: the manifest as JSON text (manifest_rev is renewed by the statement). */
export type SkillRowInput = Omit<SkillRow, 'manifest_rev' | 'manifest_bytes'> & { manifest: string };

/** What the invoker checks on every call. */
export type SkillState = { enabled: boolean; componentHash: string };

type Parsed = { rev: string; manifest: SkillManifest; imports: string[]; manifestError?: string };

const ROW_COLUMNS =
  'id, name, version, description, manifest_rev, octet_length(manifest) AS manifest_bytes, enabled, component_hash, component_size, imports, source_dir, installed_at, updated_at';

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** The `skills` table: its statements and the parsed-manifest cache. */
export class SkillRows {
  private readonly stmts: ReturnType<typeof prepare>;
  /** Parsed manifests by skill id, valid while the row's manifest_rev is unchanged. */
  private readonly parsed = new Map<string, Parsed>();
  /**
   * state() answers for installed skills, valid while `PRAGMA data_version` keeps the value it
   * had when they were read (it changes when another connection or process commits) and this
   * connection has not written the table since. The pragma is cheaper than the query it saves
   * on every invoke.
   */
  private readonly states = new Map<string, SkillState>();
  private statesVersion: number | undefined;

  constructor(
    private readonly db: SqlDatabase,
    private readonly opts: { componentPath: (hash: string) => string; maxManifestBytes: number | undefined },
  ) {
    this.stmts = prepare(db);
  }

  row(id: string): SkillRow | undefined {
    return this.stmts.get.get(id) as SkillRow | undefined;
  }

  get(id: string): InstalledSkill | undefined {
    const r = this.row(id);
    return r ? this.toSkill(r) : undefined;
  }

  list(): InstalledSkill[] {
    return (this.stmts.list.all() as SkillRow[]).map((r) => this.toSkill(r));
  }

  /** Whether `id` is installed and enabled, and its component's hash, as committed now. */
  state(id: string): SkillState | undefined {
    // Inside a transaction of this connection what is read may yet be rolled back: not cached.
    if (this.db.inTransaction) return this.readState(id);
    // Read first: a commit between it and the query below only costs a needless re-read later.
    const version = (this.stmts.dataVersion.get() as { data_version: number }).data_version;
    if (version !== this.statesVersion) {
      this.states.clear();
      this.statesVersion = version;
    }
    let s = this.states.get(id);
    if (s === undefined) {
      s = this.readState(id);
      if (!s) return undefined;
      // Only installed skills are kept: ids asked for at random (an MCP client's) cannot grow it.
      this.states.set(id, s);
    }
    // A copy: the caller may change what it gets.
    return { enabled: s.enabled, componentHash: s.componentHash };
  }

  private readState(id: string): SkillState | undefined {
    const row = this.stmts.state.get(id) as { enabled: number; component_hash: string } | undefined;
    return row ? { enabled: row.enabled === 1, componentHash: row.component_hash } : undefined;
  }

  // Every write below forgets the state() answers: data_version does not change for this
  // connection's own commits.

  upsert(row: SkillRowInput): void {
    this.states.clear();
    this.stmts.upsert.run(row);
  }

  /** Returns the number of rows changed (0: not installed). */
  setEnabled(id: string, enabled: boolean, at: string): number {
    this.states.clear();
    return this.stmts.setEnabled.run(enabled ? 1 : 0, at, id).changes;
  }

  delete(id: string): void {
    this.states.clear();
    this.stmts.delete.run(id);
    this.parsed.delete(id);
  }

  /** How many skills use the component with this hash. */
  hashRefs(hash: string): number {
    return (this.stmts.hashRefs.get(hash) as { n: number }).n;
  }

  toSkill(r: SkillRow): InstalledSkill {
    const { manifest, imports, manifestError } = this.parsedRow(r);
    return {
      id: r.id,
      name: r.name,
      version: r.version,
      description: r.description,
      manifest,
      enabled: r.enabled === 1,
      componentHash: r.component_hash,
      componentPath: this.opts.componentPath(r.component_hash),
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
   * MCP server). A stored manifest over the cap (written by an older version) is never read: a
   * stand-in that grants nothing is returned with `manifestError`, and enable/load refuse the skill.
   */
  private parsedRow(r: SkillRow): Parsed {
    const hit = this.parsed.get(r.id);
    if (hit && r.manifest_rev !== '' && hit.rev === r.manifest_rev) return hit;
    const cap = 2 * Math.max(this.opts.maxManifestBytes ?? 0, DEFAULT_MAX_MANIFEST_BYTES);
    let entry: Parsed;
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
}

function prepare(db: SqlDatabase) {
  return {
    get: db.prepare(`SELECT ${ROW_COLUMNS} FROM skills WHERE id = ?`),
    manifestText: db.prepare('SELECT manifest, manifest_rev FROM skills WHERE id = ?'),
    state: db.prepare('SELECT enabled, component_hash FROM skills WHERE id = ?'),
    dataVersion: db.prepare('PRAGMA data_version'),
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
  };
}
