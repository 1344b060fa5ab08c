/** `build <dir>`: compile a skill's source to its component (what `npm run build-skill` runs). */
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { BuildProgress, SkillEngine } from '../../build/build-skill.js';
import { shellQuote, type CliContext } from '../context.js';
import { formatBytes } from '../format.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('build')
    .description("compile a skill's source (skill.yaml `entry`) to a WebAssembly component")
    .argument('<dir>', 'skill folder (with skill.yaml)')
    .addOption(new Option('--engine <engine>', "JS engine (default: the manifest's `engine`, else quickjs)").choices(['quickjs', 'starlingmonkey']))
    .option('--out <file>', "where to write the component (default: the manifest's `component`)")
    .action(async (dir: string, opts: { engine?: SkillEngine; out?: string }, cmd: Command) => {
      const out = ctx.out;
      const e = out.e;
      // Loaded on demand: esbuild and the compilers are only needed here.
      const { buildSkill } = await import('../../build/build-skill.js');
      out.note(e.dim(`building ${path.resolve(dir)}`));
      const onProgress = (p: BuildProgress) => {
        const ms = p.ms !== undefined ? e.dim(` (${p.ms} ms)`) : '';
        out.note(`  ${e.cyan(p.step.padEnd(8))} ${p.detail ?? ''}${ms}`);
        if (p.step === 'bundle') out.note(`  ${e.cyan('compile'.padEnd(8))} ${e.dim('running the engine (a few seconds)...')}`);
      };
      const result = await buildSkill(dir, {
        ...(opts.engine ? { engine: opts.engine } : {}),
        // --out is relative to the current folder, as a user typing it expects.
        ...(opts.out ? { outFile: path.resolve(opts.out) } : {}),
        onProgress,
      });
      out.result(result, () => {
        out.line(
          `${out.c.green('Built')} ${out.c.bold(result.skillId)} -> ${result.componentPath} ` +
            `(${formatBytes(result.bytes)}, ${result.engine}, ${(result.ms / 1000).toFixed(1)} s)`,
        );
        out.line(`Install it with: ${ctx.bin(cmd)} install ${shellQuote(dir)}`);
      });
    });
}
