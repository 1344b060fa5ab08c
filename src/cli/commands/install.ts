/** `install <dir>`: validate and store a built skill, show what it asks for, leave it disabled. */
import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { formatBytes, formatMs } from '../format.js';
import { permissionLines, permissionReview } from '../permissions-view.js';
import { visible } from '../sanitize.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('install')
    .description('install (or re-install) a built skill; new skills start disabled')
    .argument('<dir>', 'skill folder with skill.yaml and its built component')
    .action(async (dir: string, _opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const e = out.e;
      const registry = ctx.openRegistry(cmd);
      const t0 = performance.now();
      out.note(e.dim(`installing ${visible(path.resolve(dir))}`));
      const skill = await registry.install(dir);
      out.note(`  ${e.cyan('stored'.padEnd(8))} sha256 ${skill.componentHash.slice(0, 12)}, ${formatBytes(skill.componentSize)}${e.dim(` (${formatMs(performance.now() - t0)})`)}`);

      const review = permissionReview(skill.manifest, registry.hostPolicy);
      const bin = ctx.bin(cmd);
      const result = {
        id: skill.id,
        name: skill.name,
        version: skill.version,
        previousVersion: skill.previousVersion ?? null,
        enabled: skill.enabled,
        addedPermissions: skill.addedPermissions,
        permissions: review,
        componentHash: skill.componentHash,
        componentSize: skill.componentSize,
        imports: skill.imports,
        sourceDir: skill.sourceDir,
      };
      out.result(result, () => {
        const c = out.c;
        const state = skill.enabled ? c.green('enabled') : c.yellow('disabled');
        // The manifest's text (id, versions, domains, roots) is shown `visible` (see sanitize.ts).
        const id = visible(skill.id);
        const version = visible(skill.version);
        const previous = visible(skill.previousVersion ?? '');
        if (skill.previousVersion === undefined) {
          out.line(`${c.green('Installed')} ${c.bold(id)} ${version} (${state})`);
        } else {
          out.line(`${c.green('Re-installed')} ${c.bold(id)} ${previous} -> ${version} (${state})`);
        }
        if (skill.addedPermissions.length > 0) {
          out.line();
          out.line(c.yellow(c.bold(`This version asks for more than ${previous} did:`)));
          for (const a of skill.addedPermissions) out.line(`  ${c.yellow('+')} ${visible(a)}`);
          out.line(c.yellow('It was disabled so that you can review it.'));
        }
        out.line();
        out.line('Permissions it requests:');
        for (const l of permissionLines(review, out)) out.line(l);
        out.line();
        if (skill.enabled) {
          out.line(`It asks for nothing new, so it stays enabled. Disable it with: ${visible(bin)} disable ${id}`);
        } else {
          out.line(`It stays disabled until you enable it: ${c.bold(`${visible(bin)} enable ${id}`)}`);
        }
      });
    });
}
