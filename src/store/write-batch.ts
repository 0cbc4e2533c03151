import type { RootDatabase } from 'lmdb';

/** How long a write may wait for others to share its commit, and how many writes a commit
 * takes at most before it starts at once. A first build of short steps finishes one every
 * few milliseconds; lmdb-js commits (and fsyncs) once per event-loop turn that wrote, which
 * was one commit per step. */
export const WRITE_WINDOW_MS = 40;
export const WRITE_BATCH_MAX = 512;

/** What became of a write to another environment, known synchronously once its commit has
 * settled: writes that need it (`WriteOptions.needs`) check it when their own turn comes. */
export class Ticket {
  state: 'queued' | 'committed' | 'failed' = 'queued';
}

export interface WriteOptions {
  /** Another LMDB environment the write goes to (default: the store's own). Its writes
   * commit in a transaction of their own, before or after the store's (`late`). */
  env?: RootDatabase;
  /** With `env`: committed after the store's transaction of the same flush, not before it
   * (a removal of what the store's writes stop naming). */
  late?: boolean;
  /** Set to the write's outcome before its promise settles. */
  ticket?: Ticket;
  /** Writes that must have committed for this one to be made: when any failed, this one is
   * not made and rejects (an index entry whose blob was not stored). */
  needs?: readonly Ticket[];
}

interface Pending {
  write: () => void;
  resolve: () => void;
  reject: (e: unknown) => void;
  opts: WriteOptions;
}

/** Gathers the store writes of a run's finished steps (results, states, snapshots, output
 * cache entries, stat entries) and commits them together: one LMDB transaction per window
 * instead of one per step. Writes keep their order (one transaction, in the order added; or
 * successive transactions), so whatever was written before another is committed with it or
 * before it. A write only ever waits: nothing is committed earlier than it would have been,
 * so a crash loses at most the writes of the last window, never records a state before its
 * outputs were hashed. `flush` commits at once (the end of a run, a phase that reads back).
 *
 * Writes to another environment (the output cache's blobs) are committed per flush in a
 * transaction of that environment, before the store's (after it with `late`): a crash
 * between the two commits leaves a blob no entry names yet, never an entry naming a blob
 * that is not there. The store's transaction then waits for the other's commit, and later
 * flushes wait behind it, so the store's writes still commit in the order they were added. */
export class WriteBatch {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: Promise<void> = Promise.resolve();
  /** Resolves once the store's transaction of the latest flush has been started; undefined
   * when it was started synchronously (no flush is waiting for another environment). */
  private gate: Promise<void> | undefined;

  constructor(
    private readonly root: RootDatabase,
    private readonly windowMs = WRITE_WINDOW_MS,
    private readonly max = WRITE_BATCH_MAX,
  ) {}

  /** Queues `write` (synchronous puts and removes, run inside the batch's transaction).
   * Resolves once committed; rejects when the commit failed, or when `write` itself threw
   * (its own puts may then be partly in the transaction; the others' are unaffected). */
  add(write: () => void, opts: WriteOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ write, resolve, reject, opts });
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
    const early = batch.filter((p) => p.opts.env && !p.opts.late);
    const main = batch.filter((p) => !p.opts.env);
    const late = batch.filter((p) => p.opts.env && p.opts.late);
    let mainDone: Promise<void>;
    if (early.length === 0 && !this.gate) mainDone = commit(this.root, main);
    else {
      let started!: () => void;
      const gate = new Promise<void>((resolve) => (started = resolve));
      mainDone = Promise.all([this.gate, commitEach(early)]).then(() => {
        const done = commit(this.root, main);
        started();
        return done;
      });
      this.gate = gate;
      void gate.then(() => {
        if (this.gate === gate) this.gate = undefined;
      });
    }
    const done = Promise.all([this.last, mainDone.then(() => commitEach(late))]).then(() => undefined);
    this.last = done;
    return done;
  }
}

/** Commits the writes of each environment in a transaction of its own. Never rejects. */
function commitEach(writes: Pending[]): Promise<void> {
  const byEnv = new Map<RootDatabase, Pending[]>();
  for (const p of writes) {
    const env = p.opts.env!;
    const list = byEnv.get(env);
    if (list) list.push(p);
    else byEnv.set(env, [p]);
  }
  return Promise.all([...byEnv].map(([env, list]) => commit(env, list))).then(() => undefined);
}

/** One transaction of `writes` in `env`; settles each write (and its ticket). Never rejects. */
function commit(env: RootDatabase, writes: Pending[]): Promise<void> {
  if (writes.length === 0) return Promise.resolve();
  const failed = new Map<Pending, unknown>();
  const settle = (p: Pending, bad: boolean, e: unknown): void => {
    if (p.opts.ticket) p.opts.ticket.state = bad ? 'failed' : 'committed';
    if (bad) p.reject(e);
    else p.resolve();
  };
  let txn: Promise<unknown>;
  try {
    txn = env.transaction(() => {
      for (const p of writes) {
        if (p.opts.needs?.some((t) => t.state !== 'committed')) {
          failed.set(p, new Error('a write it depends on was not committed'));
          continue;
        }
        try {
          p.write();
        } catch (e) {
          failed.set(p, e);
        }
      }
    });
  } catch (e) {
    // A closed environment refuses at once.
    txn = Promise.reject(e);
  }
  return txn.then(
    () => {
      for (const p of writes) settle(p, failed.has(p), failed.get(p));
    },
    (e: unknown) => {
      // lmdb-js rejects with the cause in a `commitError` promise, itself rejected: observed
      // here, so that a failed commit nobody inspects is not an unhandled rejection (which
      // ends the process); whoever needs the cause can still await it.
      (e as { commitError?: Promise<unknown> } | undefined)?.commitError?.catch(() => undefined);
      for (const p of writes) settle(p, true, e);
    },
  );
}
