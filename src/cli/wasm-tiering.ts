/**
 * WebAssembly tier-up for the one-shot `invoke` command.
 *
 * V8 runs a guest's functions on its baseline compiler (Liftoff) and recompiles the hot ones
 * with its optimizing compiler (TurboFan) on a background thread. For a QuickJS skill the first
 * hot function is the engine's interpreter loop, one ~54 KB function whose TurboFan compile
 * takes 40-200 ms of CPU, and a process cannot exit before a started compile job has finished:
 * a short invocation's result is out long before, and the process then waits 50-70 ms for code
 * it will never run. The CLI runs one invocation per process, so for `invoke` the tiering budget
 * (how much a function runs before it is tiered up) is raised ~100x: short invocations never
 * start the compile, long ones still get optimized code, later. The MCP server and the library
 * keep V8's default (a long-lived process profits from tiering up early).
 *
 * `AGENTOS_CLI_WASM_TIERING=default` keeps V8's default for `invoke` too.
 */
import { setFlagsFromString } from 'node:v8';
import { UsageError } from './cli-errors.js';

export const TIERING_ENV = 'AGENTOS_CLI_WASM_TIERING';

/** `--wasm-tiering-budget` for one-shot invocations; V8's default is 1,800,000. */
export const ONE_SHOT_TIERING_BUDGET = 200_000_000;

/**
 * Sets the budget for this process unless `$AGENTOS_CLI_WASM_TIERING` is `default`; call before
 * the skill's modules are compiled. Returns the tiering in force.
 */
export function applyOneShotTiering(env: NodeJS.ProcessEnv): 'one-shot' | 'default' {
  const raw = env[TIERING_ENV]?.trim() ?? '';
  if (raw === 'default') return 'default';
  if (raw !== '' && raw !== 'one-shot') {
    throw new UsageError(`$${TIERING_ENV} must be 'default' or 'one-shot', found ${JSON.stringify(env[TIERING_ENV])}`, {
      hint: `Unset it for the CLI's one-shot tiering, or set it to 'default' for V8's.`,
    });
  }
  setFlagsFromString(`--wasm-tiering-budget=${ONE_SHOT_TIERING_BUDGET}`);
  return 'one-shot';
}
