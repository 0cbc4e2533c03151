// The example pipeline: three million U.S. flights (BTS, first half of 2001, from
// the vega-datasets package) → validated, joined with airports, aggregated, with
// bootstrap confidence intervals and hourly percentiles → tables under output/.
// See docs/example-pipeline.md for the data, each step and the integrity tests.
//
// This file is code: the bootstrap is declared as SHARDS parallel steps in a
// loop, and the export step's outputs come from the table list in steps/lib/tables.ts.
import { defineBatch } from 'batchfile';
import type { RunStepDef } from 'batchfile';
import type { BootstrapParams } from './steps/lib/bootstrap.js';
import { TABLES, TABLE_NAMES, exportOutputs } from './steps/lib/tables.js';

const FLIGHTS = 'node_modules/vega-datasets/data/flights-3m.parquet';
const AIRPORTS = 'node_modules/vega-datasets/data/airports.csv';

/** Bootstrap shards: each is a `run` step on its own worker thread. A tuple, not a
 * number, so the shard step names are literal types ('bootstrap-0' | … ) that
 * `dependsOn` and the CLI's step names can be checked against. */
const SHARD_IDS = [0, 1, 2, 3] as const;
const SHARDS = SHARD_IDS.length;
const bootstrap: BootstrapParams = { resamples: 1000, confidence: 0.95, minFlights: 30, seed: 2001 };
const shardFile = (i: number): string => `build/bootstrap/shard-${i}-of-${SHARDS}.csv`;

type ShardName = `bootstrap-${(typeof SHARD_IDS)[number]}`;
const shardSteps = Object.fromEntries(
  SHARD_IDS.map((shard): [ShardName, RunStepDef<never>] => [
    `bootstrap-${shard}`,
    {
      run: 'steps/05-bootstrap.ts',
      description: `Bootstrap CI of mean delay per origin, shard ${shard + 1} of ${SHARDS} (CPU-bound)`,
      inputs: ['build/agg/origin_delays.bin', 'build/agg/origin_delays.json'],
      outputs: [shardFile(shard)],
      params: { ...bootstrap, shard, shards: SHARDS },
      timeout: '10m',
    },
  ]),
) as Record<ShardName, RunStepDef<never>>;

const pipeline = defineBatch({
  steps: {
    ingest: {
      run: 'steps/01-ingest.ts',
      description: 'Parquet → monthly CSV partitions (FLIGHTS_SAMPLE=N keeps a systematic sample of N rows)',
      inputs: [FLIGHTS],
      outputs: ['build/raw/', 'build/ingest.json'],
      env: ['FLIGHTS_SAMPLE'],
      timeout: '5m',
    },
    validate: {
      run: 'steps/02-validate.ts',
      description: 'Typed row checks; good rows on, rejects with their reason',
      inputs: ['build/raw/', AIRPORTS],
      outputs: ['build/valid/', 'build/rejects.csv', 'build/validate.json'],
      // The data covers January–June 2001 (local time); a flight leaving more than
      // two hours early or 30 hours late is a recording error, not a delay.
      params: { dateFrom: '2001-01-01', dateTo: '2001-07-01', minDelay: -120, maxDelay: 1800, maxDistance: 6000 },
      timeout: '5m',
    },
    enrich: {
      run: 'steps/03-enrich.ts',
      description: 'Join airports: states, coordinates, great-circle distance',
      inputs: ['build/valid/', AIRPORTS],
      outputs: ['build/enriched/'],
      // airports.csv has state "NA" for Marquette County (MQT), which is in Michigan.
      params: { stateOverrides: { MQT: 'MI' } },
      timeout: '5m',
    },
    aggregate: {
      run: 'steps/04-aggregate.ts',
      description: 'Delay statistics by origin × month and by route; packed delays per origin',
      inputs: ['build/enriched/'],
      outputs: ['build/agg/origin_month.csv', 'build/agg/routes.csv', 'build/agg/origin_delays.bin', 'build/agg/origin_delays.json'],
      timeout: '5m',
    },
    ...shardSteps,
    'bootstrap-merge': {
      run: 'steps/05-bootstrap-merge.ts',
      description: `Merge the ${SHARDS} bootstrap shards; check every eligible origin is covered once`,
      inputs: ['build/agg/origin_delays.json', ...SHARD_IDS.map(shardFile)],
      outputs: [TABLES.airport_delay_ci.source],
      params: { ...bootstrap, shards: SHARDS },
    },
    hourly: {
      // Python, standard library only; the file name has spaces, so it is quoted.
      command: `python3 "steps/06 hourly delays.py" build/valid ${TABLES.hourly_delays.source}`,
      description: 'Median and p90 delay by hour of day (Python)',
      inputs: ['build/valid/'],
      outputs: [TABLES.hourly_delays.source],
      timeout: '5m',
    },
    export: {
      run: 'steps/07-export.ts',
      description: 'Final tables as CSV, JSON and Parquet (read back and verified) + manifest',
      inputs: [...TABLE_NAMES.map((t) => TABLES[t].source), 'build/ingest.json', 'build/validate.json'],
      outputs: exportOutputs(),
    },
  },
});

export default defineBatch({
  ...pipeline,
  tests: {
    files: ['tests/integrity/**/*.test.ts'],
    // What the tests read, so the engine reruns them when any of it changes: every
    // step output (the default) plus the source files. (Files beside the tests, such as
    // tests/integrity/helpers.ts, always count.)
    inputs: [...new Set(Object.values(pipeline.steps).flatMap((s) => s.outputs ?? [])), FLIGHTS, AIRPORTS],
  },
});
