/**
 * `secret set <skill> <NAME>`, `secret list [<skill>]`, `secret rm <skill> <NAME>`: the values a
 * skill's `{{secret:NAME}}` placeholders are replaced with. A value is read from stdin (piped) or
 * a hidden prompt (a terminal), never from argv (which `ps` and shell history show), and never
 * printed back.
 */
import type { Command } from 'commander';
import { secretValueProblem } from '../../secret-redactor.js';
import { UsageError } from '../cli-errors.js';
import type { CliContext } from '../context.js';
import { formatTime } from '../format.js';
import { visible } from '../sanitize.js';
import { formatTable } from '../table.js';

/** Largest value read from stdin (the store refuses more than 8192 characters anyway). */
const MAX_INPUT_BYTES = 64 * 1024;

/** Everything on stdin, minus one trailing newline (`echo $TOKEN |` and `< file` both add one). */
async function readPiped(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += b.byteLength;
    if (total > MAX_INPUT_BYTES) throw new UsageError(`the value on stdin is larger than ${MAX_INPUT_BYTES} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** A line typed on the terminal with echo off (raw mode); Ctrl-C / Ctrl-D give up. */
async function readHidden(prompt: string, stdin: NodeJS.ReadStream, stderr: { write(s: string): unknown }): Promise<string> {
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (data: Buffer) => {
        for (const ch of data.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            return resolve(value);
          }
          if (ch === '\u0003' || ch === '\u0004') {
            stdin.off('data', onData);
            return reject(new UsageError('cancelled; no secret was set'));
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stderr.write('\n');
  }
}

export function register(program: Command, ctx: CliContext): void {
  const secret = program.command('secret').description("secret values for skills' {{secret:NAME}} placeholders (set, list, rm)");

  secret
    .command('set <skill> <NAME>')
    .description('set a secret from stdin or a hidden prompt (never from the command line)')
    .action(async (id: string, name: string, _opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const registry = ctx.openRegistry(cmd);
      const skill = registry.get(id);
      if (!skill) throw new UsageError(`skill '${id}' is not installed`, { hint: `See the installed skills: ${ctx.bin(cmd)} list` });
      const declared = skill.manifest.requires?.secrets ?? {};
      if (!Object.hasOwn(declared, name)) {
        const names = Object.keys(declared);
        throw new UsageError(`skill '${id}' does not declare a secret named '${name}'`, {
          hint: names.length ? `It declares: ${names.join(', ')}` : 'It declares no secrets (requires.secrets in its skill.yaml).',
        });
      }
      const stdin = ctx.io.stdin as NodeJS.ReadStream;
      const value =
        stdin.isTTY === true && typeof stdin.setRawMode === 'function'
          ? await readHidden(`Value of ${name} for ${id} (not shown): `, stdin, ctx.io.stderr)
          : await readPiped(stdin);
      // A value the store would refuse is the operator's input, not a broken store: exit 2.
      const problem = secretValueProblem(value);
      if (problem) throw new UsageError(`secret ${name} of ${id} not set: ${problem}`);
      registry.setSecret(id, name, value);
      out.result({ skill: id, name, set: true }, () =>
        out.line(`Set secret ${visible(name)} of ${visible(id)} (it may be sent to ${declared[name]!.allow.map(visible).join(', ')}).`),
      );
    });

  secret
    .command('list [skill]')
    .alias('ls')
    .description('list secrets that are set (names and times, never values)')
    .action((id: string | undefined, _opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const registry = ctx.openRegistry(cmd);
      const rows = id === undefined ? registry.listAllSecrets() : registry.listSecrets(id).map((s) => ({ skillId: id, ...s }));
      out.result(rows, () => {
        if (rows.length === 0) {
          out.line(`No secrets set${id ? ` for ${visible(id)}` : ''}. Set one with: ${ctx.bin(cmd)} secret set <skill> <NAME>`);
          return;
        }
        out.line(formatTable(['SKILL', 'NAME', 'SET'], rows.map((r) => [visible(r.skillId), visible(r.name), formatTime(r.setAt)]), { header: out.c.dim }));
      });
    });

  secret
    .command('rm <skill> <NAME>')
    .alias('remove')
    .description('remove a secret')
    .action((id: string, name: string, _opts: unknown, cmd: Command) => {
      const out = ctx.out;
      const removed = ctx.openRegistry(cmd).deleteSecret(id, name);
      if (!removed) throw new UsageError(`no secret '${name}' is set for '${id}'`, { hint: `See them: ${ctx.bin(cmd)} secret list ${id}` });
      out.result({ skill: id, name, removed: true }, () => out.line(`Removed secret ${visible(name)} of ${visible(id)}.`));
    });
}
