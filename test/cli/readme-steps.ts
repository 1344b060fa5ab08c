/**
 * Runs the commands of a README's first ```sh block, one by one, as a user would type them in
 * that folder: a shell, `node` on PATH being this Node, npm preferring its cache (nothing the
 * steps need must come from the network when the cache has it), no agentos/vitest variables.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';

export function readmeCommands(readme: string): string[] {
  const block = /^```(?:sh|bash|shell)\n([\s\S]*?)^```/m.exec(readme);
  if (!block) throw new Error('the README has no ```sh block');
  return block[1]!
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AGENTOS_') || k.startsWith('VITEST') || k === 'NODE_OPTIONS' || k.startsWith('npm_')) delete env[k];
  env['PATH'] = `${dirname(process.execPath)}${delimiter}${env['PATH'] ?? ''}`;
  return { ...env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...extra };
}

export interface StepRun {
  command: string;
  code: number | null;
  output: string;
}

export function runShell(command: string, cwd: string, env: NodeJS.ProcessEnv = userEnv()): Promise<StepRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { cwd, env, shell: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ command, code, output }));
  });
}

/** Every command of `dir`/README.md's sh block, stopping at the first failure. */
export async function runReadmeSteps(dir: string, env?: NodeJS.ProcessEnv): Promise<StepRun[]> {
  const runs: StepRun[] = [];
  for (const command of readmeCommands(await readFile(join(dir, 'README.md'), 'utf8'))) {
    const r = await runShell(command, dir, env);
    runs.push(r);
    if (r.code !== 0) break;
  }
  return runs;
}
