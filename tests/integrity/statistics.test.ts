// Bounds on the statistics: bootstrap intervals contain their mean and behave like
// intervals of a mean should; hourly percentiles are ordered and add back to totals.
import { describe, expect, it } from 'vitest';
import { col, readCsv, readJson, sum } from './helpers.js';

const counts = readJson<{ valid: number; valid_delay_sum: number }>('build/validate.json');
const ci = readCsv('output/airport_delay_ci.csv');
const originMonth = readCsv('output/origin_month.csv');
const hourly = readCsv('output/hourly_delays.csv');

const num = (r: string[], t: typeof ci, c: string): number => Number(r[col(t, c)]);

describe('bootstrap confidence intervals', () => {
  const flightsBy = new Map<string, number>();
  const delayBy = new Map<string, number>();
  for (const r of originMonth.rows) {
    const o = r[col(originMonth, 'origin')]!;
    flightsBy.set(o, (flightsBy.get(o) ?? 0) + num(r, originMonth, 'flights'));
    delayBy.set(o, (delayBy.get(o) ?? 0) + num(r, originMonth, 'delay_sum'));
  }

  it('is populated, one row per origin', () => {
    expect(ci.rows.length, 'output/airport_delay_ci.csv is empty').toBeGreaterThan(0);
    const origins = ci.rows.map((r) => r[col(ci, 'origin')]!);
    expect(new Set(origins).size, 'an origin appears twice in airport_delay_ci').toBe(origins.length);
  });

  it('ci_low <= mean_delay <= ci_high, with a positive standard error', () => {
    const bad = ci.rows
      .filter((r) => !(num(r, ci, 'ci_low') <= num(r, ci, 'mean_delay') && num(r, ci, 'mean_delay') <= num(r, ci, 'ci_high') && num(r, ci, 'std_error') > 0))
      .map((r) => `${r[0]}: low ${num(r, ci, 'ci_low')}, mean ${num(r, ci, 'mean_delay')}, high ${num(r, ci, 'ci_high')}, se ${num(r, ci, 'std_error')}`);
    expect(bad, 'intervals that do not contain their mean').toEqual([]);
  });

  it('the mean and flight count of each origin are those of origin × month', () => {
    const bad = ci.rows
      .filter((r) => {
        const o = r[col(ci, 'origin')]!;
        const n = flightsBy.get(o);
        return n !== num(r, ci, 'flights') || !(Math.abs(num(r, ci, 'mean_delay') - (delayBy.get(o) ?? NaN) / n) <= 5e-5 + 1e-9);
      })
      .map((r) => `${r[0]}: ${num(r, ci, 'flights')} flights, mean ${num(r, ci, 'mean_delay')}; origin_month: ${flightsBy.get(r[0]!)} flights, mean ${(delayBy.get(r[0]!) ?? NaN) / (flightsBy.get(r[0]!) ?? NaN)}`);
    expect(bad, 'origins whose CI row disagrees with origin_month').toEqual([]);
  });

  it('covers every origin at least as busy as the least busy one it covers', () => {
    // The step skips origins below a minimum flight count; whatever that minimum is,
    // no origin busier than the smallest covered one may be missing.
    const minCovered = Math.min(...ci.rows.map((r) => num(r, ci, 'flights')));
    const covered = new Set(ci.rows.map((r) => r[col(ci, 'origin')]!));
    const missing = [...flightsBy].filter(([o, n]) => n >= minCovered && !covered.has(o)).map(([o, n]) => `${o} (${n} flights)`);
    expect(missing, `origins with >= ${minCovered} flights but no interval`).toEqual([]);
  });

  it('for busy origins the interval is nearly symmetric and a few standard errors wide (as the CLT says)', () => {
    const odd = ci.rows
      .filter((r) => num(r, ci, 'flights') >= 5000)
      .filter((r) => {
        const [lo, m, hi, se] = [num(r, ci, 'ci_low'), num(r, ci, 'mean_delay'), num(r, ci, 'ci_high'), num(r, ci, 'std_error')];
        const width = hi - lo;
        return Math.abs(hi - m - (m - lo)) > 0.25 * width || width / se < 2 || width / se > 6.6;
      })
      .map((r) => r.join(','));
    expect(odd, 'busy origins with a skewed or implausibly wide/narrow interval').toEqual([]);
  });
});

describe('hourly delays', () => {
  it('is populated with distinct hours 0–23', () => {
    const hours = hourly.rows.map((r) => num(r, hourly, 'hour'));
    expect(hours.length, 'output/hourly_delays.csv is empty').toBeGreaterThan(0);
    expect(new Set(hours).size, 'an hour appears twice').toBe(hours.length);
    expect(hours.filter((h) => !Number.isInteger(h) || h < 0 || h > 23), 'hours outside 0–23').toEqual([]);
  });

  it('min <= median <= p90 <= max, and the delayed share is a fraction', () => {
    const bad = hourly.rows
      .filter((r) => {
        const [min, med, p90, max, share] = ['min_delay', 'median_delay', 'p90_delay', 'max_delay', 'share_delayed_15'].map((c) => num(r, hourly, c)) as [number, number, number, number, number];
        return !(min <= med && med <= p90 && p90 <= max && share >= 0 && share <= 1);
      })
      .map((r) => r.join(','));
    expect(bad, 'hours whose percentiles are out of order').toEqual([]);
  });

  it('flights add back to the valid rows and the means to the total delay', () => {
    const flights = sum(hourly.rows.map((r) => num(r, hourly, 'flights')));
    expect(flights, `sum of hourly flights (${flights}) != valid rows (${counts.valid})`).toBe(counts.valid);
    // Means are printed to 4 decimals: each hour's mean × flights is off by at most 0.00005 × flights.
    const delay = sum(hourly.rows.map((r) => num(r, hourly, 'mean_delay') * num(r, hourly, 'flights')));
    expect(Math.abs(delay - counts.valid_delay_sum), `hourly mean × flights adds to ${delay.toFixed(1)}, valid rows total ${counts.valid_delay_sum}`).toBeLessThanOrEqual(5e-5 * counts.valid + 1);
  });
});
