/** `uninstall <id>`: remove the skill, its usage figures and (if unshared) its component. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { visible } from '../sanitize.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('uninstall')
    .alias('rm')
    .description('remove an installed skill (its audit events are kept)')
    .argument('<id>', 'skill id')
    .action((id: string, _opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const registry = ctx.openRegistry(cmd);
      const removed = registry.uninstall(id);
      out.result({ id, version: removed.version, componentHash: removed.componentHash }, () => {
        out.line(`${out.c.green('Uninstalled')} ${out.c.bold(visible(id))} ${visible(removed.version)}`);
      });
    });
}
