// The project daemon (`batch daemon start`): real resident processes on real sockets, real
// inotify events. What it must never do is answer from stale knowledge: every kind of change a
// direct run sees, a served run sees too, and the outputs equal a clean --force build's.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fake, TempProject, waitForFile } from '../rig.js';
import { impurity } from '../../../src/batchfile/load.js';
import { ENGINE_ENTRY } from '../../../src/util/engine.js';
import { batchfile, cmd, isAlive, table, waitDead } from '../helpers.js';
import { Daemons } from './daemons.js';

let p: TempProject | undefined;
const daemons = new Daemons();
let outside: string | undefined;

afterEach(async () => {
  await daemons.stopAll(p);
  p?.cleanup();
  p = undefined;
  if (outside) fs.rmSync(outside, { recursive: true, force: true });
  outside = undefined;
});

/** Sends a signal and waits (bounded) until the kernel has delivered it: no longer pending. */
async function deliver(pid: number, sig: NodeJS.Signals): Promise<void> {
  process.kill(pid, sig);
  const bit = 1n << BigInt((os.constants.signals[sig] ?? 1) - 1);
  const until = Date.now() + 5000;
  for (;;) {
    let status: string;
    try {
      status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      return; // exited
    }
    const pending = ['SigPnd', 'ShdPnd'].map((k) => BigInt(`0x${status.match(new RegExp(`${k}:\\s+([0-9a-f]+)`))?.[1] ?? '0'}`));
    if (pending.every((m) => (m & bit) === 0n)) return;
    if (Date.now() > until) throw new Error(`${sig} still pending for pid ${pid}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs the daemon has served so far, from `batch daemon status`. */
async function served(project: TempProject): Promise<number> {
  const r = await project.batch(['daemon', 'status']);
  const m = r.stdout.match(/(\d+) runs? served/);
  if (!m) throw new Error(`no daemon status: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

const CHAIN = batchfile(`
  a: { command: ${cmd('--in', 'data/a.txt', '--out', 'out/a.txt', '--mark', 'marks.txt')}, inputs: ['data/a.txt'], outputs: ['out/a.txt'] },
  b: { command: ${cmd('--in', 'data/b.txt', '--out', 'out/b.txt', '--mark', 'marks.txt')}, inputs: ['data/b.txt'], outputs: ['out/b.txt'] },
  both: { command: ${cmd('--in', 'out/a.txt', '--in', 'out/b.txt', '--out', 'out/both.txt', '--mark', 'marks.txt')}, inputs: ['out/a.txt', 'out/b.txt'], outputs: ['out/both.txt'] },
`);

/** One step that says when it started and waits for the test to create `release`. */
const SLOW = batchfile(`
  slow: { command: ${cmd('--started', 'slow.started', '--wait-for', 'release', '--text', 'done', '--out', 'out/slow.txt', '--mark', 'marks.txt')}, outputs: ['out/slow.txt'] },
`);

function outputs(project: TempProject): Record<string, string> {
  return Object.fromEntries(['out/a.txt', 'out/b.txt', 'out/both.txt'].map((f) => [f, project.read(f)]));
}

describe('batch daemon', () => {
  it('serves runs that see every kind of change, with the outputs of a clean --force build', async () => {
    p = TempProject.create({ 'Batchfile.ts': CHAIN, 'data/a.txt': 'alpha', 'data/b.txt': 'beta' });
    const started = await p.batch(['daemon', 'start']);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).not.toMatch(/warning/);
    daemons.track(p);

    let r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(table(r.steps)).toEqual({ a: 'PASS ran', b: 'PASS ran', both: 'PASS ran' });
    r = await p.run();
    expect(table(r.steps)).toEqual({ a: 'PASS up-to-date', b: 'PASS up-to-date', both: 'PASS up-to-date' });
    r = await p.run();
    expect(table(r.steps)).toEqual({ a: 'PASS up-to-date', b: 'PASS up-to-date', both: 'PASS up-to-date' });
    expect(await served(p)).toBe(3);

    // An edit: exactly the step that reads it, and what reads its output.
    p.write('data/a.txt', 'ALPHA!');
    r = await p.run();
    expect(table(r.steps)).toEqual({ a: 'PASS ran', b: 'PASS up-to-date', both: 'PASS ran' });

    // Same size, mtime put back: only the file event can tell (a stat compare sees ctime).
    const before = fs.statSync(p.path('data/b.txt'));
    p.write('data/b.txt', 'BETA');
    fs.utimesSync(p.path('data/b.txt'), before.atime, before.mtime);
    r = await p.run();
    expect(table(r.steps)).toEqual({ a: 'PASS up-to-date', b: 'PASS ran', both: 'PASS ran' });

    // The folder replaced by another with the same file names.
    fs.renameSync(p.path('data'), p.path('data-old'));
    p.write('data/a.txt', 'alpha 2');
    p.write('data/b.txt', 'BETA');
    r = await p.run();
    expect(table(r.steps)).toEqual({ a: 'PASS ran', b: 'PASS up-to-date', both: 'PASS ran' });

    // An output damaged by hand is rebuilt; a removed one too.
    const good = p.read('out/both.txt');
    p.write('out/both.txt', 'garbage');
    r = await p.run();
    expect(table(r.steps)).toMatchObject({ a: 'PASS up-to-date', b: 'PASS up-to-date' });
    expect(table(r.steps).both).toMatch(/^PASS (ran|restored)$/);
    expect(p.read('out/both.txt')).toBe(good);
    const goodA = p.read('out/a.txt');
    p.remove('out/a.txt');
    r = await p.run();
    expect(table(r.steps).a).toMatch(/^PASS (ran|restored)$/);
    expect(p.read('out/a.txt')).toBe(goodA);

    const incremental = outputs(p);
    expect(await served(p)).toBe(8);
    const forced = await p.run(['--force', '--no-daemon']);
    expect(forced.code).toBe(0);
    expect(outputs(p)).toEqual(incremental);
    expect(await served(p)).toBe(8);

    // History tells served runs apart.
    const h = await p.batch(['history', '--json']);
    const runs = (JSON.parse(h.stdout) as { runs: { flags: string[] }[] }).runs;
    expect(runs.filter((x) => x.flags.includes('via-daemon'))).toHaveLength(8);
  });

  it('does not trust a symbolic link or a hard link: a change made through the other path is seen', async () => {
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-outside-'));
    fs.writeFileSync(path.join(outside, 'a.txt'), 'one');
    p = TempProject.create({ 'Batchfile.ts': CHAIN, 'data/b.txt': 'beta' });
    fs.symlinkSync(path.join(outside, 'a.txt'), p.path('data/a.txt'));
    // data/b.txt has a second name in a folder no step looks at.
    fs.mkdirSync(p.path('elsewhere'));
    fs.linkSync(p.path('data/b.txt'), p.path('elsewhere/b-link.txt'));
    await daemons.start(p);
    await p.run();
    let r = await p.run();
    expect(table(r.steps).a).toBe('PASS up-to-date');
    r = await p.run();
    fs.writeFileSync(path.join(outside, 'a.txt'), 'two');
    r = await p.run();
    expect(table(r.steps).a).toBe('PASS ran');
    expect(p.read('out/a.txt')).toBe('two');

    fs.writeFileSync(p.path('elsewhere/b-link.txt'), 'BETA via link');
    r = await p.run();
    expect(table(r.steps).b).toBe('PASS ran');
    expect(p.read('out/b.txt')).toBe('BETA via link');
  });

  it('runs `run` steps in its warm worker pool; editing a module, or a file it imports, reruns that step', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`
  upper: { run: 'steps/upper.ts', inputs: ['data/a.txt'], outputs: ['out/upper.txt'] },
  lower: { run: 'steps/lower.ts', inputs: ['data/a.txt'], outputs: ['out/lower.txt'] },
`),
      'data/a.txt': 'Alpha',
      'steps/suffix.ts': `export const SUFFIX = '!';\n`,
      'steps/upper.ts': `import fs from 'node:fs';
import { SUFFIX } from './suffix.js';
export default (ctx: { inputs: string[]; outputs: string[] }) => {
  fs.mkdirSync('out', { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, fs.readFileSync(ctx.inputs[0]!, 'utf8').toUpperCase() + SUFFIX);
};
`,
      'steps/lower.ts': `import fs from 'node:fs';
export default (ctx: { inputs: string[]; outputs: string[] }) => {
  fs.mkdirSync('out', { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, fs.readFileSync(ctx.inputs[0]!, 'utf8').toLowerCase());
};
`,
    });
    await daemons.start(p);
    let r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(table(r.steps)).toEqual({ upper: 'PASS ran', lower: 'PASS ran' });
    expect(p.read('out/upper.txt')).toBe('ALPHA!');
    r = await p.run();
    expect(table(r.steps)).toEqual({ upper: 'PASS up-to-date', lower: 'PASS up-to-date' });
    p.write('steps/suffix.ts', `export const SUFFIX = '?';\n`);
    r = await p.run();
    expect(table(r.steps)).toEqual({ upper: 'PASS ran', lower: 'PASS up-to-date' });
    expect(p.read('out/upper.txt')).toBe('ALPHA?');
    p.write('steps/lower.ts', p.read('steps/lower.ts').replace('toLowerCase()', 'toLowerCase() + "."'));
    r = await p.run();
    expect(table(r.steps)).toEqual({ upper: 'PASS up-to-date', lower: 'PASS ran' });
    expect(p.read('out/lower.txt')).toBe('alpha.');
    expect(await served(p)).toBe(4);
  });

  it('relays output and exit codes; a Batchfile edit is picked up', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`
  ok: { command: ${cmd('--text', 'fine', '--out', 'out/ok.txt')}, outputs: ['out/ok.txt'] },
  bad: { command: ${cmd('--exit', '3', '--out', 'out/bad.txt')}, outputs: ['out/bad.txt'] },
`),
    });
    await daemons.start(p);
    const r = await p.batch([]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL/);
    expect(r.stdout).toMatch(/bad/);
    const j = await p.run();
    expect(j.code).toBe(1);
    expect(table(j.steps)).toEqual({ ok: 'PASS up-to-date', bad: 'FAIL ran' });

    p.write('Batchfile.ts', batchfile(`
  ok: { command: ${cmd('--text', 'fine', '--out', 'out/ok.txt')}, outputs: ['out/ok.txt'] },
  more: { command: ${cmd('--text', 'new', '--out', 'out/more.txt')}, outputs: ['out/more.txt'] },
`));
    const k = await p.run();
    expect(k.code).toBe(0);
    expect(table(k.steps)).toEqual({ ok: 'PASS up-to-date', more: 'PASS ran' });
    // A Batchfile error is reported as a direct run reports it, with exit 2.
    p.write('Batchfile.ts', batchfile(`  broken: { command: 42 },`));
    const e = await p.batch([]);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/broken/);
    expect(await served(p)).toBe(4);
  });

  // The daemon removes the files of runs that left the charts after the reply; that removal
  // took the unchanged report's marker (.cache/report/noop.json) with it, written since: every
  // served no-op then wrote the whole report again, where a direct one leaves it in place.
  it('a served no-op leaves the report in place as a direct one does', async () => {
    p = TempProject.create({ 'Batchfile.ts': batchfile(`  a: { command: ${cmd('--text', 'a', '--out', 'out/a.txt')}, outputs: ['out/a.txt'] },`) });
    await daemons.start(p);
    expect((await p.batch([])).code).toBe(0);
    const first = await p.batch([]);
    expect(first.stdout).not.toMatch(/unchanged/);
    const report = fs.statSync(p.path('logs/report.html')).mtimeMs;
    for (let i = 0; i < 2; i++) {
      const again = await p.batch([]);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/report: logs\/report\.html \(unchanged: run \S+ showed the same\)/);
    }
    expect(fs.statSync(p.path('logs/report.html')).mtimeMs).toBe(report);
    expect(p.exists('.cache/report/noop.json')).toBe(true);
    expect(await served(p)).toBe(4);
  });

  it('loads afresh, in the client, a Batchfile that may define other steps each time (it lists files)', async () => {
    p = TempProject.create({
      'Batchfile.ts': `import fs from 'node:fs';
import { defineBatch } from 'batchfile';
const steps: Record<string, { command: string; inputs: string[]; outputs: string[] }> = {};
for (const f of fs.readdirSync('data').sort()) {
  steps[f.replace('.txt', '')] = { command: ${JSON.stringify(fake('--in', 'IN', '--out', 'OUT'))}.replace('IN', 'data/' + f).replace('OUT', 'out/' + f), inputs: ['data/' + f], outputs: ['out/' + f] };
}
export default defineBatch({ steps });
`,
      'data/a.txt': 'alpha',
    });
    const started = await p.batch(['daemon', 'start']);
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/warning: Batchfile.ts may define other steps each time it is loaded \(it imports node:fs\)/);
    daemons.track(p);
    let r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/not using the daemon: Batchfile.ts may define other steps each time it is loaded \(it imports node:fs\)/);
    expect(table(r.steps)).toEqual({ a: 'PASS ran' });
    p.write('data/b.txt', 'beta');
    r = await p.run();
    expect(table(r.steps)).toEqual({ a: 'PASS up-to-date', b: 'PASS ran' });
    expect(await served(p)).toBe(0);
  });

  it('tells a Batchfile that is a function of its source from one that is not', () => {
    const engine = JSON.stringify(ENGINE_ENTRY);
    expect(impurity(`import { defineBatch } from ${engine};\nvar x = defineBatch({ steps: { a: { command: "echo Date > out" } } });\nexport { x as default };\n`)).toBeUndefined();
    expect(impurity(`import { defineBatch } from ${engine};\nimport fs from "node:fs";\n`)).toBe('it imports node:fs');
    expect(impurity(`import { defineBatch } from ${engine};\nimport path from "node:path";\n`)).toBeUndefined();
    expect(impurity(`import ${engine};\nimport "dotenv/config";\n`)).toBe('it imports dotenv/config');
    expect(impurity(`export { x } from "./other.js";\n`)).toBe('it imports ./other.js');
    expect(impurity(`import { defineBatch } from ${engine};\nconst t = Date.now();\n`)).toBe('it uses Date');
    expect(impurity(`const m = await import("node:fs");\n`)).toBe('it uses a dynamic import()');
    expect(impurity(`const fs = process.getBuiltinModule("fs");\n`)).toBe('it uses process.getBuiltinModule');
    // Clients of one daemon have different environments: reading process.env is not pure.
    expect(impurity(`import { defineBatch } from ${engine};\nconst n = Number(process.env.SHARDS ?? 4);\n`)).toBe("it uses process (process.env differs between the daemon's clients)");
  });

  it('runs the integrity tests of served runs, and reruns them when a file they read changes', async () => {
    p = TempProject.create({
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: { make: { command: ${cmd('--in', 'in.txt', '--out', 'out/data.txt')}, inputs: ['in.txt'], outputs: ['out/data.txt'] } },
  tests: { files: ['checks/*.test.ts'] },
});
`,
      'in.txt': 'a\nb\n',
      'checks/helper.ts': 'export const expected = 2;\n',
      'checks/data.test.ts': `import fs from 'node:fs';
import { expect, it } from 'vitest';
import { expected } from './helper.js';
it('has the expected line count', () => {
  expect(fs.readFileSync('out/data.txt', 'utf8').trim().split('\\n').length).toBe(expected);
});
`,
    });
    await daemons.start(p);
    const first = await p.run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.tests).toMatchObject({ status: 'PASS', action: 'ran', passed: 1 });
    const second = await p.run();
    expect(second.tests).toMatchObject({ status: 'PASS', action: 'up-to-date' });
    p.write('checks/helper.ts', 'export const expected = 3;\n');
    const third = await p.run();
    expect(third.code).toBe(1);
    expect(third.tests).toMatchObject({ status: 'FAIL', action: 'ran', failed: 1 });
    p.write('in.txt', 'a\nb\nc\n');
    const fourth = await p.run();
    expect(fourth.code).toBe(0);
    expect(fourth.tests).toMatchObject({ status: 'PASS', action: 'ran', passed: 1 });
    expect(await served(p)).toBe(4);
  });

  it('serves a client whose environment differs from its own (steps get the client\'s: env.test.ts)', async () => {
    p = TempProject.create({ 'Batchfile.ts': CHAIN, 'data/a.txt': 'alpha', 'data/b.txt': 'beta' });
    await daemons.start(p);
    const r = await p.run([], { env: { SOME_SETTING: 'other' } });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/daemon/);
    expect(table(r.steps)).toEqual({ a: 'PASS ran', b: 'PASS ran', both: 'PASS ran' });
    expect(await served(p)).toBe(1);
  });

  /** A daemon serving a run of the SLOW Batchfile, which has started its step and waits. */
  async function startSlowServedRun(project: TempProject): Promise<{ daemonPid: number; run: ReturnType<TempProject['start']> }> {
    const daemonPid = await daemons.start(project);
    const run = project.start([]);
    await waitForFile(project.path('slow.started'));
    return { daemonPid, run };
  }

  it('Ctrl-C in the client stops the served run (exit 130); a direct run meanwhile finds the lock; the daemon serves on', async () => {
    p = TempProject.create({ 'Batchfile.ts': SLOW });
    const { daemonPid, run } = await startSlowServedRun(p);
    const direct = await p.batch(['--no-daemon']);
    expect(direct.code).toBe(2);
    expect(direct.stderr).toMatch(/Another batch is running/);
    run.kill('SIGINT');
    const { code } = await run.exited;
    expect(code, run.output).toBe(130);
    expect(run.output).toMatch(/Interrupted/);
    expect(isAlive(daemonPid)).toBe(true);
    p.write('release', '');
    const after = await p.run();
    expect(after.code).toBe(0);
    expect(table(after.steps)).toEqual({ slow: 'PASS ran' });
    expect(p.read('out/slow.txt')).toBe('done');
    expect(await served(p)).toBe(2);
  });

  it('a third Ctrl-C leaves a daemon that does not answer; the daemon, once back, stops that run and serves on', async () => {
    p = TempProject.create({ 'Batchfile.ts': SLOW });
    const { daemonPid, run } = await startSlowServedRun(p);
    process.kill(daemonPid, 'SIGSTOP');
    try {
      // One at a time: a signal sent while the same one is still pending is merged with it.
      for (let i = 0; i < 3; i++) await deliver(run.child.pid!, 'SIGINT');
      const { code } = await run.exited;
      expect(code, run.output).toBe(130);
      expect(run.output).toMatch(/not waiting for the daemon any longer/);
    } finally {
      process.kill(daemonPid, 'SIGCONT');
    }
    p.write('release', '');
    const after = await p.run();
    expect(after.code, after.stderr).toBe(0);
    expect(table(after.steps)).toEqual({ slow: 'PASS ran' });
    expect(await served(p)).toBe(2);
  });

  it('two clients at once behave as two batch processes: the second fails, or waits with --wait', async () => {
    p = TempProject.create({
      'Batchfile.ts': SLOW,
    });
    await daemons.start(p);
    const first = p.start([]);
    await waitForFile(p.path('slow.started'));
    const second = await p.batch([]);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/Another batch is running/);
    const waiting = p.start(['--wait', '--json']);
    await waiting.waitFor(/Waiting for the batch running in this project/);
    p.write('release', '');
    expect((await first.exited).code, first.output).toBe(0);
    expect((await waiting.exited).code, waiting.output).toBe(0);
    const summary = JSON.parse(waiting.output.slice(waiting.output.indexOf('{\n'), waiting.output.lastIndexOf('}') + 1)) as { steps: { name: string; status: string; action: string }[] };
    expect(table(summary.steps)).toEqual({ slow: 'PASS up-to-date' });
    expect(p.marks()).toEqual(['slow']);
  });

  it('stops when its socket goes (batch clean --cache); a killed daemon leaves runs to the client; stop and restart', async () => {
    p = TempProject.create({ 'Batchfile.ts': CHAIN, 'data/a.txt': 'alpha', 'data/b.txt': 'beta' });
    let pid = await daemons.start(p);
    expect((await p.run()).code).toBe(0);
    const c = await p.batch(['clean', '--cache']);
    expect(c.code, c.stderr).toBe(0);
    await waitDead([pid], 10_000);
    let r = await p.run();
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/daemon/);

    pid = await daemons.start(p);
    process.kill(pid, 'SIGKILL');
    await waitDead([pid]);
    expect(p.exists('.cache/daemon/daemon.sock')).toBe(true);
    r = await p.run();
    expect(r.code).toBe(0);
    expect(table(r.steps)).toEqual({ a: 'PASS up-to-date', b: 'PASS up-to-date', both: 'PASS up-to-date' });
    pid = await daemons.start(p); // over the stale socket
    expect((await p.run()).code).toBe(0);
    expect(await served(p)).toBe(1);
    const again = await p.batch(['daemon', 'start']);
    expect(again.stdout).toMatch(new RegExp(`already running \\(pid ${pid}\\)`));
    const s = await p.batch(['daemon', 'stop']);
    expect(s.stdout).toMatch(/stopped/);
    expect(p.exists('.cache/daemon/daemon.sock')).toBe(false);
    await waitDead([pid]);
    const none = await p.batch(['daemon', 'status']);
    expect(none.code).toBe(1);
  });

  it('every input touched: re-hashed (many files: by helper threads), nothing reruns, a hidden edit does; as a direct run', async () => {
    // 1,100 inputs: enough for the hash pass to use helper threads (and to stat ahead).
    const files: Record<string, string> = {};
    let body = '';
    for (let s = 0; s < 25; s++) {
      const ins: string[] = [];
      for (let f = 0; f < 44; f++) {
        files[`in/s${s}/f${f}.txt`] = `step ${s} file ${f}\n`.padEnd(64, '.');
        ins.push(`in/s${s}/f${f}.txt`);
      }
      const args = ins.flatMap((i) => ['--in', i]);
      body += `  s${s}: { command: ${cmd(...args, '--out', `out/s${s}.txt`)}, inputs: ${JSON.stringify(ins)}, outputs: ['out/s${s}.txt'] },\n`;
    }
    p = TempProject.create({ 'Batchfile.ts': batchfile(body), ...files });
    const names = Object.keys(files);
    const touchAll = (): void => {
      const now = new Date();
      for (const f of names) fs.utimesSync(p!.path(f), now, now);
    };
    const checks = (r: unknown): { bySnapshot: number; filesHashed: number } => (r as { checks: { bySnapshot: number; filesHashed: number } }).checks;
    const allUpToDate = Object.fromEntries(Array.from({ length: 25 }, (_, s) => [`s${s}`, 'PASS up-to-date']));
    await daemons.start(p);
    let r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    r = await p.run();
    expect(table(r.steps)).toEqual(allUpToDate);

    for (const via of [[], ['--no-daemon']]) {
      touchAll();
      r = await p.run(via);
      expect(table(r.steps), via.join()).toEqual(allUpToDate);
      // Every input (and the outputs, if a recent build left them within the racy window).
      expect(checks(r).bySnapshot, via.join()).toBe(0);
      expect(checks(r).filesHashed, via.join()).toBeGreaterThanOrEqual(1100);
      // Same size, among 1,100 touched files: only its content tells.
      p.write('in/s17/f3.txt', `STEP 17 FILE 3\n`.padEnd(64, '.'));
      touchAll();
      r = await p.run(via);
      const { s17, ...others } = table(r.steps);
      expect(s17, via.join()).toMatch(/^PASS (ran|restored)$/);
      expect(others, via.join()).toEqual({ ...allUpToDate, s17: undefined });
      p.write('in/s17/f3.txt', files['in/s17/f3.txt']!);
      r = await p.run(via);
      expect(table(r.steps).s17, via.join()).toMatch(/^PASS (ran|restored)$/);
    }
    const incremental = Object.fromEntries(Array.from({ length: 25 }, (_, s) => [s, p!.read(`out/s${s}.txt`)]));
    r = await p.run(['--force', '--no-daemon']);
    expect(r.code).toBe(0);
    expect(Object.fromEntries(Array.from({ length: 25 }, (_, s) => [s, p!.read(`out/s${s}.txt`)]))).toEqual(incremental);
    expect(await served(p)).toBe(5);
  });

  it('declines a client of another engine build, and stops', async () => {
    p = TempProject.create({ 'Batchfile.ts': CHAIN, 'data/a.txt': 'alpha', 'data/b.txt': 'beta' });
    const pid = await daemons.start(p);
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect(p!.path('.cache/daemon/daemon.sock'));
      let got = '';
      c.setEncoding('utf8');
      c.on('connect', () => c.write(`${JSON.stringify({ t: 'run', argv: [], cwd: p!.dir, env: process.env, engine: 'another build', tty: { out: false, err: false } })}\n`));
      c.on('data', (d: string) => (got += d));
      c.on('close', () => resolve(got));
      c.on('error', reject);
    });
    expect(JSON.parse(reply.trim()) as unknown).toMatchObject({ t: 'decline', why: 'engine' });
    await waitDead([pid], 10_000);
    expect(p.exists('.cache/daemon/daemon.sock')).toBe(false);
  });
});
