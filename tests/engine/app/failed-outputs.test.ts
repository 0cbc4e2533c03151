// A failed step's declared outputs hold a partial result: they are moved under
// .cache/failed/<step>/ (the summary says where), so neither a later step of a --keep-going run
// nor a person takes them for a result.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => {
  p?.cleanup();
  p = undefined;
});

const BATCHFILE = batchfile(`
  bad: { command: 'mkdir -p build/parts && echo half > build/parts/p1.csv && echo partial > build/bad.csv && cat in.txt && test "$(cat in.txt)" = good', inputs: ['in.txt'], outputs: ['build/parts/', 'build/bad.csv'] },
`);

describe('a failed step', () => {
  it('has its partial outputs moved to .cache/failed/<step>/, and the summary says where', async () => {
    p = TempProject.create({ 'Batchfile.ts': BATCHFILE, 'in.txt': 'bad' });
    const r = await p.batch(['--keep-going']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ {2}bad: exit code 1 \(log: logs\/runs\/[^/]+\/bad\.log; its partial outputs were moved to \.cache\/failed\/bad\/\)/);
    expect(p.exists('build/bad.csv')).toBe(false);
    expect(p.exists('build/parts')).toBe(false);
    expect(p.read('.cache/failed/bad/build/bad.csv')).toBe('partial\n');
    expect(p.read('.cache/failed/bad/build/parts/p1.csv')).toBe('half\n');

    const json = await p.run(['--keep-going']);
    expect(json.steps.find((s) => s.name === 'bad')).toMatchObject({ status: 'FAIL', failedOutputs: '.cache/failed/bad/' });

    // Fixed: the step passes and writes its outputs where they belong.
    p.write('in.txt', 'good');
    const ok = await p.run();
    expect(ok.code, ok.stderr).toBe(0);
    expect(p.read('build/bad.csv')).toBe('partial\n');
    // clean --cache removes what failures left aside.
    expect((await p.batch(['clean', '--cache'])).code).toBe(0);
    expect(p.exists('.cache/failed')).toBe(false);
  });
});
