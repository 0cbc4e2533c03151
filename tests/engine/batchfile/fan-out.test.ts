// forEach: one step per file, listed by the engine on every run. A new file runs exactly its
// instance and the step that merges them; an edited file reruns only its instance; a no-op runs
// nothing, also when the daemon serves it (the Batchfile itself never changes).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { Daemons } from '../daemon/daemons.js';
import { batchfile, cmd, table } from '../helpers.js';

const MERGE = `import fs from 'node:fs';
const files = fs.readdirSync('build/tidy').filter((f) => f.endsWith('.csv')).sort();
fs.appendFileSync('marks.txt', process.env.BATCH_STEP + '\\n');
fs.writeFileSync('build/all.csv', files.map((f) => fs.readFileSync('build/tidy/' + f, 'utf8')).join(''));
`;

const BATCHFILE = batchfile(`
  tidy: {
    forEach: 'data/raw/*.csv',
    command: ${cmd('--in', '{path}', '--text', '#{stem};', '--out', 'build/tidy/{stem}.csv', '--mark', 'marks.txt')},
    inputs: ['{path}'],
    outputs: ['build/tidy/{stem}.csv'],
  },
  merge: { command: 'node steps/merge.mjs', inputs: ['build/tidy/*.csv'], outputs: ['build/all.csv'] },
`);

const ran = (steps: { name: string; action: string }[]): string[] => steps.filter((s) => s.action === 'ran').map((s) => s.name).sort();

