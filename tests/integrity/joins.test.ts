// The airport join is complete and correct: no empty keys or states, coordinates
// as in airports.csv, and the great-circle distance agrees with the distance BTS
// reports for the route (a swapped or mismatched join would break that at once).
import { describe, expect, it } from 'vitest';
import { SCAN, col, partitions, readAirports, readCsv, scanLines } from './helpers.js';

const ENRICHED = ['row', 'date', 'delay', 'distance', 'origin', 'destination', 'origin_state', 'dest_state', 'origin_lat', 'origin_lon', 'dest_lat', 'dest_lon', 'gc_miles'];
const airports = readAirports();
const STATE = /^[A-Z]{2}$/;

/** Haversine, in statute miles: recomputed here, not imported from the pipeline. */
function greatCircle(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const r = Math.PI / 180;
  const h = Math.sin(((lat2 - lat1) * r) / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(((lon2 - lon1) * r) / 2) ** 2;
  return 2 * 3958.7613 * Math.asin(Math.min(1, Math.sqrt(h)));
}

describe('enriched rows', () => {
  it('every row carries the join of its route, the same on every row, with both airports\u2019 states and coordinates from airports.csv', SCAN, () => {
    // The join columns are a function of (origin, destination): collect each route's
    // join once, insist every row of that route carries the same one, then check it.
    const joinByRoute = new Map<string, string>();
    const problems: string[] = [];
    let rows = 0;
    for (const file of partitions('build/enriched')) {
      rows += scanLines(file, ENRICHED, (line) => {
        let at = -1;
        for (let k = 0; k < 4; k++) at = line.indexOf(',', at + 1); // end of `distance`
        const routeEnd = line.indexOf(',', line.indexOf(',', at + 1) + 1);
        const route = line.slice(at + 1, routeEnd);
        const join = line.slice(routeEnd + 1);
        const seen = joinByRoute.get(route);
        if (seen === undefined) joinByRoute.set(route, join);
        else if (seen !== join && problems.length < 10) problems.push(`${route}: join "${join}" differs from an earlier row's "${seen}"`);
      });
    }
    expect(rows, 'no enriched rows').toBeGreaterThan(0);
    for (const [route, join] of joinByRoute) {
      const [origin, destination] = route.split(',') as [string, string];
      const f = join.split(',');
      const [os, ds, olat, olon, dlat, dlon, gc] = f.map((v, i) => (i < 2 ? v : Number(v))) as [string, string, number, number, number, number, number];
      const o = airports.get(origin);
      const d = airports.get(destination);
      if (f.length !== 7 || f.some((v) => v === '')) problems.push(`${route}: join has empty fields: ${join}`);
      else if (!o || !d) problems.push(`${route}: airport not in airports.csv`);
      else if (!STATE.test(os) || !STATE.test(ds)) problems.push(`${route}: states ${os}, ${ds}`);
      else if ([o.lat - olat, o.lon - olon, d.lat - dlat, d.lon - dlon].some((x) => !(Math.abs(x) <= 1e-4))) problems.push(`${route}: joined coordinates ${olat},${olon} → ${dlat},${dlon} are not those in airports.csv`);
      else if (!(Math.abs(greatCircle(o.lat, o.lon, d.lat, d.lon) - gc) <= 0.1)) problems.push(`${route}: gc_miles ${gc}, haversine of airports.csv gives ${greatCircle(o.lat, o.lon, d.lat, d.lon).toFixed(2)}`);
    }
    expect(problems.slice(0, 10), 'join problems (first 10 shown)').toEqual([]);
  });
});

describe('routes', () => {
  const routes = readCsv('build/agg/routes.csv');
  const i = (c: string): number => col(routes, c);

  it('each route has one reported distance', () => {
    const varying = routes.rows.filter((r) => r[i('distance_min')] !== r[i('distance_max')]).map((r) => `${r[0]}-${r[1]}: ${r[i('distance_min')]}..${r[i('distance_max')]}`);
    expect(varying, 'routes whose reported distance varies between flights').toEqual([]);
  });

  it('great-circle distance from the joined coordinates matches the reported distance (within 2% or 5 miles)', () => {
    const off = routes.rows
      .map((r) => ({ route: `${r[i('origin')]}-${r[i('destination')]}`, reported: Number(r[i('distance_min')]), gc: Number(r[i('gc_miles')]) }))
      .filter(({ reported, gc }) => !(Math.abs(gc - reported) <= Math.max(5, 0.02 * reported)))
      .map(({ route, reported, gc }) => `${route}: reported ${reported} mi, great-circle ${gc} mi`);
    expect(off, 'routes whose joined coordinates disagree with the reported distance').toEqual([]);
  });

  it('states on routes are the airports\u2019 states', () => {
    const wrong = routes.rows.filter((r) => {
      const o = airports.get(r[i('origin')]!);
      const d = airports.get(r[i('destination')]!);
      // airports.csv says "NA" for a few states; the Batchfile overrides those, so only compare real states.
      const bad = (a: typeof o, s: string): boolean => !a || !STATE.test(s) || (a.state !== 'NA' && a.state !== s);
      return bad(o, r[i('origin_state')]!) || bad(d, r[i('dest_state')]!);
    });
    expect(wrong.map((r) => r.slice(0, 4).join(',')), 'routes with a state that is not the airport\u2019s').toEqual([]);
  });
});

describe('output tables', () => {
  it('name only airports that exist in airports.csv', () => {
    const unknown = new Set<string>();
    for (const [table, cols] of [
      ['output/origin_month.csv', ['origin']],
      ['output/routes.csv', ['origin', 'destination']],
      ['output/airport_delay_ci.csv', ['origin']],
    ] as const) {
      const t = readCsv(table);
      for (const c of cols) for (const r of t.rows) if (!airports.has(r[col(t, c)]!)) unknown.add(`${table}: ${r[col(t, c)]}`);
    }
    expect([...unknown], 'unjoined airport codes in the exports').toEqual([]);
  });
});
