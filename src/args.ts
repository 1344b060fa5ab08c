/**
 * Command arguments: a plain JSON object, checked against the command's JSON Schema (ajv).
 *
 * One ajv instance serves every schema. Compiled validators are cached per schema object
 * (WeakMap), and the schema is removed from ajv's own (strong) cache right after compiling, so
 * uninstalled skills' schemas can be collected and two skills may reuse the same `$id`.
 *
 * The validators can also come from ajv's standalone code (the same generated function, as
 * source): the loader caches it with the transpiled component (verified like it) and primes the
 * cache here, so a fresh process validates its first args without loading ajv at all.
 */

import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { ArgumentProblem } from './errors.js';
import type { JsonSchema } from './types.js';
import { lazy, lazyRequire } from './lazy.js';
import { DEFAULT_INVOKER_LIMITS } from './limits.js';
import { LINEAR_REGEXP_REQUIRE_ID, linearRegExp, unsafePatternProblems } from './schema-regex.js';
import { createRequire } from 'node:module';

// ajv is loaded when the first schema is compiled or checked, not when this module is imported
// (see lazy.ts): args without a schema, and the size and shape checks, never need it.
const ajvModule = lazyRequire<typeof import('ajv')>('ajv');
const standaloneModule = lazyRequire<typeof import('ajv/dist/standalone/index.js')>('ajv/dist/standalone/index.js');
/** `require` for the cached validators' runtime helpers (ajv/dist/runtime/*: a few small files). */
const requireHere = lazy(() => createRequire(import.meta.url));

export type { ArgumentProblem };

/** Default cap on the serialized args (JSON text, UTF-8 bytes). */
export const DEFAULT_MAX_ARGS_BYTES = DEFAULT_INVOKER_LIMITS.maxArgsBytes;
/** Default cap on nesting depth of the args value. */
export const DEFAULT_MAX_ARGS_DEPTH = 64;

export interface ArgsOptions {
  /** Max size of the args as JSON text, in UTF-8 bytes. Default 1 MiB. */
  maxBytes?: number | undefined;
  /** Max nesting depth of objects/arrays. Default 64. */
  maxDepth?: number | undefined;
  /**
   * Called once the size and shape checks passed, before the schema check (whose first use of a
   * schema loads ajv and compiles it: the invoker boots the skill's worker meanwhile).
   */
  beforeSchema?: (() => void) | undefined;
}

export type PreparedArgs =
  | { ok: true; args: Record<string, unknown>; json: string }
  | {
      ok: false;
      problems: ArgumentProblem[];
      /** Set when the args were refused for size alone (the invoker maps it to ResourceLimitError 'args_size'). */
      tooLarge?: { max: number; size: number } | undefined;
    };

/**
 * ajv settings. `strictSchema`: an unknown keyword in a schema (a typo such as `propertys`) is
 * an error, reported at install. Type/tuple/required strictness is off: those flag legal but
 * loose schemas. Formats are not validated (no ajv-formats); `format` is accepted and ignored.
 * No coercion, no defaults: the args the skill receives are exactly those the caller sent.
 * Regexes (`pattern`, `patternProperties`) run on RE2, linear in the input (schema-regex.ts);
 * `allowMatchingProperties` keeps ajv's strict mode from testing property names against
 * patterns with V8's backtracking RegExp while compiling.
 */
function createAjv(source = false): Ajv {
  const { Ajv } = ajvModule();
  return new Ajv({
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allowUnionTypes: true,
    validateFormats: false,
    allErrors: true,
    coerceTypes: false,
    useDefaults: false,
    removeAdditional: false,
    messages: true,
    allowMatchingProperties: true,
    // `source` keeps each validator's code for standaloneValidators; the validation is the same.
    code: { regExp: linearRegExp, source },
  });
}

/** The one ajv instance, created on first use. */
const getAjv = lazy(() => createAjv());
const compiled = new WeakMap<object, ValidateFunction>();
const schemaErrors = new WeakMap<object, string[]>();

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function compile(schema: JsonSchema): ValidateFunction {
  const hit = compiled.get(schema);
  if (hit) return hit;
  const ajv = getAjv();
  let fn: ValidateFunction;
  try {
    fn = ajv.compile(schema);
  } finally {
    ajv.removeSchema(schema);
  }
  compiled.set(schema, fn);
  return fn;
}

/**
 * Why `schema` is not a usable JSON Schema for args; empty when it is. Each entry names the
 * place inside the schema (`/properties/a/type: ...`). Used by the manifest validator.
 */
