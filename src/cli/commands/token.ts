/**
 * `token create <name> [--skills id,id]`, `token list`, `token revoke <name>`: the bearer tokens
 * of `mcp --listen`. The token is printed once, at creation (the store keeps only its sha256).
 */
import type { Command } from 'commander';
import { UsageError } from '../cli-errors.js';
import type { CliContext } from '../context.js';
import { formatTime } from '../format.js';
import { visible } from '../sanitize.js';
import { formatTable } from '../table.js';

export function register(program: Command, ctx: CliContext): void {
  const token = program.command('token').description('bearer tokens for `mcp --listen` (create, list, revoke)');

  token
    .command('create <name>')
    .description('create a token and print it once (only its hash is stored)')
    .option('--skills <ids>', 'comma-separated skill ids: the token sees and calls only these (default: every enabled skill)')
    .action((name: string, opts: { skills?: string }, cmd: Command) => {
      const out = ctx.out;
      const skills = opts.skills === undefined ? undefined : opts.skills.split(',').map((s) => s.trim()).filter(Boolean);
      if (skills !== undefined && skills.length === 0) throw new UsageError('--skills needs at least one skill id');
      const registry = ctx.openRegistry(cmd);
      const unknown = (skills ?? []).filter((id) => !registry.get(id));
      if (unknown.length > 0) out.warn(`not installed (yet): ${unknown.map(visible).join(', ')}; the token will see them once they are installed and enabled`);
      const value = registry.createToken(name, { skills });
      out.result({ name, token: value, skills: skills ?? null }, () => {
        out.line(value);
        out.note(out.e.dim(`token '${visible(name)}' created${skills ? ` for ${skills.map(visible).join(', ')}` : ' for every enabled skill'}. It is shown only now; clients send it as "Authorization: Bearer <token>".`));
      });
    });

  token
    .command('list')
    .alias('ls')
    .description('list the tokens (names, scopes, last use; never the tokens themselves)')
    .action((_opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const tokens = ctx.openRegistry(cmd).listTokens();
      out.result(tokens, () => {
        if (tokens.length === 0) {
          out.line(`No tokens. Create one with: ${ctx.bin(cmd)} token create <name>`);
          return;
        }
        const rows = tokens.map((t) => [visible(t.name), visible(t.skills ? t.skills.join(', ') : '(all enabled skills)'), formatTime(t.createdAt), t.lastUsedAt ? formatTime(t.lastUsedAt) : '-']);
        out.line(formatTable(['NAME', 'SKILLS', 'CREATED', 'LAST USED'], rows, { header: out.c.dim }));
      });
    });

  token
    .command('revoke <name>')
    .description('revoke a token: refused (401) from its next request on, its sessions closed')
    .action((name: string, _opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const revoked = ctx.openRegistry(cmd).revokeToken(name);
      if (!revoked) throw new UsageError(`no token named '${name}'`, { hint: `See the tokens: ${ctx.bin(cmd)} token list` });
      out.result({ name, revoked: true }, () => out.line(`Revoked token '${visible(name)}'.`));
    });
}
