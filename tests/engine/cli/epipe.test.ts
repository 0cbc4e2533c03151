// Output piped to a reader that closed early (`batch trends | head -1`): output ends quietly,
// a run still finishes and is recorded, query commands exit 0. The pipe is real: the read end
// is closed before batch starts, so every write it makes meets EPIPE.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, TempProject } from '../rig.js';
import { Daemons } from '../daemon/daemons.js';
import { batchfile } from '../helpers.js';

let p: TempProject | undefined;
const daemons = new Daemons();
afterEach(async () => {
  await daemons.stopAll(p);
  p?.cleanup();
  p = undefined;
});

const BATCHFILE = batchfile(`
  a: { command: 'mkdir -p out && echo hi > out/a.txt', outputs: ['out/a.txt'] },
  b: { command: 'cat out/a.txt out/a.txt > out/b.txt', inputs: ['out/a.txt'], outputs: ['out/b.txt'] },
`);

/** Runs batch with its stdout (and maybe stderr) a pipe whose reader is already gone. */
function closedPipe(project: TempProject, args: string[], closeStderr = false): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '-C', project.dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', CI: '1' } });
    child.stdout.destroy();
    if (closeStderr) child.stderr.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`batch ${args.join(' ')} did not finish`))), 60_000);
    child.on('close', (code) => (clearTimeout(timer), resolve({ code, stderr })));
  });
}

async function runIds(project: TempProject): Promise<string[]> {
  const r = await project.batch(['history', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { runs: { id: string; status: string }[] }).runs.map((x) => `${x.id} ${x.status}`);
}

describe('a closed output pipe', () => {
  it('ends output quietly: runs finish and are recorded, queries exit 0', async () => {
    p = TempProject.create({ 'Batchfile.ts': BATCHFILE });
    const run = await closedPipe(p, ['--force']);
    expect(run.stderr).not.toMatch(/EPIPE|Unhandled|internal error/);
    expect(run.code).toBe(0);
    expect(p.read('out/b.txt')).toBe('hi\nhi\n');
    const both = await closedPipe(p, ['--force'], true);
    expect(both.code).toBe(0);
    const ids = await runIds(p);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(/ PASS$/);

    for (const query of [['trends'], ['history'], ['-n'], ['graph'], ['explain', 'b'], ['--json']]) {
      const q = await closedPipe(p, query);
      expect(q.stderr, query.join(' ')).not.toMatch(/EPIPE|Unhandled|internal error/);
      expect(q.code, query.join(' ')).toBe(0);
    }
  }, 120_000);

  it('a run the daemon serves finishes and is recorded too', async () => {
    p = TempProject.create({ 'Batchfile.ts': BATCHFILE });
    await daemons.start(p);
    const run = await closedPipe(p, ['--force']);
    expect(run.stderr).not.toMatch(/EPIPE|Unhandled|internal error|not using the daemon/);
    expect(run.code).toBe(0);
    const ids = await runIds(p);
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/ PASS$/);
  }, 60_000);
});
