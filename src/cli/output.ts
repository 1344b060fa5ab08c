/**
 * Everything the CLI prints goes through here.
 *
 * - stdout carries the result: human text, or with `--json` exactly one JSON document,
 *   `{"ok":true,"result":...}` or `{"ok":false,"error":{"code","message",...}}`.
 * - stderr carries progress, prompts, skill log lines, warnings and (human mode) errors.
 * - Colour: per stream, only on a TTY; `NO_COLOR` (non-empty) turns it off, `FORCE_COLOR`
 *   turns it on (`0`/`false` off) and wins over both. Never in `--json` output.
 */
import pc from 'picocolors';

type Colors = ReturnType<typeof pc.createColors>;

export interface CliStream {
  write(chunk: string): unknown;
  isTTY?: boolean | undefined;
}

export interface CliIO {
  stdout: CliStream;
  stderr: CliStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean | undefined };
  env: NodeJS.ProcessEnv;
}

/** Whether to colour a stream, per NO_COLOR / FORCE_COLOR / TTY. */
export function colorEnabled(stream: CliStream, env: NodeJS.ProcessEnv): boolean {
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase());
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  return stream.isTTY === true && env['TERM'] !== 'dumb';
}

export class Output {
  readonly json: boolean;
  /** Colours for stdout (all no-ops in JSON mode or off a TTY). */
  readonly c: Colors;
  /** Colours for stderr. */
  readonly e: Colors;
  private wroteResult = false;

  constructor(
    readonly io: CliIO,
    opts: { json: boolean },
  ) {
    this.json = opts.json;
    this.c = pc.createColors(!this.json && colorEnabled(io.stdout, io.env));
    this.e = pc.createColors(colorEnabled(io.stderr, io.env));
  }

  /** A line of human output on stdout (nothing in JSON mode). */
  line(text = ''): void {
    if (!this.json) this.io.stdout.write(`${text}\n`);
  }

  /** A line on stderr: progress, notes, prompts' context. Both modes. */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    this.io.stderr.write(`${this.e.yellow('warning:')} ${text}\n`);
  }

  /**
   * The command's result: in JSON mode the envelope with `value`, otherwise whatever `human`
   * prints. Call once per run.
   */
  result(value: unknown, human: () => void): void {
    if (this.wroteResult) throw new Error('Output.result called twice');
    this.wroteResult = true;
    if (this.json) this.io.stdout.write(`${JSON.stringify({ ok: true, result: value ?? null })}\n`);
    else human();
  }

  /** JSON mode: the error envelope on stdout. Human mode: `error: ...` and details on stderr. */
  error(obj: Record<string, unknown>, humanLines: readonly string[]): void {
    if (this.json) {
      if (!this.wroteResult) this.io.stdout.write(`${JSON.stringify({ ok: false, error: obj })}\n`);
      this.wroteResult = true;
      return;
    }
    const [first = String(obj['message']), ...rest] = humanLines;
    this.io.stderr.write(`${this.e.red(this.e.bold('error:'))} ${first}\n`);
    for (const l of rest) this.io.stderr.write(`${l}\n`);
  }
}
