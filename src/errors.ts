/**
 * Every error the host raises. Each carries a stable `code` (part of the public contract,
 * used by the CLI's exit codes and `--json` output) and the skill/command it concerns.
 */

export type SkillErrorCode =
  | 'PHASE_VIOLATION'
  | 'SKILL_NOT_ENABLED'
  | 'PERMISSION_DENIED'
  | 'COMMAND_NOT_FOUND'
  | 'INVALID_ARGUMENTS'
  | 'MODULE_NOT_FOUND'
  | 'TIMEOUT'
  | 'RESOURCE_LIMIT'
  | 'EXECUTION_ERROR'
  | 'MANIFEST_INVALID'
  | 'INTEGRITY_FAILURE'
  | 'BUILD_FAILED'
  | 'POLICY_VIOLATION'
  /** The host policy (a file, or an object given in code) is invalid. */
  | 'POLICY_INVALID'
  /** The skill store cannot be used (schema newer than this version, ...). */
  | 'STORE_ERROR'
  /** An installed component could not be prepared to run (transpiled or compiled). */
  | 'PREPARE_FAILED'
  | 'QUEUE_FULL'
  | 'ABORTED'
  | 'CLOSED'
  | 'RATE_LIMITED';

export interface SkillErrorContext {
  skillId?: string | undefined;
  command?: string | undefined;
  cause?: unknown;
}

export class SkillError extends Error {
  readonly code: SkillErrorCode;
  readonly skillId: string | undefined;
  readonly command: string | undefined;

  constructor(code: SkillErrorCode, message: string, ctx: SkillErrorContext = {}) {
    super(message, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.name = new.target.name;
    this.code = code;
    this.skillId = ctx.skillId;
    this.command = ctx.command;
  }

  /** A plain object for JSON output (CLI `--json`, MCP tool errors, logs). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const [k, v] of Object.entries(this)) {
      if (v !== undefined && k !== 'cause') out[k] = v;
    }
    return out;
  }
}

/** The invoker is in the planning phase: no skill runs, nothing is loaded. */
export class PhaseViolationError extends SkillError {
  readonly phase: string;
  constructor(phase: string, ctx: SkillErrorContext = {}) {
    super('PHASE_VIOLATION', `skills cannot run in the '${phase}' phase; switch the invoker to 'execution' first`, ctx);
    this.phase = phase;
  }
}

/** Not installed, disabled, or not loaded. */
export class SkillNotEnabledError extends SkillError {
  readonly state: 'not_installed' | 'disabled' | 'not_loaded';
  constructor(state: 'not_installed' | 'disabled' | 'not_loaded', ctx: SkillErrorContext & { skillId: string }) {
    const why =
      state === 'not_installed' ? 'is not installed' : state === 'disabled' ? 'is disabled' : 'is enabled but not loaded (call loader.load() first)';
    super('SKILL_NOT_ENABLED', `skill '${ctx.skillId}' ${why}`, ctx);
    this.state = state;
  }
}

export type Capability = 'net' | 'fs';

/** A guard said no. Raised even if the skill caught the `denied` error it was given. */
export class PermissionDeniedError extends SkillError {
  readonly capability: Capability;
  readonly target: string;
  readonly operation: string;
  readonly reason: string;
  /** The rule that decided, e.g. `net.host_not_allowed`, `fs.outside_roots` (as in the audit). */
  readonly rule: string | undefined;
  constructor(
    d: { capability: Capability; target: string; operation: string; reason: string; rule?: string | undefined },
    ctx: SkillErrorContext = {},
  ) {
    super('PERMISSION_DENIED', `${d.capability} ${d.operation} ${JSON.stringify(d.target)} denied: ${d.reason}`, ctx);
    this.capability = d.capability;
    this.target = d.target;
    this.operation = d.operation;
    this.reason = d.reason;
    this.rule = d.rule;
  }
}

export class CommandNotFoundError extends SkillError {
  readonly available: string[];
  constructor(available: string[], ctx: SkillErrorContext & { skillId: string; command: string }) {
    super(
      'COMMAND_NOT_FOUND',
      `skill '${ctx.skillId}' has no command '${ctx.command}' (commands: ${available.join(', ') || 'none'})`,
      ctx,
    );
    this.available = available;
  }
}

export interface ArgumentProblem {
  /** JSON pointer into the args object, '' for the object itself. */
  path: string;
  message: string;
}

export class InvalidArgumentsError extends SkillError {
  readonly problems: ArgumentProblem[];
  constructor(problems: ArgumentProblem[], ctx: SkillErrorContext = {}) {
    const detail = problems.map((p) => `${p.path || '(args)'} ${p.message}`).join('; ');
    super('INVALID_ARGUMENTS', `invalid arguments for ${ctx.skillId ?? '?'}.${ctx.command ?? '?'}: ${detail}`, ctx);
    this.problems = problems;
  }
}

export class SkillModuleNotFoundError extends SkillError {
  readonly path: string;
  constructor(path: string, message: string, ctx: SkillErrorContext = {}) {
    super('MODULE_NOT_FOUND', message, ctx);
    this.path = path;
  }
}

export class SkillTimeoutError extends SkillError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number, ctx: SkillErrorContext = {}) {
    super('TIMEOUT', `skill '${ctx.skillId}' command '${ctx.command}' exceeded its ${timeoutMs} ms timeout and was stopped`, ctx);
    this.timeoutMs = timeoutMs;
  }
}

