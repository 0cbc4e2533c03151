// Step 3 — enrich: join each valid flight with airports.csv for both ends: state,
// coordinates, and the great-circle distance between them (build/enriched/).
//
// airports.csv says "NA" for a few states (MQT, Marquette County, MI, has 220
// flights). `stateOverrides` fills such gaps explicitly in the Batchfile; an
// airport that is used but still has no state fails the step, so a new gap in
// the reference data is noticed instead of leaking empty keys downstream.
import path from 'node:path';
import { defineStep } from 'batchfile';
import { greatCircleMiles, loadAirports } from './lib/airports.js';
import type { Airport } from './lib/airports.js';
import { CsvWriter, checkAbort, forEachCsvRow, inputMatching, inputsMatching, outputEndingWith, replaceDir } from './lib/io.js';
import { ENRICHED_COLUMNS, PARTITION_RE, VALID_COLUMNS, columnIndex, fixed, partitionMonth, partitionName } from './lib/flights.js';

export type EnrichParams = {
  /** IATA code → two-letter state, for airports whose state airports.csv lacks. */
  stateOverrides: { [iata: string]: string };
};

const C = columnIndex(VALID_COLUMNS);

/** What a flight row gets from one airport, pre-formatted once per airport. */
interface Side {
  state: string;
  lat: string;
  lon: string;
  airport: Airport;
}

export default defineStep<EnrichParams>(async (ctx) => {
  const partitions = inputsMatching(ctx, PARTITION_RE, 'valid monthly partitions');
  const airports = await loadAirports(inputMatching(ctx, /airports\.csv$/, 'the airports table'));
  const enrichedDir = outputEndingWith(ctx, 'enriched/');

  for (const [iata, state] of Object.entries(ctx.params.stateOverrides)) {
    const a = airports.get(iata);
    if (!a) throw new Error(`stateOverrides: ${iata} is not in airports.csv`);
    if (!/^[A-Z]{2}$/.test(state)) throw new Error(`stateOverrides: ${iata} → "${state}" is not a two-letter state`);
    // An override that contradicts the file is stale: the file was fixed or the override is wrong.
    if (a.state !== null && a.state !== state) throw new Error(`stateOverrides: ${iata} → ${state}, but airports.csv says ${a.state}`);
  }

  const sides = new Map<string, Side>();
  const stateless = new Map<string, number>();
  const side = (code: string): Side | undefined => {
    let s = sides.get(code);
    if (s) return s;
    const a = airports.get(code);
    // validate already rejected unknown codes; seeing one here means the inputs are out of step.
    if (!a) throw new Error(`airport ${code} not in airports.csv (validate should have rejected it)`);
    const state = a.state ?? ctx.params.stateOverrides[code];
    if (state === undefined) {
      stateless.set(code, (stateless.get(code) ?? 0) + 1);
      return undefined;
    }
    if (!/^[A-Z]{2}$/.test(state)) throw new Error(`airport ${code}: state "${state}" is not a two-letter code`);
    s = { state, lat: fixed(a.lat, 5), lon: fixed(a.lon, 5), airport: a };
    sides.set(code, s);
    return s;
  };
  const gcByRoute = new Map<string, string>();

  let rows = 0;
  await replaceDir(enrichedDir, async (tmpDir) => {
    for (const file of partitions) {
      checkAbort(ctx.signal);
      const month = partitionMonth(file);
      const out = CsvWriter.create(path.join(tmpDir, partitionName(month)), ENRICHED_COLUMNS);
      try {
        const n = await forEachCsvRow(file, VALID_COLUMNS, (f, _lineNo, line) => {
          const origin = f[C.origin]!;
          const destination = f[C.destination]!;
          const o = side(origin);
          const d = side(destination);
          if (!o || !d) return; // counted in `stateless`; the step fails below with the list
          const route = `${origin}-${destination}`;
          let gc = gcByRoute.get(route);
          if (gc === undefined) {
            gc = fixed(greatCircleMiles(o.airport.lat, o.airport.lon, d.airport.lat, d.airport.lon), 1);
            gcByRoute.set(route, gc);
          }
          // The valid line's fields are checked numbers and codes, states are checked below: no quoting needed.
          out.writeLine(`${line},${o.state},${d.state},${o.lat},${o.lon},${d.lat},${d.lon},${gc}`);
        });
        if (stateless.size > 0) {
          const list = [...stateless].map(([c, k]) => `${c} (${k} flight ends)`).join(', ');
          throw new Error(`airports with no state in airports.csv: ${list}; add them to enrich.params.stateOverrides`);
        }
        out.close();
        rows += n;
        ctx.log(`${path.basename(file)}: ${n} rows enriched`);
      } catch (err) {
        out.abort();
        throw err;
      }
    }
  });
  ctx.log(`enriched ${rows} rows; ${sides.size} airports, ${gcByRoute.size} routes`);
});
