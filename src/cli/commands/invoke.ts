/**
 * `invoke <id> <command>`: load the skill and run one command through the full pipeline (phase
 * gate, enable check, args schema, sandbox). The result JSON goes to stdout, the skill's log
 * lines to stderr.
 */
import { Option, type Command } from 'commander';
import type { LogLine } from '../../sandbox/protocol.js';
import type { Phase } from '../../types.js';
import type { CliContext } from '../context.js';
import { intOption, parseArgsJson } from '../parse.js';
import { visible } from '../sanitize.js';
import { applyOneShotTiering } from '../wasm-tiering.js';

interface InvokeOpts {
  args?: string;
  phase: Phase;
  timeout?: number;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('invoke')
    .description('run a command of an enabled skill and print its JSON result')
    .argument('<id>', 'skill id')
    .argument('<command>', 'command name (see: info <id>)')
    .option('--args <json>', 'arguments, a JSON object (default {})')
    .addOption(new Option('--phase <phase>', 'agent phase to invoke in').choices(['planning', 'execution']).default('execution'))
    .option('--timeout <ms>', "deadline in ms (can only tighten the skill's own)", intOption(1))
    .action(async (id: string, command: string, opts: InvokeOpts, cmd: Command) => {
      const out = ctx.out;
      // Usage errors first: nothing is opened for a bad command line.
      const args = opts.args === undefined ? {} : parseArgsJson(opts.args);
      // Before any module of the skill is compiled (see wasm-tiering.ts).
      applyOneShotTiering(ctx.io.env);
      // The invocation will need a worker thread: start it now, so that Node's start-up of the
      // thread runs while the store opens and the skill loads (sandbox/worker-boot.ts). Not in
      // the planning phase, which refuses every invocation.
      if (opts.phase === 'execution') {
        const { prestartWorkerThread, discardPrestartedThread } = await import('../../sandbox/worker-handle.js');
        prestartWorkerThread();
        ctx.onClose(discardPrestartedThread);
      }
      const registry = ctx.openRegistry(cmd);
      const [{ SkillLoader }, { SkillInvoker }] = await Promise.all([import('../../loader.js'), import('../../invoker.js')]);
      const loader = new SkillLoader(registry);
      const invoker = new SkillInvoker(loader, { phase: opts.phase, hostPolicy: registry.hostPolicy });
      ctx.onClose(() => invoker.close());

      // The pipeline decides (and audits) the phase gate and the enable check: load only a skill
      // that will get past them, so a refused invocation is refused by the invoker, in order.
      if (opts.phase === 'execution' && registry.get(id)?.enabled) await loader.load(id);

      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const result = await invoker.invoke(id, command, args, {
          signal: abort.signal,
          timeoutMs: opts.timeout,
          onLog: (line) => writeLog(ctx, id, line),
        });
        out.result(result, () => out.line(JSON.stringify(result, null, 2) ?? 'null'));
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}

/** One log call of the skill = one line, prefixed: a newline in it is shown as `\n`, not a forged line. */
function writeLog(ctx: CliContext, id: string, line: LogLine): void {
  const e = ctx.out.e;
  const paint = { debug: e.dim, info: e.cyan, warn: e.yellow, error: e.red }[line.level] ?? ((s: string) => s);
  ctx.out.note(`${e.dim(`[${visible(id)}]`)} ${paint(visible(line.level).padEnd(5))} ${visible(line.message)}`);
}