export type LimitKind =
  | 'memory'
  | 'result_size'
  | 'log_volume'
  | 'host_calls'
  | 'io_bytes'
  | 'response_size'
  | 'args_size'
  /** One list-dir found more entries than `maxDirEntries` (it stops reading there). */
  | 'dir_entries'
  /** One message between the host and a skill's worker (a host-call reply, a call's data) over its byte bound. */
  | 'message_size'
  /** A core module declares more than the host allows (tables, globals, functions, ...). */
  | 'module_shape';

export class ResourceLimitError extends SkillError {
  readonly limit: LimitKind;
  readonly max: number;
  constructor(limit: LimitKind, max: number, message: string, ctx: SkillErrorContext = {}) {
    super('RESOURCE_LIMIT', message, ctx);
    this.limit = limit;
    this.max = max;
  }
}

/** The guest threw, returned an error, or trapped. */
export class SkillExecutionError extends SkillError {
  readonly guestMessage: string;
  readonly trapped: boolean;
  constructor(guestMessage: string, trapped: boolean, ctx: SkillErrorContext = {}) {
    super(
      'EXECUTION_ERROR',
      trapped
        ? `skill '${ctx.skillId}' trapped in '${ctx.command}': ${guestMessage}`
        : `skill '${ctx.skillId}' failed in '${ctx.command}': ${guestMessage}`,
      ctx,
    );
    this.guestMessage = guestMessage;
    this.trapped = trapped;
  }
}

export interface ManifestIssue {
  /** Dotted key path, e.g. `requires.permissions.net.allow_domains[1]`. */
  path: string;
  message: string;
}

export class ManifestError extends SkillError {
  readonly file: string;
  readonly issues: ManifestIssue[];
  constructor(file: string, issues: ManifestIssue[], ctx: SkillErrorContext = {}) {
    const detail = issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
    super('MANIFEST_INVALID', `${file}: ${detail}`, ctx);
    this.file = file;
    this.issues = issues;
  }
}

export class IntegrityError extends SkillError {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string, message: string, ctx: SkillErrorContext = {}) {
    super('INTEGRITY_FAILURE', message, ctx);
    this.expected = expected;
    this.actual = actual;
  }
}

/** `build-skill` could not produce a component (syntax error, bad import, toolchain failure). */
export class BuildError extends SkillError {
  constructor(message: string, ctx: SkillErrorContext = {}) {
    super('BUILD_FAILED', message, ctx);
  }
}

/** A manifest asks for more than the host operator's policy allows. */
export class PolicyViolationError extends SkillError {
  readonly entries: string[];
  constructor(entries: string[], ctx: SkillErrorContext = {}) {
    super('POLICY_VIOLATION', `skill '${ctx.skillId}' requests more than the host policy allows: ${entries.join('; ')}`, ctx);
    this.entries = entries;
  }
}

/** The operator's host policy is invalid: `issues` names each key (`file` is `(host policy)` for one given in code). */
export class HostPolicyError extends SkillError {
  readonly file: string;
  readonly issues: { path: string; message: string }[];
  constructor(file: string, issues: { path: string; message: string }[], ctx: SkillErrorContext = {}) {
    super('POLICY_INVALID', `${file}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`, ctx);
    this.file = file;
    this.issues = issues;
  }
}

/** The skill store cannot be used: its schema is newer than this version understands, ... */
export class StoreError extends SkillError {
  constructor(message: string, ctx: SkillErrorContext = {}) {
    super('STORE_ERROR', message, ctx);
  }
}

/** An installed component could not be prepared to run: the transpiler or WebAssembly.compile refused it. */
export class PrepareError extends SkillError {
  constructor(message: string, ctx: SkillErrorContext = {}) {
    super('PREPARE_FAILED', message, ctx);
  }
}

/** The invocation queue is full; try again later. */
export class QueueFullError extends SkillError {
  constructor(max: number, ctx: SkillErrorContext = {}) {
    super('QUEUE_FULL', `invocation queue is full (${max} waiting); try again later`, ctx);
  }
}

export class InvocationAbortedError extends SkillError {
  constructor(ctx: SkillErrorContext = {}) {
    super('ABORTED', `invocation of '${ctx.skillId}.${ctx.command}' was aborted by the caller`, ctx);
  }
}

export class InvokerClosedError extends SkillError {
  constructor(ctx: SkillErrorContext = {}) {
    super('CLOSED', 'the invoker is closed', ctx);
  }
}
