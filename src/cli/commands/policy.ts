/**
 * `policy`: the host policy in force and where it came from (`--policy`, `$AGENTOS_POLICY`,
 * `<home>/policy.yaml`, or the built-in default), with every setting's effective value.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { lib } from '../lib.js';
import { visible } from '../sanitize.js';

const ORIGIN: Record<string, string> = {
  flag: '--policy',
  env: '$AGENTOS_POLICY',
  home: '$AGENTOS_HOME/policy.yaml',
  default: 'built-in default (no policy file)',
};

export function register(program: Command, ctx: CliContext): void {
  program
    .command('policy')
    .description('show the host policy in force and where it came from')
    .action((_opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const r = ctx.policy(cmd);
      const effective = lib().resolveHostPolicy(r.policy ?? {});
      const value = { origin: r.origin, file: r.file ?? null, homeFile: lib().homePolicyFile(ctx.home(cmd)), policy: r.policy ?? {}, effective };
      out.result(value, () => {
        out.line(`Host policy: ${r.file ? visible(r.file) : 'none'} (${ORIGIN[r.origin]})`);
        // Point at the home's file: to create it, or as the one this explicit policy overrides.
        if (r.origin === 'default') out.line(out.c.dim(`(create ${visible(value.homeFile)} to set one)`));
        else if (r.origin !== 'home' && existsSync(value.homeFile)) out.line(out.c.dim(`(overrides ${visible(value.homeFile)})`));
        out.line('');
        for (const [k, v] of Object.entries(effective)) {
          const set = r.policy !== undefined && Object.hasOwn(r.policy, k);
          out.line(`  ${k.padEnd(22)} ${visible(JSON.stringify(v) ?? "(none)")}${set ? '' : out.c.dim('  (default)')}`);
        }
      });
    });
}
