/**
 * An MCP server that serves every command of every enabled skill as a tool (names, schemas and
 * hints: see ./tools.ts). Every call goes through `invoker.invoke`, so the phase gate, the
 * enable check, the argument schema, the guards, the limits and the audit trail all apply.
 *
 * - A typed failure (SkillError) is a tool result with `isError: true` whose text starts with
 *   the error code and says what to do; only an unknown tool name is a protocol error
 *   (JSON-RPC -32602, as the SDK's own McpServer and the MCP spec do it).
 * - The tool list comes from a ToolCatalog (./catalog.ts), which watches the registry: its
 *   changes are sent as `notifications/tools/list_changed`. One server per session; the HTTP
 *   server (./http.ts) shares one catalog among all of them.
 * - A session may be scoped (a token's skills): it lists and calls only those skills. Its
 *   `caller` goes into every audit event and usage figure of its calls.
 */
import { readFileSync } from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { SkillError, SkillNotEnabledError, SkillTimeoutError } from '../errors.js';
import type { SkillInvoker } from '../invoker.js';
import type { SkillLoader } from '../loader.js';
import type { SkillRegistry } from '../registry.js';
import { DEFAULT_POLL_INTERVAL_MS, ToolCatalog, type McpLog } from './catalog.js';
import type { SkillTool } from './tools.js';
import { policySource } from '../policy-file.js';

export { DEFAULT_POLL_INTERVAL_MS, ToolCatalog, type McpLog, type McpLogLevel } from './catalog.js';

/** Admission of one call (per-caller limits): a release function, or the typed refusal. */
export type AdmitCall = (tool: SkillTool) => (() => void) | SkillError;

export interface CreateMcpServerOptions {
  registry: SkillRegistry;
  loader: SkillLoader;
  invoker: SkillInvoker;
  /** Server name in the `initialize` answer. Default `agentos-skills`. */
  name?: string | undefined;
  /** Server version in the `initialize` answer. Default: this package's version. */
  version?: string | undefined;
  /** How often the registry is checked for changes, ms. Default 1000; 0 turns polling off. Ignored with `catalog`. */
  pollIntervalMs?: number | undefined;
  log?: McpLog | undefined;
  /** A catalog shared with other sessions (its polling is the owner's business). Default: one of its own, polled while connected. */
  catalog?: ToolCatalog | undefined;
  /** The only skills this session sees and calls; undefined/null = every enabled skill. */
  skills?: readonly string[] | null | undefined;
  /** Who calls through this session (a token's name): on every audit event and usage figure. */
  caller?: string | undefined;
  /** Per-caller limits, asked before every call. */
  admit?: AdmitCall | undefined;
}

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
    case 'PREPARE_FAILED':
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
    case 'RATE_LIMITED':
      return 'Too many calls for this token right now. Wait for the calls in flight to finish (or a minute), then retry.';
    default:
      return 'Ask the operator if this persists.';
  }
}

