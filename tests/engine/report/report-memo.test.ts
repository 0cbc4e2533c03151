// A long-lived process (the daemon) reuses the step rows of its last report
// (src/report/report-memo.ts). Its report must be byte for byte the one a full render gives:
// each run here is rendered with the memo, then again without, and the files compared, over
// runs that change one step, fail, block, restore from the output cache, select one target,
// keep the report (a no-op), and after other processes wrote the store (a direct run, a
// pruned history) or a log the report links was deleted by hand.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, TempProject } from '../rig.js';
import { batchfile } from '../helpers.js';

// From dist/, like the daemon: the process executor starts steps through dist's helpers.
const { Session } = (await import(path.join(REPO, 'dist/app/session.js'))) as typeof import('../../../src/app/session.js');
const { resolveProject } = (await import(path.join(REPO, 'dist/app/project.js'))) as typeof import('../../../src/app/project.js');
const { compiledBatchfile } = (await import(path.join(REPO, 'dist/batchfile/load.js'))) as typeof import('../../../src/batchfile/load.js');
const { afterRun } = (await import(path.join(REPO, 'dist/report/after-run.js'))) as typeof import('../../../src/report/after-run.js');
const { ReportMemo } = (await import(path.join(REPO, 'dist/report/report-memo.js'))) as typeof import('../../../src/report/report-memo.js');
const { makeIo } = (await import(path.join(REPO, 'dist/report/io.js'))) as typeof import('../../../src/report/io.js');
const { openStore } = (await import(path.join(REPO, 'dist/store/store.js'))) as typeof import('../../../src/store/store.js');
const { ExecutorRegistry } = (await import(path.join(REPO, 'dist/executors/registry.js'))) as typeof import('../../../src/executors/registry.js');
type Memo = import('../../../src/report/report-memo.js').ReportMemo;
type Store = import('../../../src/store/store.js').Store;
type Executors = import('../../../src/executors/registry.js').ExecutorRegistry;

let p: TempProject | undefined;
/** What the daemon keeps open between runs. */
let kept: { store: Store; executors: Executors } | undefined;
afterEach(async () => {
  await kept?.executors.closeAll();
  await kept?.store.close();
  kept = undefined;
  p?.cleanup();
  p = undefined;
});

const BATCHFILE = batchfile(`
  a: { command: 'echo making a; cat in/a.txt > out/a.txt', inputs: ['in/a.txt'], outputs: ['out/a.txt'] },
  b: { command: 'cat out/a.txt in/b.txt > out/b.txt', inputs: ['out/a.txt', 'in/b.txt'], outputs: ['out/b.txt'], description: 'b after a' },
  c: { command: 'echo checking c; test "$(cat in/c.txt)" != bad && cat in/c.txt > out/c.txt', inputs: ['in/c.txt'], outputs: ['out/c.txt'] },
  d: { command: 'cat out/c.txt > out/d.txt', inputs: ['out/c.txt'], outputs: ['out/d.txt'] },
  e: { command: 'echo making e; cat in/e.txt > out/e.txt', inputs: ['in/e.txt'], outputs: ['out/e.txt'] },
`);

const REPORTS = ['logs/report.html', 'logs/report.md'];

/** One run as the daemon serves it (the same loaded config, the memo handed on), its report
 * written with the memo and then in full; the rows the memo offered (undefined: none). */
async function served(memo: Memo, opts: { targets?: string[] } = {}): Promise<{ withMemo: string[]; full: string[]; offered: number | undefined; status: string; actions: Record<string, string> }> {
  const dir = p!.dir;
  const settings = { targets: opts.targets ?? [], force: false, keepGoing: false, tests: true, cache: true, wait: false, jobs: 2 };
  const project = resolveProject({ cwd: dir });
  kept ??= { store: openStore(project.cacheDir, { root: project.root }), executors: ExecutorRegistry.create(2) };
  const s = await Session.borrow(settings, project, kept.store, kept.executors, 2, new AbortController().signal, () => {});
  try {
    const compiled = await compiledBatchfile(project.root, project.file, project.cacheDir);
    const loaded = await s.load(compiled);
    const out = await s.runOnce(loaded, { targets: settings.targets, force: false }, () => {}, new AbortController().signal);
    const io = makeIo(false, { write: () => true }, { write: () => true }, {});
    const ctx = { project: s.project, store: s.store, io, json: false, configId: `test|${compiled.out}` };
    let offered: number | undefined;
    const take = memo.take.bind(memo);
    memo.take = (at) => {
      const rows = take(at);
      offered = rows?.size;
      return rows;
    };
    await afterRun(out, { ...ctx, memo: { memo, lock: s.lockGenerations } });
    memo.take = take;
    const withMemo = REPORTS.map((f) => p!.read(f));
    for (const f of REPORTS) p!.remove(f);
    await afterRun(out, ctx);
    const full = REPORTS.map((f) => p!.read(f));
    return { withMemo, full, offered, status: out.record.status, actions: Object.fromEntries(out.results.map((r) => [r.name, `${r.status} ${r.action}`])) };
  } finally {
    await s.close();
  }
}

