/** `disable <id>`: the skill stays installed but no longer runs (from the next invocation on). */
import type { Command } from 'commander';
import { SkillNotEnabledError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { visible } from '../sanitize.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('disable')
    .description('disable an installed skill (it stays installed)')
    .argument('<id>', 'skill id')
    .action((id: string, _opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const registry = ctx.openRegistry(cmd);
      const before = registry.get(id);
      if (!before) throw new SkillNotEnabledError('not_installed', { skillId: id });
      const changed = before.enabled;
      const skill = changed ? registry.disable(id) : before;
      out.result({ id, version: skill.version, enabled: false, changed }, () => {
        const shown = `${out.c.bold(visible(id))} ${visible(skill.version)}`;
        out.line(changed ? `${out.c.yellow('Disabled')} ${shown}` : `${shown} is already disabled.`);
      });
    });
}
