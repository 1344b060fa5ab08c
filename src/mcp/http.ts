/**
 * The MCP Streamable HTTP server (`agentos-skills mcp --listen HOST:PORT`): many sessions, one
 * invoker, one registry watch (a shared ToolCatalog), on the SDK's StreamableHTTPServerTransport.
 *
 * - `POST|GET|DELETE /mcp`: needs `Authorization: Bearer <token>`, checked against the store at
 *   every request (a revoked token is refused at its next request, and its sessions are closed).
 *   No or a bad token: 401. A session belongs to the token that opened it; another token gets 404.
 * - A token scoped to skills lists and calls only those (../mcp/server.ts); its name is the
 *   `caller` of every audit event and usage figure of its calls; per-caller limits in ./http-limits.ts.
 * - `GET /healthz`: no token; `{ ok, sessions, tools }`, 503 while shutting down.
 * - Listening beyond loopback needs TLS (`tls`) or `insecureListen: true`: bearer tokens must not
 *   cross a network in clear by accident.
 * - `close({ graceMs })`: stops accepting, lets calls in flight finish for up to graceMs, then
 *   closes the invoker (what still runs ends as a CLOSED tool error result, sent to its client),
 *   then closes every session and connection.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { SkillInvoker } from '../invoker.js';
import type { SkillLoader } from '../loader.js';
import type { SkillRegistry } from '../registry.js';
import type { TokenGrant } from '../store/tokens.js';
import { DEFAULT_POLL_INTERVAL_MS, ToolCatalog, type McpLog } from './catalog.js';
import { CallerLimiter, DEFAULT_CALLER_LIMITS, type CallerLimits } from './http-limits.js';
import { createMcpServer, type SkillMcpServer } from './server.js';

export const MCP_PATH = '/mcp';
export const HEALTH_PATH = '/healthz';

export interface McpHttpOptions {
  registry: SkillRegistry;
  loader: SkillLoader;
  invoker: SkillInvoker;
  /** Address to bind, e.g. 127.0.0.1. */
  host: string;
  /** 0 = any free port (see `url` once listening). */
  port: number;
  /** PEM files; with them the server speaks HTTPS. */
  tls?: { certFile: string; keyFile: string } | undefined;
  /** Allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy, say). */
  insecureListen?: boolean | undefined;
  limits?: Partial<CallerLimits> | undefined;
  pollIntervalMs?: number | undefined;
  version?: string | undefined;
  log?: McpLog | undefined;
}

export class InsecureListenError extends Error {
  constructor(host: string) {
    super(
      `refusing to serve bearer tokens over plain HTTP on ${host}, which is not a loopback address: pass --tls-cert and --tls-key, or --insecure-listen if a TLS proxy is in front`,
    );
    this.name = 'InsecureListenError';
  }
}

/** 127.0.0.0/8, ::1, localhost: the addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** `HOST:PORT` (`[::1]:8790` for IPv6) -> parts. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new TypeError(`expected HOST:PORT (127.0.0.1:8790, [::1]:8790), found ${JSON.stringify(value)}`);
  return { host: (m[1] ?? m[2])!, port };
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: SkillMcpServer;
  grant: TokenGrant;
  /** sha256 of the token that opened it: only that token may use it. */
  tokenHash: Buffer;
}

