// The command-step contract, run against both spawn helpers: the native forkserver
// (forkserver.c, posix_spawn) and the Node one (spawn-helper.ts). Exit codes, signals, the
// log (header, append, missing folder), environment and folder, abort (SIGTERM, then SIGKILL
// of the group), processes left behind, a helper killed mid-step, metrics. Then the native
// protocol's validation on both sides, and the fallbacks when the native build is missing,
// broken or of another version.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as KindsModule from '../../../src/executors/helper-kinds.js';
import type * as ExecutorModule from '../../../src/executors/process-executor.js';
import type * as SpawnerModule from '../../../src/executors/spawner.js';
import type { ChildSpec } from '../../../src/executors/child-run.js';
import type { ExecRequest } from '../../../src/executors/types.js';
import { REPO, waitForFile } from '../rig.js';
import { isAlive, killQuietly, waitDead } from '../helpers.js';

// The built modules: they find the helpers beside them in dist/.
let kinds: typeof KindsModule;
let executor: typeof ExecutorModule;
let spawner: typeof SpawnerModule;
beforeAll(async () => {
  kinds = (await import(path.join(REPO, 'dist/executors/helper-kinds.js'))) as typeof KindsModule;
  executor = (await import(path.join(REPO, 'dist/executors/process-executor.js'))) as typeof ExecutorModule;
  spawner = (await import(path.join(REPO, 'dist/executors/spawner.js'))) as typeof SpawnerModule;
});

const FORKSERVER = path.join(REPO, 'dist/forkserver');
const NODE_HELPER = path.join(REPO, 'dist/executors/spawn-helper.js');

let tmp: string | undefined;
let leftovers: number[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  killQuietly(leftovers);
  leftovers = [];
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

function tempDir(): string {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'spawn-helpers-')));
  return tmp;
}

/** Pids a step wrote into `file` (written to a temporary name, then renamed). */
async function pidsOf(file: string): Promise<number[]> {
  await waitForFile(file, 10_000);
  const pids = fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  leftovers.push(...pids);
  return pids;
}

/** Resolves once `file` holds `text` (polled: the writer is another process). */
async function waitForText(file: string, text: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(text))) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${JSON.stringify(text)} in ${file}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('the native forkserver was built (a C compiler is part of the test setup)', () => {
  expect(fs.existsSync(FORKSERVER)).toBe(true);
});

