// kill -9 of batch at random moments, a few trials in CI: bench/kill-trials.mjs (the long
// variant runs 60: `node bench/kill-trials.mjs --trials 60`) kills a run of a small pipeline of
// every step kind, then checks that the next run exits 0 (store opens, stale lock taken over),
// equals a clean build byte for byte, that a run after it is a no-op, and that no process of
// the killed run is left. Kills at a chosen moment mid-step are in the oracle (oracle.test.ts).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../rig.js';

interface Summary {
  trials: number;
  killedMidRun: number;
  failed: number;
  failures: unknown[];
}

function trials(n: number, seed: number): Promise<{ code: number | null; summary: Summary; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO, 'bench/kill-trials.mjs'), '--trials', String(n), '--seed', String(seed), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      try {
        resolve({ code, summary: JSON.parse(stdout) as Summary, stderr });
      } catch {
        reject(new Error(`kill-trials printed no JSON (exit ${code}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

describe('kill -9 at random moments', () => {
  it('4 trials: every next run converges to the clean build, then rests', async () => {
    const r = await trials(4, 20261127);
    expect(r.summary.failures, r.stderr).toEqual([]);
    expect(r.summary.trials).toBe(4);
    expect(r.code).toBe(0);
  }, 240_000);
});
