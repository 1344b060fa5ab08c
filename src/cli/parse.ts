/** Parsers for option values: numbers, times (`--since`) and the `--args` JSON. */
import { InvalidArgumentError } from 'commander';
import { UsageError } from './cli-errors.js';

/** A commander option parser for an integer >= `min`. */
export function intOption(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, found ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** A commander option parser for a finite number >= `min`. */
export function numberOption(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min) {
      throw new InvalidArgumentError(`expected a number >= ${min}, found ${JSON.stringify(value)}`);
    }
    return n;
  };
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const RELATIVE = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i;
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * `--since`: a relative age (`30s`, `15m`, `1h`, `7d`, `2w`: that long before `now`) or an ISO
 * 8601 date/time (`2025-01-31` is UTC midnight; a time without a zone is local time).
 */
export function parseSince(value: string, now: Date = new Date()): Date {
  const v = value.trim();
  const rel = RELATIVE.exec(v);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!);
  if (ISO.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new InvalidArgumentError(
    `expected an ISO time (2025-01-31, 2025-01-31T12:00:00Z) or an age such as 30m, 1h, 7d, 2w; found ${JSON.stringify(value)}`,
  );
}

// ---------------------------------------------------------------------------------------------
// --args

/**
 * Parse `--args`: it must be a JSON object. A syntax error names the position (offset, line and
 * column) and shows the text with a caret under the offending character.
 */
export function parseArgsJson(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const reason = (e as Error).message;
    const at = /at position (\d+)/.exec(reason);
    let pos = at ? Number(at[1]) : jsonErrorOffset(text);
    if (pos < 0 && /Unexpected end/i.test(reason)) pos = text.length;
    const where = pos >= 0 ? ` (${describePosition(text, pos)})` : '';
    throw new UsageError(`--args is not valid JSON: ${reason.replace(/ in JSON at position \d+$/, '')}${where}`, {
      hint: pos >= 0 ? caretExcerpt(text, pos) : undefined,
      details: { option: '--args', position: pos >= 0 ? pos : undefined },
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const found = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new UsageError(`--args must be a JSON object such as '{"name":"Ada"}', found ${found}`, { details: { option: '--args' } });
  }
  return value as Record<string, unknown>;
}

function describePosition(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `at position ${pos}, line ${line} column ${column}`;
}

function caretExcerpt(text: string, pos: number): string {
  const start = text.lastIndexOf('\n', pos - 1) + 1;
  const endNl = text.indexOf('\n', pos);
  const lineText = text.slice(start, endNl < 0 ? text.length : endNl);
  let from = 0;
  let col = pos - start;
  if (col > 60) {
    from = col - 40;
    col = 40 + 3;
  }
  const shown = (from > 0 ? '...' : '') + lineText.slice(from, from + 80) + (lineText.length > from + 80 ? '...' : '');
  return `  ${shown}\n  ${' '.repeat(col)}^`;
}

/**
 * Offset of the first JSON syntax error in `s`, or -1 if it parses. Only used when JSON.parse
 * failed without saying where (V8 omits the position for some errors).
 */
export function jsonErrorOffset(s: string): number {
  let i = 0;
  const fail = (): never => {
    throw new JsonSyntax(i);
  };
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= s.length) fail();
      const ch = s.charCodeAt(i);
      if (ch === 0x22) {
        i++;
        return;
      }
      if (ch < 0x20) fail();
      if (ch === 0x5c) {
        const next = s[i + 1];
        if (next !== undefined && '"\\/bfnrt'.includes(next)) i += 2;
        else if (next === 'u') {
          i += 2;
          for (let k = 0; k < 4; k++, i++) if (!/[0-9a-fA-F]/.test(s[i] ?? '')) fail();
        } else {
          i++;
          fail();
        }
      } else i++;
    }
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (): void => {
    ws();
    const ch = s[i];
    if (ch === '{') {
      i++;
      ws();
      if (s[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') fail();
        str();
        ws();
        if (s[i] !== ':') fail();
        i++;
        value();
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          return;
        }
        fail();
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (s[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ']') {
          i++;
          return;
        }
        fail();
      }
    }
    if (ch === '"') return str();
    NUMBER.lastIndex = i;
    if (NUMBER.test(s)) {
      i = NUMBER.lastIndex;
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (s.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    for (const lit of ['true', 'false', 'null']) {
      if (ch === lit[0]) {
        let k = 0;
        while (s[i + k] === lit[k]) k++;
        i += k;
        fail();
      }
    }
    fail();
  };
  try {
    value();
    ws();
    if (i < s.length) fail();
    return -1;
  } catch (e) {
    if (e instanceof JsonSyntax) return Math.min(e.offset, s.length);
    return -1; // too deep to scan: no position
  }
}

class JsonSyntax {
  constructor(readonly offset: number) {}
}
