/**
 * The terminal sanitiser (src/cli/sanitize.ts): every character a terminal acts on, or that hides
 * or reorders text, is made visible; valid text is unchanged; JSON stays exact.
 */
import { describe, expect, it } from 'vitest';
import pc from 'picocolors';
import { jsonForTerminal, terminalSafe, visible, visibleLines } from '../../src/cli/sanitize.js';

const hex4 = (n: number) => `\\u${n.toString(16).padStart(4, '0')}`;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Every code point that must be shown escaped, with its escape. */
const UNSAFE: [number, string][] = [
  ...range(0x00, 0x1f).map((cp): [number, string] => [cp, cp === 0x0a ? '\\n' : cp === 0x0d ? '\\r' : cp === 0x09 ? '\\t' : hex4(cp)]),
  [0x7f, '\\u007f'],
  ...range(0x80, 0x9f).map((cp): [number, string] => [cp, hex4(cp)]),
  ...[0x00ad, 0x061c, 0x180e, 0x200b, 0x200e, 0x200f].map((cp): [number, string] => [cp, hex4(cp)]),
  ...range(0x2028, 0x202e).map((cp): [number, string] => [cp, hex4(cp)]), // LS, PS, LRE RLE PDF LRO RLO
  ...range(0x2060, 0x206f).map((cp): [number, string] => [cp, hex4(cp)]), // WJ, invisible operators, LRI RLI FSI PDI, deprecated
  [0xfeff, '\\ufeff'],
  ...range(0xfff9, 0xfffb).map((cp): [number, string] => [cp, hex4(cp)]),
];

describe('visible: every unsafe character, alone and inside text', () => {
  it.each(UNSAFE.map(([cp, esc]) => [`U+${cp.toString(16).padStart(4, '0')}`, cp, esc] as const))('%s -> %s', (_name, cp, esc) => {
    const ch = String.fromCharCode(cp);
    expect(visible(ch)).toBe(esc);
    expect(visible(`a${ch}b`)).toBe(`a${esc}b`);
    // Nothing unsafe is left, whatever the character was.
    expect(visible(`a${ch}b`)).toMatch(/^[\x20-\x7e]*$/);
  });

  it('covers every C0 control, DEL and every C1 control (no gap in the table)', () => {
    const covered = new Set(UNSAFE.map(([cp]) => cp));
    for (const cp of [...range(0, 0x1f), ...range(0x7f, 0x9f)]) expect(covered.has(cp)).toBe(true);
  });

  it('lone surrogates are shown, not turned into U+FFFD', () => {
    expect(visible('a\ud800b')).toBe('a\\ud800b');
    expect(visible('a\udfffb')).toBe('a\\udfffb');
    expect(visible('\ude00\ud83d')).toBe('\\ude00\\ud83d'); // a pair in the wrong order is two lone halves
  });
});

