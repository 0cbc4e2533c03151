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

/** Resolves once process `pid`'s state (/proc/PID/stat, field 3) is `state`; fails after 10 s. */
async function waitForState(pid: number, state: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] === state) return;
    if (Date.now() > deadline) throw new Error(`process ${pid} not in state ${state}: ${stat}`);
    await new Promise<void>((r) => setImmediate(r));
  }
}

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

    // A holder that exited but was not reaped (a zombie: its parent does not wait for it) is
    // gone, though kill(pid, 0) still succeeds. The shell's background child is never waited
    // for once the shell has become `sleep`.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = await new Promise<number>((resolve, reject) => {
        parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        parent.once('error', reject);
      });
      await waitForState(zombie, 'Z');
      process.kill(zombie, 0); // still answers as a live process would
      expect(lockHolderAlive(zombie, Date.now())).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }

    // End to end: a lock whose pid is now a thread of a live process is taken over.
    p = TempProject.create({ 'Batchfile.ts': batchfile(`  a: { command: ${cmd('--text', 'a', '--out', 'build/a.txt')}, outputs: ['build/a.txt'] },`) });
    p.write('.cache/lock', JSON.stringify({ pid: tid, host: os.hostname(), startedAt: Date.now() - 1000, command: 'old' }));
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(p.read('build/a.txt')).toBe('a');
  });
});

// Taking over a stale lock, one interleaving at a time: contender A judged the lock at
// `.cache/lock` stale, and before A acts, others have removed it and made their own. A must
// never remove a lock it did not judge (two runs would then hold the lock), written or not.
describe('takeOverStale (src): removes only the stale lock it judged', () => {
  const tmp: string[] = [];
  afterEach(() => {
    for (const d of tmp.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  async function setup() {
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-lock-'));
    tmp.push(dir);
    const file = path.join(dir, 'lock');
    const dead = { pid: 2 ** 22 + 7, host: os.hostname(), startedAt: Date.now() - 60_000, command: 'old' };
    const live = { pid: process.pid, host: os.hostname(), startedAt: Date.now(), command: 'new' };
    const { takeOverStale } = await import('../../../src/store/lock.js');
    return { dir, file, dead, live, takeOverStale };
  }

  it('the judged dead holder\'s lock is removed, and nothing is left beside it', async () => {
    const { dir, file, dead, takeOverStale } = await setup();
    fs.writeFileSync(file, JSON.stringify(dead));
    expect(takeOverStale(file, { holder: dead })).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a lock made since, written or still empty, stays (the same file, so a pending write lands)', async () => {
    const { dir, file, dead, live, takeOverStale } = await setup();
    fs.writeFileSync(file, JSON.stringify(live));
    expect(takeOverStale(file, { holder: dead })).toBe(false);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(live);
    // Created with O_EXCL by a contender that has not written it yet.
    fs.rmSync(file);
    const fd = fs.openSync(file, 'wx');
    const ino = fs.fstatSync(fd).ino;
    expect(takeOverStale(file, { holder: dead })).toBe(false);
    fs.writeSync(fd, JSON.stringify(live));
    fs.closeSync(fd);
    expect(fs.statSync(file).ino).toBe(ino);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(live);
    expect(fs.readdirSync(dir)).toEqual(['lock']);
  });

  it('an unreadable lock judged stale is removed only if it is the same file, still unreadable', async () => {
    const { dir, file, takeOverStale } = await setup();
    const id = (st: fs.Stats) => ({ dev: st.dev, ino: st.ino, ctimeMs: st.ctimeMs });
    fs.writeFileSync(file, '');
    const old = fs.statSync(file);
    // Replaced since by another contender's fresh, empty lock (the file system may well give
    // it the old inode number again): it stays.
    fs.rmSync(file);
    // File times come from a coarse clock: make the fresh one after it has moved on (in use
    // the judged lock is over five seconds old).
    const deadline = Date.now() + 5000;
    do fs.writeFileSync(file, ''); while (fs.statSync(file).ctimeMs === old.ctimeMs && Date.now() < deadline);
    const fresh = fs.statSync(file);
    expect(fresh.ctimeMs).toBeGreaterThan(old.ctimeMs);
    expect(takeOverStale(file, { unreadable: id(old) })).toBe(false);
    expect(fs.statSync(file).ino).toBe(fresh.ino);
    expect(fs.readFileSync(file, 'utf8')).toBe('');
    // The same file, but its creator's write landed meanwhile: it stays.
    const fd = fs.openSync(file, 'r+');
    const before = id(fs.fstatSync(fd));
    fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: 'h', startedAt: 1, command: '' }));
    fs.closeSync(fd);
    expect(takeOverStale(file, { unreadable: before })).toBe(false);
    expect(fs.existsSync(file)).toBe(true);
    // The same file, still unreadable: removed.
    fs.writeFileSync(file, '');
    expect(takeOverStale(file, { unreadable: id(fs.statSync(file)) })).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('while another contender holds the takeover lock nothing is removed; a dead one\'s takeover lock is broken', async () => {
    const { dir, file, dead, live, takeOverStale } = await setup();
    fs.writeFileSync(file, JSON.stringify(dead));
    fs.writeFileSync(`${file}.takeover`, JSON.stringify(live));
    expect(takeOverStale(file, { holder: dead })).toBe(false);
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.existsSync(`${file}.takeover`)).toBe(true);
    // Its owner died inside the takeover: the next attempt breaks it, the one after succeeds.
    fs.writeFileSync(`${file}.takeover`, JSON.stringify(dead));
    expect(takeOverStale(file, { holder: dead })).toBe(false);
    expect(fs.readdirSync(dir)).toEqual(['lock']);
    expect(takeOverStale(file, { holder: dead })).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
