// Step 4 — aggregate: delay statistics by origin × month and by route, plus each
// origin's delays packed as int32 (build/agg/origin_delays.bin + .json index) so
// the bootstrap shards load 12 MB of numbers instead of re-parsing 300 MB of CSV.
import { defineStep } from 'batchfile';
import { checkAbort, forEachCsvRow, inputsMatching, outputEndingWith, writeFileAtomic, writeJsonAtomic } from './lib/io.js';
import { ENRICHED_COLUMNS, PARTITION_RE, columnIndex, fixed, partitionMonth } from './lib/flights.js';

export const ORIGIN_MONTH_COLUMNS = ['origin', 'origin_state', 'month', 'flights', 'delay_sum', 'mean_delay', 'min_delay', 'max_delay', 'delayed_15'] as const;
export const ROUTE_COLUMNS = ['origin', 'destination', 'origin_state', 'dest_state', 'flights', 'delay_sum', 'mean_delay', 'distance_min', 'distance_max', 'gc_miles'] as const;

const C = columnIndex(ENRICHED_COLUMNS);

interface Acc {
  flights: number;
  delaySum: number;
  min: number;
  max: number;
  delayed15: number;
}
const newAcc = (): Acc => ({ flights: 0, delaySum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, delayed15: 0 });
function add(a: Acc, delay: number): void {
  a.flights += 1;
  a.delaySum += delay;
  if (delay < a.min) a.min = delay;
  if (delay > a.max) a.max = delay;
  if (delay >= 15) a.delayed15 += 1; // BTS counts a flight as delayed at 15+ minutes
}

/** Growable int32 buffer (one per origin) so 3M delays never sit in boxed arrays. */
class IntList {
  data = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

const csv = (header: readonly string[], rows: (string | number)[][]): string =>
  `${header.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}${rows.length ? '\n' : ''}`;

export default defineStep(async (ctx) => {
  const partitions = inputsMatching(ctx, PARTITION_RE, 'enriched monthly partitions');
  const originMonthFile = outputEndingWith(ctx, 'origin_month.csv');
  const routesFile = outputEndingWith(ctx, 'routes.csv');
  const delaysBin = outputEndingWith(ctx, 'origin_delays.bin');
  const delaysIndex = outputEndingWith(ctx, 'origin_delays.json');

  const byOriginMonth = new Map<string, Acc & { origin: string; state: string; month: string }>();
  const byRoute = new Map<string, Acc & { origin: string; destination: string; os: string; ds: string; distMin: number; distMax: number; gc: string }>();
  const delaysByOrigin = new Map<string, IntList>();
  let rows = 0;

  for (const file of partitions) {
    checkAbort(ctx.signal);
    const month = partitionMonth(file);
    rows += await forEachCsvRow(file, ENRICHED_COLUMNS, (f) => {
      const origin = f[C.origin]!;
      const destination = f[C.destination]!;
      const delay = Number(f[C.delay]);
      const distance = Number(f[C.distance]);
      if (!Number.isInteger(delay) || !Number.isInteger(distance)) throw new Error(`${file}: row ${f[C.row]} has a non-integer delay or distance`);

      const omKey = `${origin}|${month}`;
      let om = byOriginMonth.get(omKey);
      if (!om) {
        om = { ...newAcc(), origin, state: f[C.origin_state]!, month };
        byOriginMonth.set(omKey, om);
      }
      add(om, delay);

      const rKey = `${origin}-${destination}`;
      let r = byRoute.get(rKey);
      if (!r) {
        r = { ...newAcc(), origin, destination, os: f[C.origin_state]!, ds: f[C.dest_state]!, distMin: distance, distMax: distance, gc: f[C.gc_miles]! };
        byRoute.set(rKey, r);
      }
      add(r, delay);
      // Kept as min/max rather than asserted: a route whose reported distance varies is a data finding the tests report.
      if (distance < r.distMin) r.distMin = distance;
      if (distance > r.distMax) r.distMax = distance;

      let list = delaysByOrigin.get(origin);
      if (!list) {
        list = new IntList();
        delaysByOrigin.set(origin, list);
      }
      list.push(delay);
    });
  }

  const byKey = <T>(m: Map<string, T>): T[] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  const omRows = byKey(byOriginMonth).map((a) => [a.origin, a.state, a.month, a.flights, a.delaySum, fixed(a.delaySum / a.flights, 4), a.min, a.max, a.delayed15]);
  const routeRows = byKey(byRoute).map((a) => [a.origin, a.destination, a.os, a.ds, a.flights, a.delaySum, fixed(a.delaySum / a.flights, 4), a.distMin, a.distMax, a.gc]);
  await writeFileAtomic(originMonthFile, csv(ORIGIN_MONTH_COLUMNS, omRows));
  await writeFileAtomic(routesFile, csv(ROUTE_COLUMNS, routeRows));

  // Pack delays origin by origin (sorted by code); the index says where each one starts.
  const origins = [...delaysByOrigin.keys()].sort();
  const packed = new Int32Array(rows);
  const index: { origin: string; offset: number; count: number; sum: number }[] = [];
  let offset = 0;
  for (const origin of origins) {
    const list = delaysByOrigin.get(origin)!;
    packed.set(list.data.subarray(0, list.length), offset);
    let sum = 0;
    for (let i = 0; i < list.length; i++) sum += list.data[i]!;
    index.push({ origin, offset, count: list.length, sum });
    offset += list.length;
  }
  if (offset !== rows) throw new Error(`packed ${offset} delays for ${rows} rows`);
  // Int32Array bytes are platform-endian; every platform Node ships on is little-endian, and the index says so.
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('big-endian platform not supported');
  await writeFileAtomic(delaysBin, new Uint8Array(packed.buffer));
  await writeJsonAtomic(delaysIndex, { dtype: 'int32le', total: rows, origins: index });

  ctx.log(`${rows} rows → ${omRows.length} origin×month rows, ${routeRows.length} routes, ${origins.length} origins`);
});
