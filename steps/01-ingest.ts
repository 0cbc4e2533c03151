// Step 1 — ingest: flights-3m.parquet → monthly CSV partitions (build/raw/) + build/ingest.json.
//
// Ingest is faithful: it copies what the file says, nulls and odd dates included,
// and leaves judging rows to validate. It reads one row group (~273k rows) at a
// time and streams each month to its own file, so memory stays flat.
//
// FLIGHTS_SAMPLE=N (env) keeps a systematic sample of N rows (every total/N-th
// row), so a quick CI run still spans every month; empty or unset = all rows.
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from 'hyparquet';
import type { ColumnData, DecodedArray } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import path from 'node:path';
import { defineStep } from 'batchfile';
import { CsvWriter, checkAbort, inputMatching, outputEndingWith, rel, replaceDir, writeJsonAtomic } from './lib/io.js';
import { RAW_COLUMNS, partitionName } from './lib/flights.js';

const SOURCE_COLUMNS = ['date', 'delay', 'distance', 'origin', 'destination'] as const;
type SourceColumn = (typeof SOURCE_COLUMNS)[number];

/** Parses FLIGHTS_SAMPLE: undefined = all rows; anything but a positive integer is an error, not a silent "all". */
function parseSample(raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
    throw new Error(`FLIGHTS_SAMPLE must be a positive integer number of rows (or empty for all), got "${raw}"`);
  }
  return Number(raw);
}

/** Local wall-clock timestamp (the column is TIMESTAMP isAdjustedToUTC=false) as ISO without zone. */
function formatMicros(micros: bigint): string {
  const us = Number(micros);
  if (!Number.isSafeInteger(us)) throw new Error(`timestamp ${micros} out of range`);
  const iso = new Date(us / 1000).toISOString();
  // Minute precision is all the source has; keep seconds only if a row really has them.
  return us % 60_000_000 === 0 ? iso.slice(0, 16) : iso.slice(0, 19);
}

