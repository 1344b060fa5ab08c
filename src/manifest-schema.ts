/**
 * The skill.yaml schema (zod, loaded on first use): every key, what it accepts, and the
 * cross-checks (allow entries and rules through the net guard's parsers, secret names, args
 * schemas). Unknown keys are refused by name, so a typo such as `allow_domain` never silently
 * drops a permission rule. Parsing the YAML text and loading the file: manifest.ts.
 */
import path from 'node:path';
import type { JsonSchema } from './types.js';
import { parseAllowEntry, parseNetAllowRule } from './guards/net-guard.js';
import { SECRET_NAME_RE } from './guards/secret-guard.js';
import { schemaProblems } from './args.js';
import { lazy, lazyRequire } from './lazy.js';
import { describe, withoutEntry } from './manifest-issues.js';

// zod is loaded on the first parseManifest, not when this module is imported (see lazy.ts).
const zod = lazyRequire<typeof import('zod')>('zod');

const ID_RE = /^[a-z0-9][a-z0-9._-]*$/;
const COMMAND_RE = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/;
/** https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string */
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Largest value setTimeout accepts. */
const MAX_TIMEOUT_MS = 2_147_483_647;
/** wasm32 linear memory cannot exceed 4 GiB. */
const MAX_MEMORY_MB = 4096;

function relativePathProblem(p: string): string | undefined {
  if (p.length === 0) return 'must be a non-empty relative path';
  if (p.includes('\0')) return 'must not contain a NUL byte';
  if (p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p) || path.isAbsolute(p)) {
    return 'must be a path relative to the skill folder, not an absolute path';
  }
  if (p.split(/[\\/]/).includes('..')) return "must stay inside the skill folder (no '..' segments)";
  return undefined;
}

/** `null` (an empty YAML mapping such as `requires:`) means the same as leaving the key out. */
const nullAsAbsent = (v: unknown) => (v === null ? undefined : v);

/** The zod schema of a skill.yaml; built (and zod loaded) on first use by `getManifestSchema`. */
function buildManifestSchema() {
  const { z } = zod();

  /** A path relative to the skill folder that stays inside it. */
  const relativePathInside = () =>
    z.string().superRefine((p, ctx) => {
      const problem = relativePathProblem(p);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

  const absoluteRoot = z.string().superRefine((p, ctx) => {
    let problem: string | undefined;
    if (p.length === 0) problem = 'must be a non-empty absolute path';
    else if (p.includes('\0')) problem = 'must not contain a NUL byte';
    else if (!path.isAbsolute(p)) problem = 'must be an absolute path (a root the skill may touch)';
    else if (p.split(/[\\/]/).includes('..')) problem = "must be a normalized absolute path (no '..' segments)";
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

  const allowEntry = z.string().superRefine((entry, ctx) => {
    const r = parseAllowEntry(entry);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: withoutEntry(r.error, entry) });
  });

  const argsSchema = z.custom<JsonSchema>().superRefine((schema, ctx) => {
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      ctx.addIssue({ code: 'custom', message: `expected a JSON Schema object (a mapping), found ${describe(schema)}` });
      return;
    }
    const t = (schema as Record<string, unknown>)['type'];
    if (t !== undefined && t !== 'object') {
      ctx.addIssue({
        code: 'custom',
        message: `the args schema must describe an object (type: object), found type: ${JSON.stringify(t)}`,
      });
      return;
    }
    for (const problem of schemaProblems(schema as JsonSchema)) {
      ctx.addIssue({ code: 'custom', message: `invalid JSON Schema: ${problem}` });
    }
  });

  const commandSpec = z.strictObject({
    description: z.string().optional(),
    args: argsSchema.optional(),
  });

  const allowRule = z
    .strictObject({ url: z.string(), methods: z.array(z.string()).optional() })
    .superRefine((rule, ctx) => {
      const r = parseNetAllowRule(rule, 0);
      if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
    });

  const netPermission = z.strictObject({
    allow_domains: z.array(allowEntry).default([]),
    allow: z.array(allowRule).optional(),
  });

  const secretSpec = z.strictObject({
    description: z.string().optional(),
    allow: z.array(allowEntry).min(1, 'list at least one destination (allow_domains syntax) the secret may be sent to'),
  });
  const secrets = z.record(z.string(), secretSpec).superRefine((all, ctx) => {
    for (const name of Object.keys(all)) {
      if (!SECRET_NAME_RE.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `secret name must match ${SECRET_NAME_RE.source}` });
      }
    }
  });

  const fsPermission = z.strictObject({
    read: z.boolean().default(false),
    write: z.boolean().default(false),
    paths: z.array(absoluteRoot).default([]),
  });

  const limits = z.strictObject({
    timeout_ms: z.number().int().positive().max(MAX_TIMEOUT_MS).optional(),
    memory_mb: z.number().int().positive().max(MAX_MEMORY_MB).optional(),
  });

  const permissions = z.strictObject({
    net: z.preprocess(nullAsAbsent, netPermission.optional()),
    fs: z.preprocess(nullAsAbsent, fsPermission.optional()),
  });

  const requires = z.strictObject({
    permissions: z.preprocess(nullAsAbsent, permissions.prefault({})),
    limits: z.preprocess(nullAsAbsent, limits.prefault({})),
    secrets: z.preprocess(nullAsAbsent, secrets.optional()),
  });

  return z.strictObject({
    id: z.string().min(1).max(128).regex(ID_RE),
    name: z.string().min(1),
    version: z.string().regex(SEMVER_RE),
    description: z.string(),
    entry: relativePathInside().optional(),
    component: relativePathInside(),
    engine: z.enum(['quickjs', 'starlingmonkey']).optional(),
    commands: z
      .record(z.string(), commandSpec)
      .superRefine((cmds, ctx) => {
        for (const name of Object.keys(cmds)) {
          if (!COMMAND_RE.test(name)) {
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: `command name must match ${COMMAND_RE.source}`,
            });
          }
        }
        if (Object.keys(cmds).length === 0) ctx.addIssue({ code: 'custom', message: 'a skill must declare at least one command' });
      }),
    requires: z.preprocess(nullAsAbsent, requires.prefault({})),
  });
}

/**
 * The zod schema `parseManifest` validates with (built once, on the first call; this replaces
 * the former `manifestSchema` constant so that importing this module does not load zod).
 */
export const getManifestSchema: () => ReturnType<typeof buildManifestSchema> = lazy(buildManifestSchema);

/** Keys each mapping accepts, for "did you mean" hints. `*` stands for any command name. */
export const MANIFEST_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': ['id', 'name', 'version', 'description', 'entry', 'component', 'engine', 'commands', 'requires'],
  'commands.*': ['description', 'args'],
  requires: ['permissions', 'limits', 'secrets'],
  'requires.permissions': ['net', 'fs'],
  'requires.permissions.net': ['allow_domains', 'allow'],
  'requires.permissions.net.allow': ['url', 'methods'],
  'requires.permissions.fs': ['read', 'write', 'paths'],
  'requires.limits': ['timeout_ms', 'memory_mb'],
};

/** Plain-word description of what a zod check wanted, keyed by the dotted path pattern. */
export const EXPECTED: Readonly<Record<string, string>> = {
  id: `an id matching ${ID_RE.source} (at most 128 characters)`,
  version: 'a semver version such as 1.0.0',
  name: 'a non-empty string',
  'requires.limits.timeout_ms': `a positive integer number of milliseconds (at most ${MAX_TIMEOUT_MS})`,
  'requires.limits.memory_mb': `a positive integer number of MiB (at most ${MAX_MEMORY_MB})`,
};
