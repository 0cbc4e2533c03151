// Step 5 — bootstrap (one shard): percentile bootstrap CI of the mean departure
// delay per origin airport. This is the CPU-heavy step: resamples × flights random
// draws (~3 billion on the full data). Batchfile.ts declares it N times with
// params {shard, shards}; each shard is its own `run` step, so the engine's
// worker pool runs them on separate threads at once.
//
// Each origin gets its own PRNG seeded from (seed, origin code), so an origin's
// interval does not depend on which shard computed it or on the shard count.
import { readFile } from 'node:fs/promises';
import { defineStep } from 'batchfile';
import { CI_COLUMNS, assignShards, checkBootstrapParams, readDelayIndex } from './lib/bootstrap.js';
import type { ShardParams } from './lib/bootstrap.js';
import { checkAbort, inputMatching, writeFileAtomic } from './lib/io.js';
import { fixed } from './lib/flights.js';
import { fnv1a, xoshiro128Seed } from './lib/random.js';

const TWO_POW_MINUS_32 = 2 ** -32;

/** Type-7 (linear interpolation) quantile of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const a = sorted[lo]!;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)]!;
  return a + (h - lo) * (b - a);
}

/**
 * Means of `resamples` bootstrap resamples (n draws with replacement) of `values`.
 * The PRNG is xoshiro128** with its state in locals (see lib/random.ts).
 */
function bootstrapMeans(values: Int32Array, resamples: number, seed: number, signal: AbortSignal): Float64Array {
  const n = values.length;
  const means = new Float64Array(resamples);
  let [s0, s1, s2, s3] = xoshiro128Seed(seed);
  for (let b = 0; b < resamples; b++) {
    if ((b & 63) === 0) checkAbort(signal);
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const x = Math.imul(s1, 5);
      const r = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      // r * n < 2^53 is exact in a double, and * 2^-32 is exact: this is floor(r * n / 2^32), an index in [0, n).
      sum += values[(r * n * TWO_POW_MINUS_32) | 0]!;
    }
    means[b] = sum / n;
  }
  return means;
}

export default defineStep<ShardParams>(async (ctx) => {
  const p = ctx.params;
  checkBootstrapParams(p);
  if (!Number.isInteger(p.shards) || p.shards < 1 || !Number.isInteger(p.shard) || p.shard < 0 || p.shard >= p.shards) {
    throw new Error(`bad shard ${p.shard} of ${p.shards}`);
  }
  const index = await readDelayIndex(inputMatching(ctx, /origin_delays\.json$/, 'the delay index'));
  const bin = await readFile(inputMatching(ctx, /origin_delays\.bin$/, 'the packed delays'));
  if (bin.byteLength !== index.total * 4) throw new Error(`origin_delays.bin has ${bin.byteLength} bytes, index says ${index.total} int32 values`);
  // Copy into an aligned buffer: a Buffer from readFile may start at any byte offset.
  const delays = new Int32Array(new Uint8Array(bin).buffer, 0, index.total);
  if (ctx.outputs.length !== 1 || ctx.outputs[0] === undefined) throw new Error('a bootstrap shard declares exactly one output');
  const outFile = ctx.outputs[0];

  const mine = assignShards(index.origins, p.minFlights, p.shards)[p.shard] ?? [];
  const alpha = 1 - p.confidence;
  const rows: string[] = [];
  let draws = 0;
  const t0 = performance.now();
  for (const o of mine) {
    const values = delays.subarray(o.offset, o.offset + o.count);
    const means = bootstrapMeans(values, p.resamples, fnv1a(`${p.seed}:${o.origin}`), ctx.signal);
    let m = 0;
    for (const v of means) m += v;
    m /= means.length;
    let ss = 0;
    for (const v of means) ss += (v - m) ** 2;
    means.sort();
    const mean = o.sum / o.count;
    rows.push(
      [o.origin, o.count, fixed(mean, 4), fixed(quantile(means, alpha / 2), 4), fixed(quantile(means, 1 - alpha / 2), 4), fixed(Math.sqrt(ss / (means.length - 1)), 4), p.resamples].join(','),
    );
    draws += o.count * p.resamples;
  }
  await writeFileAtomic(outFile, `${CI_COLUMNS.join(',')}\n${rows.map((r) => `${r}\n`).join('')}`);
  const secs = (performance.now() - t0) / 1000;
  ctx.log(`shard ${p.shard}/${p.shards}: ${mine.length} origins, ${(draws / 1e6).toFixed(0)}M draws in ${secs.toFixed(1)}s`);
});
