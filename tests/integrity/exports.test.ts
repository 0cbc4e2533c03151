// The exported tables are what consumers were promised: this schema is the
// contract (written out here on purpose, not imported from the pipeline), and the
// CSV, JSON and Parquet copies of each table hold the same rows as the manifest says.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { abs, readCsv, readJson } from './helpers.js';

type Type = 'string' | 'int32' | 'float64';
const SCHEMAS: Record<string, [string, Type][]> = {
  origin_month: [
    ['origin', 'string'],
    ['origin_state', 'string'],
    ['month', 'string'],
    ['flights', 'int32'],
    ['delay_sum', 'int32'],
    ['mean_delay', 'float64'],
    ['min_delay', 'int32'],
    ['max_delay', 'int32'],
    ['delayed_15', 'int32'],
  ],
  routes: [
    ['origin', 'string'],
    ['destination', 'string'],
    ['origin_state', 'string'],
    ['dest_state', 'string'],
    ['flights', 'int32'],
    ['delay_sum', 'int32'],
    ['mean_delay', 'float64'],
    ['distance_min', 'int32'],
    ['distance_max', 'int32'],
    ['gc_miles', 'float64'],
  ],
  airport_delay_ci: [
    ['origin', 'string'],
    ['flights', 'int32'],
    ['mean_delay', 'float64'],
    ['ci_low', 'float64'],
    ['ci_high', 'float64'],
    ['std_error', 'float64'],
    ['resamples', 'int32'],
  ],
  hourly_delays: [
    ['hour', 'int32'],
    ['flights', 'int32'],
    ['mean_delay', 'float64'],
    ['median_delay', 'float64'],
    ['p90_delay', 'int32'],
    ['min_delay', 'int32'],
    ['max_delay', 'int32'],
    ['share_delayed_15', 'float64'],
  ],
};
const PARQUET_TYPE: Record<Type, string> = { string: 'BYTE_ARRAY', int32: 'INT32', float64: 'DOUBLE' };

interface ManifestTable {
  rows: number;
  columns: { name: string; type: Type }[];
  files: Record<string, { path: string; bytes: number; sha256: string }>;
}
const manifest = readJson<{ tables: Record<string, ManifestTable> }>('output/manifest.json');

function typed(v: string, t: Type, where: string): string | number {
  if (v === '') throw new Error(`${where}: empty value`);
  if (t === 'string') return v;
  const n = Number(v);
  if (t === 'int32' ? !Number.isInteger(n) || Math.abs(n) >= 2 ** 31 : !Number.isFinite(n)) throw new Error(`${where}: "${v}" is not ${t}`);
  return n;
}

describe.each(Object.entries(SCHEMAS))('export %s', (name, schema) => {
  const names = schema.map(([c]) => c);
  const csv = readCsv(`output/${name}.csv`);
  const csvRows = csv.rows.map((r, i) => r.map((v, j) => typed(v, schema[j]![1], `${name}.csv:${i + 2} ${names[j]}`)));

  it('CSV has the contracted header, typed non-empty cells, and rows', () => {
    expect(csv.header, `${name}.csv columns`).toEqual(names);
    expect(csvRows.length, `${name}.csv has no rows`).toBeGreaterThan(0);
  });

  it('JSON is an array of objects with exactly the contracted keys and types, equal to the CSV', () => {
    const json = readJson<Record<string, unknown>[]>(`output/${name}.json`);
    expect(Array.isArray(json), `${name}.json is not an array`).toBe(true);
    expect(json.length, `${name}.json has ${json.length} rows, ${name}.csv has ${csvRows.length}`).toBe(csvRows.length);
    // One expect per table, not per cell: report the first bad row.
    const bad = json.findIndex((obj, i) => {
      if (Object.keys(obj).join() !== names.join()) return true;
      return schema.some(([c, t], j) => {
        const v = obj[c];
        const ok = t === 'string' ? typeof v === 'string' && v !== '' : typeof v === 'number' && (t === 'float64' || Number.isInteger(v));
        return !ok || v !== csvRows[i]![j];
      });
    });
    expect(bad < 0 ? null : { row: bad, json: json[bad], csv: csvRows[bad] }, `${name}.json: first row whose keys, types or values differ from the contract / the CSV`).toBeNull();
  });

  it('Parquet has the contracted columns and physical types, and the same rows as the CSV', async () => {
    const bytes = readFileSync(abs(`output/${name}.parquet`));
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const md = parquetMetadata(file);
    expect(
      md.schema.slice(1).map((s) => [s.name, s.type]),
      `${name}.parquet schema`,
    ).toEqual(schema.map(([c, t]) => [c, PARQUET_TYPE[t]]));
    expect(Number(md.num_rows), `${name}.parquet has ${md.num_rows} rows, ${name}.csv has ${csvRows.length}`).toBe(csvRows.length);
    const rows = await parquetReadObjects({ file });
    const bad = rows.findIndex((r, i) => names.some((c, j) => r[c] !== csvRows[i]![j]));
    expect(bad < 0 ? null : { row: bad, parquet: rows[bad], csv: csvRows[bad] }, `${name}.parquet: first row that differs from the CSV`).toBeNull();
  });

  it('the manifest has its row count, schema, and the size and hash of each file', () => {
    const m = manifest.tables[name];
    expect(m, `output/manifest.json has no entry for ${name}`).toBeDefined();
    expect(m!.rows, `manifest says ${name} has ${m!.rows} rows, the CSV has ${csvRows.length}`).toBe(csvRows.length);
    expect(m!.columns, `manifest schema of ${name}`).toEqual(schema.map(([c, t]) => ({ name: c, type: t })));
    for (const fmt of ['csv', 'json', 'parquet']) {
      const f = m!.files[fmt];
      expect(f?.path, `manifest path of ${name}.${fmt}`).toBe(`output/${name}.${fmt}`);
      const data = readFileSync(abs(`output/${name}.${fmt}`));
      expect(data.byteLength, `${name}.${fmt} size != manifest`).toBe(f?.bytes);
      expect(createHash('sha256').update(data).digest('hex'), `${name}.${fmt} sha256 != manifest (file changed after export?)`).toBe(f?.sha256);
    }
  });
});

describe('manifest', () => {
  it('lists exactly the contracted tables', () => {
    expect(Object.keys(manifest.tables).sort(), 'tables in output/manifest.json').toEqual(Object.keys(SCHEMAS).sort());
  });
});
