/**
 * The tools every MCP session serves, kept in step with the registry: one catalog per process,
 * shared by every session (stdio has one; the HTTP server has many). It polls the store
 * (default every second; a cheap fingerprint of the enabled skills' ids, versions, component
 * hashes and update times) so that enabling, disabling, installing or uninstalling a skill from
 * any process on the same store loads what is new, drops what is gone and tells the listeners.
 */
import { SkillError, SkillNotEnabledError } from '../errors.js';
import type { SkillLoader } from '../loader.js';
import type { InstalledSkill, SkillRegistry } from '../registry.js';
import { skillTools, type SkillTool } from './tools.js';

export type McpLogLevel = 'info' | 'warn' | 'error';
/** Where the server's own diagnostics go (never stdout when serving over stdio). */
export type McpLog = (level: McpLogLevel, message: string, fields?: Record<string, unknown>) => void;

export const DEFAULT_POLL_INTERVAL_MS = 1000;

export interface ToolCatalogOptions {
  registry: SkillRegistry;
  loader: SkillLoader;
  /** How often the registry is checked for changes, ms. Default 1000; 0 turns polling off. */
  pollIntervalMs?: number | undefined;
  log?: McpLog | undefined;
}

export class ToolCatalog {
  readonly registry: SkillRegistry;
  readonly loader: SkillLoader;
  private readonly log: McpLog;
  private readonly pollIntervalMs: number;
  private byName = new Map<string, SkillTool>();
  private listed: SkillTool[] = [];
  private listJson = '[]';
  private fingerprint: string | undefined;
  /** Skills whose last load failed, with the `hash:updatedAt` it failed for (not retried until that changes). */
  private readonly failed = new Map<string, string>();
  private refreshing: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(opts: ToolCatalogOptions) {
    this.registry = opts.registry;
    this.loader = opts.loader;
    this.log = opts.log ?? (() => {});
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  }

  /** The tools currently served, in `tools/list` order. */
  tools(): SkillTool[] {
    return [...this.listed];
  }

  get(name: string): SkillTool | undefined {
    return this.byName.get(name);
  }

  /** Called after every change of the tool list; returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Re-reads the registry; when the enabled skills changed, loads the new ones, drops the gone
   * ones and tells the listeners. Resolves to whether the tool list changed. Concurrent calls
   * share one run.
   */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** refresh(), with failures logged instead of thrown. */
  async refreshQuietly(): Promise<void> {
    try {
      await this.refresh();
    } catch (e) {
      if (e instanceof SkillError && e.code === 'CLOSED') {
        this.stop();
        return;
      }
      this.log('warn', `could not re-read the skill registry: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  /** Start polling (idempotent). */
  start(): void {
    if (this.timer || !(this.pollIntervalMs > 0) || !Number.isFinite(this.pollIntervalMs)) return;
    this.timer = setInterval(() => void this.refreshQuietly(), this.pollIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get polling(): boolean {
    return this.timer !== undefined;
  }

  private async doRefresh(): Promise<boolean> {
    const enabled = this.registry.list().filter((s) => s.enabled);
    const fingerprint = JSON.stringify(enabled.map((s) => [s.id, s.version, s.componentHash, s.updatedAt]));
    if (fingerprint === this.fingerprint) return false;
    this.fingerprint = fingerprint;

    const enabledIds = new Set(enabled.map((s) => s.id));
    for (const l of this.loader.list()) if (!enabledIds.has(l.id)) this.loader.unload(l.id);
    for (const id of this.failed.keys()) if (!enabledIds.has(id)) this.failed.delete(id);

    const ready = (await Promise.all(enabled.map((s) => this.ensureLoaded(s)))).filter((s): s is InstalledSkill => s !== undefined);
    const tools = skillTools(ready);
    const json = JSON.stringify(tools.map((t) => t.definition));
    if (json === this.listJson) return false;
    const before = new Set(this.listed.map((t) => t.name));
    this.listed = tools;
    this.byName = new Map(tools.map((t) => [t.name, t]));
    this.listJson = json;
    const added = tools.filter((t) => !before.has(t.name)).map((t) => t.name);
    const removed = [...before].filter((n) => !this.byName.has(n));
    this.log('info', `serving ${tools.length} tool(s)`, { added, removed });
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (e) {
        this.log('warn', `tool list listener failed: ${(e as Error)?.message ?? String(e)}`);
      }
    }
    return true;
  }

  /** Loads one enabled skill; undefined (logged once per version) when it cannot be served. */
  private async ensureLoaded(s: InstalledSkill): Promise<InstalledSkill | undefined> {
    const key = `${s.componentHash}:${s.updatedAt}`;
    if (this.failed.get(s.id) === key) return undefined;
    try {
      await this.loader.load(s.id);
      this.failed.delete(s.id);
      return s;
    } catch (e) {
      this.failed.set(s.id, key);
      if (!(e instanceof SkillNotEnabledError)) {
        const code = e instanceof SkillError ? e.code : 'INTERNAL';
        this.log('warn', `skill '${s.id}' is enabled but cannot be served: ${code}: ${(e as Error)?.message ?? String(e)}`, { skillId: s.id, code });
      }
      return undefined;
    }
  }
}
