/** `list`: the installed skills. */
import type { Command } from 'commander';
import type { PermissionSummary } from '../../manifest.js';
import type { CliContext } from '../context.js';
import { lib } from '../lib.js';
import { truncate } from '../format.js';
import { visible } from '../sanitize.js';
import { formatTable } from '../table.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('list')
    .alias('ls')
    .description('list installed skills')
    .action((_opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const registry = ctx.openRegistry(cmd);
      const skills = registry.list().map((s) => ({
        id: s.id,
        name: s.name,
        version: s.version,
        description: s.description,
        enabled: s.enabled,
        commands: Object.keys(s.manifest.commands),
        permissions: lib().permissionSummary(s.manifest),
        componentHash: s.componentHash,
        installedAt: s.installedAt,
        updatedAt: s.updatedAt,
      }));
      out.result(skills, () => {
        const c = out.c;
        if (skills.length === 0) {
          out.line(`No skills installed in ${visible(registry.home)}.`);
          out.line(`Install one with: ${ctx.bin(cmd)} install <dir>`);
          return;
        }
        const rows = skills.map((s) => [
          c.bold(visible(s.id)),
          visible(s.version),
          s.enabled ? c.green('enabled') : c.yellow('disabled'),
          truncate(visible(s.commands.join(', ')), 30),
          visible(shortPermissions(s.permissions)),
        ]);
        out.line(formatTable(['ID', 'VERSION', 'STATUS', 'COMMANDS', 'PERMISSIONS'], rows, { header: c.dim }));
      });
    });
}

/** `net 2 domains, net GET https://api.example.com/*, secret TOKEN, fs 1 root (read+write)` or `none`. */
export function shortPermissions(p: PermissionSummary): string {
  const parts: string[] = [];
  if (p.domains.length) parts.push(`net ${p.domains.length === 1 ? p.domains[0] : `${p.domains.length} domains`}`);
  if (p.rules.length) parts.push(`net ${p.rules.length === 1 ? p.rules[0] : `${p.rules.length} rules`}`);
  if (p.secrets.length) parts.push(`${p.secrets.length === 1 ? `secret ${p.secrets[0]!.name}` : `${p.secrets.length} secrets`}`);
  if (p.fsRoots.length) {
    const access = [p.fsRoots.some((r) => r.read) && 'read', p.fsRoots.some((r) => r.write) && 'write'].filter(Boolean).join('+') || 'no access';
    parts.push(`fs ${p.fsRoots.length === 1 ? p.fsRoots[0]!.path : `${p.fsRoots.length} roots`} (${access})`);
  }
  return parts.join(', ') || 'none';
}
