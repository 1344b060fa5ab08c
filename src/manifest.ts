/**
 * skill.yaml: read the file (loadManifest), parse the YAML and validate it (parseManifest).
 *
 * Every problem becomes a `ManifestIssue` naming its key path and line; the parts live next
 * door: manifest-schema.ts (the zod schema), manifest-issues.ts (how a problem is worded),
 * manifest-permissions.ts (the permission summary and the diff between two versions).
 */

import { lstatSync } from 'node:fs';
import path from 'node:path';
import type { YAMLError } from 'yaml';
import { ManifestError } from './errors.js';
import type { SkillManifest } from './types.js';
import { lazyRequire } from './lazy.js';
import { EXPECTED, getManifestSchema, MANIFEST_KEYS } from './manifest-schema.js';
import { describe, toIssues, type PositionOf, type SourceOf } from './manifest-issues.js';
import { readRegularFileSync, UnsafeFileError } from './safe-read.js';

// Split out of this file; re-exported so that imports from './manifest.js' keep working.
export { getManifestSchema } from './manifest-schema.js';
export { formatPath } from './manifest-issues.js';
export { diffPermissions, permissionSummary, type PermissionSummary } from './manifest-permissions.js';

// yaml is loaded on the first parseManifest, not when this module is imported: a process that
// only invokes installed skills never needs it (see lazy.ts).
const yaml = lazyRequire<typeof import('yaml')>('yaml');

/** Largest skill.yaml `loadManifest` reads unless told otherwise (host policy `maxManifestBytes`). */
export const DEFAULT_MAX_MANIFEST_BYTES = 1024 * 1024;

/** File names `loadManifest` looks for, in order. */
export const MANIFEST_FILES = ['skill.yaml', 'skill.yml'] as const;

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
    throw new ManifestError(file, toIssues(r.error, data, { known: MANIFEST_KEYS, expected: EXPECTED }, sourceOf, positionOf), { skillId: idGuess });
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
