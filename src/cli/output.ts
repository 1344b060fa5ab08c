/**
 * Everything the CLI prints goes through here.
 *
 * - stdout carries the result: human text, or with `--json` exactly one JSON document,
 *   `{"ok":true,"result":...}` or `{"ok":false,"error":{"code","message",...}}`.
 * - stderr carries progress, prompts, skill log lines, warnings and (human mode) errors.
 * - Colour: per stream, only on a TTY; `NO_COLOR` (non-empty) turns it off, `FORCE_COLOR`
 *   turns it on (`0`/`false` off) and wins over both. Never in `--json` output.
 * - Terminal safety: every write passes `terminalSafe` (sanitize.ts), so a control character or
 *   escape sequence in skill-controlled text is shown escaped, whichever command printed it; only
 *   the SGR codes of the palette below pass, and only on a stream that is coloured. Commands
 *   also pass single-line values through `visible` where they interpolate them, so a newline in
 *   a value cannot forge a line. JSON output is exact (`jsonForTerminal` only re-spells
 *   characters as `\uXXXX` escapes).
 */
import pc from 'picocolors';
import { jsonForTerminal, terminalSafe } from './sanitize.js';

/** The colours the CLI uses. Their SGR codes are the only escape sequences it writes. */
const PALETTE = ['bold', 'dim', 'red', 'green', 'yellow', 'cyan'] as const;
type Colors = Pick<ReturnType<typeof pc.createColors>, (typeof PALETTE)[number]>;

const NO_SGR: ReadonlySet<string> = new Set();
/** Every SGR sequence the palette emits, nested uses included (picocolors re-opens after a close). */
const PALETTE_SGR: ReadonlySet<string> = (() => {
  const on = pc.createColors(true);
  const all = PALETTE.flatMap((a) => PALETTE.map((b) => on[a](`x${on[b]('y')}z`)));
  return new Set(all.flatMap((s) => s.match(/\x1b\[[0-9;]*m/g) ?? []));
})();

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
  private readonly sgrOut: ReadonlySet<string>;
  private readonly sgrErr: ReadonlySet<string>;
  private wroteResult = false;

  constructor(
    readonly io: CliIO,
    opts: { json: boolean },
  ) {
    this.json = opts.json;
    const colorOut = !this.json && colorEnabled(io.stdout, io.env);
    const colorErr = colorEnabled(io.stderr, io.env);
    this.c = pc.createColors(colorOut);
    this.e = pc.createColors(colorErr);
    this.sgrOut = colorOut ? PALETTE_SGR : NO_SGR;
    this.sgrErr = colorErr ? PALETTE_SGR : NO_SGR;
  }

  /** A line of human output on stdout (nothing in JSON mode). */
  line(text = ''): void {
    if (!this.json) this.io.stdout.write(`${terminalSafe(text, this.sgrOut)}\n`);
  }

  /** A line on stderr: progress, notes, prompts' context. Both modes. */
  note(text: string): void {
    this.io.stderr.write(`${terminalSafe(text, this.sgrErr)}\n`);
  }

  warn(text: string): void {
    this.note(`${this.e.yellow('warning:')} ${text}`);
  }

  /** A JSON document on stdout, one line: exact data, no raw character a terminal acts on. */
  jsonLine(value: unknown): void {
    this.io.stdout.write(`${jsonForTerminal(JSON.stringify(value))}\n`);
  }

  /**
   * The command's result: in JSON mode the envelope with `value`, otherwise whatever `human`
   * prints. Call once per run.
   */
  result(value: unknown, human: () => void): void {
    if (this.wroteResult) throw new Error('Output.result called twice');
    this.wroteResult = true;
    if (this.json) this.jsonLine({ ok: true, result: value ?? null });
    else human();
  }

  /** JSON mode: the error envelope on stdout. Human mode: `error: ...` and details on stderr. */
  error(obj: Record<string, unknown>, humanLines: readonly string[]): void {
    if (this.json) {
      if (!this.wroteResult) this.jsonLine({ ok: false, error: obj });
      this.wroteResult = true;
      return;
    }
    const [first = String(obj['message']), ...rest] = humanLines;
    this.note(`${this.e.red(this.e.bold('error:'))} ${first}`);
    for (const l of rest) this.note(l);
  }
}
