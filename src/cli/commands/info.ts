/** `info <id>`: manifest, permissions, commands and their args, component, usage figures. */
import type { Command } from 'commander';
import { SkillNotEnabledError } from '../../errors.js';
import type { JsonSchema } from '../../types.js';
import type { CliContext } from '../context.js';
import { formatBytes, formatMs, formatTime } from '../format.js';
import { permissionLines, permissionReview } from '../permissions-view.js';
import { visible } from '../sanitize.js';
import { formatPairs } from '../table.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('info')
    .description('show a skill: permissions, commands with their args, component, usage')
    .argument('<id>', 'skill id')
    .action((id: string, _opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const registry = ctx.openRegistry(cmd);
      const skill = registry.get(id);
      if (!skill) throw new SkillNotEnabledError('not_installed', { skillId: id });
      const review = permissionReview(skill.manifest, registry.hostPolicy);
      const usage = registry.usage(id);
      const m = skill.manifest;
      const result = {
        id: skill.id,
        name: skill.name,
        version: skill.version,
        description: skill.description,
        enabled: skill.enabled,
        engine: m.engine ?? null,
        entry: m.entry ?? null,
        sourceDir: skill.sourceDir,
        installedAt: skill.installedAt,
        updatedAt: skill.updatedAt,
        permissions: review,
        commands: Object.entries(m.commands).map(([name, spec]) => ({ name, description: spec.description ?? null, args: spec.args ?? null })),
        component: { hash: skill.componentHash, size: skill.componentSize, path: skill.componentPath, imports: skill.imports },
        usage,
        manifest: m,
      };
      out.result(result, () => {
        const c = out.c;
        const section = (t: string) => {
          out.line();
          out.line(c.bold(t));
        };
        // Every manifest value is the skill's text: shown `visible` (see sanitize.ts).
        out.line(`${c.bold(visible(skill.id))} ${visible(skill.version)}  ${skill.enabled ? c.green('enabled') : c.yellow('disabled')}`);
        out.line(
          formatPairs(
            [
              ['name', visible(skill.name)],
              ['description', skill.description ? visible(skill.description) : c.dim('(none)')],
              ['source', visible(skill.sourceDir)],
              ['installed', formatTime(skill.installedAt)],
              ['updated', formatTime(skill.updatedAt)],
            ],
            { indent: 2, key: c.dim },
          ),
        );
        section('Permissions');
        for (const l of permissionLines(review, out)) out.line(l);
        section('Commands');
        for (const cmdInfo of result.commands) {
          out.line(`  ${c.cyan(visible(cmdInfo.name))}${cmdInfo.description ? `  ${visible(cmdInfo.description)}` : ''}`);
          out.line(`    ${c.dim('args:')} ${visible(describeArgs(cmdInfo.args))}`);
        }
        section('Component');
        out.line(
          formatPairs(
            [
              ['sha256', skill.componentHash],
              ['size', formatBytes(skill.componentSize)],
              ['path', visible(skill.componentPath)],
              ['imports', visible(skill.imports.join(', ')) || c.dim('none')],
            ],
            { indent: 2, key: c.dim },
          ),
        );
        section('Usage');
        const failures = Object.entries(usage.failuresByCode)
          .map(([code, n]) => `${code} ${n}`)
          .join(', ');
        out.line(
          formatPairs(
            [
              ['invocations', `${usage.invocations}${usage.failures ? ` (${usage.failures} failed${failures ? `: ${failures}` : ''})` : ''}`],
              ['mean / max', usage.invocations ? `${formatMs(usage.meanMs)} / ${formatMs(usage.maxMs)}` : '-'],
              ['last', formatTime(usage.lastAt)],
            ],
            { indent: 2, key: c.dim },
          ),
        );
      });
    });
}

/** One line: `name (string, required), count (integer)`, or the schema as compact JSON. */
export function describeArgs(schema: JsonSchema | null): string {
  if (!schema) return 'any JSON object (no schema)';
  const props = schema['properties'];
  const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as string[]) : []);
  if (props && typeof props === 'object' && !Array.isArray(props)) {
    const entries = Object.entries(props as Record<string, JsonSchema>);
    if (entries.length === 0) return 'an object with no properties';
    const parts = entries.map(([name, p]) => {
      const kind = Array.isArray(p?.['enum'])
        ? (p['enum'] as unknown[]).map((v) => JSON.stringify(v)).join('|')
        : typeof p?.['type'] === 'string'
          ? (p['type'] as string)
          : Array.isArray(p?.['type'])
            ? (p['type'] as string[]).join('|')
            : 'any';
      return `${name} (${kind}${required.has(name) ? ', required' : ''})`;
    });
    const extra = schema['additionalProperties'] === false ? '' : ', ...';
    return parts.join(', ') + extra;
  }
  return JSON.stringify(schema);
}
