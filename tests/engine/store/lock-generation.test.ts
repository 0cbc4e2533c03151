// The project lock's generation (util/lock-generation.ts): every holder moves it as it takes the
// lock, so that stats taken before a run waited for the lock (the stat helper's) count only if
// nobody held it in between. Found in review: `batch clean` between the helper's stats and the
// run's lock left the run proving every step up to date with the outputs deleted, because the
// old rule only looked for a newer run record.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../../src/store/lock.js';
import { lockGeneration } from '../../../src/util/lock-generation.js';
import { REPO, TempProject } from '../rig.js';

// The built module: it starts dist/stat-many, found beside it.
const { startStatPrefetch, takeStatPrefetch } = (await import(`${REPO}/dist/fingerprint/stat-prefetch.js`)) as typeof import('../../../src/fingerprint/stat-prefetch.js');

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

const BATCHFILE = `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: {
  a: { command: 'cat in.txt > out/a.txt', inputs: ['in.txt'], outputs: ['out/a.txt'] },
}});
`;

describe('the lock generation', () => {
  it('moves with every holder, and each holder learns the one before it', async () => {
    p = TempProject.create({ 'Batchfile.ts': BATCHFILE, 'in.txt': 'x\n', 'out/.keep': '' });
    const cache = p.path('.cache');
    expect(lockGeneration(cache)).toBe('');
    const first = await acquireLock(cache, { wait: false });
    first.release();
    expect(first.generationBefore).toBe('');
    const g1 = lockGeneration(cache);
    expect(g1).not.toBe('');
    // Each holder knows the generation it wrote: the next holder's before.
    expect(first.generation).toBe(g1);
    const second = await acquireLock(cache, { wait: false });
    second.release();
    expect(second.generationBefore).toBe(g1);
    const g2 = lockGeneration(cache);
    expect(g2).not.toBe(g1);
    expect(second.generation).toBe(g2);
    // A holder that records no run moves it too.
    expect((await p.batch(['clean'])).code).toBe(0);
    expect(lockGeneration(cache)).not.toBe(g2);
  });

  it("the helper's stats are tied to the generation they were taken under: `batch clean` in between shows", async () => {
    p = TempProject.create({ 'Batchfile.ts': BATCHFILE, 'in.txt': 'x\n', 'out/.keep': '' });
    const cache = p.path('.cache');
    // A no-op proven step by step, of a config from the config cache, writes the no-op record
    // (with no racy window, a few runs at most: noop-record.test.ts).
    for (let i = 0; i < 5 && !fs.existsSync(p.path('.cache/batchfile/noop.bin')); i++) {
      expect((await p.run([], { env: { BATCH_RACY_WINDOW_MS: '0' } })).code).toBe(0);
    }
    expect(fs.existsSync(p.path('.cache/batchfile/noop.bin'))).toBe(true);
    const before = lockGeneration(cache);
    startStatPrefetch(p.dir, cache);
    // Another holder takes and leaves the lock, deleting the outputs.
    expect((await p.batch(['clean'])).code).toBe(0);
    expect(fs.existsSync(p.path('out/a.txt'))).toBe(false);
    const lock = await acquireLock(cache, { wait: false });
    lock.release();
    const taken = takeStatPrefetch(p.dir, cache);
    expect(taken?.generation).toBe(before);
    await taken?.answer;
    // What the run compares (app/pipeline.ts recordProof): not the same, so the stats are not used.
    expect(lock.generationBefore).not.toBe(taken?.generation);
  });
});

describe('generationIfUnlocked (src): another holder taking the lock at any moment of the check', () => {
  it('gives no generation, or one that the holder moved since (so the run will not trust the stats)', async () => {
    const { generationIfUnlocked } = await import('../../../src/fingerprint/stat-prefetch.js');
    // The project's state, and another process B taking the lock in its two steps (create the
    // lock file, then write its generation) at one of the moments between the check's reads.
    // at 0: before the generation is read; 1: between the two reads; 2: after the check.
    for (let at = 0; at <= 2; at++) {
      for (let bSteps = 1; bSteps <= 2; bSteps++) {
        const state = { locked: false, generation: 'g-before' };
        const bActs = [() => (state.locked = true), () => (state.generation = 'g-of-B')].slice(0, bSteps);
        let reads = 0;
        const maybeB = (): void => {
          if (reads++ === at) for (const act of bActs) act();
        };
        const got = generationIfUnlocked(
          () => (maybeB(), state.generation),
          () => (maybeB(), state.locked),
        );
        maybeB();
        // Either no generation, or B acts wholly after the check and moves the generation on.
        if (got !== undefined) {
          expect(got, `B at ${at} in ${bSteps} steps`).toBe('g-before');
          if (bSteps === 2) expect(state.generation).not.toBe(got);
        }
      }
    }
  });
});
