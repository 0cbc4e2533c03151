// Step 2 — validate: typed checks on every raw row. Good rows go on to build/valid/
// (same monthly layout), the others to build/rejects.csv with the first rule they broke,
// and build/validate.json holds the counts the integrity tests reconcile.
import path from 'node:path';
import { defineStep } from 'batchfile';
import { loadAirports } from './lib/airports.js';
import { CsvWriter, checkAbort, forEachCsvRow, inputMatching, inputsMatching, outputEndingWith, rel, replaceDir, writeJsonAtomic } from './lib/io.js';
import { PARTITION_RE, RAW_COLUMNS, REJECT_COLUMNS, VALID_COLUMNS, columnIndex, partitionMonth, partitionName } from './lib/flights.js';

export type ValidateParams = {
  /** First valid local date (inclusive), YYYY-MM-DD. */
  dateFrom: string;
  /** End of the valid period (exclusive), YYYY-MM-DD. */
  dateTo: string;
  /** Plausible departure delay in minutes; outside it is a recording error, not a delay. */
  minDelay: number;
  maxDelay: number;
  /** Longest plausible U.S. domestic leg, in miles. */
  maxDistance: number;
};

/** Every reason a row can be rejected for, in the order the rules are applied. */
export const REASONS = [
  'malformed',
  'bad_date',
  'date_out_of_range',
  'bad_delay',
  'delay_out_of_range',
  'bad_distance',
  'distance_out_of_range',
  'bad_origin',
  'bad_destination',
  'same_origin_destination',
  'unknown_origin',
  'unknown_destination',
] as const;
export type Reason = (typeof REASONS)[number];

/** A row that passed: typed values, not strings. */
interface Flight {
  row: number;
  date: string;
  delay: number;
  distance: number;
  origin: string;
  destination: string;
}

const C = columnIndex(RAW_COLUMNS);
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;
const INT_RE = /^-?\d+$/;
const CODE_RE = /^[A-Z0-9]{3}$/;

/** A calendar-valid local timestamp (rejects 2001-02-30 and 25:00, which Date would roll over). */
function isRealDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as number[];
  const t = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, se!));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo! - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi;
}

/** Applies the rules in REASONS order; returns the typed row or the first broken rule.
 * `dates` memoizes isRealDate: 3M rows share ~260k distinct minutes. */
export function check(f: string[], p: ValidateParams, known: ReadonlySet<string>, dates: Map<string, boolean>): Flight | Reason {
  if (f.length !== RAW_COLUMNS.length || !/^\d+$/.test(f[C.row] ?? '')) return 'malformed';
  const date = f[C.date]!;
  let real = dates.get(date);
  if (real === undefined) {
    real = isRealDate(date);
    dates.set(date, real);
  }
  if (!real) return 'bad_date';
  // ISO strings of one layout order like the instants they name; dateTo is exclusive.
  if (date < p.dateFrom || date >= p.dateTo) return 'date_out_of_range';
  const delayS = f[C.delay]!;
  if (!INT_RE.test(delayS)) return 'bad_delay';
  const delay = Number(delayS);
  if (delay < p.minDelay || delay > p.maxDelay) return 'delay_out_of_range';
  const distS = f[C.distance]!;
  if (!INT_RE.test(distS) || Number(distS) <= 0) return 'bad_distance';
  const distance = Number(distS);
  if (distance > p.maxDistance) return 'distance_out_of_range';
  const origin = f[C.origin]!;
  const destination = f[C.destination]!;
  if (!CODE_RE.test(origin)) return 'bad_origin';
  if (!CODE_RE.test(destination)) return 'bad_destination';
  if (origin === destination) return 'same_origin_destination';
  if (!known.has(origin)) return 'unknown_origin';
  if (!known.has(destination)) return 'unknown_destination';
  return { row: Number(f[C.row]), date, delay, distance, origin, destination };
}

export default defineStep<ValidateParams>(async (ctx) => {
  const p = ctx.params;
  if (!(p.dateFrom < p.dateTo) || !(p.minDelay < p.maxDelay) || !(p.maxDistance > 0)) {
    throw new Error(`validate: inconsistent params ${JSON.stringify(p)}`);
  }
  const partitions = inputsMatching(ctx, PARTITION_RE, 'raw monthly partitions');
  const airportsFile = inputMatching(ctx, /airports\.csv$/, 'the airports table');
  const validDir = outputEndingWith(ctx, 'valid/');
  const rejectsFile = outputEndingWith(ctx, 'rejects.csv');
  const countsFile = outputEndingWith(ctx, 'validate.json');

  const known = new Set((await loadAirports(airportsFile)).keys());
  const byReason = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<Reason, number>;
  const validByMonth: Record<string, number> = {};
  const ingestedByPartition: Record<string, number> = {};
  let ingested = 0;
  let valid = 0;
  let validDelaySum = 0;
  const rejects = CsvWriter.create(rejectsFile, REJECT_COLUMNS);
  const dates = new Map<string, boolean>();

  try {
    await replaceDir(validDir, async (tmpDir) => {
      for (const file of partitions) {
        checkAbort(ctx.signal);
        const month = partitionMonth(file);
        const out = CsvWriter.create(path.join(tmpDir, partitionName(month)), VALID_COLUMNS);
        let rows: number;
        try {
          rows = await forEachCsvRow(file, RAW_COLUMNS, (f, _lineNo, line) => {
            const r = check(f, p, known, dates);
            if (typeof r === 'string') {
              byReason[r] += 1;
              rejects.write([f[C.row] ?? '', r, ...RAW_COLUMNS.slice(1).map((c) => f[C[c]] ?? '')]);
              return;
            }
            // Ingest partitions by the row's own month; anything else is an ingest bug, not bad data.
            if (r.date.slice(0, 7) !== month) throw new Error(`${rel(ctx, file)}: row ${r.row} dated ${r.date} is in the wrong partition`);
            validDelaySum += r.delay;
            out.writeLine(line); // passed every check, so the raw line is safe and unchanged
          });
        } catch (err) {
          out.abort();
          throw err;
        }
        const kept = out.rowCount;
        // A month with no valid row (e.g. the stray 2001-07 rows) gets no partition file.
        if (kept > 0) out.close();
        else out.abort();
        ingested += rows;
        ingestedByPartition[month] = rows;
        if (kept > 0) validByMonth[month] = kept;
        valid += kept;
        ctx.log(`${path.basename(file)}: ${rows} rows, ${kept} valid, ${rows - kept} rejected`);
      }
      if (valid === 0) throw new Error('validate: no valid rows at all');
    });
    rejects.close();
  } catch (err) {
    rejects.abort();
    throw err;
  }

  const rejected = ingested - valid;
  await writeJsonAtomic(countsFile, {
    ingested,
    valid,
    rejected,
    by_reason: byReason,
    valid_by_month: validByMonth,
    ingested_by_partition: ingestedByPartition,
    valid_delay_sum: validDelaySum,
    rules: p,
  });
  ctx.log(`ingested ${ingested} = valid ${valid} + rejected ${rejected}`);
});