describe.each(['native', 'node'] as const)('command steps through the %s helper', (mode) => {
  function newExecutor(): ExecutorModule.ProcessExecutor {
    const ex = new executor.ProcessExecutor({ helper: mode, helpers: 2 });
    closers.push(() => ex.close());
    return ex;
  }

  function request(dir: string, name: string, command: string | string[], extra: Partial<ExecRequest> = {}): ExecRequest {
    return {
      step: { name, kind: 'command', spec: { command }, inputs: [], outputs: [], dependsOn: [], params: {}, env: [], retries: 0, cache: false },
      command: typeof command === 'string' ? { file: '/bin/sh', args: ['-c', command] } : { file: command[0]!, args: command.slice(1) },
      runId: 'run-1',
      root: dir,
      inputs: [],
      outputs: [],
      logFile: path.join(dir, 'logs', `${name}.log`),
      signal: new AbortController().signal,
      runEnv: process.env,
      ...extra,
    };
  }

  it('runs each step in a helper of that kind', async () => {
    const dir = tempDir();
    const ex = newExecutor();
    const out = await ex.execute(request(dir, 'parent', "tr '\\0' ' ' < /proc/$PPID/cmdline > parent.txt"));
    expect(out.ok, out.error).toBe(true);
    const parent = fs.readFileSync(path.join(dir, 'parent.txt'), 'utf8');
    if (mode === 'native') expect(parent.trim()).toBe(FORKSERVER);
    else expect(parent).toContain('spawn-helper.js');
  });

  it('exit codes, a death by signal, a program that does not exist', async () => {
    const dir = tempDir();
    const ex = newExecutor();
    const [ok, seven, term, missing] = await Promise.all([
      ex.execute(request(dir, 'ok', 'exit 0')),
      ex.execute(request(dir, 'seven', 'exit 7')),
      ex.execute(request(dir, 'term', 'kill -TERM $$')),
      ex.execute(request(dir, 'missing', ['no-such-program-anywhere', 'x'])),
    ]);
    expect(ok).toMatchObject({ ok: true });
    expect(seven).toMatchObject({ ok: false, error: 'exit code 7' });
    expect(term).toMatchObject({ ok: false, error: 'killed by SIGTERM' });
    expect(missing.ok).toBe(false);
    expect(missing.error).toMatch(/no-such-program-anywhere/);
    expect(missing.error).toMatch(/^cannot start "no-such-program-anywhere": .*ENOENT/);
    // A log that cannot be opened: nothing runs.
    fs.writeFileSync(path.join(dir, 'plain-file'), '');
    const nolog = await ex.execute({ ...request(dir, 'nolog', 'echo ran > ran.txt'), logFile: path.join(dir, 'plain-file', 'x.log') });
    expect(nolog.ok).toBe(false);
    expect(nolog.error).toMatch(/^cannot open the log .*plain-file\/x\.log: ENOTDIR: not a directory/);
    expect(fs.existsSync(path.join(dir, 'ran.txt'))).toBe(false);
  });

  it("the log: the header first, then the command's stdout and stderr, appended; a missing folder is created", async () => {
    const dir = tempDir();
    const ex = newExecutor();
    const logFile = path.join(dir, 'logs', 'deep', 'er', 'step.log');
    for (const attempt of [1, 2]) {
      const out = await ex.execute({ ...request(dir, 'step', `echo out ${attempt}; echo err ${attempt} >&2`), logFile, logHeader: `# attempt ${attempt}\n` });
      expect(out.ok, out.error).toBe(true);
    }
    expect(fs.readFileSync(logFile, 'utf8')).toBe('# attempt 1\nout 1\nerr 1\n# attempt 2\nout 2\nerr 2\n');
    // stdin is /dev/null: a command that reads it ends at once.
    const cat = await ex.execute(request(dir, 'cat', 'cat; echo read-all'));
    expect(cat.ok, cat.error).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'logs', 'cat.log'), 'utf8')).toBe('read-all\n');
  });

  it('a step that prints nothing leaves no log; the first byte creates it, header first, and retries append', async () => {
    const dir = tempDir();
    const ex = newExecutor();
    const logFile = path.join(dir, 'logs', 'run-x', 'quiet.log');
    const silent = await ex.execute({ ...request(dir, 'quiet', 'echo data > out.txt'), logFile, logHeader: '# attempt 1\n' });
    expect(silent.ok, silent.error).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('data\n');
    expect(fs.existsSync(logFile)).toBe(false);
    // Its folder was made ready before the start (a folder that cannot be made fails the start).
    expect(fs.statSync(path.dirname(logFile)).isDirectory()).toBe(true);
    // Output only on stderr, late, and from a child of the command: all of it in the log
    // before the end is reported.
    const late = await ex.execute({ ...request(dir, 'quiet', 'sleep 0.05; (echo late >&2); exit 3'), logFile, logHeader: '# attempt 2\n' });
    expect(late).toMatchObject({ ok: false, error: 'exit code 3' });
    expect(fs.readFileSync(logFile, 'utf8')).toBe('# attempt 2\nlate\n');
    // More than a pipe holds (64 KiB), printed at once just before the exit: nothing lost.
    const big = await ex.execute({ ...request(dir, 'big', "head -c 300000 /dev/zero | tr '\\0' x; echo; echo end"), logHeader: '# big\n' });
    expect(big.ok, big.error).toBe(true);
    const text = fs.readFileSync(path.join(dir, 'logs', 'big.log'), 'utf8');
    expect(text.length).toBe('# big\n'.length + 300000 + 1 + 4);
    expect(text.endsWith('x\nend\n')).toBe(true);
  });

  it("the run's environment, the step's own variables, its folder; a program found on PATH and a script without #!", async () => {
    const dir = tempDir();
    const ex = newExecutor();
    process.env.SPAWN_HELPERS_TEST = 'from batch';
    process.env.BATCH_STEP = 'overridden by the step';
    try {
      const out = await ex.execute(request(dir, 'envy', 'echo "$SPAWN_HELPERS_TEST|$BATCH_STEP|$BATCH_RUN_ID|$BATCH_ROOT|$(pwd)" > env.txt'));
      expect(out.ok, out.error).toBe(true);
      const argv = await ex.execute(request(dir, 'argv', ['sh', '-c', 'echo "$0 $1" > argv.txt', 'zero', 'one two']));
      expect(argv.ok, argv.error).toBe(true);
      fs.mkdirSync(path.join(dir, 'tools'));
      fs.writeFileSync(path.join(dir, 'tools', 'plain.sh'), 'echo "plain $1" > plain.txt\n', { mode: 0o755 });
      const plain = await ex.execute(request(dir, 'plain', ['tools/plain.sh', 'arg']));
      expect(plain.ok, plain.error).toBe(true);
    } finally {
      delete process.env.SPAWN_HELPERS_TEST;
      delete process.env.BATCH_STEP;
    }
    expect(fs.readFileSync(path.join(dir, 'env.txt'), 'utf8')).toBe(`from batch|envy|run-1|${dir}|${dir}\n`);
    expect(fs.readFileSync(path.join(dir, 'argv.txt'), 'utf8')).toBe('zero one two\n');
    expect(fs.readFileSync(path.join(dir, 'plain.txt'), 'utf8')).toBe('plain arg\n');
  });

  it('an abort sends SIGTERM to the whole group, then SIGKILL to what ignores it', async () => {
    const dir = tempDir();
    const ex = newExecutor();
    const ac = new AbortController();
    // The shell notes the SIGTERM and carries on; its child ignores SIGTERM altogether.
    const script = `trap 'echo TERM >> got.txt' TERM; (trap '' TERM; exec sleep 60) & echo $$ $! > pids.tmp && mv pids.tmp pids.txt; while :; do sleep 1; done`;
    const running = ex.execute({ ...request(dir, 'hold', script), signal: ac.signal });
    const pids = await pidsOf(path.join(dir, 'pids.txt'));
    expect(pids).toHaveLength(2);
    ac.abort(new Error('timed out after 1s'));
    const out = await running;
    expect(out).toMatchObject({ ok: false, error: 'timed out after 1s' });
    expect(fs.readFileSync(path.join(dir, 'got.txt'), 'utf8')).toContain('TERM');
    await waitDead(pids, 5000);
  });

  it('processes left running after the command exited are killed and fail the step', async () => {
    const dir = tempDir();
    const ex = newExecutor();
    const out = await ex.execute(request(dir, 'orphan', 'sleep 60 & echo $! > pid.tmp && mv pid.tmp pid.txt'));
    const pids = await pidsOf(path.join(dir, 'pid.txt'));
    expect(out).toMatchObject({ ok: false, error: 'the command left processes running after it exited (they were killed)' });
    await waitDead(pids, 5000);
  });

  it('CPU time and peak memory: a step that holds 120 MB reports at least that', async () => {
    const dir = tempDir();
    const ex = newExecutor();
    // Burns 150 ms of its own CPU while holding the memory; `&& echo` keeps the shell forking.
    const js = `const b=Buffer.alloc(120e6,1);const t=process.cpuUsage();while(process.cpuUsage(t).user<150000){}if(b[7]!==1)process.exit(1)`;
    const out = await ex.execute(request(dir, 'hungry', `${JSON.stringify(process.execPath)} -e ${JSON.stringify(js)} && echo done`));
    expect(out.ok, out.error).toBe(true);
    expect(out.peakRssBytes).toBeGreaterThanOrEqual(120e6);
    // At least the 150 ms it burnt (the Node helper's sample may be short by one interval).
    expect(out.cpuMs).toBeGreaterThanOrEqual(mode === 'native' ? 150 : 100);
    const idle = await ex.execute(request(dir, 'idle', 'exit 3'));
    expect(idle.peakRssBytes ?? 0).toBeLessThan(120e6);
    // The kernel's account has a figure for every step, however short; /proc samples may
    // come too late for one that ends at once.
    if (mode === 'native') expect(idle.peakRssBytes).toBeGreaterThan(0);
  });

  it('peak memory of a pipeline: the processes that run side by side are summed', async () => {
    const dir = tempDir();
    const ex = newExecutor();
    // Each side holds 100 MB, says so, waits for the other, then holds on for half a second
    // (ten sampling intervals). The largest single process is ~140 MB; the tree is > 200 MB.
    const side = (me: string, other: string): string =>
      `${JSON.stringify(process.execPath)} -e ${JSON.stringify(
        `const fs=require('fs');const b=Buffer.alloc(100e6,1);fs.writeFileSync('${me}','');const s=new Int32Array(new SharedArrayBuffer(4));const until=Date.now()+20000;while(!fs.existsSync('${other}')&&Date.now()<until)Atomics.wait(s,0,0,5);Atomics.wait(s,0,0,500);if(b[9]!==1)process.exit(1)`,
      )}`;
    const out = await ex.execute(request(dir, 'pipe', `${side('a.ready', 'b.ready')} | ${side('b.ready', 'a.ready')}`));
    expect(out.ok, out.error).toBe(true);
    expect(out.peakRssBytes).toBeGreaterThanOrEqual(200e6);
  });

  it('a helper killed -9 mid-step: its steps fail, naming it, and are killed; later steps run', async () => {
    const dir = tempDir();
    const kind = mode === 'native' ? kinds.nativeHelper(FORKSERVER) : kinds.nodeHelper(NODE_HELPER);
    const s = new spawner.HelperSpawner(1, [kind]);
    closers.push(() => s.close());
    const spec = (script: string): ChildSpec => ({ file: '/bin/sh', args: ['-c', script], cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, logFile: path.join(dir, 'step.log') });
    // Killed once the helper has said it started the step: a step it started but did not yet
    // report cannot be found by batch (it fails, but may run on; see docs/reliability.md).
    let reported: (pid: number) => void = () => undefined;
    const started = new Promise<number>((r) => (reported = r));
    const running = s.start(spec('echo $$ > pid.tmp && mv pid.tmp pid.txt; sleep 60'), (p) => reported(p));
    const [pid] = await pidsOf(path.join(dir, 'pid.txt'));
    expect(await started).toBe(pid);
    const [helper] = s.helperPids;
    expect(helper).toBeGreaterThan(0);
    process.kill(helper!, 'SIGKILL');
    const end = await running;
    expect(end.error).toMatch(new RegExp(`^the ${kind.name} exited \\(SIGKILL\\)`));
    await waitDead([pid!], 5000);
    // A new helper takes the next step.
    const next = await s.start(spec('echo again > again.txt'), () => undefined);
    expect(next).toMatchObject({ code: 0, leftBehind: false });
    expect(s.helperPids).not.toContain(helper);
    expect(s.helperNames).toEqual([kind.name]);
    expect(fs.readFileSync(path.join(dir, 'again.txt'), 'utf8')).toBe('again\n');
  });

  it('kill -9 of batch ends the running step and its process group', async () => {
    const dir = tempDir();
    // A small stand-in for batch: it starts one step through the helper, says so, waits.
    const script = path.join(dir, 'mini-batch.mjs');
    fs.writeFileSync(
      script,
      `const { ProcessExecutor } = await import(${JSON.stringify(path.join(REPO, 'dist/executors/process-executor.js'))});
const ex = new ProcessExecutor({ helper: ${JSON.stringify(mode)} });
const command = 'sleep 60 & echo $$ $! > pids.tmp && mv pids.tmp pids.txt; wait';
const step = { name: 'hold', kind: 'command', spec: { command }, inputs: [], outputs: [], dependsOn: [], params: {}, env: [], retries: 0, cache: false };
await ex.execute({ step, command: { file: '/bin/sh', args: ['-c', command] }, runId: 'r', root: ${JSON.stringify(dir)}, inputs: [], outputs: [], logFile: ${JSON.stringify(path.join(dir, 'hold.log'))}, signal: new AbortController().signal, runEnv: process.env });
`,
    );
    const batch = spawn(process.execPath, [script], { cwd: dir, stdio: 'ignore' });
    const exited = new Promise((r) => batch.once('exit', r));
    const pids = await pidsOf(path.join(dir, 'pids.txt'));
    expect(pids.every(isAlive)).toBe(true);
    batch.kill('SIGKILL');
    await exited;
    await waitDead(pids, 10_000);
  });
});

