/**
 * An MCP server that serves every command of every enabled skill as a tool (names, schemas and
 * hints: see ./tools.ts). Every call goes through `invoker.invoke`, so the phase gate, the
 * enable check, the argument schema, the guards, the limits and the audit trail all apply.
 *
 * - A typed failure (SkillError) is a tool result with `isError: true` whose text starts with
 *   the error code and says what to do; only an unknown tool name is a protocol error
 *   (JSON-RPC -32602, as the SDK's own McpServer and the MCP spec do it).
 * - The registry is polled (default every second; a cheap fingerprint of the enabled skills'
 *   ids, versions, component hashes and update times): enabling, disabling, installing or
 *   uninstalling a skill from any process on the same store loads what is new, drops what is
 *   gone and sends `notifications/tools/list_changed`.
 */
import { readFileSync } from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { SkillError, SkillNotEnabledError, SkillTimeoutError } from '../errors.js';
import type { SkillInvoker } from '../invoker.js';
import type { SkillLoader } from '../loader.js';
import type { InstalledSkill, SkillRegistry } from '../registry.js';
import { skillTools, type SkillTool } from './tools.js';

export type McpLogLevel = 'info' | 'warn' | 'error';
/** Where the server's own diagnostics go (never stdout when serving over stdio). */
export type McpLog = (level: McpLogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface CreateMcpServerOptions {
  registry: SkillRegistry;
  loader: SkillLoader;
  invoker: SkillInvoker;
  /** Server name in the `initialize` answer. Default `agentos-skills`. */
  name?: string | undefined;
  /** Server version in the `initialize` answer. Default: this package's version. */
  version?: string | undefined;
  /** How often the registry is checked for changes, ms. Default 1000; 0 turns polling off. */
  pollIntervalMs?: number | undefined;
  log?: McpLog | undefined;
}

export const DEFAULT_POLL_INTERVAL_MS = 1000;

const INSTRUCTIONS = [
  'Each tool is one command of a sandboxed agentos skill (a WebAssembly component); tool names are',
  '<skill id with dots as underscores>__<command>. A skill can reach only the hosts and paths its',
  'manifest allows, within time and memory limits. A failed call returns isError with a text that',
  'starts with an error code (PERMISSION_DENIED, INVALID_ARGUMENTS, TIMEOUT, RESOURCE_LIMIT,',
  'SKILL_NOT_ENABLED, EXECUTION_ERROR, ...) followed by what to do about it.',
].join(' ');

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** What the agent should do about a typed failure, one sentence. */
export function errorAdvice(err: SkillError): string {
  switch (err.code) {
    case 'PERMISSION_DENIED':
      return "The skill's manifest does not allow this. Do not retry it; if the access is needed, ask the operator to change the skill's permissions.";
    case 'INVALID_ARGUMENTS':
      return "Fix the arguments so they match the tool's inputSchema and call it again.";
    case 'TIMEOUT': {
      const ms = err instanceof SkillTimeoutError ? ` ${err.timeoutMs} ms` : '';
      return `The skill ran past its${ms} time limit and was stopped. Retry with a smaller task, or ask the operator to raise the limit.`;
    }
    case 'RESOURCE_LIMIT':
      return 'A host limit (memory, result, log, I/O or argument size) was hit. Retry with smaller input or output, or ask the operator.';
    case 'SKILL_NOT_ENABLED':
      return 'The skill is not enabled on this host (any more). List the tools again; ask the operator to enable the skill if it is needed.';
    case 'PHASE_VIOLATION':
      return 'The host is in the planning phase: no skill may run now. Ask the operator to serve the skills in the execution phase.';
    case 'COMMAND_NOT_FOUND':
      return 'The skill no longer has this command. List the tools again.';
    case 'EXECUTION_ERROR':
      return 'The skill itself failed; the message above is its own. Check the arguments, or report it to the operator if it persists.';
    case 'MODULE_NOT_FOUND':
    case 'INTEGRITY_FAILURE':
    case 'MANIFEST_INVALID':
      return 'The installed skill is broken or was modified, so it will not run. Ask the operator to reinstall it.';
    case 'POLICY_VIOLATION':
      return "The skill asks for more than the host policy allows. Ask the operator.";
    case 'QUEUE_FULL':
      return 'The host is busy. Retry in a moment.';
    case 'ABORTED':
      return 'The call was cancelled.';
    case 'CLOSED':
      return 'The server is shutting down. Reconnect and retry.';
    default:
      return 'Ask the operator if this persists.';
  }
}

/** The tool result for a failed call: `isError`, a text naming the code, the error as data. */
export function errorResult(err: unknown): CallToolResult {
  if (err instanceof SkillError) {
    return {
      isError: true,
      content: [{ type: 'text', text: `${err.code}: ${err.message}\n${errorAdvice(err)}` }],
      structuredContent: { error: err.toJSON() },
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    isError: true,
    content: [{ type: 'text', text: `INTERNAL: ${message}\nThis is a fault of the host, not of the arguments. Ask the operator if it persists.` }],
    structuredContent: { error: { code: 'INTERNAL', message } },
  };
}

/** The tool result for a successful call: the JSON as text, and as structuredContent when an object. */
export function successResult(value: unknown): CallToolResult {
  const text = JSON.stringify(value === undefined ? null : value);
  return isPlainObject(value) ? { content: [{ type: 'text', text }], structuredContent: value } : { content: [{ type: 'text', text }] };
}

/**
 * The SDK's low-level `Server`, with the skills' tools registered, the registry watch, and
 * `refresh()` / `tools()` for hosts and tests. Connect it to any transport; `close()` stops the
 * watch (it does not close the registry, loader or invoker: they belong to the caller).
 */
export class SkillMcpServer extends Server {
  private readonly registry: SkillRegistry;
  private readonly loader: SkillLoader;
  private readonly invoker: SkillInvoker;
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
  /** Requests being answered (tools/list and tools/call), for drain(). */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(opts: CreateMcpServerOptions) {
    super(
      { name: opts.name ?? 'agentos-skills', version: opts.version ?? packageVersion() },
      { capabilities: { tools: { listChanged: true } }, instructions: INSTRUCTIONS },
    );
    this.registry = opts.registry;
    this.loader = opts.loader;
    this.invoker = opts.invoker;
    this.log = opts.log ?? (() => {});
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;

    this.setRequestHandler(ListToolsRequestSchema, () =>
      this.track(
        (async () => {
          await this.refreshQuietly();
          return { tools: this.listed.map((t) => t.definition) };
        })(),
      ),
    );

    this.setRequestHandler(CallToolRequestSchema, (req, extra) =>
      this.track(
        (async () => {
          const name = req.params.name;
          let tool = this.byName.get(name);
          if (!tool) {
            await this.refreshQuietly();
            tool = this.byName.get(name);
          }
          if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
          return this.callTool(tool, req.params.arguments, extra.signal);
        })(),
      ),
    );
  }

  /** Requests (tools/list, tools/call) still being answered. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /**
   * Resolves once every request received so far has been answered: for a graceful end when
   * the client closed its side of the stream but may still read the answers.
   */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    // The SDK writes an answer in the continuation of the handler's promise; let it run.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    p.then(
      () => this.pending.delete(p),
      () => this.pending.delete(p),
    );
    return p;
  }

  /** The tools currently served, in `tools/list` order. */
  tools(): SkillTool[] {
    return [...this.listed];
  }

  /**
   * Re-reads the registry; when the enabled skills changed, loads the new ones, drops the gone
   * ones and (if a client is connected) sends `notifications/tools/list_changed`. Resolves to
   * whether the tool list changed. Concurrent calls share one run.
   */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  override async connect(transport: Transport): Promise<void> {
    await super.connect(transport);
    this.startPolling();
  }

  override async close(): Promise<void> {
    this.stopPolling();
    await super.close();
  }

  private startPolling(): void {
    if (this.timer || !(this.pollIntervalMs > 0) || !Number.isFinite(this.pollIntervalMs)) return;
    this.timer = setInterval(() => {
      if (!this.transport) {
        this.stopPolling();
        return;
      }
      void this.refreshQuietly();
    }, this.pollIntervalMs);
    this.timer.unref();
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async refreshQuietly(): Promise<void> {
    try {
      await this.refresh();
    } catch (e) {
      if (e instanceof SkillError && e.code === 'CLOSED') {
        this.stopPolling();
        return;
      }
      this.log('warn', `could not re-read the skill registry: ${(e as Error)?.message ?? String(e)}`);
    }
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
    if (this.transport && this.getClientCapabilities() !== undefined) {
      await this.sendToolListChanged().catch((e: unknown) => this.log('warn', `could not send tools/list_changed: ${(e as Error)?.message ?? String(e)}`));
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

  private async callTool(tool: SkillTool, args: Record<string, unknown> | undefined, signal: AbortSignal): Promise<CallToolResult> {
    const { skillId, command } = tool;
    try {
      // Enabled after the last refresh, or unloaded meanwhile: load it, but never before the
      // phase gate (in planning nothing is loaded), and leave not-enabled cases to the invoker,
      // which audits them.
      if (this.invoker.phase === 'execution' && !this.loader.get(skillId)) {
        try {
          await this.loader.load(skillId);
        } catch (e) {
          if (!(e instanceof SkillNotEnabledError)) throw e;
        }
      }
      const value = await this.invoker.invoke(skillId, command, args ?? {}, { signal });
      return successResult(value);
    } catch (e) {
      if (!(e instanceof SkillError)) this.log('error', `tool ${tool.name} failed unexpectedly: ${(e as Error)?.stack ?? String(e)}`);
      return errorResult(e);
    }
  }
}

/** An MCP server over the given registry, loader and invoker. Call `refresh()` before `connect()`. */
export function createMcpServer(opts: CreateMcpServerOptions): SkillMcpServer {
  return new SkillMcpServer(opts);
}