function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export class McpHttpServer {
  readonly catalog: ToolCatalog;
  private readonly http: HttpServer;
  private readonly sessions = new Map<string, Session>();
  private readonly limiter: CallerLimiter;
  private readonly log: McpLog;
  private closing: Promise<void> | undefined;
  private listening: AddressInfo | undefined;

  constructor(private readonly opts: McpHttpOptions) {
    if (!opts.tls && !opts.insecureListen && !isLoopbackHost(opts.host)) throw new InsecureListenError(opts.host);
    this.log = opts.log ?? (() => {});
    this.catalog = new ToolCatalog({ registry: opts.registry, loader: opts.loader, pollIntervalMs: opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS, log: this.log });
    this.limiter = new CallerLimiter({ ...DEFAULT_CALLER_LIMITS, ...stripUndefined(opts.limits ?? {}) }, (e) => opts.registry.recordAudit(e));
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((e: unknown) => {
        this.log('error', `request failed: ${(e as Error)?.stack ?? String(e)}`);
        sendJson(res, 500, { error: 'internal error' });
      });
    };
    this.http = opts.tls ? createHttpsServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) }, handler) : createHttpServer(handler);
  }

  /** Load the tools, start the registry watch, listen. */
  async listen(): Promise<AddressInfo> {
    await this.catalog.refreshQuietly();
    this.catalog.start();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.listening = this.http.address() as AddressInfo;
    return this.listening;
  }

  /** `http(s)://host:port/mcp` once listening. */
  get url(): string {
    const a = this.listening;
    if (!a) throw new Error('not listening');
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${this.opts.tls ? 'https' : 'http'}://${host}:${a.port}${MCP_PATH}`;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Requests being answered across all sessions. */
  get pendingRequests(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.server.pendingRequests;
    return n;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      sendJson(res, this.closing ? 503 : 200, { ok: !this.closing, sessions: this.sessions.size, tools: this.catalog.tools().length });
      return;
    }
    if (url.pathname !== MCP_PATH) {
      sendJson(res, 404, { error: `not found; the MCP endpoint is ${MCP_PATH}` });
      return;
    }
    if (this.closing) {
      sendJson(res, 503, { error: 'shutting down' }, { connection: 'close' });
      return;
    }
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    const grant = m ? this.opts.registry.verifyToken(m[1]!) : undefined;
    if (!m || !grant) {
      if (m) this.closeSessionsOf(tokenHash(m[1]!), 'token no longer valid');
      sendJson(res, 401, { error: m ? 'invalid or revoked token' : 'missing bearer token' }, { 'www-authenticate': 'Bearer realm="agentos-skills"' });
      return;
    }
    const hash = tokenHash(m[1]!);
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const s = this.sessions.get(sid);
      if (!s || !timingSafeEqual(s.tokenHash, hash)) {
        sendJson(res, 404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
        return;
      }
      await s.transport.handleRequest(req, res);
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 400, { jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: no session; initialize with a POST first' }, id: null });
      return;
    }
    await this.newSession(grant, hash, req, res);
  }

  private async newSession(grant: TokenGrant, hash: Buffer, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const server = createMcpServer({
      registry: this.opts.registry,
      loader: this.opts.loader,
      invoker: this.opts.invoker,
      catalog: this.catalog,
      skills: grant.skills,
      caller: grant.name,
      admit: (tool) => this.limiter.admit(grant.name, tool),
      version: this.opts.version,
      log: this.log,
    });
    let session: Session | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        session = { transport, server, grant, tokenHash: hash };
        this.sessions.set(id, session);
        this.log('info', `session opened by '${grant.name}'`, { sessions: this.sessions.size });
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id !== undefined && this.sessions.get(id) === session) this.sessions.delete(id);
    };
    server.onerror = (e) => this.log('warn', `protocol error (caller '${grant.name}'): ${e.message}`);
    await server.connect(transport);
    await transport.handleRequest(req, res);
    // Not an initialize request (the transport answered 400): nothing to keep.
    if (!session) await server.close().catch(() => {});
  }

  private closeSessionsOf(hash: Buffer, why: string): void {
    for (const [id, s] of this.sessions) {
      if (!timingSafeEqual(s.tokenHash, hash)) continue;
      this.sessions.delete(id);
      this.log('info', `closing a session of '${s.grant.name}': ${why}`);
      void s.server.close().catch(() => {});
    }
  }

  /**
   * Graceful end: refuse new requests, let the calls in flight finish for up to `graceMs`
   * (default 10 s), then close the invoker (the rest end as CLOSED tool results, still sent),
   * every session, and the listening socket. Does not close the registry or the loader.
   */
  close(opts: { graceMs?: number | undefined } = {}): Promise<void> {
    this.closing ??= this.doClose(opts.graceMs ?? 10_000);
    return this.closing;
  }

  private async doClose(graceMs: number): Promise<void> {
    this.catalog.stop();
    this.http.close();
    const servers = [...this.sessions.values()].map((s) => s.server);
    const drained = Promise.all(servers.map((s) => s.drain()));
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      drained.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!inTime) this.log('info', `grace period over; cancelling ${this.pendingRequests} call(s) still running`);
    // Calls still running reject with CLOSED; their answers are written before the sessions close.
    await this.opts.invoker.close().catch(() => {});
    await Promise.all(servers.map((s) => s.drain()));
    await Promise.all(servers.map((s) => s.close().catch(() => {})));
    this.sessions.clear();
    this.http.closeAllConnections();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** An HTTP MCP server, listening. */
export async function startMcpHttpServer(opts: McpHttpOptions): Promise<McpHttpServer> {
  const s = new McpHttpServer(opts);
  await s.listen();
  return s;
}
