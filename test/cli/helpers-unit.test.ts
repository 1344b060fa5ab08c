/** The CLI's pure helpers, in-process: --args JSON positions, --since, tables, colour, prompt. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/cli-errors.js';
import { confirm } from '../../src/cli/confirm.js';
import { colorEnabled } from '../../src/cli/output.js';
import { jsonErrorOffset, parseArgsJson, parseSince } from '../../src/cli/parse.js';
import { idFromDirName } from '../../src/cli/scaffold.js';
import { formatTable, visibleWidth } from '../../src/cli/table.js';

function argsError(text: string): UsageError {
  try {
    parseArgsJson(text);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error(`parsed: ${text}`);
}

describe('parseArgsJson', () => {
  it.each([
    ['{"name": Ada}', 9],
    ['abc', 0],
    ['{"a":tru}', 8],
    ['{"a":1,}', 7],
    ['{"a":', 5],
    ['', 0],
    ['{"a":1} x', 8],
    ["{'a':1}", 1],
    ['{"a":"\\q"}', 7],
  ])('%j fails at position %i', (text, pos) => {
    const e = argsError(text);
    expect(e.code).toBe('USAGE');
    expect(e.details['position']).toBe(pos);
    expect(e.message).toContain(`at position ${pos}, line 1 column ${pos + 1}`);
  });

  it('names line and column in multi-line JSON and draws a caret under the spot', () => {
    const e = argsError('{\n  "name": "Ada",\n  "age": x\n}');
    expect(e.message).toContain('line 3 column 10');
    expect(e.hint).toBe('    "age": x\n           ^');
  });

  it('accepts objects only', () => {
    expect(parseArgsJson(' {"a":[1,{"b":null}]} ')).toEqual({ a: [1, { b: null }] });
    for (const t of ['[]', 'null', '1', '"s"', 'true']) expect(argsError(t).message).toContain('must be a JSON object');
  });

  it('jsonErrorOffset agrees with JSON.parse on what is valid', () => {
    for (const ok of ['{}', '[]', '0', '-1.5e+3', '"\\u00e9"', '{"a":[true,false,null]}', ' [ 1 , 2 ] ']) {
      expect(jsonErrorOffset(ok)).toBe(-1);
    }
    expect(jsonErrorOffset('[1,2')).toBe(4);
    expect(jsonErrorOffset('[01]')).toBe(2);
  });
});

describe('parseSince', () => {
  const now = new Date('2025-06-15T12:00:00Z');
  it.each([
    ['30s', '2025-06-15T11:59:30.000Z'],
    ['15m', '2025-06-15T11:45:00.000Z'],
    ['1h', '2025-06-15T11:00:00.000Z'],
    ['7d', '2025-06-08T12:00:00.000Z'],
    ['2w', '2025-06-01T12:00:00.000Z'],
    ['1.5d', '2025-06-14T00:00:00.000Z'],
    ['2025-01-31', '2025-01-31T00:00:00.000Z'],
    ['2025-01-31T10:20:30Z', '2025-01-31T10:20:30.000Z'],
    ['2025-01-31T10:20:30.5+02:00', '2025-01-31T08:20:30.500Z'],
  ])('%s', (text, iso) => {
    expect(parseSince(text, now).toISOString()).toBe(iso);
  });

  it.each(['yesterday', '7', 'd7', '2025-13-45', '-1h', '1y', ''])('refuses %j', (text) => {
    expect(() => parseSince(text, now)).toThrow(/ISO time/);
  });
});

describe('formatTable', () => {
  it('aligns columns, ignores colour codes, leaves no trailing spaces', () => {
    const red = (s: string) => `\x1b[31m${s}\x1b[39m`;
    const t = formatTable(['ID', 'N', 'NOTE'], [
      [red('a'), '10', ''],
      ['long-id', '2', 'x'],
    ], { align: ['left', 'right', 'left'] });
    expect(t.replace(/\x1b\[\d+m/g, '').split('\n')).toEqual(['ID        N  NOTE', 'a        10', 'long-id   2  x']);
    expect(visibleWidth(red('abc'))).toBe(3);
  });
});

describe('colorEnabled', () => {
  const tty = { write: () => true, isTTY: true };
  const pipe = { write: () => true, isTTY: false };
  it.each([
    [tty, {}, true],
    [pipe, {}, false],
    [tty, { NO_COLOR: '1' }, false],
    [tty, { NO_COLOR: '' }, true],
    [tty, { TERM: 'dumb' }, false],
    [pipe, { FORCE_COLOR: '1' }, true],
    [pipe, { FORCE_COLOR: '' }, true],
    [tty, { FORCE_COLOR: '0' }, false],
    [tty, { NO_COLOR: '1', FORCE_COLOR: '1' }, true],
  ] as const)('%#', (stream, env, expected) => {
    expect(colorEnabled(stream, env as NodeJS.ProcessEnv)).toBe(expected);
  });
});

describe('confirm', () => {
  async function answer(text: string | null): Promise<{ yes: boolean; asked: string }> {
    const input = new PassThrough();
    const output = new PassThrough();
    let asked = '';
    output.on('data', (d) => (asked += d));
    const p = confirm('Enable x?', input, output);
    if (text === null) input.end();
    else input.write(text);
    return { yes: await p, asked };
  }
  it.each([
    ['y\n', true],
    ['YES\n', true],
    [' yes \n', true],
    ['\n', false],
    ['n\n', false],
    ['yep\n', false],
    [null, false],
  ])('%j -> %s', async (text, expected) => {
    const r = await answer(text);
    expect(r.yes).toBe(expected);
    expect(r.asked).toContain('Enable x? [y/N] ');
  });
});

describe('idFromDirName', () => {
  it.each([
    ['my-skill', 'my-skill'],
    ['/tmp/x/My Skill!', 'my-skill'],
    ['__Weather.API', 'weather.api'],
    ['---', undefined],
  ])('%s -> %s', (dir, id) => {
    expect(idFromDirName(dir)).toBe(id);
  });
});
