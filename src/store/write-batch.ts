import type { RootDatabase } from 'lmdb';

/** How long a write may wait for others to share its commit, and how many writes a commit
 * takes at most before it starts at once. A first build of short steps finishes one every
 * few milliseconds; lmdb-js commits (and fsyncs) once per event-loop turn that wrote, which
 * was one commit per step. */
export const WRITE_WINDOW_MS = 40;
export const WRITE_BATCH_MAX = 512;

interface Pending {
  write: () => void;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Gathers the store writes of a run's finished steps (results, states, snapshots, output
 * cache entries, stat entries) and commits them together: one LMDB transaction per window
 * instead of one per step. Writes keep their order (one transaction, in the order added; or
 * successive transactions), so whatever was written before another is committed with it or
 * before it. A write only ever waits: nothing is committed earlier than it would have been,
 * so a crash loses at most the writes of the last window, never records a state before its
 * outputs were hashed. `flush` commits at once (the end of a run, a phase that reads back). */
export class WriteBatch {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: Promise<void> = Promise.resolve();

  constructor(
    private readonly root: RootDatabase,
    private readonly windowMs = WRITE_WINDOW_MS,
    private readonly max = WRITE_BATCH_MAX,
  ) {}

  /** Queues `write` (synchronous puts and removes, run inside the batch's transaction).
   * Resolves once committed; rejects when the commit failed, or when `write` itself threw
   * (its own puts may then be partly in the transaction; the others' are unaffected). */
  add(write: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      if (this.queue.length >= this.max) void this.flush();
      else if (!this.timer) {
        this.timer = setTimeout(() => void this.flush(), this.windowMs);
        // A process that ends flushes first (its run's end); a waiting window must not keep
        // an idle process (the daemon between runs: it fires anyway) alive.
        this.timer.unref();
      }
    });
  }

  /** Commits every write queued so far; resolves when they (and all before) are committed. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return this.last;
    const failed = new Map<Pending, unknown>();
    const commit = this.root.transaction(() => {
      for (const p of batch) {
        try {
          p.write();
        } catch (e) {
          failed.set(p, e);
        }
      }
    });
    const done = commit.then(
      () => {
        for (const p of batch) {
          if (failed.has(p)) p.reject(failed.get(p));
          else p.resolve();
        }
      },
      (e: unknown) => {
        for (const p of batch) p.reject(e);
      },
    );
    this.last = done;
    return done;
  }
}
