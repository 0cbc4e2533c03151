// Shared by the bootstrap shards and their merge step: the parameters, the
// per-origin delay index written by aggregate, and which shard owns which origin.
import { readFile } from 'node:fs/promises';

export type BootstrapParams = {
  /** Bootstrap resamples per origin. */
  resamples: number;
  /** Two-sided confidence level of the percentile interval, e.g. 0.95. */
  confidence: number;
  /** Origins with fewer departures are skipped: a CI from a handful of flights says little. */
  minFlights: number;
  seed: number;
};

export type ShardParams = BootstrapParams & { shard: number; shards: number };

export const CI_COLUMNS = ['origin', 'flights', 'mean_delay', 'ci_low', 'ci_high', 'std_error', 'resamples'] as const;

export interface OriginEntry {
  origin: string;
  offset: number;
  count: number;
  sum: number;
}

export interface DelayIndex {
  dtype: 'int32le';
  total: number;
  origins: OriginEntry[];
}

export async function readDelayIndex(file: string): Promise<DelayIndex> {
  const idx = JSON.parse(await readFile(file, 'utf8')) as DelayIndex;
  if (idx.dtype !== 'int32le' || !Array.isArray(idx.origins)) throw new Error(`${file}: not an int32le delay index`);
  return idx;
}

/**
 * Origins this shard computes. Longest-processing-time-first: biggest origins
 * first, each to the least-loaded shard (ties to the lowest shard), so shards
 * finish at about the same time even though ORD alone has 5.5% of the departures.
 * Every shard computes the same plan, so they agree without talking.
 */
export function assignShards(origins: readonly OriginEntry[], minFlights: number, shards: number): OriginEntry[][] {
  const eligible = origins.filter((o) => o.count >= minFlights).sort((a, b) => b.count - a.count || (a.origin < b.origin ? -1 : 1));
  const plan: OriginEntry[][] = Array.from({ length: shards }, () => []);
  const load = new Array<number>(shards).fill(0);
  for (const o of eligible) {
    let best = 0;
    for (let s = 1; s < shards; s++) if (load[s]! < load[best]!) best = s;
    plan[best]!.push(o);
    load[best]! += o.count;
  }
  return plan.map((p) => p.sort((a, b) => (a.origin < b.origin ? -1 : 1)));
}

export function checkBootstrapParams(p: BootstrapParams): void {
  if (!Number.isInteger(p.resamples) || p.resamples < 100) throw new Error(`resamples must be an integer >= 100, got ${p.resamples}`);
  if (!(p.confidence > 0 && p.confidence < 1)) throw new Error(`confidence must be in (0, 1), got ${p.confidence}`);
  if (!Number.isInteger(p.minFlights) || p.minFlights < 2) throw new Error(`minFlights must be an integer >= 2, got ${p.minFlights}`);
  if (!Number.isInteger(p.seed)) throw new Error(`seed must be an integer, got ${p.seed}`);
}
