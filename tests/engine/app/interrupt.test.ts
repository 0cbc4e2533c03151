// Interrupts and crashes: SIGINT stops every running step (command process groups and
// worker threads alike) and exits 130; kill -9 of batch in the middle of a step leaves that
// step to rerun, and the rerun ends with the outputs of a clean --force build.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject, waitForFile } from '../rig.js';
import { batchfile, cmd, csvRows, isAlive, killQuietly, pidsIn, readStore, snapshot, SPAWNER, table, waitDead } from '../helpers.js';

let p: TempProject | undefined;
let leftovers: number[] = [];
afterEach(() => {
  killQuietly(leftovers);
  leftovers = [];
  p?.cleanup();
});

/** Writes a partial output first, then the whole one once argv[4] exists: a crash in
 * between leaves a plausible but wrong file behind. */
const SLOW = `import fs from 'node:fs';
const [src, out, release] = process.argv.slice(2);
fs.mkdirSync('build', { recursive: true });
fs.writeFileSync(out, 'PARTIAL');
fs.writeFileSync('slow.pid.tmp', String(process.pid));
fs.renameSync('slow.pid.tmp', 'slow.pid');
while (!fs.existsSync(release)) await new Promise((r) => setTimeout(r, 20));
fs.writeFileSync(out, fs.readFileSync(src, 'utf8').toUpperCase());
`;

/** A run module that marks it started, then waits for the file `release` to exist. */
const HANG = `import fs from 'node:fs';
export default async (ctx) => {
  fs.writeFileSync('started.tmp', 'x');
  fs.renameSync('started.tmp', 'started');
  while (!fs.existsSync('release')) await new Promise((r) => setTimeout(r, 20));
  fs.mkdirSync('build', { recursive: true });
  fs.writeFileSync(ctx.outputs[0], 'done');
};
`;

