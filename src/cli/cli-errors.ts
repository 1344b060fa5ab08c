/** Errors of the command line itself (the library's errors are SkillError subclasses). */

export class CliError extends Error {
  readonly code: string;
  /** Printed after the message in human mode ("pass --yes to ..."). */
  readonly hint: string | undefined;
  /** Extra fields for the `--json` error object. */
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, opts: { hint?: string | undefined; details?: Record<string, unknown> } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message, ...this.details };
    if (this.hint !== undefined) out['hint'] = this.hint;
    return out;
  }
}

/** Bad command line; exit 2. */
export class UsageError extends CliError {
  constructor(message: string, opts: { hint?: string | undefined; details?: Record<string, unknown> } = {}) {
    super('USAGE', message, opts);
  }
}
