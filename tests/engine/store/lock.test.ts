// The project lock: a second batch while one runs fails at once naming the running process;
// with --wait it waits, then runs.
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { fake, TempProject, waitForFile } from '../rig.js';
import { batchfile, cmd, csvRows, readStore } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

describe('lock', () => {
  it('a second batch fails at once naming the pid; --wait waits for the first to finish (or Ctrl-C)', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`
  hold: { command: ${cmd('--started', 'hold.started', '--wait-for', 'release', '--out', 'build/hold.txt', '--mark', 'marks.txt')}, outputs: ['build/hold.txt'] },
`),
    });
    const first = p.start([]);
    await waitForFile(p.path('hold.started'));

    const second = await p.batch(['--force']);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`Another batch is running in this project: pid ${first.child.pid}`);
    expect(second.stderr).toContain('--wait');

    // Ctrl-C while waiting: 130 at once, nothing run.
    const impatient = p.start(['--wait']);
    await impatient.waitFor(/Waiting for the batch running in this project to finish/);
    impatient.kill('SIGINT');
    expect((await impatient.exited).code).toBe(130);
    expect(impatient.output).toContain('Interrupted while waiting for the lock');

    const waiter = p.start(['--wait', '--json']);
    await waiter.waitFor(new RegExp(`Waiting for the batch running in this project to finish: pid ${first.child.pid}`));
    p.write('release', '');
    expect((await first.exited).code).toBe(0);
    expect((await waiter.exited).code).toBe(0);
    const summary = JSON.parse(waiter.output.slice(waiter.output.indexOf('{\n'), waiter.output.lastIndexOf('}') + 1)) as { steps: { action: string }[] };
    expect(summary.steps.map((s) => s.action)).toEqual(['up-to-date']);

    // Two runs recorded, one after the other; the refused and interrupted ones left nothing.
    const runs = (await readStore(p)).runs;
    expect(runs).toHaveLength(2);
    expect(runs[1]!.startedAt as number).toBeGreaterThanOrEqual(runs[0]!.endedAt as number);
    expect(new Set(csvRows(p).map((r) => r.run_id)).size).toBe(2);
    expect(p.marks()).toEqual(['hold']);
  });
});

describe('a lock left empty by a process that died while creating it', () => {
  it('is taken over once it is older than the grace period', async () => {
    const p = TempProject.create({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({ steps: { a: { command: ${JSON.stringify(fake('--text', 'x', '--out', 'out/a.txt'))}, outputs: ['out/a.txt'] } } });`,
    });
    try {
      p.write('.cache/lock', '');
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(p.path('.cache/lock'), old, old);
      const r = await p.run([], { timeoutMs: 30_000 });
      expect(r.code).toBe(0);
      expect(r.steps[0]?.action).toBe('ran');
      expect(p.exists('.cache/lock')).toBe(false);
    } finally {
      p.cleanup();
    }
  });
});

describe('lock holder liveness (src)', () => {
  it('a pid reused by a thread, or by a process started after the lock, does not hold it', async () => {
    const { lockHolderAlive } = await import('../../../src/store/lock.js');
    const { spawn } = await import('node:child_process');
    const os = await import('node:os');
    expect(lockHolderAlive(process.pid, Date.now())).toBe(true);
    // A thread id of this process: kill(tid, 0) succeeds, yet it is no batch process.
    const tid = fs.readdirSync('/proc/self/task').map(Number).find((t) => t !== process.pid);
    expect(tid).toBeDefined();
    expect(lockHolderAlive(tid!, Date.now())).toBe(false);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      expect(lockHolderAlive(pid, Date.now() + 5000)).toBe(true);
      // A lock taken a minute before this process started belongs to a process now gone.
      expect(lockHolderAlive(pid, Date.now() - 60_000)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }

    // End to end: a lock whose pid is now a thread of a live process is taken over.
    p = TempProject.create({ 'Batchfile.ts': batchfile(`  a: { command: ${cmd('--text', 'a', '--out', 'build/a.txt')}, outputs: ['build/a.txt'] },`) });
    p.write('.cache/lock', JSON.stringify({ pid: tid, host: os.hostname(), startedAt: Date.now() - 1000, command: 'old' }));
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(p.read('build/a.txt')).toBe('a');
  });
});
