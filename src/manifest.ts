/**
 * skill.yaml: parse, validate (zod), and compare the permissions two manifests ask for.
 *
 * Every problem becomes a `ManifestIssue` with a dotted key path
 * (`requires.permissions.net.allow_domains[1]`) and a message saying what was expected and
 * what was found. Unknown keys are refused by name, so a typo such as `allow_domain` never
 * silently drops a permission rule.
 */

import { lstatSync } from 'node:fs';
import path from 'node:path';
import type { YAMLError } from 'yaml';
import type { z } from 'zod';
import { ManifestError, type ManifestIssue } from './errors.js';
import type { JsonSchema, SkillManifest } from './types.js';
import { parseAllowEntry, parseNetAllowRule } from './guards/net-guard.js';
import { SECRET_NAME_RE } from './guards/secret-guard.js';
import { schemaProblems } from './args.js';
import { lazy, lazyRequire } from './lazy.js';
import { readRegularFileSync, UnsafeFileError } from './safe-read.js';

// zod and yaml are loaded on the first parseManifest, not when this module is imported: a
// process that only invokes installed skills never needs them (see lazy.ts).
const zod = lazyRequire<typeof import('zod')>('zod');
const yaml = lazyRequire<typeof import('yaml')>('yaml');

/** Largest skill.yaml `loadManifest` reads unless told otherwise (host policy `maxManifestBytes`). */
export const DEFAULT_MAX_MANIFEST_BYTES = 1024 * 1024;

/** File names `loadManifest` looks for, in order. */
export const MANIFEST_FILES = ['skill.yaml', 'skill.yml'] as const;

const ID_RE = /^[a-z0-9][a-z0-9._-]*$/;
const COMMAND_RE = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/;
/** https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string */
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Largest value setTimeout accepts. */
const MAX_TIMEOUT_MS = 2_147_483_647;
/** wasm32 linear memory cannot exceed 4 GiB. */
const MAX_MEMORY_MB = 4096;

// ---------------------------------------------------------------------------------------------
// Schema

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

// ---------------------------------------------------------------------------------------------
// Issue formatting

/** Keys each mapping accepts, for "did you mean" hints. `*` stands for any command name. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
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
const EXPECTED: Record<string, string> = {
  id: `an id matching ${ID_RE.source} (at most 128 characters)`,
  version: 'a semver version such as 1.0.0',
  name: 'a non-empty string',
  'requires.limits.timeout_ms': `a positive integer number of milliseconds (at most ${MAX_TIMEOUT_MS})`,
  'requires.limits.memory_mb': `a positive integer number of MiB (at most ${MAX_MEMORY_MB})`,
};

type Key = string | number;

export function formatPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (typeof k === 'string' && /^[A-Za-z0-9_-]+$/.test(k)) out += out ? `.${k}` : k;
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out;
}

function pattern(p: readonly Key[]): string {
  if (p[0] === 'commands' && p.length >= 2) return ['commands.*', ...p.slice(2)].join('.');
  return p.join('.');
}

function valueAt(root: unknown, p: readonly Key[]): unknown {
  let v = root;
  for (const k of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

class WrittenAs {
  constructor(
    readonly value: number,
    readonly source: string,
  ) {}
}

/**
 * What was found, by kind only: an error message never quotes the file's content (a skill.yaml
 * may be a stand-in for any file; the key path and line:col say where to look).
 */
function describe(v: unknown): string {
  if (v instanceof WrittenAs) return 'a number (quote it to make it a string)';
  if (v === undefined) return 'nothing';
  if (v === null) return 'null (empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return v.length === 0 ? 'an empty string' : `a string (${v.length} characters)`;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return 'a non-finite number';
    if (!Number.isInteger(v)) return 'a fractional number';
    return v === 0 ? 'zero' : v < 0 ? 'a negative integer' : 'a positive integer';
  }
  if (typeof v === 'boolean') return 'a boolean';
  return typeof v;
}

/** A net-guard message about `entry`, with the entry itself left out (see `describe`). */
function withoutEntry(message: string, entry: string): string {
  const q = JSON.stringify(entry);
  return message
    .split(`entry ${q}`)
    .join('the entry')
    .split(`entry ${q.slice(0, 40)}..."`)
    .join('the entry')
    .split(q)
    .join('the entry');
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true or false)',
  record: 'a mapping',
};

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

