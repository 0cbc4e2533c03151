// Validation did what it claims: every valid row obeys the rules in validate.json,
// and every rejected row really breaks the rule it was rejected for.
import { describe, expect, it } from 'vitest';
import { SCAN, monthOf, partitions, readAirports, readCsv, readJson, scanLines } from './helpers.js';

interface Rules {
  dateFrom: string;
  dateTo: string;
  minDelay: number;
  maxDelay: number;
  maxDistance: number;
}
const { rules } = readJson<{ rules: Rules }>('build/validate.json');
const airports = readAirports();
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;
const INT = /^-?\d+$/;
const CODE = /^[A-Z0-9]{3}$/;

/** Why a reject's stated reason holds, re-derived here independently; null if it does not hold. */
const breaks: Record<string, (r: { date: string; delay: string; distance: string; origin: string; destination: string }) => boolean> = {
  malformed: () => true, // the raw line itself is gone; nothing to re-check
  bad_date: (r) => !ISO.test(r.date) || Number.isNaN(Date.parse(`${r.date}Z`)),
  date_out_of_range: (r) => r.date < rules.dateFrom || r.date >= rules.dateTo,
  bad_delay: (r) => !INT.test(r.delay),
  delay_out_of_range: (r) => Number(r.delay) < rules.minDelay || Number(r.delay) > rules.maxDelay,
  bad_distance: (r) => !INT.test(r.distance) || Number(r.distance) <= 0,
  distance_out_of_range: (r) => Number(r.distance) > rules.maxDistance,
  bad_origin: (r) => !CODE.test(r.origin),
  bad_destination: (r) => !CODE.test(r.destination),
  same_origin_destination: (r) => r.origin === r.destination,
  unknown_origin: (r) => !airports.has(r.origin),
  unknown_destination: (r) => !airports.has(r.destination),
};

describe('rejected rows', () => {
  it('each breaks the rule it names', () => {
    const t = readCsv('build/rejects.csv');
    expect(t.header, 'rejects.csv header').toEqual(['row', 'reason', 'date', 'delay', 'distance', 'origin', 'destination']);
    for (const [row, reason, date, delay, distance, origin, destination] of t.rows) {
      const rule = breaks[reason!];
      expect(rule, `row ${row}: unknown reject reason "${reason}"`).toBeDefined();
      expect(rule!({ date: date!, delay: delay!, distance: distance!, origin: origin!, destination: destination! }), `row ${row} rejected as ${reason} but does not break that rule: ${[date, delay, distance, origin, destination].join(',')}`).toBe(true);
    }
  });
});

describe('valid rows', () => {
  it('all obey every rule: date in range, plausible delay and distance, known distinct airports', SCAN, () => {
    const problems: string[] = [];
    const note = (msg: string): void => {
      if (problems.length < 10) problems.push(msg);
    };
    let rows = 0;
    const routes = new Set<string>();
    for (const file of partitions('build/valid')) {
      const month = monthOf(file);
      // Per-value memos: 3M rows share ~45k minutes per month and ~3.4k routes.
      const dates = new Map<string, boolean>();
      rows += scanLines(file, ['row', 'date', 'delay', 'distance', 'origin', 'destination'], (line) => {
        const c1 = line.indexOf(',');
        const c2 = line.indexOf(',', c1 + 1);
        const c3 = line.indexOf(',', c2 + 1);
        const c4 = line.indexOf(',', c3 + 1);
        const date = line.slice(c1 + 1, c2);
        let dateOk = dates.get(date);
        if (dateOk === undefined) {
          dateOk = ISO.test(date) && date >= rules.dateFrom && date < rules.dateTo && date.startsWith(month);
          dates.set(date, dateOk);
        }
        if (!dateOk) note(`${line}: date outside [${rules.dateFrom}, ${rules.dateTo}) or not in partition ${month}`);
        const delay = line.slice(c2 + 1, c3);
        const d = Number(delay);
        if (!INT.test(delay) || d < rules.minDelay || d > rules.maxDelay) note(`${line}: delay ${delay}`);
        const distance = line.slice(c3 + 1, c4);
        const km = Number(distance);
        if (!INT.test(distance) || km <= 0 || km > rules.maxDistance) note(`${line}: distance ${distance}`);
        routes.add(line.slice(c4 + 1));
      });
    }
    for (const route of routes) {
      const [origin, destination, extra] = route.split(',');
      if (extra !== undefined || !origin || !destination) note(`route "${route}": not two codes`);
      else if (!airports.has(origin) || !airports.has(destination)) note(`route ${route}: airport not in airports.csv`);
      else if (origin === destination) note(`route ${route}: origin = destination`);
    }
    expect(rows, 'no valid rows scanned').toBeGreaterThan(0);
    expect(problems, `valid rows that break a rule (first 10 shown)`).toEqual([]);
  });
});
