// Plain progress (CI, a pipe): during a run, the lines of steps that start and end are
// written together (one write per batch, not two system calls per step), in order, within
// PLAIN_FLUSH_MS, and always before the run's end and before the tests' own output; outside
// a run (watch mode's messages) a line is written at once.
import { describe, expect, it } from 'vitest';
import { Progress, PLAIN_FLUSH_MS } from '../../../src/report/progress.js';
import { makeStyle } from '../../../src/report/style.js';
import type { RunEvent } from '../../../src/schedule/events.js';
import type { StepResult } from '../../../src/store/types.js';

function recorder(): { writes: string[]; out: { write(t: string): void } } {
  const writes: string[] = [];
  return { writes, out: { write: (t: string) => void writes.push(t) } };
}

const ended = (name: string): RunEvent => ({ type: 'step-end', result: { name, status: 'PASS', action: 'ran', reason: 'r', durationMs: 3 } satisfies StepResult });

describe('plain progress', () => {
  it('batches the lines of a run into few writes, in order, flushed in time and at the end', async () => {
    const { writes, out } = recorder();
    const p = new Progress(out, makeStyle(false), false);
    p.on({ type: 'run-start', runId: 'r', steps: ['a', 'b', 'c'], jobs: 2, startedAt: 0 });
    for (const s of ['a', 'b']) {
      p.on({ type: 'step-start', step: s, attempt: 1, reasons: ['new'] });
      p.on(ended(s));
    }
    expect(writes).toEqual([]);
    // Written by the timer without anything else happening.
    const until = Date.now() + PLAIN_FLUSH_MS * 50;
    while (writes.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(writes).toEqual(['▶ a: new\n✓ a 3ms\n▶ b: new\n✓ b 3ms\n']);
    p.on({ type: 'step-start', step: 'c', attempt: 1, reasons: ['new'] });
    p.on(ended('c'));
    p.on({ type: 'run-end', record: {} as never, results: [] });
    expect(writes.join('')).toBe('▶ a: new\n✓ a 3ms\n▶ b: new\n✓ b 3ms\n▶ c: new\n✓ c 3ms\n');
    expect(writes).toHaveLength(2);
    // Between runs (watch mode's messages): at once.
    p.print('stopped watching');
    expect(writes.at(-1)).toBe('stopped watching\n');
  });

  it("the tests' start line is written before the tests print", () => {
    const { writes, out } = recorder();
    const p = new Progress(out, makeStyle(false), false);
    p.on({ type: 'run-start', runId: 'r', steps: ['a'], jobs: 1, startedAt: 0 });
    p.on({ type: 'step-start', step: 'a', attempt: 1, reasons: ['new'] });
    p.on(ended('a'));
    p.on({ type: 'tests-start', files: ['t.test.ts'] });
    expect(writes.join('')).toBe('▶ a: new\n✓ a 3ms\n▶ integrity tests (1 file)\n');
  });
});
