// The final tables under output/: where each comes from and its typed schema.
// Batchfile.ts derives the export step's inputs and outputs from this list, and
// the export step checks every cell against it before writing anything.

export type ColumnType = 'string' | 'int32' | 'float64';

export interface TableSpec {
  /** Build file the table is read from (root-relative). */
  source: string;
  /** Columns in order; every cell must parse as its type and none may be empty. */
  columns: readonly (readonly [name: string, type: ColumnType])[];
  /** Columns that together identify a row (must be unique; they are the "keys"). */
  key: readonly string[];
  description: string;
}

export const TABLES = {
  origin_month: {
    source: 'build/agg/origin_month.csv',
    description: 'Departure delay statistics per origin airport and month',
    key: ['origin', 'month'],
    columns: [
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
  },
  routes: {
    source: 'build/agg/routes.csv',
    description: 'Departure delay statistics per route (origin → destination), with reported and great-circle distance',
    key: ['origin', 'destination'],
    columns: [
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
  },
  airport_delay_ci: {
    source: 'build/delay_ci.csv',
    description: 'Bootstrap percentile confidence interval of the mean departure delay per origin airport',
    key: ['origin'],
    columns: [
      ['origin', 'string'],
      ['flights', 'int32'],
      ['mean_delay', 'float64'],
      ['ci_low', 'float64'],
      ['ci_high', 'float64'],
      ['std_error', 'float64'],
      ['resamples', 'int32'],
    ],
  },
  hourly_delays: {
    source: 'build/hourly.csv',
    description: 'Median and 90th-percentile departure delay by local hour of scheduled departure',
    key: ['hour'],
    columns: [
      ['hour', 'int32'],
      ['flights', 'int32'],
      ['mean_delay', 'float64'],
      ['median_delay', 'float64'],
      ['p90_delay', 'int32'],
      ['min_delay', 'int32'],
      ['max_delay', 'int32'],
      ['share_delayed_15', 'float64'],
    ],
  },
} as const satisfies Record<string, TableSpec>;

export type TableName = keyof typeof TABLES;
export const TABLE_NAMES = Object.keys(TABLES).sort() as TableName[];
export const FORMATS = ['csv', 'json', 'parquet'] as const;
export const OUTPUT_DIR = 'output';
export const MANIFEST = `${OUTPUT_DIR}/manifest.json`;

/** Every file the export step writes, root-relative. */
export function exportOutputs(): string[] {
  return [...TABLE_NAMES.flatMap((t) => FORMATS.map((f) => `${OUTPUT_DIR}/${t}.${f}`)), MANIFEST];
}
