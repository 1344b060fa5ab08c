/**
 * Runs the REAL bin (`node dist/cli/main.js`) in a child process, as a user's shell would:
 * stdin is not a terminal (so no colour and no prompts), a throwaway home, a clean env.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';

export const MAIN = join(ROOT, 'dist/cli/main.js');

/** Call from beforeAll: a clear message instead of a wall of spawn failures. */
export function requireBuiltCli(): void {
  if (!existsSync(MAIN)) {
    throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does it, then build-examples, then vitest).`);
  }
}

export function requireBuiltSkill(dir: string): void {
  if (!existsSync(join(dir, 'dist/skill.wasm'))) {
    throw new Error(`${dir}/dist/skill.wasm is missing: run \`npm run build-examples\` first (npm test does it).`);
  }
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON document `--json` promises (throws if it is not exactly one). */
  json(): { ok: boolean; result?: any; error?: any };
}

export interface RunOptions {
  home?: string | undefined;
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  /** Flags for `node` itself, before the script (V8 flags such as --trace-wasm-compilation-times). */
  nodeArgs?: string[];
}

/** Env of the child: no colour forcing, no inherited agentos settings. */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(AGENTOS_|FORCE_COLOR$|NO_COLOR$|NODE_OPTIONS$|VITEST)/.test(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function cli(args: string[], opts: RunOptions = {}): Promise<CliRun> {
  const argv = [...(opts.nodeArgs ?? []), MAIN, ...args];
  const env = childEnv({ ...(opts.home ? { AGENTOS_HOME: opts.home } : {}), ...opts.env });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { env, cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`agentos-skills ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr,
        json() {
          const text = stdout.trim();
          if (text.includes('\n')) throw new Error(`expected exactly one JSON line on stdout, got:\n${stdout}`);
          try {
            return JSON.parse(text);
          } catch {
            throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** No ANSI escape sequence anywhere. */
export const ESC = /\x1b\[/;
