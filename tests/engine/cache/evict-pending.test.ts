// An eviction must see the entries of this run that still wait in the write batch: it read the
// committed index only, so a blob shared by a waiting entry and an evicted one was deleted and
// the waiting entry committed naming it (found in review: `cache prune` then counted it broken,
// and the cache stayed over its limit).
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

describe('eviction during a run', () => {
  it('never deletes a blob an entry waiting in the write batch names', async () => {
    p = TempProject.create({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({ cache: { maxSize: 100 }, steps: {
  v: { command: 'printf "%040d" 0 > out/v.txt', outputs: ['out/v.txt'] },
  p: { command: 'printf "%040d" 0 > out/p.txt', outputs: ['out/p.txt'] },
  q: { command: 'sleep 0.005 && printf "%070d" 1 > out/q.txt', outputs: ['out/q.txt'] },
}});
`,
      'out/.keep': '',
    });
    // v's entry is committed; then p (the same 40 bytes as v) and q (70 bytes) finish within
    // one write window, and storing q evicts v.
    expect((await p.batch(['v'])).code).toBe(0);
    expect((await p.batch(['-j4'])).code).toBe(0);
    const status = JSON.parse((await p.batch(['cache', 'status', '--json'])).stdout) as { bytes: number; limitBytes: number };
    expect(status.bytes).toBeLessThanOrEqual(status.limitBytes);
    const pruned = JSON.parse((await p.batch(['cache', 'prune', '--max-size', '1000000', '--json'])).stdout) as { broken: number };
    expect(pruned.broken).toBe(0);
  });
});