export function schemaProblems(schema: JsonSchema): string[] {
  const cached = schemaErrors.get(schema);
  if (cached) return cached;
  let problems: string[] = [];
  const ajv = getAjv();
  const valid = ajv.validateSchema(schema);
  // Regexes RE2 cannot run (backreferences, lookaround) are named by their place in the schema.
  const unsafe = valid ? unsafePatternProblems(schema) : [];
  if (unsafe.length > 0) {
    problems = unsafe;
  } else if (!valid) {
    const seen = new Set<string>();
    for (const e of ajv.errors ?? []) {
      // anyOf/oneOf in the meta-schema produce several errors per place; keep the first.
      if (seen.has(e.instancePath)) continue;
      seen.add(e.instancePath);
      problems.push(`${e.instancePath || '(schema)'} ${e.message ?? 'is invalid'}${allowedValues(e)}`);
    }
    if (problems.length === 0) problems = ['does not match the JSON Schema meta-schema'];
  } else {
    try {
      compile(schema);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  schemaErrors.set(schema, problems);
  return problems;
}

function allowedValues(e: ErrorObject): string {
  const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
  return Array.isArray(allowed) ? ` (${allowed.map((v) => JSON.stringify(v)).join(', ')})` : '';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Problems that make `value` not plain JSON (functions, BigInt, cycles, NaN, class instances...). */
function jsonShapeProblems(root: unknown, maxDepth: number): ArgumentProblem[] {
  const problems: ArgumentProblem[] = [];
  const stack = new Set<object>();
  const visit = (v: unknown, ptr: string, depth: number): void => {
    if (problems.length >= 20) return;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(v)) problems.push({ path: ptr, message: `must be a finite number, found ${v}` });
        return;
      case 'bigint':
        problems.push({ path: ptr, message: 'must be JSON: BigInt is not allowed' });
        return;
      case 'function':
        problems.push({ path: ptr, message: 'must be JSON: functions are not allowed' });
        return;
      case 'symbol':
        problems.push({ path: ptr, message: 'must be JSON: symbols are not allowed' });
        return;
      case 'undefined':
        problems.push({ path: ptr, message: 'must be JSON: undefined is not allowed (omit the key or use null)' });
        return;
    }
    if (v === null) return;
    const obj = v as object;
    if (depth > maxDepth) {
      problems.push({ path: ptr, message: `nests deeper than ${maxDepth} levels` });
      return;
    }
    if (stack.has(obj)) {
      problems.push({ path: ptr, message: 'must be JSON: circular reference' });
      return;
    }
    stack.add(obj);
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) visit(obj[i], `${ptr}/${i}`, depth + 1);
    } else if (isPlainObject(obj)) {
      if (Object.getOwnPropertySymbols(obj).length > 0) problems.push({ path: ptr, message: 'must be JSON: symbol keys are not allowed' });
      for (const k of Object.keys(obj)) visit(obj[k], `${ptr}/${escapePointer(k)}`, depth + 1);
    } else {
      const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      problems.push({ path: ptr, message: `must be JSON: a ${name} is not a plain object` });
    }
    stack.delete(obj);
  };
  visit(root, '', 0);
  return problems;
}

function toProblem(e: ErrorObject): ArgumentProblem {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required' && typeof params['missingProperty'] === 'string') {
    return { path: `${e.instancePath}/${escapePointer(params['missingProperty'])}`, message: 'is required' };
  }
  if (e.keyword === 'additionalProperties' && typeof params['additionalProperty'] === 'string') {
    return { path: `${e.instancePath}/${escapePointer(params['additionalProperty'])}`, message: 'is not an allowed property' };
  }
  return { path: e.instancePath, message: `${e.message ?? 'is invalid'}${allowedValues(e)}` };
}

/**
 * Check `args` and return them as a plain object plus their JSON text, or the problems.
 * `undefined` args mean `{}`. A missing schema accepts any plain JSON object.
 */
