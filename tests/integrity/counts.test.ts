// Row counts reconcile from the source file to the last table: nothing is lost or
// invented between ingest, validate, enrich and aggregate.
import { describe, expect, it } from 'vitest';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { FLIGHTS_PARQUET, SCAN, abs, countRows, monthOf, partitions, readCsv, readJson, scanLines, sum } from './helpers.js';

interface IngestSummary {
  source_rows: number;
  sample: number | null;
  rows: number;
  partitions: Record<string, number>;
}
interface ValidateCounts {
  ingested: number;
  valid: number;
  rejected: number;
  by_reason: Record<string, number>;
  valid_by_month: Record<string, number>;
  ingested_by_partition: Record<string, number>;
}

const ingest = readJson<IngestSummary>('build/ingest.json');
const counts = readJson<ValidateCounts>('build/validate.json');

describe('ingest', () => {
  it('read every source row, or exactly FLIGHTS_SAMPLE of them', async () => {
    const md = await parquetMetadataAsync(await asyncBufferFromFile(abs(FLIGHTS_PARQUET)));
    const sourceRows = Number(md.num_rows);
    expect(ingest.source_rows, `ingest.json says the parquet file has ${ingest.source_rows} rows; its metadata says ${sourceRows}`).toBe(sourceRows);
    const expected = ingest.sample === null ? sourceRows : Math.min(ingest.sample, sourceRows);
    expect(ingest.rows, `ingested rows (${ingest.rows}) != ${ingest.sample === null ? 'source rows' : `FLIGHTS_SAMPLE=${ingest.sample}`} (${expected})`).toBe(expected);
  });

  it('raw partitions hold exactly the rows ingest.json reports', () => {
    const files = partitions('build/raw');
    expect(files.length, 'no raw partitions').toBeGreaterThan(0);
    const onDisk = Object.fromEntries(files.map((f) => [monthOf(f), countRows(f)]));
    expect(onDisk, 'rows per raw partition file != ingest.json partitions').toEqual(ingest.partitions);
    expect(sum(Object.values(onDisk)), `raw partition rows (${sum(Object.values(onDisk))}) != ingested rows (${ingest.rows})`).toBe(ingest.rows);
  });
});

describe('validate', () => {
  it('ingested = valid + rejected', () => {
    const { ingested, valid, rejected } = counts;
    expect(ingested, `validate read ${ingested} rows but ingest wrote ${ingest.rows}`).toBe(ingest.rows);
    expect(valid + rejected, `ingested rows (${ingested}) != valid (${valid}) + rejected (${rejected})`).toBe(ingested);
    expect(valid, 'no valid rows').toBeGreaterThan(0);
  });

  it('the rejects file and the per-reason counts agree with the rejected count', () => {
    const rejects = readCsv('build/rejects.csv');
    expect(rejects.rows.length, `build/rejects.csv has ${rejects.rows.length} rows, validate.json says rejected = ${counts.rejected}`).toBe(counts.rejected);
    const byReason = sum(Object.values(counts.by_reason));
    expect(byReason, `sum of by_reason (${byReason}) != rejected (${counts.rejected})`).toBe(counts.rejected);
    const fileByReason: Record<string, number> = {};
    for (const r of rejects.rows) fileByReason[r[1]!] = (fileByReason[r[1]!] ?? 0) + 1;
    const nonZero = Object.fromEntries(Object.entries(counts.by_reason).filter(([, n]) => n > 0));
    expect(fileByReason, 'reasons in rejects.csv != by_reason in validate.json').toEqual(nonZero);
  });

  it('valid partitions hold exactly the valid rows', () => {
    const onDisk = Object.fromEntries(partitions('build/valid').map((f) => [monthOf(f), countRows(f)]));
    expect(onDisk, 'rows per valid partition != validate.json valid_by_month').toEqual(counts.valid_by_month);
    expect(sum(Object.values(onDisk)), `valid partition rows (${sum(Object.values(onDisk))}) != valid (${counts.valid})`).toBe(counts.valid);
  });

  it('every ingested row id ends up exactly once, either valid or rejected', SCAN, () => {
    const seen = new Uint8Array(ingest.source_rows);
    let dup = -1;
    let outOfRange = -1;
    const mark = (id: number): void => {
      if (!Number.isInteger(id) || id < 0 || id >= seen.length) outOfRange = id;
      else if (seen[id] === 1) dup = id;
      else seen[id] = 1;
    };
    let n = 0;
    for (const f of partitions('build/valid')) n += scanLines(f, ['row', 'date', 'delay', 'distance', 'origin', 'destination'], (line) => mark(Number(line.slice(0, line.indexOf(',')))));
    for (const r of readCsv('build/rejects.csv').rows) {
      mark(Number(r[0]));
      n += 1;
    }
    expect(outOfRange, `row id ${outOfRange} is not a row of the source file`).toBe(-1);
    expect(dup, `row id ${dup} appears twice across valid partitions and rejects`).toBe(-1);
    expect(n, `valid + rejected row ids (${n}) != ingested (${ingest.rows})`).toBe(ingest.rows);
  });
});

describe('enrich', () => {
  it('enriched partitions hold every valid row, month by month (the join drops nothing)', () => {
    const onDisk = Object.fromEntries(partitions('build/enriched').map((f) => [monthOf(f), countRows(f)]));
    expect(onDisk, 'rows per enriched partition != valid rows per month').toEqual(counts.valid_by_month);
  });
});

describe('manifest', () => {
  it('repeats the pipeline counts unchanged', () => {
    const m = readJson<{ counts: Record<string, unknown> }>('output/manifest.json');
    expect(m.counts, 'output/manifest.json counts != build/ingest.json + build/validate.json').toEqual({
      source_rows: ingest.source_rows,
      sample: ingest.sample,
      ingested: counts.ingested,
      valid: counts.valid,
      rejected: counts.rejected,
      rejected_by_reason: counts.by_reason,
    });
  });
});
