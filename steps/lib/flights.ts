// The row layouts that steps hand to each other. A change here changes every
// step that imports it, so the engine reruns them all (it fingerprints local imports).

/** build/raw/flights-YYYY-MM.csv: the source rows as read, `row` = 0-based row in the parquet file. */
export const RAW_COLUMNS = ['row', 'date', 'delay', 'distance', 'origin', 'destination'] as const;

/** build/valid/flights-YYYY-MM.csv: rows that passed validation (same layout as raw). */
export const VALID_COLUMNS = RAW_COLUMNS;

/** build/rejects.csv: raw fields plus the first rule the row broke. */
export const REJECT_COLUMNS = ['row', 'reason', 'date', 'delay', 'distance', 'origin', 'destination'] as const;

/** build/enriched/flights-YYYY-MM.csv: valid rows joined with airports. */
export const ENRICHED_COLUMNS = [
  'row',
  'date',
  'delay',
  'distance',
  'origin',
  'destination',
  'origin_state',
  'dest_state',
  'origin_lat',
  'origin_lon',
  'dest_lat',
  'dest_lon',
  'gc_miles',
] as const;

/** Column index lookup typed by a column list, so a typo is a compile error. */
export function columnIndex<const C extends readonly string[]>(columns: C): { [K in C[number]]: number } {
  return Object.fromEntries(columns.map((c, i) => [c, i])) as { [K in C[number]]: number };
}

/** Partition file name for a month key "YYYY-MM"; the month key is its only variable part. */
export function partitionName(month: string): string {
  return `flights-${month}.csv`;
}

export const PARTITION_RE = /(^|\/)flights-(\d{4}-\d{2})\.csv$/;

/** The month key of a partition path, or throws. */
export function partitionMonth(file: string): string {
  const m = PARTITION_RE.exec(file.split('\\').join('/'));
  if (!m || m[2] === undefined) throw new Error(`not a partition file: ${file}`);
  return m[2];
}

/** Rounded to `digits` decimals as a string; -0 printed as 0 so equal values give equal bytes. */
export function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}
