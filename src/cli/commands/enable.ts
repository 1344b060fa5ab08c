/**
 * `enable <id> [--yes]`: show what the skill may do and enable it once confirmed: y/N on a
 * terminal, `--yes` otherwise (without it, off a terminal, it is a usage error).
 */
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { PolicyViolationError, SkillNotEnabledError } from '../../errors.js';
import { CliError, UsageError } from '../cli-errors.js';
import { confirm } from '../confirm.js';
import type { CliContext } from '../context.js';
import { lib } from '../lib.js';
import { permissionLines, permissionReview } from '../permissions-view.js';
import { visible } from '../sanitize.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('enable')
    .description('review the permissions of an installed skill and enable it')
    .argument('<id>', 'skill id')
    .option('-y, --yes', 'enable without asking (required when stdin is not a terminal)')
    .action(async (id: string, opts: { yes?: boolean }, cmd: Command) => {
      const out = ctx.out;
      const registry = ctx.openRegistry(cmd);
      const skill = registry.get(id);
      if (!skill) throw new SkillNotEnabledError('not_installed', { skillId: id });
      const review = permissionReview(skill.manifest, registry.hostPolicy);

      // Shown `visible` (see sanitize.ts): the id and version are the manifest's text.
      const shownId = visible(id);
      const shownVersion = visible(skill.version);
      if (skill.enabled) {
        out.result({ id, version: skill.version, enabled: true, changed: false, permissions: review }, () => {
          out.line(`${out.c.bold(shownId)} ${shownVersion} is already enabled.`);
        });
        return;
      }
      // Refuse before asking: no point confirming what the host policy will not allow.
      const violations = lib().checkManifestAgainstPolicy(skill.manifest, registry.hostPolicy);
      if (violations.length > 0) throw new PolicyViolationError(violations, { skillId: id });

      // The review goes where the person deciding reads it: stdout, or stderr under --json.
      const show = (l: string) => (out.json ? out.note(l) : out.line(l));
      if (!opts.yes || !out.json) {
        show(`${out.json ? out.e.bold(shownId) : out.c.bold(shownId)} ${shownVersion} will be allowed to:`);
        for (const l of permissionLines(review, out)) show(l);
      }
      if (!opts.yes) {
        if (ctx.io.stdin.isTTY !== true) {
          throw new UsageError(`stdin is not a terminal, so enable cannot ask for confirmation; pass --yes to enable '${id}' with these permissions`, {
            hint: `Run: ${ctx.bin(cmd)} enable ${id} --yes`,
          });
        }
        const yes = await confirm(`Enable ${shownId}?`, ctx.io.stdin, ctx.io.stderr as unknown as Writable);
        if (!yes) throw new CliError('CANCELLED', `'${id}' was not enabled`, { details: { skillId: id } });
      }
      const enabled = registry.enable(id);
      out.result({ id, version: enabled.version, enabled: true, changed: true, permissions: review }, () => {
        out.line(`${out.c.green('Enabled')} ${out.c.bold(shownId)} ${visible(enabled.version)}`);
      });
    });
}
