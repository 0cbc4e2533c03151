// The daemon's heap kept near what it holds while it works (docs/daemon.md, "Memory"). V8
// lets a heap grow to up to 4× what its last full collection left before it collects again
// (on a machine with several GB of memory): the first run a daemon serves after a build of
// 10,000 steps took its heap from ~30 to ~220 MB while it held ~85 MB, and its RSS never came
// back down. The V8 option that bounds that growth acts on every thread of the process,
// `run` steps' workers included, so the daemon bounds its main thread's heap itself: while
// it works, it looks at the heap every so often and collects once it grew past a limit set
// by what the last collection left.
import v8 from 'node:v8';
import { setHeapCheckpoint } from '../util/heap-checkpoint.js';

/** Growth allowed over what the last collection left: that much … */
export const HEAP_GROWTH_MIN_BYTES = 32 * 2 ** 20;
/** … or this share of it, whichever is more (a full collection costs in proportion to what is
 * held: ~60–80 ms at 10,000 steps, so a bigger heap collects less often). */
export const HEAP_GROWTH_SHARE = 0.25;
/** How often the heap is looked at while the daemon works. */
export const HEAP_CHECK_MS = 100;

export class HeapWatch {
  /** Heap in use after the last full collection. */
  private held: number;
  private limit = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Collections this watch made because the heap crossed its limit. */
  collections = 0;

  constructor(
    private readonly gc: () => void,
    private readonly heapUsed: () => number = () => v8.getHeapStatistics().used_heap_size,
  ) {
    this.held = 0;
    this.collected();
  }

  /** Garbage (and new data) since the last full collection, in bytes. */
  grown(): number {
    return this.heapUsed() - this.held;
  }

  /** A full collection now. */
  collect(): void {
    this.gc();
    this.collected();
  }

  /** Collects when the heap is over its limit; true when it did. */
  check(): boolean {
    if (this.heapUsed() <= this.limit) return false;
    this.collect();
    this.collections++;
    return true;
  }

  /** Looks at the heap until stop(): every HEAP_CHECK_MS, and at the engine's checkpoints in
   * its long synchronous loops (util/heap-checkpoint.ts). Never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), HEAP_CHECK_MS);
    this.timer.unref();
    setHeapCheckpoint(this.onCheckpoint);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    setHeapCheckpoint(undefined);
  }

  private readonly onCheckpoint = (): void => void this.check();

  private collected(): void {
    this.held = this.heapUsed();
    this.limit = this.held + Math.max(HEAP_GROWTH_MIN_BYTES, this.held * HEAP_GROWTH_SHARE);
  }
}
