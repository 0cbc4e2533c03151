import type { Store } from './store.js';
import type { RunRecord, StepResult, StepState } from './types.js';

/** Commits results to LMDB. A step's new state and its result go in one transaction, only
 * after its outputs were hashed; a crash before that leaves the old state, so it reruns. */
export class Recorder {
  private readonly pending: Promise<unknown>[] = [];
  private failure: Error | undefined;

  constructor(
    private readonly store: Store,
    private readonly runId: string,
  ) {}

  step(result: StepResult, state: StepState | undefined): void {
    const p = this.store.root
      .transaction(() => {
        if (state) void this.store.state.put(result.name, state);
        void this.store.results.put([this.runId, result.name], result);
      })
      .catch((e: unknown) => {
        this.failure ??= e as Error;
      });
    this.pending.push(p);
  }

  async run(record: RunRecord): Promise<void> {
    await Promise.all(this.pending);
    await this.store.runs.put(record.id, record);
    if (this.failure) throw this.failure;
  }

  /** Waits for every step committed so far. */
  async flush(): Promise<void> {
    await Promise.all(this.pending);
    if (this.failure) throw this.failure;
  }
}

/** Sortable, unique run ids: UTC time to the millisecond plus a random suffix. */
export function newRunId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${t}-${Math.random().toString(36).slice(2, 6)}`;
}
