// The scheduler's slots: a step that passed hands its slot on before its bookkeeping is done
// (the next step executes meanwhile); a failed step keeps it until its result is settled, so
// the stop after a failure comes first; a slot is never given back twice.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { setHeapCheckpoint } from '../../../src/util/heap-checkpoint.js';
import { schedule, settleAll, type Slots } from '../../../src/schedule/scheduler.js';
import type { Graph } from '../../../src/graph/graph.js';
import type { StepResult } from '../../../src/store/types.js';

/** Independent steps (no edges). Only the fields the scheduler reads. */
function flat(names: string[]): Graph {
  return {
    steps: new Map(),
    deps: new Map(names.map((n) => [n, []])),
    dependents: new Map(names.map((n) => [n, []])),
    order: names,
    edgeReason: new Map(),
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const pass = (name: string): StepResult => ({ name, status: 'PASS', action: 'ran', reason: 'ran', durationMs: 0 });

describe('scheduler slots', () => {
  it('a passed step that hands its slot on lets the next step execute before its own result is settled', async () => {
    const bookkeeping = deferred();
    const bStarted = deferred();
    const order: string[] = [];
    const run = schedule({
      graph: flat(['a', 'b']),
      selected: ['a', 'b'],
      jobs: 1,
      keepGoing: false,
      signal: new AbortController().signal,
      onResult: (r) => order.push(`settled ${r.name}`),
      work: async (name: string, slots: Slots) => {
        if (!(await slots.acquire())) return { name, status: 'BLOCKED', action: 'not-run', reason: 'no slot', durationMs: 0 };
        order.push(`executes ${name}`);
        if (name === 'b') {
          bStarted.resolve();
          return pass(name);
        }
        slots.release();
        // a's bookkeeping waits until b has started: with one slot, only the early hand-over
        // lets that happen (otherwise this test never ends).
        await bookkeeping.promise;
        return pass(name);
      },
    });
    await bStarted.promise;
    bookkeeping.resolve();
    const results = await run;
    expect(order.slice(0, 2)).toEqual(['executes a', 'executes b']);
    expect([...results.values()].map((r) => r.status)).toEqual(['PASS', 'PASS']);
  });

  it('a failed step keeps its slot until its result is settled: the step waiting for it is not started', async () => {
    const executed: string[] = [];
    const results = await schedule({
      graph: flat(['a', 'b']),
      selected: ['a', 'b'],
      jobs: 1,
      keepGoing: false,
      signal: new AbortController().signal,
      onResult: () => undefined,
      work: async (name: string, slots: Slots) => {
        if (!(await slots.acquire())) return { name, status: 'BLOCKED', action: 'not-run', reason: 'not started', durationMs: 0 };
        executed.push(name);
        return { name, status: 'FAIL', action: 'ran', reason: 'exit code 1', durationMs: 0 };
      },
    });
    expect(executed).toEqual(['a']);
    expect(results.get('b')).toMatchObject({ status: 'BLOCKED' });
  });

  it('a slot handed on early is not given back a second time when the result settles', async () => {
    let active = 0;
    let most = 0;
    const results = await schedule({
      graph: flat(['a', 'b', 'c', 'd']),
      selected: ['a', 'b', 'c', 'd'],
      jobs: 1,
      keepGoing: false,
      signal: new AbortController().signal,
      onResult: () => undefined,
      work: async (name: string, slots: Slots) => {
        if (!(await slots.acquire())) return { name, status: 'BLOCKED', action: 'not-run', reason: 'no slot', durationMs: 0 };
        active++;
        most = Math.max(most, active);
        await Promise.resolve();
        active--;
        slots.release();
        slots.release();
        return pass(name);
      },
    });
    expect(most).toBe(1);
    expect([...results.values()].every((r) => r.status === 'PASS')).toBe(true);
  });
});

describe('settleAll (a run whose every step is proven up to date)', () => {
  /** A random DAG over n steps (edges only from earlier to later steps), its selection a
   * random subset in graph order, as selectSteps gives it. */
  const dag = fc.integer({ min: 1, max: 14 }).chain((n) =>
    fc.record({
      n: fc.constant(n),
      edges: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: n * 2 }),
      picked: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    }),
  );

  it('settles the same steps in the same order as the scheduler whose every step passes at once', async () => {
    await fc.assert(
      fc.asyncProperty(dag, async ({ n, edges, picked }) => {
        const names = Array.from({ length: n }, (_, i) => `s${i}`);
        const deps = new Map(names.map((s) => [s, [] as string[]]));
        const dependents = new Map(names.map((s) => [s, [] as string[]]));
        for (const [a, b] of edges) {
          const [from, to] = a < b ? [a, b] : [b, a];
          if (from === to || deps.get(names[to]!)!.includes(names[from]!)) continue;
          deps.get(names[to]!)!.push(names[from]!);
          dependents.get(names[from]!)!.push(names[to]!);
        }
        for (const l of [...deps.values(), ...dependents.values()]) l.sort();
        const graph: Graph = { steps: new Map(), deps, dependents, order: names, edgeReason: new Map() };
        const selected = names.filter((_, i) => picked[i]);
        const upToDate = (name: string): StepResult => ({ name, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0 });
        const viaScheduler: string[] = [];
        const scheduled = await schedule({
          graph,
          selected,
          jobs: 2,
          keepGoing: false,
          signal: new AbortController().signal,
          onResult: (r) => viaScheduler.push(r.name),
          work: async (name) => upToDate(name),
        });
        const direct: string[] = [];
        const settled = settleAll(graph, selected, upToDate, (r) => direct.push(r.name));
        expect(direct).toEqual(viaScheduler);
        expect([...settled.entries()].sort()).toEqual([...scheduled.entries()].sort());
      }),
      { numRuns: 300 },
    );
  });
});

describe('settleAll and the heap checkpoint', () => {
  it('looks at the heap as the scheduler does (a daemon bounds its heap inside long loops)', () => {
    let looks = 0;
    setHeapCheckpoint(() => looks++);
    try {
      const names = Array.from({ length: 640 }, (_, i) => `s${i}`);
      settleAll(flat(names), names, (name) => ({ name, status: 'PASS', action: 'up-to-date', reason: 'up to date', durationMs: 0 }), () => undefined);
    } finally {
      setHeapCheckpoint(undefined);
    }
    expect(looks).toBeGreaterThanOrEqual(9);
  });
});
