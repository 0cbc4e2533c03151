// The correctness oracle (property-based): random pipelines, random edit sequences; after
// every edit an incremental run must equal a clean build byte for byte and run exactly the
// steps that had a reason to run. See oracle-driver.ts for the checks, docs/reliability.md
// for the numbers. CI runs a small budget; the long variant:
//   BATCH_ORACLE_RUNS=500 BATCH_ORACLE_MAX_STEPS=30 BATCH_ORACLE_ROUNDS=8 npx vitest run tests/engine/reliability/oracle.test.ts
// Replay a failure with BATCH_ORACLE_SEED (and BATCH_ORACLE_PATH) from the report.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newStats, runCase } from './oracle-driver.js';
import { caseArb } from './oracle-world.js';

const num = (name: string, dflt: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Number(v);
};
const RUNS = num('BATCH_ORACLE_RUNS', 10);
const MAX_STEPS = num('BATCH_ORACLE_MAX_STEPS', 8);
const ROUNDS = num('BATCH_ORACLE_ROUNDS', 4);
const seed = process.env.BATCH_ORACLE_SEED;
const replayPath = process.env.BATCH_ORACLE_PATH;

describe('correctness oracle', () => {
  it(`${RUNS} random pipelines (≤ ${MAX_STEPS} steps, ≤ ${ROUNDS} edit rounds each): incremental = clean build, minimal reruns`, async () => {
    const stats = newStats();
    const t0 = Date.now();
    await fc.assert(
      fc.asyncProperty(caseArb(MAX_STEPS, ROUNDS), (c) => runCase(c, stats)),
      {
        numRuns: RUNS,
        // Shrinking replays real batch processes: off unless asked for.
        endOnFailure: process.env.BATCH_ORACLE_SHRINK !== '1',
        ...(seed !== undefined ? { seed: Number(seed) } : {}),
        ...(replayPath !== undefined ? { path: replayPath } : {}),
      },
    );
    console.log(`oracle: ${JSON.stringify({ ...stats, seconds: Math.round((Date.now() - t0) / 1000) })}`);
    expect(stats.cases).toBe(RUNS);
    expect(stats.decisionsChecked).toBeGreaterThan(0);
  }, 60_000 + RUNS * ROUNDS * 30_000);

  // The same property with the incremental runs served by a project daemon: its warm stats,
  // loaded Batchfile and per-client environment must change nothing a run decides or writes.
  const DAEMON_RUNS = num('BATCH_ORACLE_DAEMON_RUNS', Math.max(1, Math.round(RUNS / 2)));
  it(`${DAEMON_RUNS} random pipelines through a project daemon: incremental = clean build, minimal reruns`, async () => {
    const stats = newStats();
    const t0 = Date.now();
    await fc.assert(
      fc.asyncProperty(caseArb(MAX_STEPS, ROUNDS), (c) => runCase(c, stats, { daemon: true })),
      {
        numRuns: DAEMON_RUNS,
        endOnFailure: process.env.BATCH_ORACLE_SHRINK !== '1',
        ...(seed !== undefined ? { seed: Number(seed) } : {}),
        ...(replayPath !== undefined ? { path: replayPath } : {}),
      },
    );
    console.log(`oracle (daemon): ${JSON.stringify({ ...stats, seconds: Math.round((Date.now() - t0) / 1000) })}`);
    expect(stats.cases).toBe(DAEMON_RUNS);
    expect(stats.decisionsChecked).toBeGreaterThan(0);
  }, 60_000 + DAEMON_RUNS * ROUNDS * 30_000);
});
