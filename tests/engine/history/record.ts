// Builds run history through the real recording code (Recorder over the real LMDB store),
// with chosen durations: the engine's own runs cannot be given exact durations.
import path from 'node:path';
import { Recorder } from '../../../src/store/recorder.js';
import { openStore } from '../../../src/store/store.js';
import type { RunRecord, StepResult, StepState } from '../../../src/store/types.js';

/** A step in a crafted run: a duration (ran and passed), 'skip' (up to date), or a failure. */
export type StepSpec = number | 'skip' | { failMs: number };

export interface RunSpec {
  steps: Record<string, StepSpec>;
  commit?: string;
  flags?: string[];
}

/** Hourly runs from 2020-01-01, so they are older than any real run a test adds. Returns the
 * run ids, oldest first. `legacy`: up-to-date results are written one record each, as
 * batchfile did before it kept them as lists of names (such stores must read the same).
 * `states`: each passed execution also records the step's state, naming its run, as a real
 * run does (what the report follows to the execution whose outputs are current). */
export async function recordRuns(projectDir: string, runs: RunSpec[], opts: { legacy?: boolean; states?: boolean } = {}): Promise<string[]> {
  const store = openStore(path.join(projectDir, '.cache'));
  const ids: string[] = [];
  try {
    for (const [i, spec] of runs.entries()) {
      const startedAt = Date.UTC(2020, 0, 1) + i * 3_600_000;
      const id = `${new Date(startedAt).toISOString().replace(/[-:]/g, '').replace('.', '')}-r${String(i).padStart(3, '0')}`;
      ids.push(id);
      const rec = new Recorder(store, id);
      const counts = { ran: 0, upToDate: 0, restored: 0, failed: 0, blocked: 0, notRun: 0 };
      for (const [name, s] of Object.entries(spec.steps)) {
        let r: StepResult;
        let state: StepState | undefined;
        if (s === 'skip') {
          r = { name, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0 };
          counts.upToDate++;
        } else if (typeof s === 'number') {
          r = { name, status: 'PASS', action: 'ran', reason: 'input changed: in.txt', durationMs: s, startedAt, attempts: 1, logFile: `logs/runs/${id}/${name}.log` };
          counts.ran++;
          if (opts.states) state = { key: `${name}@${id}`, parts: { definition: {}, env: {}, inputs: {}, code: {} }, outputs: {}, runId: id, at: startedAt };
        } else {
          r = { name, status: 'FAIL', action: 'ran', reason: 'exit code 1', error: 'exit code 1', durationMs: s.failMs, startedAt, attempts: 1, logFile: `logs/runs/${id}/${name}.log` };
          counts.failed++;
        }
        if (opts.legacy && s === 'skip') await store.results.put([id, name], r);
        else rec.step(r, state);
      }
      const record: RunRecord = {
        id, startedAt, endedAt: startedAt + 1000, durationMs: 1000, status: counts.failed ? 'FAIL' : 'PASS', flags: spec.flags ?? [], targets: [],
        ...(spec.commit ? { git: { commit: spec.commit, dirty: false } } : {}), host: 'test', cpus: 2, node: process.version, counts,
      };
      await rec.run(record);
    }
  } finally {
    await store.close();
  }
  return ids;
}

/** A 40-hex-digit commit id unique to `i`. */
export function commitOf(i: number): string {
  return `${i.toString(16).padStart(4, '0')}${'c0ffee'.repeat(6)}`.slice(0, 40);
}
