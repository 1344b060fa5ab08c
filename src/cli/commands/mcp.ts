/**
 * `mcp [--phase planning|execution]`: serve the enabled skills of the store (`--home`) as MCP
 * tools over stdio. stdout carries the protocol and nothing else; every log line goes to stderr.
 * Enabling, disabling or installing skills meanwhile (from another `agentos-skills` process) is
 * picked up within a second and announced with `notifications/tools/list_changed`.
 *
 * Shutdown, on stdin end (the client went away; requests already received are answered first),
 * SIGINT or SIGTERM (at once): close the transport, end the skill workers, close the registry;
 * nothing is left running, so the process exits by itself.
 */
import { Option, type Command } from 'commander';
import type { McpLog } from '../../mcp/server.js';
import type { AuditLogger, Phase } from '../../types.js';
import type { CliContext } from '../context.js';
import { packageInfo } from '../package-info.js';
import { jsonForTerminal, visibleLines } from '../sanitize.js';
import { intOption } from '../parse.js';
import { serveHttp, type HttpServeOptions } from './mcp-http.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('mcp')
    .description('serve the enabled skills as MCP tools over stdio (for Claude Desktop and other MCP clients), or over HTTP with --listen')
    .addOption(
      new Option('--phase <phase>', 'invoker phase: in planning every tool call is refused with PHASE_VIOLATION')
        .choices(['planning', 'execution'])
        .default('execution'),
    )
    .option('--listen <host:port>', 'serve the MCP Streamable HTTP transport at /mcp instead of stdio (bearer tokens: see `token create`)')
    .option('--tls-cert <file>', 'with --listen: PEM certificate; serve HTTPS')
    .option('--tls-key <file>', 'with --listen: PEM private key of --tls-cert')
    .option('--insecure-listen', 'with --listen: allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy)')
    .option('--max-concurrent <n>', 'with --listen: calls one token may have running at once (default 8)', intOption(1))
    .option('--max-calls-per-minute <n>', 'with --listen: calls one token may start per minute (default 600)', intOption(1))
    .option('--grace-ms <ms>', 'with --listen: on SIGINT/SIGTERM, how long calls in flight may take to finish', intOption(0), 10_000)
    .action(async (opts: { phase: Phase } & Partial<HttpServeOptions>, cmd: Command) => {
      const stderr = ctx.io.stderr;
      // Nothing but protocol on stdout: whatever a library would print there goes to stderr.
      // stderr is often a terminal, and messages may quote skill text (error messages, ids):
      // control characters are shown escaped (see ../sanitize.ts); the protocol stays exact.
      const toStderr = (...args: unknown[]) => {
        stderr.write(`${visibleLines(args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' '))}\n`);
      };
      console.log = toStderr;
      console.info = toStderr;
      console.debug = toStderr;

      const log: McpLog = (level, message, fields) => {
        if (ctx.io.env['AGENTOS_LOG_LEVEL']?.trim().toLowerCase() === 'silent') return;
        const extra = fields && Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : '';
        stderr.write(`agentos-skills mcp: ${level === 'info' ? '' : `${level}: `}${visibleLines(message)}${extra}\n`);
      };

      const registry = ctx.openRegistry(cmd);
      if (opts.listen !== undefined) {
        let httpLogs: AuditLogger | undefined;
        if (ctx.io.env['AGENTOS_LOG_LEVEL']) {
          const { createDefaultLogger } = await import('../../audit.js');
          const pino = createDefaultLogger(ctx.io.env);
          httpLogs = { info: (obj, msg) => pino.info(obj, msg) };
        }
        await serveHttp(ctx, registry, { ...opts, listen: opts.listen, graceMs: opts.graceMs ?? 10_000 } as HttpServeOptions, log, httpLogs);
        return;
      }
      // Loaded here, not at startup: the other commands do not pay for the SDK and the sandbox.
      const [{ StdioServerTransport }, { createMcpServer }, { SkillLoader }, { SkillInvoker }, { createDefaultLogger }] = await Promise.all([
        import('@modelcontextprotocol/sdk/server/stdio.js'),
        import('../../mcp/server.js'),
        import('../../loader.js'),
        import('../../invoker.js'),
        import('../../audit.js'),
      ]);
      // With $AGENTOS_LOG_LEVEL the registry already logs every audit event (see CliContext);
      // the invoker's logger adds only the skills' own log lines (info), never a second copy.
      let skillLogs: AuditLogger | undefined;
      if (ctx.io.env['AGENTOS_LOG_LEVEL']) {
        const pino = createDefaultLogger(ctx.io.env);
        skillLogs = { info: (obj, msg) => pino.info(obj, msg) };
      }
      const loader = new SkillLoader(registry);
      const invoker = new SkillInvoker(loader, { phase: opts.phase, hostPolicy: registry.hostPolicy, logger: skillLogs });
      const server = createMcpServer({ registry, loader, invoker, version: packageInfo().version, log });
      const transport = new StdioServerTransport(process.stdin, process.stdout);

      // Two ways out: the client went away (stdin ended, transport closed, stdout broken), or a
      // signal. On stdin end the calls already received are finished first (the client may
      // still be reading); a signal ends everything at once, draining included.
      let end!: (why: string) => void;
      const ended = new Promise<string>((resolve) => {
        end = resolve;
      });
      let signal!: (why: string) => void;
      const signalled = new Promise<string>((resolve) => {
        signal = resolve;
      });
      const onEnd = () => end('stdin ended');
      const onSigint = () => signal('SIGINT');
      const onSigterm = () => signal('SIGTERM');
      process.stdin.once('end', onEnd);
      process.stdin.once('close', onEnd);
      process.once('SIGINT', onSigint);
      process.once('SIGTERM', onSigterm);
      server.onclose = () => end('transport closed');
      server.onerror = (e) => log('warn', `protocol error: ${e.message}`);
      // A client gone mid-write (EPIPE) ends the session instead of crashing the process.
      const onStdoutError = (e: Error) => end(`stdout: ${e.message}`);
      process.stdout.on('error', onStdoutError);

      try {
        // Load while the client initializes; tools/list waits for this first refresh.
        server.refresh().catch((e: unknown) => log('error', `could not load the enabled skills: ${(e as Error)?.message ?? String(e)}`));
        await server.connect(transport);
        log('info', `serving the skills of ${registry.home} over stdio (phase ${opts.phase})`);
        const why = await Promise.race([ended, signalled]);
        if (why === 'stdin ended' && server.pendingRequests > 0) {
          log('info', `stdin ended; answering the ${server.pendingRequests} request(s) in flight first`);
          const interrupted = await Promise.race([server.drain().then(() => undefined), signalled]);
          log('info', `shutting down: ${why}${interrupted ? ` (${interrupted} while answering)` : ''}`);
        } else {
          log('info', `shutting down: ${why}`);
        }
      } finally {
        process.stdin.off('end', onEnd);
        process.stdin.off('close', onEnd);
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigterm);
        server.onclose = undefined;
        await server.close().catch(() => {});
        await invoker.close().catch(() => {});
        // The registry is closed by the CLI context once this action returns. Let go of stdin so
        // nothing keeps the event loop alive.
        process.stdin.pause();
        process.stdin.unref?.();
        process.stdout.off('error', onStdoutError);
      }
    });
}

function safeJson(v: unknown): string {
  try {
    const json = JSON.stringify(v);
    return json === undefined ? String(v) : jsonForTerminal(json);
  } catch {
    return String(v);
  }
}
