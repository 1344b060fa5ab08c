/**
 * The `agentos-skills` program: global options, the command list, and `run` (argv -> exit code)
 * which turns every outcome into output and an exit code (see exit-codes.ts).
 *
 * Adding a command: write `commands/<name>.ts` exporting `register(program, ctx)`, import it
 * here and append it to COMMANDS. Nothing else needs to change.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from './cli-errors.js';
import { register as registerAudit } from './commands/audit.js';
import { register as registerBuild } from './commands/build.js';
import { register as registerDisable } from './commands/disable.js';
import { register as registerEnable } from './commands/enable.js';
import { register as registerInfo } from './commands/info.js';
import { register as registerInstall } from './commands/install.js';
import { register as registerInvoke } from './commands/invoke.js';
import { register as registerList } from './commands/list.js';
import { register as registerMcp } from './commands/mcp.js';
import { register as registerNew } from './commands/new.js';
import { register as registerPolicy } from './commands/policy.js';
import { register as registerSecret } from './commands/secret.js';
import { register as registerToken } from './commands/token.js';
import { register as registerUninstall } from './commands/uninstall.js';
import { BIN, CliContext, POLICY_ENV } from './context.js';
import { EXIT, exitCodeHelp } from './exit-codes.js';
import { Output, type CliIO } from './output.js';
import { loadLib } from './lib.js';
import { packageInfo } from './package-info.js';
import { renderError } from './render-error.js';
import { MAX_AGE_ENV, MAX_EVENTS_ENV } from './retention.js';
import { TIERING_ENV } from './wasm-tiering.js';

export type CommandRegistrar = (program: Command, ctx: CliContext) => void;

/** Every subcommand, in the order `--help` lists them. */
export const COMMANDS: readonly CommandRegistrar[] = [
  registerNew,
  registerBuild,
  registerInstall,
  registerList,
  registerInfo,
  registerEnable,
  registerDisable,
  registerUninstall,
  registerInvoke,
  registerAudit,
  registerMcp,
  registerToken,
  registerSecret,
  registerPolicy,
];

export function registerCommands(program: Command, ctx: CliContext, commands: readonly CommandRegistrar[] = COMMANDS): void {
  for (const register of commands) register(program, ctx);
}

const ENV_HELP = `
Environment:
  AGENTOS_HOME                 agentos home (default ~/.agentos); --home wins
  ${POLICY_ENV}               host policy file (JSON or YAML); --policy wins; default $AGENTOS_HOME/policy.yaml if present
  ${MAX_AGE_ENV}   automatic audit retention: delete events older than N days (default 90)
  ${MAX_EVENTS_ENV}     automatic audit retention: keep the newest N events (default 100000)
                               (applied whenever a command opens the store and as events are written)
  AGENTOS_LOG_LEVEL            also log audit events as JSON lines to stderr (info, warn, ...)
  NO_COLOR / FORCE_COLOR       colour control (colour only on a terminal by default)
  AGENTOS_DEBUG=1              print stacks of internal errors
  ${TIERING_ENV}     invoke: 'default' = V8's usual wasm tier-up; unset = only code
                               that runs long is optimized, so a short invocation exits
                               without waiting for the optimizing compiler

Exit codes:
${exitCodeHelp()}`;

export interface ProgramOptions {
  commands?: readonly CommandRegistrar[] | undefined;
  /** Where commander's own output (help, version) goes; default stdout. */
  writeOut?: ((s: string) => void) | undefined;
}

export function createProgram(ctx: CliContext, opts: ProgramOptions = {}): Command {
  const writeOut = opts.writeOut ?? ((s: string) => void ctx.io.stdout.write(s));
  const program = new Command(BIN);
  program
    .description('Install, review, enable and run sandboxed agent skills (WebAssembly components).')
    .version(packageInfo().version, '-V, --version', 'print the version')
    .option('--home <dir>', 'agentos home (default: $AGENTOS_HOME, else ~/.agentos)')
    .option('--json', 'print exactly one JSON document: {"ok":true,"result":...} or {"ok":false,"error":{...}}')
    .option('--policy <file>', `host policy file, JSON or YAML (default: $${POLICY_ENV}, else $AGENTOS_HOME/policy.yaml)`)
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText('after', ENV_HELP)
    .hook('preAction', async () => {
      await loadLib();
    })
    .exitOverride()
    .configureOutput({
      writeOut,
      writeErr: (s) => ctx.io.stderr.write(s),
      // Errors are printed by run(), as JSON or as text.
      outputError: () => {},
    });
  registerCommands(program, ctx, opts.commands ?? COMMANDS);
  return program;
}

/** `--json` anywhere before `--` (known before commander parses, so even usage errors are JSON). */
function wantsJson(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--json') return true;
  }
  return false;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/** Run the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const json = wantsJson(argv);
  const out = new Output(io, { json });
  const ctx = new CliContext(io, out);
  // Under --json, commander's own output is held back: --version answers in the envelope
  // instead, and --help (text, since that is what was asked for) is written as is.
  let held = '';
  const program = createProgram(ctx, { writeOut: json ? (s) => void (held += s) : undefined });

  let exitCode: number = EXIT.OK;
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    exitCode = report(err, ctx, program, held);
  } finally {
    await ctx.close();
  }
  return exitCode;
}

function report(err: unknown, ctx: CliContext, program: Command, buffered: string): number {
  const out = ctx.out;
  if (err instanceof CommanderError) {
    if (err.code === 'commander.version') {
      if (out.json) out.result({ version: packageInfo().version }, () => {});
      return EXIT.OK;
    }
    if (err.code === 'commander.helpDisplayed' || (err.code === 'commander.help' && err.exitCode === 0)) {
      if (out.json) ctx.io.stdout.write(buffered);
      return EXIT.OK;
    }
    if (err.code === 'commander.help') {
      // No command given: the help already went to stderr; JSON mode still gets its envelope.
      if (!out.json) return EXIT.USAGE;
      err = new UsageError('no command given', { hint: `Run '${BIN} --help' for the commands.` });
    } else {
      const message = err.message.replace(/^error: /, '');
      err = new UsageError(message, { hint: `Run '${BIN} ${commandPath(program)}--help' for usage.`, details: { commanderCode: err.code } });
    }
  }
  const r = renderError(err, { bin: BIN, debug: ctx.debug, policy: ctx.policyDescription });
  out.error(r.json, r.human);
  return r.exitCode;
}

/** Best effort: `invoke ` for an error raised while parsing `invoke ...`. */
function commandPath(program: Command): string {
  const args = program.args;
  const sub = program.commands.find((c) => c.name() === args[0] || c.aliases().includes(args[0] ?? ''));
  return sub ? `${sub.name()} ` : '';
}
