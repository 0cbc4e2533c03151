// Step 7 — export: the final tables under output/ as CSV, JSON and Parquet, plus
// output/manifest.json (row counts, schemas, file sizes and hashes, and the
// ingest/validate counts). Every cell is checked against the declared schema
// first, and each Parquet file is read back and compared value by value before
// it is written, so a writer bug fails the step instead of shipping a bad file.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { defineStep } from 'batchfile';
import { inputMatching, outputEndingWith, writeFileAtomic, writeJsonAtomic } from './lib/io.js';
import { FORMATS, MANIFEST, OUTPUT_DIR, TABLES, TABLE_NAMES } from './lib/tables.js';
import type { ColumnType, TableSpec } from './lib/tables.js';

type Cell = string | number;

const escapeRe = (s: string): RegExp => new RegExp(`(^|/)${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Parses one source CSV against its spec: exact header, typed non-empty cells, unique keys. */
function parseTable(name: string, spec: TableSpec, text: string): { rows: Cell[][]; lines: string[] } {
  const [header, ...lines] = text.split('\n').filter((l) => l !== '');
  const want = spec.columns.map(([c]) => c).join(',');
  if (header !== want) throw new Error(`${spec.source}: header "${header}", expected "${want}"`);
  const keyIdx = spec.key.map((k) => spec.columns.findIndex(([c]) => c === k));
  const keys = new Set<string>();
  const rows = lines.map((line, i) => {
    const f = line.split(',');
    const where = `${spec.source}:${i + 2}`;
    if (f.length !== spec.columns.length) throw new Error(`${where}: ${f.length} fields, expected ${spec.columns.length}`);
    const row = f.map((v, j) => parseCell(v, spec.columns[j]![1], `${where} column ${spec.columns[j]![0]}`));
    const key = keyIdx.map((k) => f[k]).join('|');
    if (keys.has(key)) throw new Error(`${where}: duplicate key ${spec.key.join('+')} = ${key} in table ${name}`);
    keys.add(key);
    return row;
  });
  return { rows, lines };
}

function parseCell(v: string, type: ColumnType, where: string): Cell {
  if (v === '') throw new Error(`${where}: empty value`);
  if (type === 'string') return v;
  const n = Number(v);
  if (type === 'int32') {
    if (!/^-?\d+$/.test(v) || n < -(2 ** 31) || n >= 2 ** 31) throw new Error(`${where}: "${v}" is not an int32`);
    return n;
  }
  if (!/^-?\d+(\.\d+)?$/.test(v) || !Number.isFinite(n)) throw new Error(`${where}: "${v}" is not a decimal number`);
  return n;
}

const PARQUET_TYPE = { string: 'STRING', int32: 'INT32', float64: 'DOUBLE' } as const;

function toParquet(spec: TableSpec, rows: Cell[][]): Uint8Array {
  const buf = parquetWriteBuffer({
    columnData: spec.columns.map(([name, type], j) => ({ name, type: PARQUET_TYPE[type], nullable: false, data: rows.map((r) => r[j]!) })),
    // One row group: these tables are small, and one group keeps readers simple.
    rowGroupSize: Math.max(1, rows.length),
  });
  return new Uint8Array(buf);
}

/** Reads the Parquet bytes back and demands the same schema and the same values. */
async function verifyParquet(name: string, spec: TableSpec, bytes: Uint8Array, rows: Cell[][]): Promise<void> {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const md = parquetMetadata(ab);
  const cols = md.schema.slice(1).map((s) => `${s.name}:${s.type}`);
  const want = spec.columns.map(([c, t]) => `${c}:${t === 'string' ? 'BYTE_ARRAY' : t === 'int32' ? 'INT32' : 'DOUBLE'}`);
  if (cols.join() !== want.join()) throw new Error(`${name}.parquet schema ${cols.join()} != ${want.join()}`);
  if (Number(md.num_rows) !== rows.length) throw new Error(`${name}.parquet has ${md.num_rows} rows, expected ${rows.length}`);
  const back = await parquetReadObjects({ file: ab });
  rows.forEach((r, i) => {
    spec.columns.forEach(([c], j) => {
      if (back[i]?.[c] !== r[j]) throw new Error(`${name}.parquet row ${i} column ${c}: wrote ${r[j]}, read back ${back[i]?.[c]}`);
    });
  });
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

export default defineStep(async (ctx) => {
  const ingest = JSON.parse(await readFile(inputMatching(ctx, /build\/ingest\.json$/, 'ingest summary'), 'utf8')) as Record<string, unknown>;
  const validate = JSON.parse(await readFile(inputMatching(ctx, /build\/validate\.json$/, 'validate counts'), 'utf8')) as Record<string, unknown>;

  const tables: Record<string, unknown> = {};
  for (const name of TABLE_NAMES) {
    const spec: TableSpec = TABLES[name];
    const text = await readFile(inputMatching(ctx, escapeRe(spec.source), spec.source), 'utf8');
    const { rows, lines } = parseTable(name, spec, text);
    if (rows.length === 0) throw new Error(`table ${name} is empty`);
    const names = spec.columns.map(([c]) => c);

    // CSV: the validated source lines, whose number formatting upstream already fixed.
    const csv = `${names.join(',')}\n${lines.map((l) => `${l}\n`).join('')}`;
    // JSON: one object per line, numbers as numbers.
    const json = `[\n${rows.map((r) => JSON.stringify(Object.fromEntries(names.map((c, j) => [c, r[j]])))).join(',\n')}\n]\n`;
    const parquet = toParquet(spec, rows);
    await verifyParquet(name, spec, parquet, rows);

    const contents = { csv, json, parquet } satisfies Record<(typeof FORMATS)[number], string | Uint8Array>;
    const files: Record<string, unknown> = {};
    for (const fmt of FORMATS) {
      const rel = `${OUTPUT_DIR}/${name}.${fmt}`;
      const data = contents[fmt];
      await writeFileAtomic(outputEndingWith(ctx, rel), data);
      files[fmt] = { path: rel, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength, sha256: sha256(data) };
    }
    tables[name] = {
      description: spec.description,
      rows: rows.length,
      key: spec.key,
      columns: spec.columns.map(([c, t]) => ({ name: c, type: t })),
      files,
    };
    ctx.log(`${name}: ${rows.length} rows → csv, json, parquet (parquet read back and verified)`);
  }

  await writeJsonAtomic(outputEndingWith(ctx, MANIFEST), {
    counts: {
      source_rows: ingest.source_rows,
      sample: ingest.sample,
      ingested: validate.ingested,
      valid: validate.valid,
      rejected: validate.rejected,
      rejected_by_reason: validate.by_reason,
    },
    tables,
  });
});
