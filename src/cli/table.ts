/**
 * A tiny aligned-table formatter: columns as wide as their widest cell (ANSI colour codes do
 * not count), two spaces between columns, no trailing spaces, no borders. Thirty lines did not
 * justify a dependency.
 */

const ANSI = /\x1b\[[0-9;]*m/g;

/** Visible width of a cell: code points, colour codes excluded. */
export function visibleWidth(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

function pad(s: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - visibleWidth(s)));
  return align === 'right' ? fill + s : s + fill;
}

export interface TableOptions {
  /** Per column; default left. */
  align?: readonly ('left' | 'right')[];
  /** Applied to each header cell (bold, dim...). */
  header?: (s: string) => string;
  /** Leading spaces on every line. */
  indent?: number;
}

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], opts: TableOptions = {}): string {
  const all = [headers, ...rows];
  const cols = Math.max(...all.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, i) => Math.max(...all.map((r) => visibleWidth(r[i] ?? ''))));
  const prefix = ' '.repeat(opts.indent ?? 0);
  const line = (cells: readonly string[], style?: (s: string) => string) =>
    prefix +
    Array.from({ length: cols }, (_, i) => {
      const raw = cells[i] ?? '';
      const cell = style ? style(raw) : raw;
      const align = opts.align?.[i] ?? 'left';
      // The last left-aligned column is not padded: no trailing spaces.
      return i === cols - 1 && align === 'left' ? cell : pad(cell, widths[i]!, align);
    })
      .join('  ')
      .trimEnd();
  return [line(headers, opts.header), ...rows.map((r) => line(r))].join('\n');
}

/** `key  value` pairs with the keys aligned, for detail views. */
export function formatPairs(pairs: readonly (readonly [string, string])[], opts: { indent?: number; key?: (s: string) => string } = {}): string {
  const width = Math.max(0, ...pairs.map(([k]) => visibleWidth(k)));
  const prefix = ' '.repeat(opts.indent ?? 0);
  return pairs
    .map(([k, v]) => {
      const key = pad(k, width, 'left');
      return `${prefix}${opts.key ? opts.key(key) : key}  ${v}`.trimEnd();
    })
    .join('\n');
}
