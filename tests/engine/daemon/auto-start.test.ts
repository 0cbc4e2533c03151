// The daemon starts itself: a run outside CI that finds none starts one in the background and
// runs directly; the runs after it are served. CI, --no-daemon and BATCH_DAEMON=0 never start
// one; it stops when idle and when its project folder goes; one that died is replaced.
// The suite runs with BATCH_DAEMON=manual (vitest.config.ts) and the rig sets CI=1, so no other
// test starts a daemon by itself; these clear both.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject, waitForFile } from '../rig.js';
import { batchfile, cmd, isAlive, table, waitDead } from '../helpers.js';
import { daemonMode, isCI, isServedRun } from '../../../src/daemon/auto-start.js';
import { Daemons } from './daemons.js';

let p: TempProject | undefined;
const daemons = new Daemons();

afterEach(async () => {
  await daemons.stopAll(p);
  p?.cleanup();
  p = undefined;
});

/** The environment of an interactive shell: no CI, no BATCH_DAEMON. */
const INTERACTIVE = { CI: undefined, BATCH_DAEMON: undefined };

const CHAIN = batchfile(`
  a: { command: ${cmd('--in', 'data/a.txt', '--out', 'out/a.txt')}, inputs: ['data/a.txt'], outputs: ['out/a.txt'] },
  b: { command: ${cmd('--in', 'out/a.txt', '--out', 'out/b.txt')}, inputs: ['out/a.txt'], outputs: ['out/b.txt'] },
`);

function project(): TempProject {
  p = TempProject.create({ 'Batchfile.ts': CHAIN, 'data/a.txt': 'alpha' });
  return p;
}

