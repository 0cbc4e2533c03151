// Text and CSV helpers shared by the history, trends and compare commands.
import { csvField } from '../store/csv-log.js';
import { clean, type Style } from '../report/style.js';
import { formatMs } from '../util/duration.js';

/** Local wall-clock time, to the second: what a person scanning a list wants. */
export function when(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Short commit, with `*` when the work tree had uncommitted changes. */
export function commitCell(git?: { commit: string; dirty?: boolean }): string {
  return git ? `${git.commit.slice(0, 8)}${git.dirty ? '*' : ''}` : '-';
}

export function ms(v: number | undefined): string {
  return v === undefined ? '-' : formatMs(v);
}

export function ratio(v: number | undefined): string {
  return v === undefined ? '-' : `×${v.toFixed(2)}`;
}

export function signedMs(v: number | undefined): string {
  if (v === undefined) return '-';
  return `${v >= 0 ? '+' : '−'}${formatMs(Math.abs(v))}`;
}

export interface Column {
  head: string;
  right?: boolean;
  /** Colour applied after padding, so widths stay right. */
  paint?: (cell: string, row: number) => string;
}

/** A plain aligned table; cells are cleaned of control characters. The last column is not
 * padded (it is usually free text). */
export function table(cols: Column[], rows: string[][], style: Style): string {
  const cells = rows.map((r) => r.map((c) => clean(c)));
  const widths = cols.map((c, i) => Math.max(c.head.length, ...cells.map((r) => [...(r[i] ?? '')].length)));
  const pad = (s: string, i: number): string => {
    if (i === cols.length - 1 && !cols[i]!.right) return s;
    const w = widths[i]! - [...s].length;
    return cols[i]!.right ? ' '.repeat(w) + s : s + ' '.repeat(w);
  };
  const lines = [style.bold(cols.map((c, i) => pad(c.head, i)).join('  ').trimEnd())];
  cells.forEach((r, ri) => {
    lines.push(cols.map((c, i) => {
      const s = pad(r[i] ?? '', i);
      return c.paint ? c.paint(s, ri) : s;
    }).join('  ').trimEnd());
  });
  return lines.join('\n');
}

/** CSV document with a header; numbers stay numbers, missing values are empty. */
export function csv(header: string[], rows: (string | number | boolean | undefined)[][]): string {
  const line = (r: (string | number | boolean | undefined)[]): string => r.map((v) => (v === undefined ? '' : csvField(typeof v === 'boolean' ? String(v) : v))).join(',');
  return `${[header.join(','), ...rows.map(line)].join('\n')}\n`;
}
