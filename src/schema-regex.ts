/**
 * The regular-expression engine of args schemas. A manifest's `pattern` / `patternProperties`
 * (also under `propertyNames`, `items`, `allOf`...) is skill-controlled, and a backtracking engine
 * (V8's RegExp) can spend seconds on a few dozen bytes of args with `(a+)+$`. Every schema
 * regex therefore runs on RE2 (re2js, a pure-JS port: time linear in the input), and a pattern
 * RE2 cannot express (backreferences, lookahead/lookbehind) or whose compiled program is too
 * large is refused when the schema is checked, i.e. at install.
 *
 * Syntax: ECMAScript patterns are translated to RE2 syntax first (`\uXXXX` escapes, `\/`), so
 * ordinary JSON Schema patterns keep working. Differences that remain are RE2's: `\s` is ASCII
 * whitespace only, and `\b` / `\w` are ASCII.
 */
import type { RE2JS as RE2JSClass } from 're2js';
import { lazyRequire } from './lazy.js';

const re2js = lazyRequire<typeof import('re2js')>('re2js');

/**
 * Largest compiled RE2 program accepted (instructions). Matching costs O(program x input), so
 * this bounds one test against the 1 MiB args cap to well under a second; ordinary patterns
 * compile to a few dozen instructions, `(.{30}){30}` to about 1000.
 */
export const MAX_PATTERN_PROGRAM = 5000;

/** A pattern the linear-time engine refuses. */
export class UnsafePatternError extends Error {
  constructor(
    readonly pattern: string,
    readonly why: string,
  ) {
    super(`pattern ${JSON.stringify(pattern.length > 200 ? `${pattern.slice(0, 200)}...` : pattern)} ${why}`);
    this.name = 'UnsafePatternError';
  }
}

const compiledCache = new Map<string, RE2JSClass>();
const MAX_CACHE = 1000;

/** The RE2 program for an ECMAScript-syntax pattern; throws UnsafePatternError. */
export function compileLinear(pattern: string): RE2JSClass {
  const hit = compiledCache.get(pattern);
  if (hit) return hit;
  // JSON Schema regexes are ECMAScript with the `u` flag (as ajv compiles them). Parsing one
  // with V8 is linear in its length; only matching backtracks, and that is never done here.
  try {
    new RegExp(pattern, 'u');
  } catch (e) {
    throw new UnsafePatternError(pattern, `is not a valid ECMAScript regular expression: ${(e as Error).message}`);
  }
  // translateRegExp would turn a named backreference `\k<x>` into the literal `k<x>`: refuse
  // every backreference here, before translating.
  if (hasBackreference(pattern)) {
    throw new UnsafePatternError(pattern, 'cannot run on the linear-time regex engine (RE2): backreferences and lookaround are not supported');
  }
  const { RE2JS } = re2js();
  let re: RE2JSClass;
  try {
    re = RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (e) {
    const msg = String((e as Error)?.message ?? e).replace(/^error parsing regexp: /, '');
    throw new UnsafePatternError(
      pattern,
      `cannot run on the linear-time regex engine (RE2): ${msg}; backreferences and lookaround are not supported`,
    );
  }
  const size = re.programSize();
  if (size > MAX_PATTERN_PROGRAM) {
    throw new UnsafePatternError(pattern, `is too complex: ${size} RE2 instructions, more than ${MAX_PATTERN_PROGRAM}`);
  }
  if (compiledCache.size >= MAX_CACHE) compiledCache.delete(compiledCache.keys().next().value!);
  compiledCache.set(pattern, re);
  return re;
}

/** Whether a (valid, `u`-mode) pattern has `\1`..`\9` or `\k<name>` outside a character class. */
function hasBackreference(pattern: string): boolean {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (!inClass && (next === 'k' || (next >= '1' && next <= '9'))) return true;
      i++;
    } else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
  }
  return false;
}

/** What cached standalone validators `require` for linearRegExp (args.ts resolves it). */
export const LINEAR_REGEXP_REQUIRE_ID = 'agentos:linear-regexp';

/**
 * ajv's `code.regExp` option: every `pattern` and `patternProperties` test of a compiled
 * validator goes through RE2. Unanchored search, as JSON Schema (and `RegExp.test`) specify.
 */
export const linearRegExp = Object.assign(
  (pattern: string, _flags: string) => {
    const re = compileLinear(pattern);
    return { test: (s: string) => re.test(s), toString: () => `re2:${pattern}` };
  },
  // ajv's standalone code calls the engine through this expression (args.ts supplies `require`).
  { code: `require(${JSON.stringify(LINEAR_REGEXP_REQUIRE_ID)})` },
);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Keywords whose value is data (never a schema): their `pattern` keys are not patterns. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'description', 'title', '$comment']);
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions', 'dependentSchemas', 'dependencies']);

const escapePointer = (t: string) => t.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Every regex in `schema` the linear-time engine refuses, each as `<JSON pointer>: <why>`
 * (`/properties/name/pattern: pattern "(a)\\1" cannot run on ...`). Empty when all are fine.
 */
export function unsafePatternProblems(schema: unknown): string[] {
  const problems: string[] = [];
  const check = (pattern: string, ptr: string) => {
    try {
      compileLinear(pattern);
    } catch (e) {
      problems.push(`${ptr}: ${(e as Error).message}`);
    }
  };
  const walk = (s: unknown, ptr: string, depth: number): void => {
    if (depth > 256 || problems.length >= 20) return;
    if (Array.isArray(s)) {
      s.forEach((x, i) => walk(x, `${ptr}/${i}`, depth + 1));
      return;
    }
    if (!isObject(s)) return;
    for (const [k, v] of Object.entries(s)) {
      const here = `${ptr}/${escapePointer(k)}`;
      if (DATA_KEYWORDS.has(k)) continue;
      if (k === 'pattern' && typeof v === 'string') check(v, here);
      else if (k === 'patternProperties' && isObject(v)) {
        for (const [p, sub] of Object.entries(v)) {
          check(p, `${here}/${escapePointer(p)}`);
          walk(sub, `${here}/${escapePointer(p)}`, depth + 1);
        }
      } else if (SCHEMA_MAPS.has(k) && isObject(v)) {
        for (const [name, sub] of Object.entries(v)) walk(sub, `${here}/${escapePointer(name)}`, depth + 1);
      } else walk(v, here, depth + 1);
    }
  };
  walk(schema, '', 0);
  return problems;
}