/** Waits (bounded) until the project's daemon has written daemon.json, i.e. listens; its pid. */
async function daemonUp(project: TempProject, notPid?: number): Promise<number> {
  const until = Date.now() + 30_000;
  for (;;) {
    await waitForFile(project.path('.cache/daemon/daemon.json'), Math.max(1, until - Date.now()));
    const pid = daemons.track(project);
    if (pid !== notPid) return pid;
    if (Date.now() > until) throw new Error('no new daemon');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function servedCount(project: TempProject): Promise<number> {
  const r = await project.batch(['daemon', 'status']);
  const m = r.stdout.match(/(\d+) runs? served/);
  if (!m) throw new Error(`no daemon status: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

describe('the daemon starts itself', () => {
  it('a run outside CI starts one in the background and runs directly; the next run is served by it', async () => {
    const pr = project();
    const first = await pr.run([], { env: INTERACTIVE });
    expect(first.code, first.stderr).toBe(0);
    expect(table(first.steps)).toEqual({ a: 'PASS ran', b: 'PASS ran' });
    const pid = await daemonUp(pr);
    expect(isAlive(pid)).toBe(true);
    expect(await servedCount(pr)).toBe(0); // the first run went direct
    pr.write('data/a.txt', 'beta');
    const second = await pr.run([], { env: INTERACTIVE });
    expect(second.code, second.stderr).toBe(0);
    expect(table(second.steps)).toEqual({ a: 'PASS ran', b: 'PASS ran' });
    expect(pr.read('out/b.txt')).toBe('beta');
    expect(await servedCount(pr)).toBe(1);
    const log = pr.read('.cache/daemon/daemon.log');
    expect(log).toMatch(/listening on/);
  });

  // A stop right after the run that started one: the daemon may still be coming up. It is
  // found and stopped (a script's stop-then-clean left one coming up behind it), and gone when
  // the stop returns (its last work ran beside what the script did next).
  it('`daemon stop` right after the run that started one stops that daemon, and returns once it is gone', async () => {
    const pr = project();
    const first = await pr.run([], { env: INTERACTIVE });
    expect(first.code, first.stderr).toBe(0);
    const stop = await pr.batch(['daemon', 'stop']);
    expect(stop.code, stop.stderr).toBe(0);
    const pid = Number(/batch daemon stopped \(pid (\d+)\)/.exec(stop.stdout)?.[1]);
    expect(pid, stop.stdout).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
    expect(pr.exists('.cache/daemon/starting')).toBe(false);
    // The next interactive run starts another, which serves the run after it.
    expect((await pr.run([], { env: INTERACTIVE })).code).toBe(0);
    await daemonUp(pr, pid);
    pr.write('data/a.txt', 'beta');
    const second = await pr.run([], { env: INTERACTIVE });
    expect(second.code, second.stderr).toBe(0);
    expect(await servedCount(pr)).toBe(1);
  });

  it('CI=1, --no-daemon, BATCH_DAEMON=0 and commands other than runs never start one', async () => {
    const pr = project();
    for (const [args, env] of [
      [[], { ...INTERACTIVE, CI: '1' }],
      [[], { ...INTERACTIVE, CI: 'true' }],
      [['--no-daemon'], INTERACTIVE],
      [[], { ...INTERACTIVE, BATCH_DAEMON: '0' }],
    ] as const) {
      const r = await pr.run([...args], { env });
      expect(r.code, r.stderr).toBe(0);
    }
    for (const args of [['history'], ['graph'], ['--dry-run'], ['explain', 'a']]) {
      const r = await pr.batch(args, { env: INTERACTIVE });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    // A start makes .cache/daemon/ before the run goes on: none was made.
    expect(pr.exists('.cache/daemon')).toBe(false);
    // And a folder with no Batchfile gets nothing written into it.
    const empty = TempProject.create();
    try {
      const r = await empty.batch([], { env: INTERACTIVE });
      expect(r.code).toBe(2);
      expect(empty.exists('.cache')).toBe(false);
    } finally {
      empty.cleanup();
    }
  });

  it('stops when idle for BATCH_DAEMON_IDLE_MINUTES; the next run starts another', async () => {
    const pr = project();
    const env = { ...INTERACTIVE, BATCH_DAEMON_IDLE_MINUTES: '0.02' }; // 1.2 s
    expect((await pr.run([], { env })).code).toBe(0);
    const pid = await daemonUp(pr);
    await waitDead([pid], 20_000);
    expect(pr.exists('.cache/daemon/daemon.sock')).toBe(false);
    expect(pr.read('.cache/daemon/daemon.log')).toMatch(/idle for 1 s: stopping/);
    expect((await pr.run([], { env })).code).toBe(0);
    const next = await daemonUp(pr, pid);
    expect(next).not.toBe(pid);
  });

  it('stops when its project folder is deleted', async () => {
    const pr = project();
    expect((await pr.run([], { env: INTERACTIVE })).code).toBe(0);
    const pid = await daemonUp(pr);
    fs.rmSync(pr.dir, { recursive: true, force: true });
    await waitDead([pid], 20_000);
  });

  it('one that died between runs: the next run goes direct and starts a new one, which serves the run after', async () => {
    const pr = project();
    expect((await pr.run([], { env: INTERACTIVE })).code).toBe(0);
    const pid = await daemonUp(pr);
    expect((await pr.run([], { env: INTERACTIVE })).code).toBe(0);
    expect(await servedCount(pr)).toBe(1);
    process.kill(pid, 'SIGKILL');
    await waitDead([pid]);
    expect(pr.exists('.cache/daemon/daemon.sock')).toBe(true); // left behind
    pr.write('data/a.txt', 'gamma');
    const direct = await pr.run([], { env: INTERACTIVE });
    expect(direct.code, direct.stderr).toBe(0);
    expect(table(direct.steps)).toEqual({ a: 'PASS ran', b: 'PASS ran' });
    const next = await daemonUp(pr, pid);
    expect(await servedCount(pr)).toBe(0); // the run after the death went direct
    const served = await pr.run([], { env: INTERACTIVE });
    expect(table(served.steps)).toEqual({ a: 'PASS up-to-date', b: 'PASS up-to-date' });
    expect(await servedCount(pr)).toBe(1);
    expect(isAlive(next)).toBe(true);
  });
});

describe('when a client may start a daemon', () => {
  it('reads CI as CI services set it', () => {
    expect(isCI({ CI: 'true' })).toBe(true);
    expect(isCI({ CI: '1' })).toBe(true);
    expect(isCI({ CI: 'false' })).toBe(false);
    expect(isCI({ CI: '0' })).toBe(false);
    expect(isCI({ CI: '' })).toBe(false);
    expect(isCI({})).toBe(false);
  });

  it('off with --no-daemon or BATCH_DAEMON=0, use-only in CI or BATCH_DAEMON=manual, else auto', () => {
    expect(daemonMode([], {})).toBe('auto');
    expect(daemonMode(['--no-daemon'], {})).toBe('off');
    expect(daemonMode([], { BATCH_DAEMON: '0' })).toBe('off');
    expect(daemonMode([], { CI: 'true' })).toBe('use');
    expect(daemonMode([], { BATCH_DAEMON: 'manual' })).toBe('use');
    expect(daemonMode(['--no-daemon'], { CI: '1' })).toBe('off');
  });

  it('only runs start one, read as the CLI reads a command line', () => {
    for (const argv of [[], ['run'], ['a', 'b'], ['run', 'a'], ['-j', '4'], ['-C', 'history'], ['--force', '--json'], ['--', 'history']]) {
      expect(isServedRun(argv), argv.join(' ')).toBe(true);
    }
    for (const argv of [['history'], ['clean'], ['daemon', 'status'], ['--watch'], ['watch'], ['-n'], ['--dry-run'], ['explain', 'a'], ['--help'], ['-V'], ['-j', '2', 'graph']]) {
      expect(isServedRun(argv), argv.join(' ')).toBe(false);
    }
  });
});
