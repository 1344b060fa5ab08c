/**
 * `mcp --listen HOST:PORT`: the skills as MCP tools over Streamable HTTP at /mcp (see
 * ../../mcp/http.ts). Runs until SIGINT or SIGTERM, then ends gracefully: new requests are
 * refused, calls in flight get `--grace-ms` to finish, the rest end as CLOSED tool results,
 * and the process exits.
 */
import type { McpLog } from '../../mcp/server.js';
import type { AuditLogger, Phase } from '../../types.js';
import type { SkillRegistry } from '../../registry.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../cli-errors.js';
import { packageInfo } from '../package-info.js';

export interface HttpServeOptions {
  phase: Phase;
  listen: string;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  insecureListen?: boolean | undefined;
  maxConcurrent?: number | undefined;
  maxCallsPerMinute?: number | undefined;
  graceMs: number;
}

export async function serveHttp(ctx: CliContext, registry: SkillRegistry, opts: HttpServeOptions, log: McpLog, skillLogs: AuditLogger | undefined): Promise<void> {
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const [{ startMcpHttpServer, parseListen, InsecureListenError }, { SkillLoader }, { SkillInvoker }] = await Promise.all([
    import('../../mcp/http.js'),
    import('../../loader.js'),
    import('../../invoker.js'),
  ]);
  let where: { host: string; port: number };
  try {
    where = parseListen(opts.listen);
  } catch (e) {
    throw new UsageError(`--listen: ${(e as Error).message}`);
  }
  const loader = new SkillLoader(registry);
  const invoker = new SkillInvoker(loader, { phase: opts.phase, hostPolicy: registry.hostPolicy, logger: skillLogs });
  let signalled!: (why: string) => void;
  const stop = new Promise<string>((resolve) => {
    signalled = resolve;
  });
  const onSigint = () => signalled('SIGINT');
  const onSigterm = () => signalled('SIGTERM');
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  try {
    let server;
    try {
      server = await startMcpHttpServer({
        registry,
        loader,
        invoker,
        host: where.host,
        port: where.port,
        tls: opts.tlsCert && opts.tlsKey ? { certFile: opts.tlsCert, keyFile: opts.tlsKey } : undefined,
        insecureListen: opts.insecureListen,
        limits: { maxConcurrent: opts.maxConcurrent, perMinute: opts.maxCallsPerMinute },
        version: packageInfo().version,
        log,
      });
    } catch (e) {
      if (e instanceof InsecureListenError) throw new UsageError(e.message, { hint: 'See docs/serving.md, "Listening beyond this machine".' });
      throw e;
    }
    // The one line a supervisor (or a test) waits for: where the server is.
    ctx.io.stderr.write(`agentos-skills mcp: listening on ${server.url} (phase ${opts.phase}; skills of ${registry.home})\n`);
    const why = await stop;
    log('info', `shutting down: ${why}; ${server.pendingRequests} request(s) in flight (grace ${opts.graceMs} ms)`);
    await server.close({ graceMs: opts.graceMs });
    log('info', 'stopped');
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    await invoker.close().catch(() => {});
  }
}