function suggestion(key: string, known: readonly string[] | undefined): string {
  if (!known) return '';
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = levenshtein(key.toLowerCase(), k);
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  const hint = best !== undefined && bestD <= Math.max(1, Math.floor(key.length / 3)) ? ` (did you mean '${best}'?)` : '';
  return `${hint} (allowed keys: ${known.join(', ')})`;
}

/** How a scalar was written in the YAML text, when that differs from its value (`1.0` vs 1). */
type SourceOf = (p: readonly Key[]) => string | undefined;
/** ` (line L, column C)` of the node at a key path, or '' when there is none. */
type PositionOf = (p: readonly Key[]) => string;

function toIssues(error: z.ZodError, data: unknown, sourceOf: SourceOf, positionOf: PositionOf = () => ''): ManifestIssue[] {
  const raw = toIssuesAt(error, data, sourceOf);
  return raw.map(({ at, issue }) => ({ path: issue.path, message: `${issue.message}${positionOf(at)}` }));
}

function toIssuesAt(error: z.ZodError, data: unknown, sourceOf: SourceOf): { at: Key[]; issue: ManifestIssue }[] {
  const out: { at: Key[]; issue: ManifestIssue }[] = [];
  const push = (at: Key[], issue: ManifestIssue): void => void out.push({ at, issue });
  for (const issue of error.issues) {
    const p = issue.path.filter((k): k is Key => typeof k === 'string' || typeof k === 'number');
    const value = valueAt(data, p);
    const src = typeof value === 'number' ? sourceOf(p) : undefined;
    const found: unknown = src !== undefined && src !== String(value) ? new WrittenAs(value as number, src) : value;
    const expectedHere = EXPECTED[pattern(p)];
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          push([...p, key], { path: formatPath([...p, key]), message: `unknown key '${key}'${suggestion(key, KNOWN_KEYS[pattern(p)])}` });
        }
        continue;
      case 'invalid_type': {
        const expected = expectedHere ?? TYPE_WORDS[issue.expected] ?? issue.expected;
        push(p, {
          path: formatPath(p),
          message: found === undefined ? `is required (expected ${expected})` : `expected ${expected}, found ${describe(found)}`,
        });
        continue;
      }
      case 'invalid_value':
        push(p, {
          path: formatPath(p),
          message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, found ${describe(found)}`,
        });
        continue;
      case 'custom':
        push(p, { path: formatPath(p), message: issue.message });
        continue;
      default:
        push(p, {
          path: formatPath(p),
          message: expectedHere
            ? `expected ${expectedHere}, found ${describe(found)}`
            : `${issue.message.replace(/^Invalid input: /, '')}, found ${describe(found)}`,
        });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing and loading

/**
 * What each YAML error code means, in our words: the parser's own messages may quote the
 * offending token or line (`Unexpected scalar token in YAML stream: "..."`), which could be a
 * secret when skill.yaml is a stand-in for another file.
 */
const YAML_ERRORS: Record<string, string> = {
  ALIAS_PROPS: 'an alias cannot have an anchor or tag',
  BAD_ALIAS: 'an alias refers to an anchor that is not defined before it',
  BAD_COLLECTION_TYPE: 'a collection has the wrong type for its tag',
  BAD_DIRECTIVE: 'invalid directive',
  BAD_DQ_ESCAPE: 'invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'bad indentation',
  BAD_PROP_ORDER: 'anchor and tag are in the wrong order',
  BAD_SCALAR_START: 'a plain value cannot start with this character (quote it)',
  BLOCK_AS_IMPLICIT_KEY: 'a nested mapping is not allowed here (a value on the same line as its key cannot start a mapping)',
  BLOCK_IN_FLOW: 'block collections are not allowed inside [ ] or { }',
  DUPLICATE_KEY: 'a key appears twice in the same mapping',
  IMPOSSIBLE: 'unparseable input',
  KEY_OVER_1024_CHARS: 'an implicit key is longer than 1024 characters',
  MISSING_CHAR: 'a closing quote or bracket is missing',
  MULTILINE_IMPLICIT_KEY: 'an implicit key cannot span several lines',
  MULTIPLE_ANCHORS: 'a node has more than one anchor',
  MULTIPLE_DOCS: 'the file holds more than one YAML document',
  MULTIPLE_TAGS: 'a node has more than one tag',
  NON_STRING_KEY: 'a key is not a string',
  TAB_AS_INDENT: 'tabs are not allowed as indentation',
  TAG_RESOLVE_FAILED: 'a tag could not be resolved',
  UNEXPECTED_TOKEN: 'unexpected text',
};

/** Does `value`, as JSON, take more than `limit` characters? Walks with an early exit. */
function jsonLargerThan(value: unknown, limit: number): boolean {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    size += 4;
    if (typeof v === 'string') size += v.length;
    else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        size += k.length + 4;
        stack.push(x);
      }
    } else size += 24;
    if (size > limit) return true;
  }
  return false;
}

export interface ParseManifestOptions {
  /** Largest accepted text in bytes (default DEFAULT_MAX_MANIFEST_BYTES); its parsed form may be twice that. */
  maxBytes?: number | undefined;
}

/** Parse and validate the text of a skill.yaml. Throws `ManifestError` naming `file`. */
export function parseManifest(text: string, file: string, opts: ParseManifestOptions = {}): SkillManifest {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  if (text.length > maxBytes && Buffer.byteLength(text) > maxBytes) {
    throw new ManifestError(file, [{ path: '', message: `the manifest is larger than ${maxBytes} bytes` }]);
  }
  const { isMap, isScalar, isSeq, LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ManifestError(
      file,
      doc.errors.map((e: YAMLError) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        const what = YAML_ERRORS[e.code] ?? e.code.toLowerCase().replaceAll('_', ' ');
        return { path: '', message: `YAML syntax error at line ${pos.line}, column ${pos.col}: ${what}` };
      }),
    );
  }
  if (!isMap(doc.contents)) {
    const found = doc.contents === null ? 'an empty document' : isSeq(doc.contents) ? 'a list' : describe(doc.toJS());
    throw new ManifestError(file, [{ path: '', message: `expected a mapping of manifest keys (id, name, version, ...), found ${found}` }]);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const why = /alias/i.test((err as Error).message) ? 'too many aliases (at most 100)' : 'the document cannot be resolved';
    throw new ManifestError(file, [{ path: '', message: `cannot read YAML: ${why}` }], { cause: err });
  }
  // Aliases can expand a small text into a huge value; what is stored and re-read is bounded.
  if (jsonLargerThan(data, 2 * maxBytes)) {
    throw new ManifestError(file, [{ path: '', message: `the manifest expands to more than ${2 * maxBytes} characters once aliases are resolved` }]);
  }
  // Only an id that is one (not any text a stand-in file has under `id:`) is carried on the error.
  const rawId = (data as Record<string, unknown>)['id'];
  const idGuess = typeof rawId === 'string' && rawId.length <= 128 && /^[A-Za-z0-9._-]+$/.test(rawId) ? rawId : undefined;
  const r = getManifestSchema().safeParse(data);
  if (!r.success) {
    const sourceOf: SourceOf = (p) => {
      const node = doc.getIn(p, true);
      if (!isScalar(node) || !node.range) return undefined;
      return text.slice(node.range[0], node.range[1]);
    };
    const positionOf: PositionOf = (p) => {
      const node = (p.length === 0 ? doc.contents : doc.getIn(p, true)) as { range?: [number, number, number] } | null | undefined;
      if (!node?.range) return '';
      const pos = lineCounter.linePos(node.range[0]);
      return ` (line ${pos.line}, column ${pos.col})`;
    };
    throw new ManifestError(file, toIssues(r.error, data, sourceOf, positionOf), { skillId: idGuess });
  }
  return r.data as SkillManifest;
}

/**
 * Read `<dir>/skill.yaml` (or `skill.yml`) and validate it. The file must be a regular file
 * inside `dir` (after realpath) of at most `maxBytes` (default 1 MiB); see safe-read.ts.
 * Missing file, special file, file outside `dir`, oversize or invalid content -> `ManifestError`.
 */
export async function loadManifest(dir: string, opts: ParseManifestOptions = {}): Promise<{ manifest: SkillManifest; file: string }> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  for (const name of MANIFEST_FILES) {
    const file = path.resolve(dir, name);
    let bytes: Buffer;
    try {
      bytes = readRegularFileSync(file, { within: dir, maxBytes });
    } catch (err) {
      if (!(err instanceof UnsafeFileError)) throw err;
      if (err.reason === 'missing') {
        // A dangling link named skill.yaml is not "no manifest": say what it is.
        if (!isDanglingLink(file)) continue;
        throw new ManifestError(file, [{ path: '', message: 'is a symlink to a file that does not exist' }], { cause: err });
      }
      throw new ManifestError(file, [{ path: '', message: `cannot be read: ${err.message.replace(`${file} `, '')}` }], { cause: err });
    }
    return { manifest: parseManifest(bytes.toString('utf8'), file, { maxBytes }), file };
  }
  throw new ManifestError(path.resolve(dir, MANIFEST_FILES[0]), [
    { path: '', message: `no manifest found in ${path.resolve(dir)} (looked for ${MANIFEST_FILES.join(', ')})` },
  ]);
}

function isDanglingLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Permissions: summary and diff

export interface PermissionSummary {
  /** allow_domains entries as written, sorted, de-duplicated. */
  domains: string[];
  /** `net.allow` rules as written: `GET https://api.github.com/repos/*` (`*` for every method). */
  rules: string[];
  /** Secrets the skill asks for and where each may be sent (allow entries as written). */
  secrets: { name: string; description?: string | undefined; allow: string[] }[];
  /** Filesystem roots, each with the access the skill gets there. */
  fsRoots: { path: string; read: boolean; write: boolean }[];
  limits: { timeout_ms?: number | undefined; memory_mb?: number | undefined };
}

export function permissionSummary(manifest: SkillManifest): PermissionSummary {
  const perms = manifest.requires?.permissions ?? {};
  const domains = [...new Set(perms.net?.allow_domains ?? [])].sort();
  const rules = [...new Set((perms.net?.allow ?? []).map((r) => `${r.methods?.length ? r.methods.map((m) => m.toUpperCase()).join(',') : '*'} ${r.url}`))].sort();
  const secrets = Object.entries(manifest.requires?.secrets ?? {})
    .map(([name, s]) => ({ name, ...(s.description !== undefined ? { description: s.description } : {}), allow: [...new Set(s.allow)].sort() }))
    .sort((x, y) => x.name.localeCompare(y.name));
  const fs = perms.fs;
  const fsRoots = fs ? [...new Set(fs.paths)].sort().map((p) => ({ path: p, read: fs.read, write: fs.write })) : [];
  const lim = manifest.requires?.limits ?? {};
  const limitsOut: PermissionSummary['limits'] = {};
  if (lim.timeout_ms !== undefined) limitsOut.timeout_ms = lim.timeout_ms;
  if (lim.memory_mb !== undefined) limitsOut.memory_mb = lim.memory_mb;
  return { domains, rules, secrets, fsRoots, limits: limitsOut };
}

/**
 * What `next` asks for beyond `prev`, one sentence each; empty when `next` asks for nothing
 * new. Compares entries as written (a new wildcard is new even if it covers an old host), and
 * treats a limit moving to or from the host default as grown (the host default is not known here).
 */
export function diffPermissions(prev: SkillManifest, next: SkillManifest): string[] {
  const a = permissionSummary(prev);
  const b = permissionSummary(next);
  const out: string[] = [];
  const oldDomains = new Set(a.domains.map((d) => d.toLowerCase()));
  for (const d of b.domains) if (!oldDomains.has(d.toLowerCase())) out.push(`net: new domain ${d}`);
  const oldRules = new Set(a.rules);
  for (const r of b.rules) if (!oldRules.has(r)) out.push(`net: new rule ${r}`);
  const oldSecrets = new Map(a.secrets.map((x) => [x.name, new Set(x.allow.map((d) => d.toLowerCase()))]));
  for (const x of b.secrets) {
    const was = oldSecrets.get(x.name);
    if (!was) out.push(`secrets: new secret ${x.name} (may be sent to ${x.allow.join(', ')})`);
    else for (const d of x.allow) if (!was.has(d.toLowerCase())) out.push(`secrets: ${x.name} may now also be sent to ${d}`);
  }

  const oldRoots = new Map(a.fsRoots.map((r) => [r.path, r]));
  for (const r of b.fsRoots) {
    const o = oldRoots.get(r.path);
    if (!o) {
      if (r.read || r.write) out.push(`fs: new root ${r.path} (${[r.read && 'read', r.write && 'write'].filter(Boolean).join('+')})`);
      continue;
    }
    if (r.read && !o.read) out.push(`fs: read access to ${r.path}`);
    if (r.write && !o.write) out.push(`fs: write access to ${r.path}${o.read ? ' (was read-only)' : ''}`);
  }

  for (const k of ['timeout_ms', 'memory_mb'] as const) {
    const was = a.limits[k];
    const now = b.limits[k];
    if (now === was) continue;
    // Without the host policy at hand, a change to or from the host default counts as growth.
    if (was === undefined) out.push(`limits: ${k} host default -> ${now}`);
    else if (now === undefined) out.push(`limits: ${k} ${was} -> host default`);
    else if (now > was) out.push(`limits: ${k} ${was} -> ${now}`);
  }
  return out;
}
