/** `new <dir>`: scaffold a TypeScript skill. */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { CliError, UsageError } from '../cli-errors.js';
import { shellQuote, type CliContext } from '../context.js';
import { PACKAGE_ROOT, packageInfo } from '../package-info.js';
import { fileSpec, idFromDirName, scaffoldFiles } from '../scaffold.js';

const ID_RE = /^[a-z0-9][a-z0-9._-]*$/;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('new')
    .description('create a new TypeScript skill in <dir> (which must be empty or absent)')
    .argument('<dir>', 'folder to create')
    .option('--id <id>', 'skill id (default: from the folder name)')
    .option('--name <name>', 'display name (default: the folder name)')
    .action(async (dir: string, opts: { id?: string; name?: string }, cmd: Command) => {
      const target = path.resolve(dir);
      const id = opts.id ?? idFromDirName(target);
      if (id === undefined) throw new UsageError(`cannot make a skill id from the folder name '${path.basename(target)}'; pass --id`);
      if (!ID_RE.test(id) || id.length > 128) {
        throw new UsageError(`--id must match ${ID_RE.source} (at most 128 characters), found ${JSON.stringify(id)}`);
      }
      await ensureEmptyDir(target);
      // @agentos/skills is linked from this very copy (global, local or a checkout): it need not be
      // published anywhere for the skill's `npm install` to work.
      const files = scaffoldFiles({
        id,
        name: opts.name ?? path.basename(target),
        hostSpec: fileSpec(PACKAGE_ROOT),
        typescriptSpec: packageInfo().typescript,
      });
      for (const [rel, text] of Object.entries(files)) {
        const file = path.join(target, rel);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, text, { flag: 'wx' });
      }
      const names = Object.keys(files).sort();
      const bin = ctx.bin(cmd);
      const out = ctx.out;
      out.result({ dir: target, id, files: names }, () => {
        out.line(`Created skill ${out.c.bold(id)} in ${target}`);
        for (const f of names) out.line(`  ${f}`);
        out.line();
        out.line('Next:');
        out.line(`  cd ${shellQuote(dir)} && npm install && npm test    # type-check, build, try it in a throwaway store`);
        out.line(`  ${bin} install ${shellQuote(dir)}`);
        out.line(`  ${bin} enable ${id}`);
        out.line(`  ${bin} invoke ${id} greet --args '{"name":"Ada"}'`);
      });
    });
}

async function ensureEmptyDir(dir: string): Promise<void> {
  let entries: string[];
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new CliError('DIR_NOT_EMPTY', `${dir} exists and is not a folder`, { details: { dir } });
    entries = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      await mkdir(dir, { recursive: true });
      return;
    }
    throw e;
  }
  if (entries.length > 0) {
    throw new CliError('DIR_NOT_EMPTY', `${dir} is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}); refusing to write a skill into it`, {
      hint: 'Pick a new folder name, or empty this one first.',
      details: { dir },
    });
  }
}
