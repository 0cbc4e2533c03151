// The check gate: at most `limit` entries inside at once, the rest admitted first come first
// served as places are left; leaving twice gives back one place, not two.
import { describe, expect, it } from 'vitest';
import { CheckGate } from '../../../src/schedule/check-gate.js';

/** Lets every promise callback queued so far run (the gate resolves waiters with promises). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('check gate', () => {
  it('admits `limit` at once, then one waiter per place left, in the order they came', async () => {
    const gate = new CheckGate(2);
    const admitted: string[] = [];
    const leaves = new Map<string, () => void>();
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      void gate.enter().then((leave) => {
        admitted.push(name);
        leaves.set(name, leave);
      });
    }
    await settle();
    expect(admitted).toEqual(['a', 'b']);
    leaves.get('b')!();
    await settle();
    expect(admitted).toEqual(['a', 'b', 'c']);
    // Leaving again gives back nothing more.
    leaves.get('b')!();
    await settle();
    expect(admitted).toEqual(['a', 'b', 'c']);
    leaves.get('a')!();
    leaves.get('c')!();
    await settle();
    expect(admitted).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Both inside now; once they leave, a newcomer goes straight in.
    leaves.get('d')!();
    leaves.get('e')!();
    const leave = await gate.enter();
    const late: string[] = [];
    void gate.enter().then(() => late.push('g'));
    void gate.enter().then(() => late.push('h'));
    await settle();
    expect(late).toEqual(['g']);
    leave();
    await settle();
    expect(late).toEqual(['g', 'h']);
  });
});
