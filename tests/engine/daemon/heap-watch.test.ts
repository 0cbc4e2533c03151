// The daemon bounds its main thread's heap while it works (src/daemon/heap-watch.ts): it
// collects once the heap grew past what the last collection left by 32 MB (or a quarter of it),
// looking every 100 ms and at the engine's checkpoints in its long synchronous loops (the
// pre-run checks, the scheduler, the report's rows: util/heap-checkpoint.ts), which only a
// running watch sets. These tests drive the watch with a heap of their own making.
import { afterEach, describe, expect, it } from 'vitest';
import { HEAP_GROWTH_MIN_BYTES, HeapWatch } from '../../../src/daemon/heap-watch.js';
import { heapCheckpoint, setHeapCheckpoint } from '../../../src/util/heap-checkpoint.js';
import { schedule, type Slots } from '../../../src/schedule/scheduler.js';
import type { Graph } from '../../../src/graph/graph.js';
import { renderHtml, renderMarkdown } from '../../../src/report/html/write.js';
import type { ReportData, ReportStep } from '../../../src/report/html/data.js';

const MB = 2 ** 20;

/** A heap whose size the test sets; a collection brings it down to `live`. */
function fakeHeap(): { used: number; live: number; gcs: number; watch: HeapWatch } {
  const h = { used: 10 * MB, live: 10 * MB, gcs: 0, watch: undefined as unknown as HeapWatch };
  h.watch = new HeapWatch(
    () => {
      h.gcs++;
      h.used = h.live;
    },
    () => h.used,
  );
  return h;
}

afterEach(() => setHeapCheckpoint(undefined));

describe('HeapWatch', () => {
  it('collects only once the heap grew past its limit, then sets the limit from what is left', () => {
    const h = fakeHeap();
    h.used = 10 * MB + HEAP_GROWTH_MIN_BYTES; // at the limit: not over it
    expect(h.watch.check()).toBe(false);
    h.used += 1;
    h.live = 100 * MB;
    expect(h.watch.check()).toBe(true);
    expect(h.gcs).toBe(1);
    // 100 MB held: a quarter of it (25 MB) is less than 32 MB, so 132 MB is the limit.
    h.used = 100 * MB + HEAP_GROWTH_MIN_BYTES;
    expect(h.watch.check()).toBe(false);
    h.live = 200 * MB;
    h.used = 200 * MB - 1 + HEAP_GROWTH_MIN_BYTES;
    expect(h.watch.check()).toBe(true);
    // 200 MB held: a quarter (50 MB) is more than 32 MB.
    h.used = 200 * MB + 50 * MB;
    expect(h.watch.check()).toBe(false);
    h.used += 1;
    expect(h.watch.check()).toBe(true);
    expect(h.watch.collections).toBe(3);
    expect(h.watch.grown()).toBe(0);
  });

  it("is asked at the engine's checkpoints only while it runs", () => {
    const h = fakeHeap();
    h.used = 100 * MB;
    for (let i = 0; i < 200; i++) heapCheckpoint();
    expect(h.gcs).toBe(0);
    h.watch.start();
    for (let i = 0; i < 64; i++) heapCheckpoint();
    expect(h.gcs).toBe(1);
    h.watch.stop();
    h.used = 200 * MB;
    for (let i = 0; i < 200; i++) heapCheckpoint();
    expect(h.gcs).toBe(1);
  });
});

describe('the checkpoints in long synchronous loops', () => {
  const counting = (): { n: number } => {
    const c = { n: 0 };
    setHeapCheckpoint(() => c.n++);
    return c;
  };

  it('the scheduler passes one per settled step', async () => {
    const names = Array.from({ length: 640 }, (_, i) => `s${i}`);
    const graph: Graph = { steps: new Map(), deps: new Map(names.map((n) => [n, []])), dependents: new Map(names.map((n) => [n, []])), order: names, edgeReason: new Map() };
    const c = counting();
    await schedule({
      graph, selected: names, jobs: 2, keepGoing: false, signal: new AbortController().signal, onResult: () => {},
      work: async (name: string, slots: Slots) => {
        await slots.acquire();
        slots.release();
        return { name, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0 };
      },
    });
    expect(c.n).toBeGreaterThanOrEqual(9); // 640 turns, one look every 64
  });

  it("the report's renderers pass one per row", () => {
    const steps: ReportStep[] = Array.from({ length: 640 }, (_, i) => ({ name: `s${i}`, selected: true, timeLabel: 'up to date', slower: false, deps: [] }));
    const data: ReportData = {
      run: { id: 'r', status: 'PASS', startedAt: 'a', endedAt: 'b', durationMs: 1, host: 'h', cpus: 2, node: 'v20', flags: [], targets: [], counts: { ran: 0, upToDate: 640, restored: 0, failed: 0, blocked: 0, notRun: 0 } },
      steps, history: { executions: 30, charts: [], omitted: 0 }, rule: 'rule', dag: { draw: false, note: 'too many' },
    };
    const c = counting();
    renderHtml(data);
    expect(c.n).toBeGreaterThanOrEqual(9);
    const before = c.n;
    renderMarkdown(data);
    expect(c.n - before).toBeGreaterThanOrEqual(9);
  });
});
