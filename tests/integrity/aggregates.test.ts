// Aggregates add back to the totals validate counted on the raw rows, and each
// group's statistics are internally consistent.
import { describe, expect, it } from 'vitest';
import { col, readCsv, readJson, sum } from './helpers.js';
import type { Table } from './helpers.js';

interface ValidateCounts {
  valid: number;
  valid_delay_sum: number;
  valid_by_month: Record<string, number>;
  rules: { dateFrom: string; dateTo: string };
}
const counts = readJson<ValidateCounts>('build/validate.json');
const originMonth = readCsv('output/origin_month.csv');
const routes = readCsv('output/routes.csv');

const column = (t: Table, c: string): number[] => t.rows.map((r) => Number(r[col(t, c)]));
const totalsBy = (t: Table, key: string, value: string): Map<string, number> => {
  const m = new Map<string, number>();
  for (const r of t.rows) m.set(r[col(t, key)]!, (m.get(r[col(t, key)]!) ?? 0) + Number(r[col(t, value)]));
  return m;
};

/** Shared checks of a grouped delay table: non-null unique keys and sane per-group numbers. */
function checkGroups(t: Table, keys: string[]): void {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const r of t.rows) {
    const key = keys.map((k) => r[col(t, k)]).join('|');
    if (keys.some((k) => r[col(t, k)] === '')) problems.push(`null key: ${r.join(',')}`);
    if (seen.has(key)) problems.push(`duplicate key ${key}`);
    seen.add(key);
    const flights = Number(r[col(t, 'flights')]);
    const delaySum = Number(r[col(t, 'delay_sum')]);
    const mean = Number(r[col(t, 'mean_delay')]);
    if (!(flights > 0)) problems.push(`${key}: flights ${flights}`);
    // mean_delay is printed to 4 decimals.
    if (!(Math.abs(mean - delaySum / flights) <= 5e-5 + 1e-9)) problems.push(`${key}: mean_delay ${mean} != delay_sum/flights ${delaySum / flights}`);
    if (t.header.includes('min_delay')) {
      const min = Number(r[col(t, 'min_delay')]);
      const max = Number(r[col(t, 'max_delay')]);
      if (!(min <= mean && mean <= max)) problems.push(`${key}: mean ${mean} outside [min ${min}, max ${max}]`);
      const d15 = Number(r[col(t, 'delayed_15')]);
      if (!(d15 >= 0 && d15 <= flights)) problems.push(`${key}: delayed_15 ${d15} of ${flights} flights`);
    }
  }
  expect(problems.slice(0, 10), `${t.file}: bad groups (first 10 shown)`).toEqual([]);
}

describe('origin × month', () => {
  it('is populated, with unique non-null keys and consistent group statistics', () => {
    expect(originMonth.rows.length, 'output/origin_month.csv is empty').toBeGreaterThan(0);
    checkGroups(originMonth, ['origin', 'month']);
  });

  it('flights add back to the valid row count, in total and month by month', () => {
    const flights = sum(column(originMonth, 'flights'));
    expect(flights, `sum of origin_month.flights (${flights}) != valid rows (${counts.valid})`).toBe(counts.valid);
    expect(Object.fromEntries(totalsBy(originMonth, 'month', 'flights')), 'flights per month != valid rows per month').toEqual(counts.valid_by_month);
  });

  it('delay sums add back to the total delay of the valid rows', () => {
    const delay = sum(column(originMonth, 'delay_sum'));
    expect(delay, `sum of origin_month.delay_sum (${delay}) != total delay of valid rows (${counts.valid_delay_sum})`).toBe(counts.valid_delay_sum);
  });

  it('months lie inside the validated date range', () => {
    const from = counts.rules.dateFrom.slice(0, 7);
    const to = counts.rules.dateTo;
    const outside = [...new Set(originMonth.rows.map((r) => r[col(originMonth, 'month')]!))].filter((m) => !(m >= from && `${m}-01` < to));
    expect(outside, `months outside [${counts.rules.dateFrom}, ${to})`).toEqual([]);
  });
});

describe('routes', () => {
  it('is populated, with unique non-null keys and consistent group statistics', () => {
    expect(routes.rows.length, 'output/routes.csv is empty').toBeGreaterThan(0);
    checkGroups(routes, ['origin', 'destination']);
  });

  it('flights and delay sums add back to the totals', () => {
    const flights = sum(column(routes, 'flights'));
    const delay = sum(column(routes, 'delay_sum'));
    expect(flights, `sum of routes.flights (${flights}) != valid rows (${counts.valid})`).toBe(counts.valid);
    expect(delay, `sum of routes.delay_sum (${delay}) != total delay of valid rows (${counts.valid_delay_sum})`).toBe(counts.valid_delay_sum);
  });

  it('per origin, routes and origin × month agree on flights and delay', () => {
    for (const value of ['flights', 'delay_sum']) {
      const a = Object.fromEntries(totalsBy(routes, 'origin', value));
      const b = Object.fromEntries(totalsBy(originMonth, 'origin', value));
      expect(a, `${value} per origin: routes != origin_month`).toEqual(b);
    }
  });
});

describe('packed delays for the bootstrap', () => {
  it('hold every valid flight, per origin the same count and sum as origin × month', () => {
    const idx = readJson<{ total: number; origins: { origin: string; count: number; sum: number }[] }>('build/agg/origin_delays.json');
    expect(idx.total, `origin_delays.json total (${idx.total}) != valid rows (${counts.valid})`).toBe(counts.valid);
    const flights = totalsBy(originMonth, 'origin', 'flights');
    const delay = totalsBy(originMonth, 'origin', 'delay_sum');
    const off = idx.origins.filter((o) => flights.get(o.origin) !== o.count || delay.get(o.origin) !== o.sum).map((o) => o.origin);
    expect(off, 'origins whose packed delays differ from origin_month').toEqual([]);
    expect(idx.origins.length, 'origins in the delay index != origins in origin_month').toBe(flights.size);
  });
});
