// Readers for the integrity tests. Deliberately independent of steps/lib: a bug in
// the pipeline's own CSV code must not be able to hide itself from the tests.
// Paths are relative to process.cwd(): the engine runs the tests in the project root.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

export const ROOT = process.cwd();
export const FLIGHTS_PARQUET = 'node_modules/vega-datasets/data/flights-3m.parquet';
export const AIRPORTS_CSV = 'node_modules/vega-datasets/data/airports.csv';

/** A test that scans millions of rows needs more than Vitest's 5 s default. */
export const SCAN = { timeout: 120_000 };

export function abs(rel: string): string {
  return path.join(ROOT, rel);
}

export function readJson<T = Record<string, unknown>>(rel: string): T {
  const file = abs(rel);
  if (!existsSync(file)) throw new Error(`${rel} does not exist: has the pipeline run?`);
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export interface Table {
  file: string;
  header: string[];
  rows: string[][];
}

/** A CSV the pipeline wrote: plain comma-separated, no quoting (a quote is itself an error). */
export function readCsv(rel: string): Table {
  const file = abs(rel);
  if (!existsSync(file)) throw new Error(`${rel} does not exist: has the pipeline run?`);
  const text = readFileSync(file, 'utf8');
  if (text.includes('"')) throw new Error(`${rel} contains a quote character`);
  if (text.length > 0 && !text.endsWith('\n')) throw new Error(`${rel} does not end with a newline (truncated?)`);
  const lines = text.split('\n');
  lines.pop();
  const header = (lines.shift() ?? '').split(',');
  const rows = lines.map((l, i) => {
    const f = l.split(',');
    if (f.length !== header.length) throw new Error(`${rel}:${i + 2}: ${f.length} fields, header has ${header.length}`);
    return f;
  });
  return { file: rel, header, rows };
}

/** Column accessor: `col(t, 'flights')` → index, failing clearly on a missing column. */
export function col(t: Table, name: string): number {
  const i = t.header.indexOf(name);
  if (i < 0) throw new Error(`${t.file}: no column "${name}" (has ${t.header.join(', ')})`);
  return i;
}

/**
 * Streams the lines of a big partition file without holding it as an array of
 * arrays: checks the header, calls `onLine(line)` per data row, returns the count.
 */
export function scanLines(rel: string, expectHeader: readonly string[], onLine: (line: string) => void): number {
  const text = readFileSync(abs(rel), 'utf8');
  let pos = text.indexOf('\n');
  const header = text.slice(0, pos);
  if (header !== expectHeader.join(',')) throw new Error(`${rel}: header "${header}", expected "${expectHeader.join(',')}"`);
  let n = 0;
  while (pos < text.length - 1) {
    const next = text.indexOf('\n', pos + 1);
    if (next === -1) throw new Error(`${rel}: last line has no newline (truncated?)`);
    onLine(text.slice(pos + 1, next));
    n += 1;
    pos = next;
  }
  return n;
}

/** scanLines, with each line split into fields. */
export function scanCsv(rel: string, expectHeader: readonly string[], onRow: (f: string[]) => void): number {
  return scanLines(rel, expectHeader, (line) => onRow(line.split(',')));
}

/** Number of data rows (lines minus header) of a CSV, counted on bytes. */
export function countRows(rel: string): number {
  const buf = readFileSync(abs(rel));
  let lines = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines += 1;
  return lines - 1;
}

/** Monthly partition files (root-relative) in a build folder, sorted. */
export function partitions(dir: string): string[] {
  if (!existsSync(abs(dir))) throw new Error(`${dir} does not exist: has the pipeline run?`);
  return readdirSync(abs(dir))
    .filter((f) => /^flights-(\d{4}-\d{2}|undated)\.csv$/.test(f))
    .sort()
    .map((f) => `${dir}/${f}`);
}

export const monthOf = (partition: string): string => /flights-(.+)\.csv$/.exec(partition)?.[1] ?? '';

export interface AirportRef {
  state: string;
  lat: number;
  lon: number;
}

/** airports.csv with RFC 4180 quoting ("Union County, Troy Shelton"). */
export function readAirports(): Map<string, AirportRef> {
  const text = readFileSync(abs(AIRPORTS_CSV), 'utf8');
  const out = new Map<string, AirportRef>();
  const lines = text.split('\n').filter((l) => l !== '');
  for (const line of lines.slice(1)) {
    const f: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (q) {
        if (c === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (c === '"') q = false;
        else cur += c;
      } else if (c === '"') q = true;
      else if (c === ',') {
        f.push(cur);
        cur = '';
      } else cur += c;
    }
    f.push(cur);
    out.set(f[0]!, { state: f[3]!, lat: Number(f[5]), lon: Number(f[6]) });
  }
  return out;
}

export const sum = (xs: Iterable<number>): number => {
  let s = 0;
  for (const x of xs) s += x;
  return s;
};