describe('forEach over files', () => {
  let p: TempProject;
  const daemons = new Daemons();
  beforeAll(() => {
    p = TempProject.create({
      'Batchfile.ts': BATCHFILE,
      'steps/merge.mjs': MERGE,
      'data/raw/2024-01-01.csv': 'a\n',
      'data/raw/2024-01-02.csv': 'b\n',
    });
  });
  afterEach(() => daemons.stopAll(undefined));
  afterAll(async () => {
    await daemons.stopAll(p);
    p.cleanup();
  });

  it('runs one instance per file, named STEP:STEM, then the merge', async () => {
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(table(r.steps)).toEqual({
      'tidy:2024-01-01': 'PASS ran',
      'tidy:2024-01-02': 'PASS ran',
      merge: 'PASS ran',
    });
    expect(p.read('build/tidy/2024-01-01.csv')).toBe('a\n#2024-01-01;');
    expect(p.read('build/all.csv')).toBe('a\n#2024-01-01;b\n#2024-01-02;');
  });

  it('a no-op runs nothing', async () => {
    const r = await p.run();
    expect(ran(r.steps)).toEqual([]);
    expect(r.steps).toHaveLength(3);
  });

  it('a new file runs exactly its new instance plus the merge', async () => {
    p.write('data/raw/2024-01-03.csv', 'c\n');
    const r = await p.run();
    expect(ran(r.steps)).toEqual(['merge', 'tidy:2024-01-03']);
    expect(r.steps).toHaveLength(4);
    expect(p.read('build/all.csv')).toBe('a\n#2024-01-01;b\n#2024-01-02;c\n#2024-01-03;');
  });

  it('an edited file reruns only its instance (and the merge)', async () => {
    p.write('data/raw/2024-01-02.csv', 'B\n');
    const r = await p.run();
    expect(ran(r.steps)).toEqual(['merge', 'tidy:2024-01-02']);
    expect(p.read('build/all.csv')).toContain('B\n#2024-01-02;');
  });

  it('the graph and explain show the instances under their step', async () => {
    const g = await p.batch(['graph']);
    expect(g.stdout).toMatch(/subgraph g\d+\["tidy \(forEach\)"\]/);
    expect(g.stdout).toContain('"tidy:2024-01-03"');
    p.write('data/raw/2024-01-01.csv', 'A\n');
    const e = await p.batch(['explain', 'tidy']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/run\s+tidy:2024-01-01\s+input changed: data\/raw\/2024-01-01\.csv/);
    expect(e.stdout).toMatch(/up-to-date\s+tidy:2024-01-02/);
    await p.run();
    const h = await p.batch(['history', 'tidy']);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/tidy \(forEach\): 3 instances/);
    expect(h.stdout).toMatch(/tidy:2024-01-01\s+2\s/);
    expect(h.stdout).toMatch(/tidy:2024-01-03\s+1\s/);
  });

  it('the daemon serves a no-op and a new file, the Batchfile unchanged', async () => {
    await daemons.start(p);
    const before = await p.run();
    expect(before.stderr).not.toMatch(/not using the daemon/);
    expect(ran(before.steps)).toEqual([]);
    p.write('data/raw/2024-01-04.csv', 'd\n');
    const r = await p.run();
    expect(r.stderr).not.toMatch(/not using the daemon/);
    expect(ran(r.steps)).toEqual(['merge', 'tidy:2024-01-04']);
    const again = await p.run();
    expect(ran(again.steps)).toEqual([]);
    const h = await p.batch(['history', '--json']);
    const { runs } = JSON.parse(h.stdout) as { runs: { flags: string[] }[] };
    expect(runs.slice(0, 3).every((x) => x.flags.includes('via-daemon'))).toBe(true);
    await daemons.stopAll(p);
  });

  it('matches a clean --force build', async () => {
    const incremental = p.read('build/all.csv');
    const r = await p.run(['--force']);
    expect(r.code).toBe(0);
    expect(p.read('build/all.csv')).toBe(incremental);
  });

  it('a removed file: its instance disappears, its outputs are removed (the summary says so), the merge reruns', async () => {
    p.remove('data/raw/2024-01-02.csv');
    const r = await p.batch(['--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { steps: { name: string; action: string }[] };
    expect(summary.steps.map((s) => s.name)).not.toContain('tidy:2024-01-02');
    expect(ran(summary.steps)).toEqual(['merge']);
    expect(p.exists('build/tidy/2024-01-02.csv')).toBe(false);
    expect(p.read('build/all.csv')).not.toContain('2024-01-02');
    expect(r.stderr).toMatch(/tidy:2024-01-02/);
  });
});

describe('forEach over values, and bad declarations', () => {
  it('a list of values gives one instance each, {value} in the command', async () => {
    const p = TempProject.create({
      'Batchfile.ts': batchfile(`
  region: { forEach: ['eu', 'us'], command: ${cmd('--text', 'r={value}', '--out', 'out/{key}.txt')}, outputs: ['out/{key}.txt'] },
  all: { command: ${cmd('--in', 'out/eu.txt', '--in', 'out/us.txt', '--out', 'out/all.txt')}, inputs: ['out/eu.txt', 'out/us.txt'], outputs: ['out/all.txt'], dependsOn: ['region'] },
`),
    });
    try {
      const r = await p.run();
      expect(r.code, r.stderr).toBe(0);
      expect(table(r.steps)).toEqual({ 'region:eu': 'PASS ran', 'region:us': 'PASS ran', all: 'PASS ran' });
      expect(p.read('out/all.txt')).toBe('r=eur=us');
      // A forEach step's name as a target stands for all its instances.
      const t = await p.run(['region', '--force']);
      expect(t.steps.map((s) => s.name).sort()).toEqual(['region:eu', 'region:us']);
    } finally {
      p.cleanup();
    }
  });

  const bad: [string, string, RegExp][] = [
    ['an unknown placeholder', `t: { forEach: 'd/*.csv', command: 'cat {pth}', outputs: ['o/{stem}'] },`, /Batchfile\.ts: step "t"\.command: unknown placeholder \{pth\} \(did you mean "path"\?\)/],
    ['a value placeholder over a glob', `t: { forEach: 'd/*.csv', command: 'x', inputs: ['{value}'], outputs: ['o/{stem}'] },`, /step "t"\.inputs\[0\]: unknown placeholder \{value\}/],
    ['outputs shared by every instance', `t: { forEach: 'd/*.csv', command: 'x', outputs: ['o/all.txt'] },`, /step "t"\.outputs: every instance of a forEach step would write the same files/],
    ['a forEach that is neither', `t: { forEach: 3, command: 'x' } as never,`, /step "t"\.forEach: must be a glob/],
    ['two files with one stem', `t: { forEach: 'd/**/*.csv', command: 'x', outputs: ['o/{stem}'] },`, /step "t"\.forEach: "d\/a\.csv" and "d\/sub\/a\.csv" both give the instance name "t:a"/],
    ['a glob over outputs', `t: { forEach: 'o/*.csv', command: 'x {path}', inputs: ['{path}'], outputs: ['p/{stem}'] },\n  w: { command: 'x', outputs: ['o/w.csv'] },`, /step "t"\.forEach: "o\/\*\.csv" matches files a step writes/],
  ];
  for (const [what, body, message] of bad) {
    it(`refuses ${what} with exit 2, naming the step and field`, async () => {
      const p = TempProject.create({ 'Batchfile.ts': batchfile(body), 'd/a.csv': '1', 'd/sub/a.csv': '2', 'o/w.csv': 'x' });
      try {
        const r = await p.batch();
        expect(r.code, r.stdout + r.stderr).toBe(2);
        expect(r.stderr).toMatch(message);
      } finally {
        p.cleanup();
      }
    });
  }
});

describe('forEach placeholders, filled (unit)', () => {
  it('fills each placeholder, every time it occurs, and leaves shell variables, glob braces and escapes as written', async () => {
    const { globMatches, instancesOf } = await import('../../../src/batchfile/fan-out.js');
    const step = {
      name: 't',
      kind: 'command',
      spec: { command: 'x="${HOME}" && cat {path} {path} > out/{stem}.{a,b} && echo {nope}' },
      inputs: ['{path}', 'lib/{x,y}.txt'],
      outputs: ['out/{stem}-{name}'],
      dependsOn: [],
      params: { file: '{name}', nested: ['{stem}', { k: 'no placeholder' }] },
      env: [],
      retries: 0,
      cache: true,
      forEach: { glob: 'd/*.csv' },
    } as unknown as import('../../../src/batchfile/config.js').StepConfig;
    const [inst] = instancesOf(step, globMatches(['d/2024-01-03.csv']), 'Batchfile.ts');
    expect(inst!.name).toBe('t:2024-01-03');
    expect(inst!.spec.command).toBe('x="${HOME}" && cat d/2024-01-03.csv d/2024-01-03.csv > out/2024-01-03.{a,b} && echo {nope}');
    expect(inst!.inputs).toEqual(['d/2024-01-03.csv', 'lib/{x,y}.txt']);
    expect(inst!.outputs).toEqual(['out/2024-01-03-2024-01-03.csv']);
    expect(inst!.params).toEqual({ file: '2024-01-03.csv', nested: ['2024-01-03', { k: 'no placeholder' }] });
    expect('forEach' in inst!).toBe(false);
  });
});
