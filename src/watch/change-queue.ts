/** What the next cycle is about. */
export interface ChangeBatch {
  /** Project-relative paths that changed, in arrival order. */
  paths: string[];
  /** A Batchfile source is among them: reload before running. */
  batchfile: boolean;
  /** Every change arrived while a run was going (none while idle). */
  whileRunning: boolean;
}

/** Collects changed paths and says when a cycle is due: after `debounceMs` without a new
 * change (a burst of saves or a `git checkout` is one cycle), or at the latest `maxWaitMs`
 * after the first change (a file rewritten every few ms cannot postpone runs forever). While
 * a run goes nothing becomes due; changes that arrived meanwhile make one cycle due when it
 * ends. One timer and one waiter at a time, so nothing accumulates over cycles. */
export class ChangeQueue {
  private pending = new Set<string>();
  private batchfile = false;
  private idleChange = false;
  /** When the first change of the pending batch arrived (undefined: none pending). */
  private firstAt: number | undefined;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private due = false;
  private running = false;
  /** Only Batchfile changes arm the timer (while the Batchfile does not load). */
  private batchfileOnly = false;
  private wake: (() => void) | undefined;
  private readonly maxWaitMs: number;

  constructor(
    private readonly debounceMs: number,
    signal: AbortSignal,
  ) {
    this.maxWaitMs = Math.max(2000, debounceMs * 20);
    signal.addEventListener('abort', () => this.wake?.(), { once: true });
  }

  add(rel: string, isBatchfile: boolean): void {
    const now = performance.now();
    this.firstAt ??= now;
    this.lastAt = now;
    this.pending.add(rel);
    if (isBatchfile) this.batchfile = true;
    if (!this.running) this.idleChange = true;
    if (!this.running && (!this.batchfileOnly || isBatchfile)) this.arm();
  }

  /** A run started (true) or ended (false). */
  setRunning(running: boolean): void {
    this.running = running;
    if (!running && this.pending.size > 0 && (!this.batchfileOnly || this.batchfile)) this.arm();
  }

  /** While the Batchfile is broken, other changes wait for it to be fixed. */
  setBatchfileOnly(on: boolean): void {
    this.batchfileOnly = on;
  }

  /** Keeps changes pending without arming: the next idle change runs them. */
  hold(batch: ChangeBatch): void {
    for (const p of batch.paths) this.pending.add(p);
    if (batch.batchfile) this.batchfile = true;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    const now = performance.now();
    const delay = Math.max(0, Math.min(this.lastAt + this.debounceMs, (this.firstAt ?? now) + this.maxWaitMs) - now);
    this.timer = setTimeout(this.fire, delay);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    if (this.running) return;
    this.due = true;
    this.wake?.();
  };

  /** Resolves when a cycle is due or `signal` is aborted. */
  next(signal: AbortSignal): Promise<void> {
    if (this.due || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** The changes of the cycle that is due; the queue starts empty again. */
  take(): ChangeBatch {
    const batch = { paths: [...this.pending], batchfile: this.batchfile, whileRunning: !this.idleChange };
    this.pending = new Set();
    this.batchfile = false;
    this.idleChange = false;
    this.firstAt = undefined;
    this.due = false;
    return batch;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.wake?.();
  }
}