describe('the native protocol', () => {
  /** Runs the forkserver on `input`; its exit code and stderr. */
  function feed(input: Buffer): { code: number | null; stderr: string; stdout: string } {
    const r = spawnSync(FORKSERVER, [], { input, encoding: 'utf8', timeout: 10_000 });
    return { code: r.status, stderr: r.stderr, stdout: r.stdout };
  }
  const frame = (body: Buffer | string): Buffer => {
    const b = Buffer.from(body);
    const h = Buffer.alloc(4);
    h.writeUInt32LE(b.length);
    return Buffer.concat([h, b]);
  };
  const ok = (fields: string[]): string => `R${fields.map((f) => `${f}\0`).join('')}`;

  it.each([
    ['an empty frame', Buffer.alloc(4), /frame length 0/],
    ['a frame longer than the limit', Buffer.from([0, 0, 0, 0x40]), /frame length/],
    ['an unknown type', frame('X1\0'), /unknown type byte 0x58/],
    ['a field without its NUL', frame('R1\0/bin/sh'), /not NUL-terminated/],
    ['an id that is not a number', frame(ok(['1x', '/bin/sh', '/', '/tmp/l', '', '0', '0'])), /id is not a number/],
    ['more arguments than bytes', frame(ok(['1', '/bin/sh', '/', '/tmp/l', '', '99', '0'])), /more arguments than bytes/],
    ['an empty program', frame(ok(['1', '', '/', '/tmp/l', '', '0', '0'])), /empty file, cwd or log/],
    ['bytes after the last field', frame(`${ok(['1', '/bin/true', '/', '/tmp/l', '', '0', '0'])}junk`), /bytes after the last field/],
    ['a variable without "="', frame('E1\0NOEQUALS\0'), /not KEY=VALUE/],
    ['a variable count too large', frame('E99999999\0'), /too large|more variables than bytes/],
  ])('rejects %s: a message, exit 2, nothing started', (_what, input, message) => {
    const r = feed(Buffer.concat([input]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('ready 1\n');
  });

  it('a half frame at the end of input is no request: it exits 0 having started nothing', () => {
    const r = feed(frame(ok(['1', '/bin/sh', '/', '/tmp/l', '', '0', '0'])).subarray(0, 10));
    expect(r).toMatchObject({ code: 0, stdout: 'ready 1\n' });
  });

  it('a value the protocol cannot carry (a NUL byte) fails the step on batch\'s side, unsent', async () => {
    const dir = tempDir();
    const s = new spawner.HelperSpawner(1, [kinds.nativeHelper(FORKSERVER)]);
    closers.push(() => s.close());
    const spec: ChildSpec = { file: '/bin/echo', args: ['a\0b'], cwd: dir, env: { PATH: '/usr/bin:/bin' }, logFile: path.join(dir, 'x.log') };
    const end = await s.start(spec, () => undefined);
    expect(end.error).toMatch(/^cannot start "\/bin\/echo": argument 1 contains a NUL byte/);
    // The helper lives on for the next step.
    const next = await s.start({ ...spec, args: ['fine'] }, () => undefined);
    expect(next.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'x.log'), 'utf8')).toBe('fine\n');
  });
});

