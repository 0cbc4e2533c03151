import { BatchError } from '../util/errors.js';
import type { Store } from './store.js';
import type { SnapshotEntry } from './store.js';
import { isPlainUpToDate, type RunRecord, type StepResult, type StepState } from './types.js';

/** Commits results to LMDB. A step's new state and its result go in one transaction, only
 * after its outputs were hashed; a crash before that leaves the old state, so it reruns.
 * Results of steps found up to date (no state to write) are gathered and written as one list
 * of names per turn of the event loop: a no-op of 10,000 steps writes a few lists instead of
 * 10,000 records, as promptly as before (lmdb commits its writes once per turn as well).
 * Other results go into the store's write batch (write-batch.ts): a step's state, result and
 * snapshot in one transaction, shared with the steps that finished in the same window. */
export class Recorder {
  private readonly pending: Promise<unknown>[] = [];
  private failure: Promise<BatchError> | undefined;
  private upToDate: string[] = [];
  private chunks = 0;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly store: Store,
    private readonly runId: string,
  ) {}

  /** Writes the run's first record (status INTERRUPTED, replaced by `run` at the end), so a
   * killed run still shows up in history. Not awaited by the caller: the first steps start
   * while LMDB commits it (a commit waits for the disk; on a new store it is the first one),
   * and every later write of this run is committed after it, in order. A failure is reported
   * at the end of the run like a failed step record (exit 3). */
  begin(record: RunRecord): void {
    this.pending.push(
      this.store.runs.put(record.id, record).catch((e: unknown) => {
        this.failure ??= storeWriteError(e as Error);
      }),
    );
  }

  /** `snapshot`: written after the state it vouches for, in the same transaction. */
  step(result: StepResult, state: StepState | undefined, snapshot?: SnapshotEntry): void {
    if (!state && isPlainUpToDate(result)) {
      this.upToDate.push(result.name);
      // Not awaited: a lost snapshot costs one full check next time.
      if (snapshot) this.store.writes.add(() => void this.store.snap.put(result.name, snapshot)).catch(() => undefined);
      this.scheduled ??= setImmediate(() => this.writeUpToDate());
      return;
    }
    const p = this.store.writes
      .add(() => {
        if (state) void this.store.state.put(result.name, state);
        void this.store.results.put([this.runId, result.name], result);
        if (snapshot) void this.store.snap.put(result.name, snapshot);
      })
      .catch((e: unknown) => {
        this.failure ??= storeWriteError(e as Error);
      });
    this.pending.push(p);
  }

  private writeUpToDate(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.upToDate.length === 0) return;
    const names = this.upToDate;
    this.upToDate = [];
    this.pending.push(
      this.store.upToDate.put(this.runId, this.chunks++, names).catch((e: unknown) => {
        this.failure ??= storeWriteError(e as Error);
      }),
    );
  }

  /** The run's final record, in the write batch's last transaction after the steps' writes:
   * one commit (a disk flush) at the run's end instead of two. Should that transaction fail,
   * the record is written again on its own, as it always was after the steps' writes. */
  async run(record: RunRecord): Promise<void> {
    this.writeUpToDate();
    const last = this.store.writes.add(() => void this.store.runs.put(record.id, record));
    // Handled below, after the steps' writes; until then a refusal must not count as unhandled.
    last.catch(() => undefined);
    void this.store.writes.flush().catch(() => undefined);
    await Promise.all(this.pending);
    try {
      await last;
    } catch {
      try {
        await this.store.runs.put(record.id, record);
      } catch (e) {
        this.failure ??= storeWriteError(e as Error);
      }
    }
    if (this.failure) throw await this.failure;
  }

  /** Waits for every step committed so far. */
  async flush(): Promise<void> {
    this.writeUpToDate();
    void this.store.writes.flush().catch(() => undefined);
    await Promise.all(this.pending);
    if (this.failure) throw await this.failure;
  }
}

/** A failed LMDB commit (a full disk, say) as an error for the user, exit 3. lmdb-js wraps
 * the cause in a `commitError` promise. LMDB commits are atomic: what was recorded before
 * stays, and a step whose result was not recorded runs again next time. Call it as soon as
 * the write fails: it observes `commitError` at once (later, Node would warn about it). */
export async function storeWriteError(e: Error): Promise<BatchError> {
  const inner = (e as Error & { commitError?: Promise<unknown> }).commitError;
  const cause = inner ? await inner.then(() => e, (x: unknown) => x as Error) : e;
  return new BatchError(
    `Could not write the run records to the store: ${cause?.message ?? String(cause)}. Earlier records are intact; steps whose results were not recorded run again next time.`,
    3,
  );
}

/** Sortable, unique run ids: UTC time to the millisecond plus a random suffix. */
export function newRunId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${t}-${Math.random().toString(36).slice(2, 6)}`;
}
