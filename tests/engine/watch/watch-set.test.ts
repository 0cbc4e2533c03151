// WatchSet against the engine's own glob expansion: a file is watched as an input exactly when
// resolveSpecs (what the engine hashes) lists it, and chokidar's filter never drops a folder
// that could hold one. No process here: real files in a temp folder, the pure classifier.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig, StepConfig } from '../../../src/batchfile/config.js';
import { resolveSpecs } from '../../../src/fingerprint/files.js';
import { initHash } from '../../../src/fingerprint/hash.js';
import { StatCache } from '../../../src/fingerprint/stat-cache.js';
import { WatchSet } from '../../../src/watch/watch-set.js';
import { TempProject } from '../rig.js';

let p: TempProject | undefined;
beforeAll(() => initHash());
afterEach(() => p?.cleanup());

function stepOf(name: string, inputs: string[], outputs: string[]): StepConfig {
  return { name, kind: 'command', spec: { command: 'true' }, inputs, outputs, dependsOn: [], params: {}, env: [], retries: 0, cache: true };
}

function configOf(root: string, steps: StepConfig[]): PipelineConfig {
  return { root, file: path.join(root, 'Batchfile.ts'), steps: new Map(steps.map((s) => [s.name, s])), cache: { enabled: true, maxBytes: 0 } };
}

const FILES = [
  'Batchfile.ts',
  'data/a.csv',
  'data/b.csv',
  'data/notes.txt',
  'data/sub/c.csv',
  'data/sub/deep/d.csv',
  'raw/2024/jan/x.json',
  'raw/2024/feb/y.json',
  'raw/2023/jan/z.json',
  'raw/readme.md',
  'ref/lookup.tsv',
  'ref/more/lookup2.tsv',
  'single.txt',
  'out/a.txt',
  'out/plots/p1.png',
  'node_modules/pkg/package.json',
  'node_modules/pkg/index.js',
  '.cache/store/data.mdb',
  'logs/execution_logs.csv',
  'steps/s.sh',
];

const INPUTS = ['data/*.csv', 'raw/2024/*/*.json', 'ref', 'single.txt', 'data/**/d.csv', 'missing/later.txt'];

function setup(): { set: WatchSet; root: string } {
  p = TempProject.create(Object.fromEntries(FILES.map((f) => [f, 'x'])));
  const root = p.dir;
  const config = configOf(root, [stepOf('a', INPUTS, ['out/a.txt', 'out/plots'])]);
  const set = new WatchSet({
    root,
    config,
    selected: ['a'],
    code: new Map([['a', ['steps/s.sh', 'node_modules/pkg/package.json']]]),
    batchfile: ['Batchfile.ts'],
    tests: false,
  });
  return { set, root };
}

describe('WatchSet', () => {
  it('classifies as inputs exactly the files the engine hashes', () => {
    const { set, root } = setup();
    const hashed = new Set(resolveSpecs(root, INPUTS, new StatCache(root, undefined)).files);
    for (const f of FILES) {
      const c = set.classify(f);
      expect({ f, input: c?.kind === 'input' }).toEqual({ f, input: hashed.has(f) });
    }
    // A file created later that a glob or a folder input matches counts; one that does not, does not.
    expect(set.classify('data/new.csv')).toEqual({ kind: 'input' });
    expect(set.classify('ref/new/deeper.tsv')).toEqual({ kind: 'input' });
    expect(set.classify('missing/later.txt')).toEqual({ kind: 'input' });
    expect(set.classify('data/new.txt')).toBeUndefined();
    expect(set.classify('raw/2023/mar/w.json')).toBeUndefined();
  });

  it('tells outputs, code, the Batchfile and the folders that never count apart', () => {
    const { set } = setup();
    expect(set.classify('out/a.txt')).toEqual({ kind: 'output', step: 'a' });
    expect(set.classify('out/plots/p2.png')).toEqual({ kind: 'output', step: 'a' });
    expect(set.classify('out/other.txt')).toBeUndefined();
    expect(set.classify('steps/s.sh')).toEqual({ kind: 'code' });
    expect(set.classify('Batchfile.ts')).toEqual({ kind: 'batchfile' });
    expect(set.classify('node_modules/pkg/package.json')).toEqual({ kind: 'code' });
    expect(set.classify('node_modules/pkg/index.js')).toBeUndefined();
    expect(set.classify('.cache/store/data.mdb')).toBeUndefined();
    expect(set.classify('logs/execution_logs.csv')).toBeUndefined();
  });

  it("lets chokidar into every folder that can hold a watched file, and into no other", () => {
    const { set, root } = setup();
    const dir = fs.statSync(root);
    const ignoredDir = (rel: string): boolean => set.ignored(path.join(root, rel), dir);
    for (const d of ['data', 'data/sub', 'data/sub/deep', 'raw', 'raw/2024', 'raw/2024/jan', 'ref', 'ref/more', 'out', 'out/plots', 'steps', 'node_modules/pkg']) {
      expect({ d, ignored: ignoredDir(d) }).toEqual({ d, ignored: false });
    }
    for (const d of ['raw/2023', 'raw/2024/jan/x', '.cache', '.cache/store', 'logs', 'node_modules/other', 'unrelated']) {
      expect({ d, ignored: ignoredDir(d) }).toEqual({ d, ignored: true });
    }
    const file = fs.statSync(path.join(root, 'data/a.csv'));
    expect(set.ignored(path.join(root, 'data/notes.txt'), file)).toBe(true);
    expect(set.ignored(path.join(root, 'data/a.csv'), file)).toBe(false);
  });

  it('changes its signature only when what is watched changes', () => {
    const { set, root } = setup();
    const again = new WatchSet({
      root,
      config: configOf(root, [stepOf('a', INPUTS, ['out/a.txt', 'out/plots'])]),
      selected: ['a'],
      code: new Map([['a', ['steps/s.sh', 'node_modules/pkg/package.json']]]),
      batchfile: ['Batchfile.ts'],
      tests: false,
    });
    expect(again.signature).toBe(set.signature);
    const more = new WatchSet({
      root,
      config: configOf(root, [stepOf('a', [...INPUTS, 'extra.txt'], ['out/a.txt', 'out/plots'])]),
      selected: ['a'],
      code: new Map([['a', ['steps/s.sh']]]),
      batchfile: ['Batchfile.ts'],
      tests: false,
    });
    expect(more.signature).not.toBe(set.signature);
  });
});