function expectSame(r: Awaited<ReturnType<typeof served>>): void {
  expect(r.withMemo[0]).toBe(r.full[0]);
  expect(r.withMemo[1]).toBe(r.full[1]);
}

describe('report rows kept by a long-lived process', () => {
  it('renders exactly what a full render does, run after run, and reuses rows only while nobody else wrote the store', async () => {
    p = TempProject.create({ 'Batchfile.ts': BATCHFILE, 'in/a.txt': 'a1\n', 'in/b.txt': 'b1\n', 'in/c.txt': 'c1\n', 'in/e.txt': 'e1\n', 'out/.keep': '' });
    const memo = new ReportMemo();

    const first = await served(memo);
    expect(first.status).toBe('PASS');
    expect(first.offered).toBeUndefined();
    expectSame(first);
    // Every step ran: no row is kept; after a no-op, every row is.
    const noop = await served(memo);
    expect(noop.offered).toBe(0);
    expectSame(noop);

    // One step changes: the other four rows are offered and reused.
    p.write('in/e.txt', 'e2\n');
    const one = await served(memo);
    expect(one.actions.e).toBe('PASS ran');
    expect(one.offered).toBe(5);
    expectSame(one);
    // Its rows show the earlier executions' figures and logs.
    expect(one.full[0]).toContain('figures of run');
    expect(one.full[0]).toContain('earlier log');

    // A failure, and the step it blocks.
    p.write('in/c.txt', 'bad');
    const failed = await served(memo);
    expect(failed.status).toBe('FAIL');
    expect(failed.actions.d).toMatch(/^BLOCKED/);
    expect(failed.offered).toBeGreaterThan(0);
    expectSame(failed);

    // Fixed again; then e back to its first content: restored from the output cache.
    p.write('in/c.txt', 'c1\n');
    expectSame(await served(memo));
    p.write('in/e.txt', 'e1\n');
    const restored = await served(memo);
    expect(restored.actions.e).toBe('PASS restored');
    expect(restored.offered).toBe(4);
    expectSame(restored);

    // One target: the other steps are not selected.
    p.write('in/a.txt', 'a2\n');
    const target = await served(memo, { targets: ['a'] });
    expect(target.actions).toEqual({ a: 'PASS ran' });
    expect(target.offered).toBe(4);
    expectSame(target);
    // The whole pipeline again: b reruns after a; then two no-ops (the second keeps the
    // report in place, and the rows carry over it).
    expectSame(await served(memo));
    expectSame(await served(memo));
    const kept = await served(memo);
    expect(kept.offered).toBe(5);
    p.write('in/b.txt', 'b2\n');
    const afterNoops = await served(memo);
    expect(afterNoops.offered).toBe(5);
    expectSame(afterNoops);

    // A log the report links, deleted by hand: that row is rendered again, without the link.
    const eLog = /href="(runs\/[^"]+\/e\.log)"/.exec(afterNoops.full[0]!)?.[1];
    expect(afterNoops.withMemo[0]).toContain(eLog);
    expect(eLog).toBeDefined();
    p.remove(path.join('logs', eLog!));
    p.write('in/b.txt', 'b3\n');
    const logGone = await served(memo);
    expect(logGone.offered).toBe(4);
    expect(logGone.full[0]).not.toContain(eLog);
    expectSame(logGone);

    // Another process ran a step meanwhile: no row is offered (its row would be stale).
    p.write('in/e.txt', 'e3\n');
    const direct = await p.batch([], { env: { BATCH_DAEMON: '0' } });
    expect(direct.code, direct.stderr).toBe(0);
    p.write('in/b.txt', 'b4\n');
    const afterDirect = await served(memo);
    expect(afterDirect.offered).toBeUndefined();
    expectSame(afterDirect);

    // The history pruned by another process: no row is offered.
    const pruned = await p.batch(['history', '--prune', '--keep', '1']);
    expect(pruned.code, pruned.stderr).toBe(0);
    p.write('in/b.txt', 'b5\n');
    const afterPrune = await served(memo);
    expect(afterPrune.offered).toBeUndefined();
    expectSame(afterPrune);
    expect(fs.existsSync(p.path('logs/report.html'))).toBe(true);
  });
});
