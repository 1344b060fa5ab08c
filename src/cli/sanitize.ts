/**
 * Making skill-controlled text safe to show on a terminal.
 *
 * A skill controls much of what the CLI prints: manifest fields (name, description, fs roots,
 * command names and descriptions), log lines, error messages, audit rows. Printed raw, a control
 * character in them is an instruction to the terminal: OSC 52 writes the clipboard, cursor moves
 * and line erases hide lines of a permission review, a lone CR overwrites a line, a newline
 * forges one, bidi overrides (U+202E) reorder what is shown. Such characters are made VISIBLE
 * as escapes (`\u001b`, `\n`, `\u202e`), never dropped: the person reading sees that something
 * odd is there, and can tell `/tmp` from `/tmp\u202e`.
 *
 * The escapes are the JSON / JavaScript spellings, so an escaped JSON text is still JSON that
 * means the same value. A backslash is left alone: text that is already escaped is shown as is.
 * Valid text (accents, CJK, emoji with their joiners, variation selectors and tag sequences)
 * is unchanged.
 */

/**
 * Every character a terminal may act on or that hides or reorders text:
 * C0 controls (tab and newline included), DEL, C1 controls, soft hyphen, Arabic letter mark,
 * Mongolian vowel separator, zero-width space, LRM / RLM, line and paragraph separators, bidi
 * embeddings / overrides / isolates, invisible operators and deprecated format characters,
 * BOM / zero-width no-break space, interlinear annotation marks, and lone surrogates (which a
 * terminal would get as U+FFFD, hiding what was there). ZWJ / ZWNJ (U+200C, U+200D) stay:
 * emoji and several scripts need them, and they cannot move or hide anything.
 */
const C0_BUT_NEWLINE = '\\u0000-\\u0009\\u000b-\\u001f';
const NOT_C0 =
  '\\u007f-\\u009f\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff\\ufff9-\\ufffb\\ud800-\\udfff';

const UNSAFE = new RegExp(`[\\n${C0_BUT_NEWLINE}${NOT_C0}]`, 'gu');
/** Same, but a newline is a line break (multi-line text the host composed). */
const UNSAFE_BUT_NEWLINE = new RegExp(`[${C0_BUT_NEWLINE}${NOT_C0}]`, 'gu');
/** The net: an SGR colour sequence (kept if allowed), or one unsafe character but a newline. */
const SGR_OR_UNSAFE = new RegExp(`\\x1b\\[[0-9;]*m|[${C0_BUT_NEWLINE}${NOT_C0}]`, 'gu');
/** In JSON text a raw C0 character can only be whitespace between tokens: left alone. */
const UNSAFE_IN_JSON = new RegExp(`[${NOT_C0}]`, 'gu');

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(ch: string): string {
  return SHORT[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** One value shown on one line (a field, a log line, a path): every unsafe character escaped, newlines included. */
export function visible(value: string): string {
  return value.replace(UNSAFE, escapeChar);
}

/** Text whose newlines are meant as line breaks: every other unsafe character escaped. */
export function visibleLines(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, escapeChar);
}

/**
 * The last line of defence at the CLI's output (see Output): like `visibleLines`, except that the
 * SGR colour sequences in `allowedSgr` (the CLI's own palette, when colour is on) pass. Any other
 * escape sequence, whoever made it, is shown escaped.
 */
export function terminalSafe(text: string, allowedSgr: ReadonlySet<string>): string {
  return text.replace(SGR_OR_UNSAFE, (m) => (m.length > 1 ? (allowedSgr.has(m) ? m : escapeChar('\x1b') + m.slice(1)) : escapeChar(m)));
}

/**
 * JSON text for a terminal: the characters JSON.stringify leaves raw (DEL, C1 controls, bidi
 * controls, U+2028 / U+2029, ...) written as `\uXXXX`. They can only occur inside JSON strings,
 * where the escape means the same character: the text parses back to exactly the same value.
 * (JSON.stringify already escapes C0 controls, ESC included, and lone surrogates.)
 */
export function jsonForTerminal(json: string): string {
  return json.replace(UNSAFE_IN_JSON, escapeChar);
}