describe('visible: escape sequences and forged lines are shown, not acted on', () => {
  const ESC = '\x1b';
  const cases: [string, string, string][] = [
    ['CSI SGR colour', `${ESC}[31mred`, '\\u001b[31mred'],
    ['CSI SGR conceal (hides the rest of the line)', `${ESC}[8mhidden`, '\\u001b[8mhidden'],
    ['CSI cursor up + erase line', `ok${ESC}[1A${ESC}[2Kfiles none`, 'ok\\u001b[1A\\u001b[2Kfiles none'],
    ['CSI clear screen', `${ESC}[2J${ESC}[H`, '\\u001b[2J\\u001b[H'],
    ['OSC 52 clipboard write, BEL', `${ESC}]52;c;cm0gLXJmIH4=\x07`, '\\u001b]52;c;cm0gLXJmIH4=\\u0007'],
    ['OSC 8 hyperlink, ST', `${ESC}]8;;https://evil.example${ESC}\\link${ESC}]8;;${ESC}\\`, '\\u001b]8;;https://evil.example\\u001b\\link\\u001b]8;;\\u001b\\'],
    ['OSC window title', `${ESC}]0;pwned\x07`, '\\u001b]0;pwned\\u0007'],
    ['DCS', `${ESC}Pq#0;2;0;0;0${ESC}\\`, '\\u001bPq#0;2;0;0;0\\u001b\\'],
    ['8-bit CSI (C1)', '\u009b2J', '\\u009b2J'],
    ['8-bit OSC (C1) + ST', '\u009d52;c;eA==\u009c', '\\u009d52;c;eA==\\u009c'],
    ['8-bit DCS (C1)', '\u0090q\u009c', '\\u0090q\\u009c'],
    ['NEL (C1 next line)', 'a\u0085b', 'a\\u0085b'],
    ['lone CR overwrites the line', 'network  none\rfiles    none', 'network  none\\rfiles    none'],
    ['CRLF', 'a\r\nb', 'a\\r\\nb'],
    ['newline forging a review line', 'harmless\n  files    none', 'harmless\\n  files    none'],
    ['backspaces erasing text', '/etc/shadow\b\b\b\b\b\b\b\b\b\b\b/tmp', '/etc/shadow\\u0008\\u0008\\u0008\\u0008\\u0008\\u0008\\u0008\\u0008\\u0008\\u0008\\u0008/tmp'],
    ['tab', 'a\tb', 'a\\tb'],
    ['NUL', 'a\0b', 'a\\u0000b'],
    ['DEL', 'a\x7fb', 'a\\u007fb'],
    ['RLO reorders a path', '/tmp/\u202Edcba', '/tmp/\\u202edcba'],
    ['RLI ... PDI isolate', '\u2067evil\u2069', '\\u2067evil\\u2069'],
    ['LRM / RLM marks', 'a\u200Eb\u200Fc', 'a\\u200eb\\u200fc'],
    ['line / paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['zero-width space, BOM, word joiner', 'ex\u200Bam\uFEFFple\u2060.com', 'ex\\u200bam\\ufeffple\\u2060.com'],
  ];
  it.each(cases)('%s', (_name, input, shown) => {
    expect(visible(input)).toBe(shown);
  });
});

describe('visible: valid text is unchanged', () => {
  const cases: [string, string][] = [
    ['ASCII', 'Fetch data from the GitHub API (v3) — 100% ok: ~/x [a] {b} `c` "d" \'e\''],
    ['accents', 'Café, naïve, Ångström, Straße'],
    ['CJK', '日本語のスキル 技能 기술'],
    ['RTL script (no control needed)', 'مرحبا שלום'],
    ['emoji', '🚀 ✅ 👍🏽'],
    ['emoji ZWJ sequence', '👨‍👩‍👧‍👦 🏳️‍🌈'],
    ['emoji variation selector', '❤️ ☺︎'],
    ['flag tag sequence', '🏴󠁧󠁢󠁳󠁣󠁴󠁿'],
    ['ZWNJ in Persian', 'می‌خواهم'],
    ['combining marks', 'e\u0301 n\u0303'],
    ['already-escaped text', 'a\\u001b[31m \\n \\r \\t \\x1b \\\\'],
    ['NBSP and other spaces', 'a\u00a0b\u2009c\u3000d'],
    ['empty', ''],
  ];
  it.each(cases)('%s', (_name, input) => {
    expect(visible(input)).toBe(input);
  });

  it('is idempotent', () => {
    for (const [, esc] of UNSAFE) expect(visible(visible(esc))).toBe(esc);
  });
});

describe('visibleLines: newlines are line breaks, everything else is escaped', () => {
  it.each([
    ['a\nb', 'a\nb'],
    ['a\r\nb', 'a\\r\nb'],
    ['a\x1b[2Kb\nc\u202e', 'a\\u001b[2Kb\nc\\u202e'],
    ['\t', '\\t'],
  ])('%j', (input, shown) => {
    expect(visibleLines(input)).toBe(shown);
  });
});

describe('terminalSafe: the net at the output keeps only the allowed colour codes', () => {
  const on = pc.createColors(true);
  const allowed = new Set(['\x1b[1m', '\x1b[22m', '\x1b[31m', '\x1b[39m']);

  it('keeps the allowed SGR codes and newlines', () => {
    const text = `${on.red(on.bold('error:'))} message\nsecond line`;
    expect(terminalSafe(text, allowed)).toBe(text);
  });

  it.each([
    ['an SGR code not in the palette (conceal)', 'a\x1b[8mb', 'a\\u001b[8mb'],
    ['an SGR code with parameters not in the palette', 'a\x1b[30;40mb', 'a\\u001b[30;40mb'],
    ['a cursor move', 'a\x1b[1Ab', 'a\\u001b[1Ab'],
    ['OSC 52', '\x1b]52;c;eA==\x07', '\\u001b]52;c;eA==\\u0007'],
    ['a lone ESC at the end', 'a\x1b', 'a\\u001b'],
    ['C1 CSI', '\u009b31m', '\\u009b31m'],
    ['CR', 'a\rb', 'a\\rb'],
    ['bidi override', '\u202e', '\\u202e'],
  ])('escapes %s', (_name, input, shown) => {
    expect(terminalSafe(input, allowed)).toBe(shown);
  });

  it('escapes every SGR code when colour is off', () => {
    expect(terminalSafe('\x1b[31mred\x1b[39m', new Set())).toBe('\\u001b[31mred\\u001b[39m');
  });
});

describe('jsonForTerminal: exact JSON, nothing raw a terminal acts on', () => {
  const values: unknown[] = [
    { s: String.fromCharCode(...range(0, 0x9f)) },
    { bidi: '\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069', sep: '\u2028\u2029', zw: '\u200b\ufeff\u2060', lone: '\ud800' },
    ['\x1b]52;c;eA==\x07', '\u009b2J', 'valid: 日本語 👨‍👩‍👧 Café'],
  ];
  it.each(values.map((v) => [JSON.stringify(v).slice(0, 40), v] as const))('%s', (_name, value) => {
    for (const json of [JSON.stringify(value), JSON.stringify(value, null, 2)]) {
      const safe = jsonForTerminal(json);
      expect(JSON.parse(safe)).toEqual(value);
      // Only printable ASCII, the JSON whitespace of an indented document, and valid non-ASCII text.
      expect(safe).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\ufeff]/);
    }
  });

  it('JSON.stringify itself escapes ESC and the other C0 controls (the part it already does)', () => {
    expect(JSON.stringify('\x1b[2K\r\n\t\0')).toBe('"\\u001b[2K\\r\\n\\t\\u0000"');
    // ...but not DEL, C1 or U+2028: the part jsonForTerminal adds.
    expect(JSON.stringify('\x7f\u009b\u2028')).toBe('"\x7f\u009b\u2028"');
    expect(jsonForTerminal(JSON.stringify('\x7f\u009b\u2028'))).toBe('"\\u007f\\u009b\\u2028"');
  });
});
