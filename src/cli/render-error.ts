/**
 * Any error -> exit code, `--json` error object, and human lines (message, details, hint).
 * Messages carry skill-controlled text (guest errors, manifest values, paths): each human line
 * is made `visible`, so a newline in such text is shown as `\n` instead of forging a line. Only
 * messages the host composes as several lines (build errors with code frames, CLI usage errors
 * with a caret under the --args text, stacks) are split at their newlines first.
 */
import {
  BuildError,
  CommandNotFoundError,
  HostPolicyError,
  InvalidArgumentsError,
  ManifestError,
  PermissionDeniedError,
  PolicyViolationError,
  SkillError,
  SkillNotEnabledError,
} from '../errors.js';
import { CliError } from './cli-errors.js';
import { exitCodeFor } from './exit-codes.js';
import { visible } from './sanitize.js';

export interface RenderedError {
  exitCode: number;
  json: Record<string, unknown>;
  human: string[];
}

/** `policy`: which host policy was in force ("the host policy (/path/policy.yaml)"), named by denials it caused. */
export function renderError(err: unknown, opts: { bin: string; debug: boolean; policy?: string | undefined }): RenderedError {
  const r = renderRaw(err, opts);
  return { ...r, human: r.human.map(visible) };
}

const lines = (text: string) => text.split('\n');

function renderRaw(err: unknown, opts: { bin: string; debug: boolean; policy?: string | undefined }): RenderedError {
  const stack = (e: unknown) => (opts.debug && e instanceof Error && e.stack ? ['', ...lines(e.stack)] : []);
  const causeStack = (e: Error) => (opts.debug && e.cause instanceof Error && e.cause.stack ? ['', 'caused by:', ...lines(e.cause.stack)] : []);

  if (err instanceof CliError) {
    const json = err.toJSON();
    return { exitCode: exitCodeFor(err.code), json, human: [...lines(err.message), ...(err.hint ? lines(err.hint) : []), ...stack(err)] };
  }
  if (err instanceof HostPolicyError) {
    return {
      exitCode: exitCodeFor('POLICY_INVALID'),
      json: { name: err.name, code: 'POLICY_INVALID', message: err.message, file: err.file, issues: err.issues },
      human: [
        `host policy ${err.file} is invalid:`,
        ...err.issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`),
        ...stack(err),
      ],
    };
  }
  if (err instanceof SkillError) {
    return { exitCode: exitCodeFor(err.code), json: err.toJSON(), human: [...skillErrorLines(err, opts.bin, opts.policy), ...causeStack(err), ...stack(err)] };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    exitCode: exitCodeFor('INTERNAL'),
    json: { name: err instanceof Error ? err.name : 'Error', code: 'INTERNAL', message },
    human: [...lines(`internal error: ${message}`), ...(opts.debug ? stack(err) : ['(set AGENTOS_DEBUG=1 to see the stack)'])],
  };
}

function skillErrorLines(err: SkillError, bin: string, policy = 'the host policy'): string[] {
  if (err instanceof ManifestError) {
    return [`invalid manifest ${err.file}:`, ...err.issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`)];
  }
  if (err instanceof PolicyViolationError) {
    return [`skill '${err.skillId}' asks for more than ${policy} allows:`, ...err.entries.map((e) => `  - ${e}`), `See the policy in force: ${bin} policy`];
  }
  if (err instanceof InvalidArgumentsError) {
    return [
      `invalid arguments for ${err.skillId}.${err.command}:`,
      ...err.problems.map((p) => `  ${p.path || '(args)'} ${p.message}`),
      `See the command's args schema: ${bin} info ${err.skillId}`,
    ];
  }
  if (err instanceof CommandNotFoundError) {
    return [err.message, `See: ${bin} info ${err.skillId}`];
  }
  if (err instanceof SkillNotEnabledError) {
    if (err.state === 'disabled') return [err.message, `Enable it with: ${bin} enable ${err.skillId}`];
    if (err.state === 'not_installed') return [err.message, `Installed skills: ${bin} list`];
    return [err.message];
  }
  if (err instanceof PermissionDeniedError) {
    // A denial the host policy caused is not fixed in the skill's manifest: say which file it was.
    if (/\bhost policy\b/i.test(err.message)) return [err.message, `Denied by ${policy}, not by the skill's manifest. See: ${bin} policy`];
    return [err.message, `The skill's permissions: ${bin} info ${err.skillId}`];
  }
  return err instanceof BuildError ? lines(err.message) : [err.message];
}