/** The tool result for a failed call: `isError`, a text naming the code, the error as data. */
export function errorResult(err: unknown, policy?: string): CallToolResult {
  if (err instanceof SkillError) {
    // A denial the host policy caused is the operator's file, not the skill's manifest: say which.
    const advice =
      err.code === 'PERMISSION_DENIED' && policy && /\bhost policy\b/i.test(err.message)
        ? `Denied by ${policy}, not by the skill's manifest. Do not retry; ask the operator.`
        : errorAdvice(err);
    return {
      isError: true,
      content: [{ type: 'text', text: `${err.code}: ${err.message}\n${advice}` }],
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
  readonly catalog: ToolCatalog;
  private readonly ownCatalog: boolean;
  private readonly loader: SkillLoader;
  private readonly invoker: SkillInvoker;
  private readonly log: McpLog;
  private readonly scope: ReadonlySet<string> | undefined;
  private readonly caller: string | undefined;
  private readonly admit: AdmitCall | undefined;
  private readonly policy: string | undefined;
  private unsubscribe: (() => void) | undefined;
  private lastListJson: string | undefined;
  /** Requests being answered (tools/list and tools/call), for drain(). */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(opts: CreateMcpServerOptions) {
    super(
      { name: opts.name ?? 'agentos-skills', version: opts.version ?? packageVersion() },
      { capabilities: { tools: { listChanged: true } }, instructions: INSTRUCTIONS },
    );
    this.ownCatalog = opts.catalog === undefined;
    this.catalog =
      opts.catalog ?? new ToolCatalog({ registry: opts.registry, loader: opts.loader, pollIntervalMs: opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS, log: opts.log });
    this.loader = opts.loader;
    this.invoker = opts.invoker;
    this.log = opts.log ?? (() => {});
    this.scope = opts.skills ? new Set(opts.skills) : undefined;
    this.caller = opts.caller;
    this.admit = opts.admit;
    const src = policyFileOf(opts.registry);
    this.policy = src ? `the host policy (${src})` : undefined;

    this.setRequestHandler(ListToolsRequestSchema, () =>
      this.track(
        (async () => {
          await this.catalog.refreshQuietly();
          const tools = this.tools();
          this.lastListJson = JSON.stringify(tools.map((t) => t.name));
          return { tools: tools.map((t) => t.definition) };
        })(),
      ),
    );

    this.setRequestHandler(CallToolRequestSchema, (req, extra) =>
      this.track(
        (async () => {
          const name = req.params.name;
          let tool = this.visible(name);
          if (!tool) {
            await this.catalog.refreshQuietly();
            tool = this.visible(name);
          }
          // Out of scope is answered like an unknown name: a scoped token learns nothing of other skills.
          if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
          return this.callTool(tool, req.params.arguments, extra.signal);
        })(),
      ),
    );
  }

  private visible(name: string): SkillTool | undefined {
    const t = this.catalog.get(name);
    return t && (!this.scope || this.scope.has(t.skillId)) ? t : undefined;
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

  /** The tools this session serves (its scope applied), in `tools/list` order. */
  tools(): SkillTool[] {
    const all = this.catalog.tools();
    return this.scope ? all.filter((t) => this.scope!.has(t.skillId)) : all;
  }

  /** Re-reads the registry (see ToolCatalog.refresh). Resolves to whether the tool list changed. */
  refresh(): Promise<boolean> {
    return this.catalog.refresh();
  }

  override async connect(transport: Transport): Promise<void> {
    await super.connect(transport);
    this.unsubscribe ??= this.catalog.onChange(() => void this.toolsChanged());
    if (this.ownCatalog) this.catalog.start();
  }

  override async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.ownCatalog) this.catalog.stop();
    await super.close();
  }

  private async toolsChanged(): Promise<void> {
    if (!this.transport || this.getClientCapabilities() === undefined) return;
    // A scoped session hears only of changes to what it can see.
    if (this.scope && this.lastListJson === JSON.stringify(this.tools().map((t) => t.name))) return;
    await this.sendToolListChanged().catch((e: unknown) => this.log('warn', `could not send tools/list_changed: ${(e as Error)?.message ?? String(e)}`));
  }

  private async callTool(tool: SkillTool, args: Record<string, unknown> | undefined, signal: AbortSignal): Promise<CallToolResult> {
    const { skillId, command } = tool;
    const admitted = this.admit?.(tool);
    if (admitted instanceof SkillError) return errorResult(admitted);
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
      const value = await this.invoker.invoke(skillId, command, args ?? {}, { signal, caller: this.caller });
      return successResult(value);
    } catch (e) {
      if (!(e instanceof SkillError)) this.log('error', `tool ${tool.name} failed unexpectedly: ${(e as Error)?.stack ?? String(e)}`);
      return errorResult(e, this.policy);
    } finally {
      admitted?.();
    }
  }
}

/** The policy file the registry's host policy was read from, if any. */
function policyFileOf(registry: SkillRegistry): string | undefined {
  return policySource(registry.hostPolicy)?.file;
}

/** An MCP server over the given registry, loader and invoker. Call `refresh()` before `connect()`. */
export function createMcpServer(opts: CreateMcpServerOptions): SkillMcpServer {
  return new SkillMcpServer(opts);
}