/** Waits until the store holds `step`'s state (committed, seen by a reader of its own). */
async function waitForState(q: TempProject, step: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(step in (await readStore(q)).state)) {
    if (Date.now() > end) throw new Error(`${step}'s state was not committed within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `batch history --json` lists a run (bounded by the caller's timeout). */
async function waitForRunRecord(q: TempProject): Promise<Record<string, unknown>> {
  for (;;) {
    const r = await q.batch(['history', '--json']);
    const runs = (JSON.parse(r.stdout || '{"runs":[]}') as { runs?: Record<string, unknown>[] }).runs ?? [];
    if (runs.length > 0) return runs[0]!;
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe('interrupts', () => {
  it('the run record is written while the first step runs (not awaited before it): kill -9 leaves it INTERRUPTED', async () => {
    p = TempProject.create({
      'steps/hang.mjs': HANG,
      'Batchfile.ts': batchfile(`  a: { run: 'steps/hang.mjs', outputs: ['build/a.txt'] },`),
    });
    const run = p.start([]);
    // The first step was sent to the pool; its run's record is committed meanwhile.
    await waitForFile(p.path('started'));
    const live = await waitForRunRecord(p);
    expect(live.status).toBe('RUNNING');
    run.kill('SIGKILL');
    await run.exited;
    expect((await readStore(p)).runs.map((r) => r.status)).toEqual(['INTERRUPTED']);
    p.write('release', '');
    const rerun = await p.run();
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(table(rerun.steps)).toEqual({ a: 'PASS ran' });
    expect((await readStore(p)).runs.map((r) => r.status)).toEqual(['INTERRUPTED', 'PASS']);
  });

  it('SIGINT stops a hung command (and its child) and a busy worker thread, exits 130, records INTERRUPTED', async () => {
    p = TempProject.create({
      'tools/spawner.mjs': SPAWNER,
      'steps/spin.ts': `import fs from 'node:fs';
export default async (ctx: { root: string }) => {
  fs.writeFileSync(ctx.root + '/spin.started', '');
  for (;;) { /* a CPU-bound step that never looks at ctx.signal */ }
};
`,
      'Batchfile.ts': batchfile(`
  hang: { command: 'node tools/spawner.mjs pids.txt' },
  spin: { run: 'steps/spin.ts' },
  after: { command: ${cmd('--mark', 'marks.txt')}, dependsOn: ['hang'] },
`),
    });
    const run = p.start(['-j', '2', '--json']);
    await waitForFile(p.path('pids.txt'));
    leftovers = pidsIn(p, 'pids.txt');
    await waitForFile(p.path('spin.started'));
    run.kill('SIGINT');
    const { code } = await run.exited;
    expect(code, run.output).toBe(130);
    await waitDead(leftovers);
    expect(leftovers.filter(isAlive)).toEqual([]);
    expect(isAlive(run.child.pid!)).toBe(false);

    const summary = JSON.parse(run.output.slice(run.output.indexOf('{\n'), run.output.lastIndexOf('}') + 1)) as { status: string; steps: { name: string; status: string; action: string; reason: string }[] };
    expect(summary.status).toBe('INTERRUPTED');
    expect(table(summary.steps)).toEqual({ hang: 'FAIL ran', spin: 'FAIL ran', after: 'BLOCKED not-run' });
    expect(summary.steps.map((s) => s.reason)).toEqual(['interrupted', 'interrupted', 'upstream step "hang" failed']);
    expect(p.marks()).toEqual([]);
    const store = await readStore(p);
    expect(store.runs.map((r) => r.status)).toEqual(['INTERRUPTED']);
    expect(store.state).toEqual({});
    expect(csvRows(p).find((r) => r.kind === 'run')?.status).toBe('INTERRUPTED');
    expect(p.exists('.cache/lock')).toBe(false);
  });

  it('kill -9 in the middle of a step: the next run reruns it and matches a clean --force build', async () => {
    p = TempProject.create({
      'in.txt': 'hello',
      'tools/slow.mjs': SLOW,
      'Batchfile.ts': batchfile(`
  a: { command: ${cmd('--in', 'in.txt', '--out', 'build/a.txt')}, inputs: ['in.txt'], outputs: ['build/a.txt'] },
  b: { command: 'node tools/slow.mjs build/a.txt build/b.txt release', inputs: ['build/a.txt'], outputs: ['build/b.txt'] },
  c: { command: ${cmd('--in', 'build/b.txt', '--text', '!', '--out', 'build/c.txt')}, inputs: ['build/b.txt'], outputs: ['build/c.txt'] },
`),
    });
    const run = p.start([]);
    await waitForFile(p.path('slow.pid'));
    const stepPid = Number(p.read('slow.pid'));
    leftovers = [stepPid];
    // a's record is committed within the write batch's window after it finished
    // (store/write-batch.ts); a kill inside that window would only make a rerun too.
    await waitForState(p, 'a');
    run.kill('SIGKILL');
    await run.exited;
    // The step dies with batch (the spawn helper kills its process group when batch's pipe
    // closes), with its output half written.
    await waitDead([stepPid], 10_000);
    expect(p.read('build/b.txt')).toBe('PARTIAL');
    expect(p.exists('.cache/lock')).toBe(true);

    p.write('release', '');
    const rerun = await p.run();
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(table(rerun.steps)).toEqual({ a: 'PASS up-to-date', b: 'PASS ran', c: 'PASS ran' });
    expect(rerun.steps[1]?.reason).toBe('no previous run recorded');
    const afterRerun = snapshot(p, 'build');
    expect(afterRerun).toEqual({ 'build/a.txt': 'hello', 'build/b.txt': 'HELLO', 'build/c.txt': 'HELLO!' });

    const forced = await p.run(['--force']);
    expect(forced.steps.every((s) => s.action === 'ran')).toBe(true);
    expect(snapshot(p, 'build')).toEqual(afterRerun);
    // The killed run is in the records, as interrupted (it was written first).
    expect((await readStore(p)).runs.map((r) => r.status)).toEqual(['INTERRUPTED', 'PASS', 'PASS']);
  });
});