export default defineStep(async (ctx) => {
  const source = inputMatching(ctx, /flights-3m\.parquet$/, 'the flights parquet file');
  const rawDir = outputEndingWith(ctx, 'raw/');
  const summaryFile = outputEndingWith(ctx, 'ingest.json');

  const file = await asyncBufferFromFile(source);
  const metadata = await parquetMetadataAsync(file);
  const total = Number(metadata.num_rows);

  // Fail loudly if the upstream file changed shape rather than misreading it.
  for (const name of SOURCE_COLUMNS) {
    const el = metadata.schema.find((s) => s.name === name);
    if (!el) throw new Error(`${rel(ctx, source)}: column "${name}" missing`);
  }
  const dateEl = metadata.schema.find((s) => s.name === 'date');
  if (dateEl?.logical_type?.type !== 'TIMESTAMP' || dateEl.logical_type.unit !== 'MICROS') {
    throw new Error(`${rel(ctx, source)}: expected "date" as TIMESTAMP(MICROS), got ${JSON.stringify(dateEl?.logical_type)}`);
  }

  const sample = parseSample(process.env.FLIGHTS_SAMPLE);
  const keep = sample === null || sample >= total ? total : sample;
  // Row k of the sample is source row floor(k * total / keep); with keep = total that is every row.
  let nextK = 0;
  let nextRow = 0;
  const advance = (): void => {
    nextK += 1;
    nextRow = nextK < keep ? Math.floor((nextK * total) / keep) : Number.POSITIVE_INFINITY;
  };

  const partitions = new Map<string, number>();
  const nulls: Record<SourceColumn, number> = { date: 0, delay: 0, distance: 0, origin: 0, destination: 0 };
  let rows = 0;

  await replaceDir(rawDir, async (tmpDir) => {
    const writers = new Map<string, CsvWriter>();
    try {
      let groupStart = 0;
      for (const [g, rg] of metadata.row_groups.entries()) {
        checkAbort(ctx.signal);
        const groupEnd = groupStart + Number(rg.num_rows);
        if (nextRow >= groupEnd) {
          groupStart = groupEnd; // no sampled row here: skip decoding the group
          continue;
        }
        const chunks = new Map<string, ColumnData[]>();
        await parquetRead({
          file,
          metadata,
          compressors,
          columns: [...SOURCE_COLUMNS],
          rowStart: groupStart,
          rowEnd: groupEnd,
          // Keep the raw int64 micros: building 3M Date objects doubles the read time.
          parsers: { timestampFromMicroseconds: (us: bigint) => us },
          onChunk: (c) => {
            const list = chunks.get(c.columnName) ?? [];
            list.push(c);
            chunks.set(c.columnName, list);
          },
        });
        const cols = Object.fromEntries(
          SOURCE_COLUMNS.map((name) => [name, columnSlice(chunks.get(name) ?? [], name, groupStart, groupEnd)]),
        ) as Record<SourceColumn, DecodedArray>;

        let lastMicros: bigint | null = null;
        let lastDate = '';
        for (let row = nextRow; row < groupEnd; row = nextRow) {
          const i = row - groupStart;
          const d = cols.date[i] as bigint | null | undefined;
          const delay = cols.delay[i] as bigint | null | undefined;
          const distance = cols.distance[i] as bigint | null | undefined;
          const origin = cols.origin[i] as string | null | undefined;
          const destination = cols.destination[i] as string | null | undefined;
          let date = '';
          if (d == null) nulls.date += 1;
          else if (d === lastMicros) date = lastDate; // rows are time-ordered: most repeat the last minute
          else {
            date = formatMicros(d);
            lastMicros = d;
            lastDate = date;
          }
          if (delay == null) nulls.delay += 1;
          if (distance == null) nulls.distance += 1;
          if (origin == null) nulls.origin += 1;
          if (destination == null) nulls.destination += 1;

          const month = date === '' ? 'undated' : date.slice(0, 7);
          let w = writers.get(month);
          if (!w) {
            w = CsvWriter.create(path.join(tmpDir, partitionName(month)), RAW_COLUMNS);
            writers.set(month, w);
          }
          // Numbers, ISO dates and cleaned strings never need quoting, so the line is built directly.
          w.writeLine(`${row},${date},${delay ?? ''},${distance ?? ''},${clean(origin)},${clean(destination)}`);
          partitions.set(month, (partitions.get(month) ?? 0) + 1);
          rows += 1;
          advance();
        }
        ctx.log(`row group ${g + 1}/${metadata.row_groups.length}: rows ${groupStart}..${groupEnd - 1}, ${rows} kept so far`);
        groupStart = groupEnd;
      }
      for (const w of writers.values()) w.close();
    } catch (err) {
      for (const w of writers.values()) w.abort();
      throw err;
    }
  });

  if (rows === 0) throw new Error('ingest produced no rows');
  await writeJsonAtomic(summaryFile, {
    source: rel(ctx, source),
    source_rows: total,
    sample,
    rows,
    columns: [...RAW_COLUMNS],
    nulls,
    partitions: Object.fromEntries([...partitions].sort(([a], [b]) => a.localeCompare(b))),
  });
  ctx.log(`ingested ${rows} of ${total} rows into ${partitions.size} monthly partitions${sample === null ? '' : ` (FLIGHTS_SAMPLE=${sample})`}`);
});

const UNSAFE_CHARS = /[",\r\n]/;

/** A string cell as CSV-safe text: null → empty; a comma, quote or newline (never valid in a code) → "?", which validate then rejects. */
function clean(s: string | null | undefined): string {
  if (s == null) return '';
  return UNSAFE_CHARS.test(s) ? s.replace(/[",\r\n]/g, '?') : s;
}

/** One column's values for rows [start, end), whether hyparquet delivered it in one chunk or several. */
function columnSlice(list: ColumnData[], name: string, start: number, end: number): DecodedArray {
  const [only] = list;
  if (list.length === 1 && only && only.rowStart === start && only.rowEnd >= end) return only.columnData;
  const out: unknown[] = new Array(end - start);
  let filled = 0;
  for (const c of list) {
    for (let r = Math.max(c.rowStart, start); r < Math.min(c.rowEnd, end); r++) {
      out[r - start] = c.columnData[r - c.rowStart];
      filled += 1;
    }
  }
  if (filled !== end - start) throw new Error(`column ${name}: got ${filled} values for ${end - start} rows`);
  return out;
}
