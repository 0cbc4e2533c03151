// A point in a long synchronous loop (the pre-run checks, the scheduler's steps) where a
// resident process may bound its heap: the daemon sets a check here (daemon/heap-watch.ts),
// since its timer does not fire while such a loop holds the thread. Elsewhere it does nothing.

let check: (() => void) | undefined;
let calls = 0;
/** Loop turns between two looks at the heap (a look costs ~1 µs). */
const EVERY = 64;

/** Sets (or, with undefined, removes) what heapCheckpoint() calls every EVERY turns. */
export function setHeapCheckpoint(f: (() => void) | undefined): void {
  check = f;
}

export function heapCheckpoint(): void {
  if (check !== undefined && ++calls % EVERY === 0) check();
}
