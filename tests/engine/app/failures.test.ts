// Failure handling: FAIL → dependents BLOCKED and no new step started (running ones finish),
// --keep-going, the missing-output failure, retries, and timeouts that kill the whole
// process group of a command step.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, cmd, csvRows, isAlive, killQuietly, pidsIn, readStore, SPAWNER, table, waitDead } from '../helpers.js';

let p: TempProject | undefined;
let leftovers: number[] = [];
afterEach(() => {
  killQuietly(leftovers);
  leftovers = [];
  p?.cleanup();
});

/** Fails until it has been started argv[3] times (counted in argv[2]), then writes argv[4]. */
const FLAKY = `import fs from 'node:fs';
fs.appendFileSync(process.argv[2], 'x');
if (fs.readFileSync(process.argv[2], 'utf8').length < Number(process.argv[3])) { console.error('not yet'); process.exit(1); }
fs.mkdirSync('build', { recursive: true });
fs.writeFileSync(process.argv[4], 'finally');
`;

describe('failures', () => {
  it('a failure blocks its dependents and starts nothing new; a running step finishes', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`
  bad: { command: ${cmd('--wait-for', 'longer.started', '--mark', 'marks.txt', '--out', 'build/bad.txt', '--exit', '3')}, outputs: ['build/bad.txt'] },
  longer: { command: ${cmd('--started', 'longer.started', '--wait-for', 'release', '--mark', 'marks.txt', '--out', 'build/longer.txt')}, outputs: ['build/longer.txt'] },
  dep: { command: ${cmd('--in', 'build/bad.txt', '--out', 'build/dep.txt', '--mark', 'marks.txt')}, inputs: ['build/bad.txt'], outputs: ['build/dep.txt'] },
  depdep: { command: ${cmd('--out', 'build/depdep.txt', '--mark', 'marks.txt')}, dependsOn: ['dep'], outputs: ['build/depdep.txt'] },
  later: { command: ${cmd('--out', 'build/later.txt', '--mark', 'marks.txt')}, outputs: ['build/later.txt'] },
`),
    });
    const run = p.start(['-j', '2', '--json']);
    await run.waitFor(/✗ bad/);
    p.write('release', '');
    const { code } = await run.exited;
    expect(code).toBe(1);
    const summary = JSON.parse(run.output.slice(run.output.indexOf('{\n'), run.output.lastIndexOf('}') + 1)) as { status: string; steps: { name: string; status: string; action: string; reason: string }[] };
    expect(summary.status).toBe('FAIL');
    expect(table(summary.steps)).toEqual({
      bad: 'FAIL ran',
      longer: 'PASS ran',
      dep: 'BLOCKED not-run',
      depdep: 'BLOCKED not-run',
      later: 'BLOCKED not-run',
    });
    const reason = Object.fromEntries(summary.steps.map((s) => [s.name, s.reason]));
    expect(reason.bad).toBe('exit code 3');
    expect(reason.dep).toBe('upstream step "bad" failed');
    expect(reason.depdep).toBe('upstream step "dep" was blocked');
    expect(reason.later).toMatch(/not started: the run stopped after a failure \(use --keep-going/);
    expect(p.marks().sort()).toEqual(['bad', 'longer']);
    // The failed step's log has its story; its (partial) output is not recorded as done.
    expect((await readStore(p)).state.bad).toBeUndefined();
    expect((await readStore(p)).state.longer).toBeDefined();
    expect(csvRows(p).filter((r) => r.kind === 'step').map((r) => `${r.name} ${r.status}`).sort()).toEqual(
      ['bad FAIL', 'dep BLOCKED', 'depdep BLOCKED', 'later BLOCKED', 'longer PASS'],
    );

    // The next run retries the failed step (its outputs were never recorded as done).
    p.write('longer.started', '');
    const again = await p.run(['-j', '2']);
    expect(again.steps.find((s) => s.name === 'bad')).toMatchObject({ status: 'FAIL', action: 'ran', reason: 'exit code 3' });
    expect(again.steps.find((s) => s.name === 'longer')?.action).toBe('up-to-date');
  });

  it('--keep-going, missing output, retries and a timeout that kills the process group', async () => {
    p = TempProject.create({
      'tools/spawner.mjs': SPAWNER,
      'tools/flaky.mjs': FLAKY,
      'Batchfile.ts': batchfile(`
  bad: { command: ${cmd('--exit', '1')} },
  dep: { command: ${cmd('--out', 'build/dep.txt')}, dependsOn: ['bad'], outputs: ['build/dep.txt'] },
  later: { command: ${cmd('--out', 'build/later.txt', '--text', 'ok')}, outputs: ['build/later.txt'] },
  lazy: { command: ${cmd('--mark', 'marks.txt')}, outputs: ['build/lazy.txt', 'build/lazy2.txt'] },
  flaky: { command: 'node tools/flaky.mjs flaky.count 3 build/flaky.txt', outputs: ['build/flaky.txt'], retries: 2 },
  hopeless: { command: 'node tools/flaky.mjs hopeless.count 5 build/hopeless.txt', outputs: ['build/hopeless.txt'], retries: 1 },
  slow: { command: 'node tools/spawner.mjs pids.txt', timeout: '2s' },
  afterSlow: { command: ${cmd('--out', 'build/after-slow.txt')}, dependsOn: ['slow'], outputs: ['build/after-slow.txt'] },
`),
    });
    const r = await p.run(['-k', '-j', '3']);
    if (p.exists('pids.txt')) leftovers = pidsIn(p, 'pids.txt');
    expect(r.code, r.stderr).toBe(1);
    expect(table(r.steps)).toEqual({
      bad: 'FAIL ran',
      dep: 'BLOCKED not-run',
      later: 'PASS ran',
      lazy: 'FAIL ran',
      flaky: 'PASS ran',
      hopeless: 'FAIL ran',
      slow: 'FAIL ran',
      afterSlow: 'BLOCKED not-run',
    });
    const step = Object.fromEntries(r.steps.map((s) => [s.name, s]));
    expect(p.read('build/later.txt')).toBe('ok');
    expect(step.lazy?.reason).toBe('the step finished but did not write its declared outputs: build/lazy.txt, build/lazy2.txt');
    expect(step.flaky).toMatchObject({ attempts: 3 });
    expect(p.read('flaky.count')).toBe('xxx');
    expect(step.hopeless).toMatchObject({ attempts: 2, reason: 'exit code 1' });
    expect(p.read('hopeless.count')).toBe('xx');
    expect(step.slow?.reason).toBe('timed out after 2000 ms');
    expect(step.afterSlow?.reason).toBe('upstream step "slow" failed');

    // Neither the timed-out command nor the child it spawned (which ignores SIGTERM) survives.
    expect(leftovers).toHaveLength(2);
    await waitDead(leftovers);
    expect(leftovers.filter(isAlive)).toEqual([]);

    // The log tells the retry story.
    const logFile = (step.hopeless as { logFile?: string }).logFile;
    expect(logFile).toMatch(/^logs\/runs\/[^/]+\/hopeless\.log$/);
    const log = p.read(logFile!);
    expect(log).toMatch(/attempt 1\/2[\s\S]*not yet[\s\S]*attempt 2\/2[\s\S]*FAIL: exit code 1/);
  });
});
