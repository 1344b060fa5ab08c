/**
 * The default logger (AGENTOS_LOG_LEVEL, pino on stderr, usually a terminal) writes skill-controlled
 * text: every line must be free of raw C1 and bidi controls yet stay exact JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditTrail, createDefaultLogger } from '../src/audit.js';
import { openDatabase, type SqlDatabase } from '../src/store/sqlite.js';

let dir: string;
let db: SqlDatabase;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'agentos-logterm-'));
  db = openDatabase(path.join(dir, 'audit.sqlite'), { timeoutMs: 5000 });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A logger at `info` writing into `lines`. */
function capture(): { lines: string[]; logger: ReturnType<typeof createDefaultLogger> } {
  const lines: string[] = [];
  const logger = createDefaultLogger({ AGENTOS_LOG_LEVEL: 'info' }, { write: (l: string) => lines.push(l) });
  return { lines, logger };
}

// Characters a terminal acts on that JSON.stringify leaves raw.
const RAW_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u;

describe('createDefaultLogger: terminal-safe JSON lines', () => {
  it.each([
    ['CSI (U+009B) clear screen', '\u009b2J'],
    ['RLO (U+202E) reversing a name', 'evil\u202egpj.exe'],
    ['OSC 52 clipboard write, C1 form', '\u009d52;c;cm0gLXJmIH4=\u009c'],
    ['DEL and NEL', 'a\u007fb\u0085c'],
    ['LRI/PDI isolates and ALM', '\u2066x\u2069\u061c'],
    ['line/paragraph separators', 'a\u2028b\u2029c'],
    ['ESC and BEL (C0, escaped by JSON itself)', '\u001b]0;title\u0007'],
    ['plain text and non-ASCII letters untouched', 'héllo wörld ✓ 日本'],
  ])('%s: escaped on the line, parsed back exactly', (_name, reason) => {
    const { lines, logger } = capture();
    const trail = new AuditTrail(db, { logger });
    trail.record({ type: 'permission_denied', skillId: 'test.evil', command: 'go', reason });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(RAW_UNSAFE);
    expect(line.slice(0, -1)).not.toMatch(/[\u0000-\u001f]/u);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toMatchObject({ type: 'permission_denied', skillId: 'test.evil', reason, msg: 'audit permission_denied' });
  });

  it('an event whose reason carries U+009B and U+202E comes out as \\u009b and \\u202e', () => {
    const { lines, logger } = capture();
    new AuditTrail(db, { logger }).record({ type: 'execution_error', skillId: 's', reason: 'x\u009b31mred\u202eflip' });
    expect(lines[0]).toContain('x\\u009b31mred\\u202eflip');
    expect((JSON.parse(lines[0]!) as { reason: string }).reason).toBe('x\u009b31mred\u202eflip');
  });

  it('keys and nested meta are covered too, not only the reason', () => {
    const { lines, logger } = capture();
    logger.info({ ['k\u009b']: { deep: ['\u202e'] } }, 'msg\u0085');
    expect(lines[0]!.slice(0, -1)).not.toMatch(RAW_UNSAFE);
    expect(JSON.parse(lines[0]!)).toMatchObject({ ['k\u009b']: { deep: ['\u202e'] }, msg: 'msg\u0085' });
  });

  it('the level still filters (silent writes nothing)', () => {
    const lines: string[] = [];
    const logger = createDefaultLogger({ AGENTOS_LOG_LEVEL: 'silent' }, { write: (l: string) => lines.push(l) });
    new AuditTrail(db, { logger }).record({ type: 'permission_denied', skillId: 's', reason: '\u009b' });
    expect(lines).toEqual([]);
  });
});