describe('falling back to the Node helper', () => {
  const spec = (dir: string): ChildSpec => ({ file: '/bin/sh', args: ['-c', "tr '\\0' ' ' < /proc/$PPID/cmdline > parent.txt"], cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, logFile: path.join(dir, 'x.log') });

  it('a native helper that was not built: steps go to the Node helper, each once', async () => {
    const dir = tempDir();
    const s = new spawner.HelperSpawner(1, [kinds.nativeHelper(path.join(dir, 'no-forkserver')), kinds.nodeHelper(NODE_HELPER)]);
    closers.push(() => s.close());
    const ends = await Promise.all([s.start(spec(dir), () => undefined), s.start({ ...spec(dir), args: ['-c', 'echo once >> runs.txt'] }, () => undefined)]);
    expect(ends.map((e) => e.code)).toEqual([0, 0]);
    expect(fs.readFileSync(path.join(dir, 'parent.txt'), 'utf8')).toContain('spawn-helper.js');
    expect(fs.readFileSync(path.join(dir, 'runs.txt'), 'utf8')).toBe('once\n');
    expect(s.helperNames).toEqual(['spawn helper']);
  });

  it('a native helper of another protocol version, or one that sends garbage before ready: the Node helper', async () => {
    const dir = tempDir();
    for (const [name, text] of [['v2', 'ready 2'], ['garbage', 'hello there']]) {
      const fake = path.join(dir, `fake-${name}.sh`);
      fs.writeFileSync(fake, `#!/bin/sh\necho '${text}'\nexec cat > /dev/null\n`, { mode: 0o755 });
      const s = new spawner.HelperSpawner(1, [kinds.nativeHelper(fake), kinds.nodeHelper(NODE_HELPER)]);
      closers.push(() => s.close());
      fs.rmSync(path.join(dir, 'parent.txt'), { force: true });
      const end = await s.start(spec(dir), () => undefined);
      expect(end.code, name).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'parent.txt'), 'utf8'), name).toContain('spawn-helper.js');
    }
  });

  it('a native helper that sends garbage after ready fails the step it held (it may have run), naming the line', async () => {
    const dir = tempDir();
    const fake = path.join(dir, 'fake.sh');
    fs.writeFileSync(fake, `#!/bin/sh\necho 'ready 1'\nhead -c 1 > /dev/null\necho 'start 1 notapid'\nexec cat > /dev/null\n`, { mode: 0o755 });
    const s = new spawner.HelperSpawner(1, [kinds.nativeHelper(fake)]);
    closers.push(() => s.close());
    const end = await s.start(spec(dir), () => undefined);
    expect(end.error).toBe('the native spawn helper sent a line that is not its protocol: "start 1 notapid"');
  });

  it('the build: no compiler, or a failed compile, says so in one line, succeeds and leaves no binary', () => {
    const dir = tempDir();
    const out = path.join(dir, 'forkserver');
    const badCc = path.join(dir, 'bad-cc.sh');
    fs.writeFileSync(badCc, `#!/bin/sh\n[ "$1" = --version ] && exit 0\necho 'bad-cc: error: this compiler always fails' >&2\nexit 1\n`, { mode: 0o755 });
    for (const cc of [path.join(dir, 'no-such-cc'), badCc]) {
      fs.writeFileSync(out, 'an older binary');
      const r = spawnSync(process.execPath, [path.join(REPO, 'scripts/build-forkserver.mjs'), '--out', out], { env: { ...process.env, CC: cc }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n'), cc).toHaveLength(1);
      expect(r.stdout).toMatch(/^forkserver: not built \(.*\); command steps start through the Node spawn helper/);
      expect(fs.existsSync(out)).toBe(false);
    }
    const good = spawnSync(process.execPath, [path.join(REPO, 'scripts/build-forkserver.mjs'), '--out', out], { encoding: 'utf8' });
    expect(good.status, good.stderr).toBe(0);
    expect(fs.statSync(out).mode & 0o111).not.toBe(0);
  });
});
