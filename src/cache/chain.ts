import type { StepConfig } from '../batchfile/config.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { Emit } from '../schedule/events.js';
import type { FileHashes } from '../store/types.js';
import type { CacheBackend, Restored } from './backend.js';

/** Several backends as one, nearest first (local, then remote): a look-up or a restore asks
 * each in turn and takes the first hit; a save goes to every one. A hit in a farther backend
 * is not copied into the nearer ones here: a restored step's outputs are saved like a run's
 * only by the backends that store restored outputs themselves. */
export class ChainedCache implements CacheBackend {
  readonly name: string;

  constructor(private readonly backends: readonly CacheBackend[]) {
    if (backends.length === 0) throw new Error('a cache chain needs at least one backend');
    this.name = backends.map((b) => b.name).join('+');
  }

  async lookup(step: StepConfig, key: string): Promise<{ fromRun: string } | undefined> {
    for (const b of this.backends) {
      const hit = await b.lookup(step, key);
      if (hit) return hit;
    }
    return undefined;
  }

  async restore(step: StepConfig, key: string, emit: Emit, stats: StatCache): Promise<Restored | undefined> {
    for (const b of this.backends) {
      const restored = await b.restore(step, key, emit, stats);
      if (restored) return restored;
    }
    return undefined;
  }

  async save(step: StepConfig, key: string, outputs: FileHashes, runId: string, emit: Emit, stats?: StatCache): Promise<void> {
    // Each backend warns about its own failures and never rejects.
    await Promise.all(this.backends.map((b) => b.save(step, key, outputs, runId, emit, stats)));
  }
}
