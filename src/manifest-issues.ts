/**
 * How a skill.yaml problem is worded: zod's issues become `ManifestIssue`s with a dotted key path
 * (`requires.permissions.net.allow_domains[1]`), what was expected and what was found, by kind
 * only (a message never quotes the file's content), with "did you mean" hints for unknown keys.
 * Pure; the schema (manifest-schema.ts) supplies the keys and expectations it knows.
 */
import type { z } from 'zod';
import type { ManifestIssue } from './errors.js';

export type Key = string | number;

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
export function describe(v: unknown): string {
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
export function withoutEntry(message: string, entry: string): string {
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
export type SourceOf = (p: readonly Key[]) => string | undefined;
/** ` (line L, column C)` of the node at a key path, or '' when there is none. */
export type PositionOf = (p: readonly Key[]) => string;

/** What the schema says about its keys, for the messages (manifest-schema.ts: MANIFEST_KEYS, EXPECTED). */
export interface IssueHints {
  /** Keys each mapping accepts, by dotted path pattern. */
  known: Readonly<Record<string, readonly string[]>>;
  /** Plain-word description of what a check wanted, by dotted path pattern. */
  expected: Readonly<Record<string, string>>;
}

/** zod's issues as ManifestIssues: a key path, what was expected and what was found (by kind only). */
export function toIssues(
  error: z.ZodError,
  data: unknown,
  hints: IssueHints,
  sourceOf: SourceOf,
  positionOf: PositionOf = () => '',
): ManifestIssue[] {
  const raw = toIssuesAt(error, data, hints, sourceOf);
  return raw.map(({ at, issue }) => ({ path: issue.path, message: `${issue.message}${positionOf(at)}` }));
}

function toIssuesAt(error: z.ZodError, data: unknown, hints: IssueHints, sourceOf: SourceOf): { at: Key[]; issue: ManifestIssue }[] {
  const out: { at: Key[]; issue: ManifestIssue }[] = [];
  const push = (at: Key[], issue: ManifestIssue): void => void out.push({ at, issue });
  for (const issue of error.issues) {
    const p = issue.path.filter((k): k is Key => typeof k === 'string' || typeof k === 'number');
    const value = valueAt(data, p);
    const src = typeof value === 'number' ? sourceOf(p) : undefined;
    const found: unknown = src !== undefined && src !== String(value) ? new WrittenAs(value as number, src) : value;
    const expectedHere = hints.expected[pattern(p)];
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          push([...p, key], { path: formatPath([...p, key]), message: `unknown key '${key}'${suggestion(key, hints.known[pattern(p)])}` });
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
