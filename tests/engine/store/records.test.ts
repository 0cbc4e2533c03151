// What a run leaves behind: the LMDB store (runs, per-step results, fingerprints, stat cache),
// logs/execution_logs.csv (appended, never rewritten), per-step logs, and the --json summary.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, cmd, csvRows, readStore, snapshot } from '../helpers.js';

const snapshotText = (p: TempProject, rel: string): string => Object.values(snapshot(p, rel)).join('\n');

let p: TempProject | undefined;
afterAll(() => p?.cleanup());

describe('records', () => {
  it('LMDB records, an append-only CSV, step logs and --json agree, run after run', async () => {
    p = TempProject.create({
      'data/a,b.csv': 'x,y\n1,2\n',
      'steps/work.ts': `export default async (ctx: { log(m: string): void }) => {
  const big = new Array(200_000).fill(0).map((_, i) => i * 2);
  ctx.log('summed ' + big.reduce((a, b) => a + b, 0));
};
`,
      'Batchfile.ts': batchfile(`
  copy: { command: ${cmd('--in', 'data/a,b.csv', '--out', 'build/copy.csv', '--mark', 'marks.txt')} + ' && echo copied to stdout', inputs: ['data/*.csv'], outputs: ['build/copy.csv'] },
  work: { run: 'steps/work.ts', inputs: ['build/copy.csv'] },
  maybe: { command: '[ "$FAILME" != 1 ]', env: ['FAILME', 'BATCH_TEST_SECRET'] },
`),
    });
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: p!.dir, encoding: 'utf8' }).trim();
    git('init', '-q');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '--allow-empty', '-m', 'start');
    const head = git('rev-parse', 'HEAD');

    const SECRET = 'hunter2-do-not-store';
    const r1 = await p.run([], { env: { FAILME: '0', BATCH_TEST_SECRET: SECRET } });
    expect(r1.code, r1.stderr).toBe(0);
    // --json: the whole stdout is the document (p.run parsed it); the human summary went to stderr.
    expect(r1).toMatchObject({ status: 'PASS', runId: expect.stringMatching(/^\d{8}T\d{9}Z-[a-z0-9]+$/) });
    expect(r1.stderr).toMatch(/PASS\s+ran\s+\S+\s+copy/);
    for (const s of r1.steps) {
      expect(s).toMatchObject({ status: 'PASS', action: 'ran', reason: 'no previous run recorded' });
      expect(typeof s.durationMs).toBe('number');
    }
    const csv1 = p.read('logs/execution_logs.csv');
    const rows1 = csvRows(p);
    expect(rows1.map((r) => [r.run_id, r.kind, r.name, r.status, r.action])).toEqual([
      [r1.runId, 'step', 'copy', 'PASS', 'ran'],
      [r1.runId, 'step', 'work', 'PASS', 'ran'],
      [r1.runId, 'step', 'maybe', 'PASS', 'ran'],
      [r1.runId, 'run', 'pipeline', 'PASS', ''],
    ]);
    expect(rows1.every((r) => /^\d+$/.test(r.duration_ms!) && !Number.isNaN(Date.parse(r.timestamp!)))).toBe(true);
    // The step's own output went to its log, not to batch's stdout.
    const copyLog = p.read(`logs/runs/${r1.runId}/copy.log`);
    expect(copyLog).toContain('copied to stdout');
    expect(p.read(`logs/runs/${r1.runId}/work.log`)).toContain(`summed ${199_999 * 200_000}`);

    // Run 2: an input edit (its name has a comma: the CSV must quote the reason) and a failure.
    p.write('data/a,b.csv', 'x,y\n3,4\n');
    const r2 = await p.run(['--keep-going'], { env: { FAILME: '1', BATCH_TEST_SECRET: SECRET } });
    expect(r2.code).toBe(1);
    expect(r2.status).toBe('FAIL');
    const maybe = r2.steps.find((s) => s.name === 'maybe') as { status: string; reason: string; error?: string; logFile?: string };
    expect(maybe).toMatchObject({ status: 'FAIL', reason: 'exit code 1', error: 'exit code 1', logFile: `logs/runs/${r2.runId}/maybe.log` });

    const csv2 = p.read('logs/execution_logs.csv');
    expect(csv2.startsWith(csv1)).toBe(true);
    expect(csv2.match(/^run_id,/gm)).toHaveLength(1);
    const rows2 = csvRows(p).slice(rows1.length);
    expect(rows2.map((r) => [r.run_id, r.name, r.status, r.action, r.reason])).toEqual([
      [r2.runId, 'copy', 'PASS', 'ran', 'input changed: data/a,b.csv'],
      [r2.runId, 'work', 'PASS', 'ran', 'input changed: build/copy.csv'],
      [r2.runId, 'maybe', 'FAIL', 'ran', 'exit code 1'],
      [r2.runId, 'pipeline', 'FAIL', '--keep-going', '2 ran, 0 up-to-date, 1 failed'],
    ]);

    // LMDB, read with the lmdb package.
    const store = await readStore(p, ['data/a,b.csv']);
    expect(store.runs.map((r) => [r.id, r.status])).toEqual([
      [r1.runId, 'PASS'],
      [r2.runId, 'FAIL'],
    ]);
    expect(store.runs.map((r) => r.flags)).toEqual([[], ['--keep-going']]);
    for (const run of store.runs) {
      expect(run).toMatchObject({ host: os.hostname(), node: process.version, git: { commit: head }, targets: [] });
      expect(run.endedAt as number).toBeGreaterThanOrEqual(run.startedAt as number);
    }
    expect(store.results.map((r) => r.key)).toEqual([
      [r1.runId, 'copy'], [r1.runId, 'maybe'], [r1.runId, 'work'],
      [r2.runId, 'copy'], [r2.runId, 'maybe'], [r2.runId, 'work'],
    ]);
    const result = (run: string, step: string): Record<string, unknown> => store.results.find((r) => r.key[0] === run && r.key[1] === step)!.value;
    expect(result(r2.runId, 'copy')).toMatchObject({ status: 'PASS', action: 'ran', reason: 'input changed: data/a,b.csv', durationMs: expect.any(Number) });
    expect(result(r2.runId, 'maybe')).toMatchObject({ status: 'FAIL', action: 'ran', reason: 'exit code 1' });
    // CPU time and peak memory where Linux gives them: command steps via /proc, run steps per thread.
    expect(result(r1.runId, 'copy')).toMatchObject({ cpuMs: expect.any(Number), peakRssBytes: expect.any(Number) });
    expect(result(r1.runId, 'copy').peakRssBytes as number).toBeGreaterThan(1024 * 1024);
    expect(result(r1.runId, 'work')).toMatchObject({ cpuMs: expect.any(Number) });
    // Fingerprints: the passing steps' state is from run 2, the failed step keeps run 1's.
    expect(store.state.copy).toMatchObject({ runId: r2.runId, parts: { inputs: { 'data/a,b.csv': expect.any(String) } }, outputs: { 'build/copy.csv': expect.any(String) } });
    expect(store.state.maybe).toMatchObject({ runId: r1.runId });
    // The stat cache: size, mtime, ctime, inode and hash of each file hashed.
    expect(store.stat['data/a,b.csv']).toMatchObject({ size: 8, mtimeMs: expect.any(Number), ctimeMs: expect.any(Number), ino: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    // Env values are never stored, only hashes: not in the LMDB file, the CSV or any log.
    expect(store.state.maybe).toMatchObject({ parts: { env: { BATCH_TEST_SECRET: expect.stringMatching(/^[0-9a-f]{16}$/) } } });
    expect(fs.readFileSync(p.path('.cache/store/data.mdb')).includes(SECRET)).toBe(false);
    expect(snapshotText(p, 'logs')).not.toContain(SECRET);
  });
});
