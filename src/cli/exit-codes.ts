/**
 * Exit codes of `agentos-skills`, one per error class, so scripts can branch on them. The docs
 * and the tests read this table; change a number only with a major version.
 */

export interface ExitCodeEntry {
  code: string;
  exit: number;
  meaning: string;
}

/** Every documented exit code, in the order `--help` lists them. */
export const EXIT_CODE_TABLE: readonly ExitCodeEntry[] = [
  { code: 'OK', exit: 0, meaning: 'success' },
  { code: 'INTERNAL', exit: 1, meaning: 'unexpected error, or one without a code of its own (QUEUE_FULL, ABORTED, CLOSED, DIR_NOT_EMPTY, CANCELLED)' },
  { code: 'USAGE', exit: 2, meaning: 'bad command line: unknown option, missing argument, bad --args JSON, enable without --yes off a terminal' },
  { code: 'PHASE_VIOLATION', exit: 10, meaning: 'invoked in the planning phase' },
  { code: 'SKILL_NOT_ENABLED', exit: 11, meaning: 'skill not installed or disabled' },
  { code: 'PERMISSION_DENIED', exit: 12, meaning: 'the skill used a capability its permissions do not allow' },
  { code: 'COMMAND_NOT_FOUND', exit: 13, meaning: 'the skill has no such command' },
  { code: 'INVALID_ARGUMENTS', exit: 14, meaning: "args do not fit the command's JSON Schema" },
  { code: 'MODULE_NOT_FOUND', exit: 15, meaning: 'component file missing (not built, or removed from the store)' },
  { code: 'TIMEOUT', exit: 16, meaning: 'the skill ran past its deadline' },
  { code: 'RESOURCE_LIMIT', exit: 17, meaning: 'memory, result, log, I/O or args size limit hit' },
  { code: 'EXECUTION_ERROR', exit: 18, meaning: 'the skill threw, returned an error or trapped' },
  { code: 'MANIFEST_INVALID', exit: 19, meaning: 'skill.yaml missing or invalid' },
  { code: 'INTEGRITY_FAILURE', exit: 20, meaning: 'component is not valid, imports something forbidden, or was modified' },
  { code: 'BUILD_FAILED', exit: 21, meaning: 'the skill could not be built' },
  { code: 'POLICY_VIOLATION', exit: 22, meaning: 'the skill asks for more than the host policy allows' },
  { code: 'POLICY_INVALID', exit: 23, meaning: 'the host policy file (--policy / $AGENTOS_POLICY) cannot be read or is invalid' },
  { code: 'STORE_ERROR', exit: 24, meaning: 'the skill store cannot be used (its schema is newer than this version)' },
  { code: 'PREPARE_FAILED', exit: 25, meaning: 'an installed component could not be prepared to run (transpile or compile failed)' },
];

export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
} as const;

const BY_CODE = new Map(EXIT_CODE_TABLE.map((e) => [e.code, e.exit]));

/** The exit code for an error code string; 1 for anything not in the table. */
export function exitCodeFor(code: string | undefined): number {
  if (code === undefined || code === 'OK') return EXIT.INTERNAL;
  return BY_CODE.get(code) ?? EXIT.INTERNAL;
}

/** The table as aligned text, for `--help`. */
export function exitCodeHelp(): string {
  const width = Math.max(...EXIT_CODE_TABLE.map((e) => e.code.length));
  return EXIT_CODE_TABLE.map((e) => `  ${String(e.exit).padStart(2)}  ${e.code.padEnd(width)}  ${e.meaning}`).join('\n');
}
