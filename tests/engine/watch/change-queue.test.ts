// The debounce and the one-follow-up rule, on fake timers (no process, no sleeps).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangeQueue } from '../../../src/watch/change-queue.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Whether `next()` has resolved after the timers advanced by `ms`. */
async function dueAfter(q: ChangeQueue, signal: AbortSignal, ms: number): Promise<boolean> {
  let due = false;
  const p = q.next(signal).then(() => (due = true));
  await vi.advanceTimersByTimeAsync(ms);
  if (!due) return false;
  await p;
  return true;
}

describe('ChangeQueue', () => {
  it('waits for the debounce after the last change of a burst', async () => {
    const signal = new AbortController().signal;
    const q = new ChangeQueue(100, signal);
    q.add('a', false);
    await vi.advanceTimersByTimeAsync(60);
    q.add('b', false);
    expect(await dueAfter(q, signal, 60)).toBe(false);
    expect(await dueAfter(q, signal, 50)).toBe(true);
    expect(q.take()).toEqual({ paths: ['a', 'b'], batchfile: false, whileRunning: false });
    q.dispose();
  });

  it('does not let a file rewritten every few ms postpone the cycle forever', async () => {
    const signal = new AbortController().signal;
    const q = new ChangeQueue(100, signal);
    let due = false;
    void q.next(signal).then(() => (due = true));
    for (let t = 0; t < 3000 && !due; t += 50) {
      q.add('busy.log', false);
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(due).toBe(true);
    expect(performance.now()).toBeLessThanOrEqual(2050);
    q.dispose();
  });

  it('collects changes during a run into exactly one batch, due when the run ends', async () => {
    const signal = new AbortController().signal;
    const q = new ChangeQueue(100, signal);
    q.setRunning(true);
    for (let i = 0; i < 10; i++) q.add(i % 2 ? 'x' : 'y', false);
    expect(await dueAfter(q, signal, 1000)).toBe(false);
    q.setRunning(false);
    expect(await dueAfter(q, signal, 0)).toBe(true);
    expect(q.take()).toEqual({ paths: ['y', 'x'], batchfile: false, whileRunning: true });
    expect(await dueAfter(q, signal, 1000)).toBe(false);
    q.dispose();
  });

  it('while the Batchfile is broken, only a Batchfile change makes a cycle due, and carries the rest', async () => {
    const signal = new AbortController().signal;
    const q = new ChangeQueue(100, signal);
    q.setBatchfileOnly(true);
    q.add('data.csv', false);
    expect(await dueAfter(q, signal, 500)).toBe(false);
    q.add('Batchfile.ts', true);
    expect(await dueAfter(q, signal, 100)).toBe(true);
    expect(q.take()).toEqual({ paths: ['data.csv', 'Batchfile.ts'], batchfile: true, whileRunning: false });
    q.dispose();
  });

  it('wakes the waiter when the signal is aborted', async () => {
    const ac = new AbortController();
    const q = new ChangeQueue(100, ac.signal);
    const p = q.next(ac.signal);
    ac.abort();
    await expect(p).resolves.toBeUndefined();
    q.dispose();
  });
});