export function prepareArgs(schema: JsonSchema | undefined, args: unknown, opts: ArgsOptions = {}): PreparedArgs {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_ARGS_BYTES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_ARGS_DEPTH;
  const value = args === undefined ? {} : args;
  if (!isPlainObject(value)) {
    const found = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? `a ${value.constructor?.name ?? 'object'}` : typeof value;
    return { ok: false, problems: [{ path: '', message: `args must be a plain JSON object, found ${found}` }] };
  }
  const shape = jsonShapeProblems(value, maxDepth);
  if (shape.length > 0) return { ok: false, problems: shape };
  const json = JSON.stringify(value);
  const size = Buffer.byteLength(json, 'utf8');
  if (size > maxBytes) {
    return { ok: false, problems: [{ path: '', message: `args are ${size} bytes as JSON, more than the ${maxBytes}-byte limit` }], tooLarge: { max: maxBytes, size } };
  }
  opts.beforeSchema?.();
  if (schema !== undefined) {
    let validate: ValidateFunction;
    try {
      validate = compile(schema);
    } catch (e) {
      // A schema installed before its patterns were checked at install (a backreference, say).
      return { ok: false, problems: [{ path: '', message: `the command's args schema cannot be used: ${(e as Error).message}` }] };
    }
    if (!validate(value)) return { ok: false, problems: (validate.errors ?? []).map(toProblem) };
  }
  return { ok: true, args: value, json };
}

/** The problems with `args` under `schema`; empty when they are fine. */
export function validateArgs(schema: JsonSchema | undefined, args: unknown, opts: ArgsOptions = {}): ArgumentProblem[] {
  const r = prepareArgs(schema, args, opts);
  return r.ok ? [] : r.problems;
}

// ---- standalone validators (cached by the loader) ----

/**
 * What cached validator code depends on besides the schemas; bump it when createAjv's settings
 * or the regex engine change. ajv's own version is added by standaloneKeyMaterial.
 */
const STANDALONE_FORMAT = 'agentos-args-standalone-1';

/** The standalone code of each command's validator, by command name. */
export type ArgsValidatorCode = Record<string, string>;

/** The text whose hash keys a cached set of validators: format, ajv's version and the schemas. */
export function standaloneKeyMaterial(schemas: Record<string, JsonSchema>): string {
  const ajvVersion = (requireHere()('ajv/package.json') as { version: string }).version;
  return JSON.stringify([STANDALONE_FORMAT, ajvVersion, Object.entries(schemas)]);
}

/** The ajv instance that keeps its validators' source, created on first use (cache misses only). */
const getSourceAjv = lazy(() => createAjv(true));

/**
 * ajv's standalone code for each usable schema of `schemas`, and primes the validator cache with
 * the compiled functions. A schema that does not compile is left out: its first use compiles it
 * the ordinary way and reports why it cannot be used.
 */
export function standaloneValidators(schemas: Record<string, JsonSchema>): ArgsValidatorCode {
  const out: ArgsValidatorCode = {};
  const ajv = getSourceAjv();
  const standaloneCode = standaloneModule().default;
  for (const [command, schema] of Object.entries(schemas)) {
    try {
      let fn: ValidateFunction;
      try {
        fn = ajv.compile(schema);
      } finally {
        ajv.removeSchema(schema);
      }
      out[command] = standaloneCode(ajv, fn);
      if (!compiled.has(schema)) compiled.set(schema, fn);
    } catch {
      // Not cached; prepareArgs compiles it (and reports the problem) on first use.
    }
  }
  return out;
}

/** The `require` a cached validator gets: ajv's runtime helpers and the linear-time regex engine, nothing else. */
function standaloneRequire(id: string): unknown {
  if (id === LINEAR_REGEXP_REQUIRE_ID) return linearRegExp;
  if (/^ajv\/dist\/runtime\/[a-z0-9_]+$/.test(id)) return requireHere()(id);
  throw new Error(`a cached args validator required '${id}'`);
}

/**
 * Validators from verified standalone code (see the loader): each command's function becomes the
 * compiled validator of that command's schema object. Code that does not evaluate is skipped (the
 * schema is compiled on first use instead). Returns how many were primed.
 */
export function primeValidators(schemas: Record<string, JsonSchema>, code: ArgsValidatorCode): number {
  let primed = 0;
  for (const [command, schema] of Object.entries(schemas)) {
    const src = Object.hasOwn(code, command) ? code[command] : undefined;
    if (typeof src !== 'string' || compiled.has(schema)) continue;
    try {
      const mod: { exports: unknown } = { exports: {} };
      // The same code ajv's compile() would hand to `new Function`, read back from a verified file.
      new Function('module', 'exports', 'require', src)(mod, mod.exports, standaloneRequire);
      if (typeof mod.exports !== 'function') continue;
      compiled.set(schema, mod.exports as ValidateFunction);
      primed++;
    } catch {
      // Compiled on first use instead.
    }
  }
  return primed;
}
