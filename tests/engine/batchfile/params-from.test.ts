// paramsFrom: a step depends on keys of a YAML, JSON or TOML file, not on the file. Only those
// keys' values count; a comment or another section's edit reruns nothing; values reach `run`
// steps in ctx.params and `command` steps as BATCH_PARAMS / BATCH_PARAM_<KEY>.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, table } from '../helpers.js';

const PARAMS = `# model settings
prepare:
  split: 0.2
train:
  n_est: 60
  seed: 7
`;

const TRAIN = `import fs from 'node:fs';
import path from 'node:path';
import { defineStep, type ParamsOf } from 'batchfile';
export default defineStep<ParamsOf<'train.n_est' | 'train.seed'>>(async (ctx) => {
  fs.appendFileSync(path.join(ctx.root, 'marks.txt'), ctx.step + '\\n');
  const n: unknown = ctx.params.train.n_est;
  fs.writeFileSync(ctx.outputs[0]!, JSON.stringify({ n, seed: ctx.params.train.seed, lr: ctx.params.lr }));
});
`;

const BODY = `
  prepare: {
    command: 'echo "$BATCH_STEP" >> marks.txt && echo "$BATCH_PARAM_PREPARE_SPLIT $BATCH_PARAMS" > out/prepare.txt',
    outputs: ['out/prepare.txt'],
    paramsFrom: { 'params.yaml': ['prepare.split'] },
  },
  train: { run: 'steps/train.ts', outputs: ['out/model.json'], params: { lr: 0.1 }, paramsFrom: { 'params.yaml': ['train.n_est', 'train.seed'] } },
  report: { command: 'echo "$BATCH_STEP" >> marks.txt && echo "$BATCH_PARAM_TITLE" > out/title.txt', outputs: ['out/title.txt'], paramsFrom: { 'conf/report.toml': ['title'] } },
  cfg: { command: 'echo "$BATCH_STEP" >> marks.txt && echo "$BATCH_PARAM_LEVEL" > out/level.txt', outputs: ['out/level.txt'], paramsFrom: { 'conf/level.json': ['level'] } },
`;

const ran = (steps: { name: string; action: string }[]): string[] => steps.filter((s) => s.action === 'ran').map((s) => s.name).sort();

describe('paramsFrom', () => {
  let p: TempProject;
  beforeAll(() => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(BODY),
      'params.yaml': PARAMS,
      'steps/train.ts': TRAIN,
      'conf/report.toml': 'title = "Q1"\n[other]\nx = 1\n',
      'conf/level.json': '{ "level": 3, "unused": true }',
      'out/.keep': '',
    });
  });
  afterAll(() => p.cleanup());

  it('gives the values to run steps (ctx.params) and command steps (env)', async () => {
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(table(r.steps)).toEqual({ prepare: 'PASS ran', train: 'PASS ran', report: 'PASS ran', cfg: 'PASS ran' });
    expect(JSON.parse(p.read('out/model.json'))).toEqual({ n: 60, seed: 7, lr: 0.1 });
    expect(p.read('out/prepare.txt')).toBe('0.2 {"prepare":{"split":0.2}}\n');
    expect(p.read('out/title.txt')).toBe('Q1\n');
    expect(p.read('out/level.txt')).toBe('3\n');
  });

  it('a comment, formatting or another key edit reruns nothing', async () => {
    p.write('params.yaml', `# model settings, retuned\nprepare: { split: 0.2 }\ntrain:\n    n_est: 60   # trees\n    seed: 7\nevaluate:\n  k: 5\n`);
    p.write('conf/report.toml', '# title\ntitle = "Q1"\n[other]\nx = 2\n');
    p.write('conf/level.json', '{"unused": false, "level": 3}');
    const r = await p.run();
    expect(ran(r.steps)).toEqual([]);
  });

  it('a key change reruns only the steps reading that key; explain names the key and both values', async () => {
    p.write('params.yaml', `prepare: { split: 0.2 }\ntrain:\n  n_est: 70\n  seed: 7\n`);
    const e = await p.batch(['explain', 'train', 'prepare']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/run\s+train\s+param changed: train\.n_est 60 -> 70/);
    expect(e.stdout).toMatch(/up-to-date\s+prepare/);
    const r = await p.run();
    expect(ran(r.steps)).toEqual(['train']);
    expect(JSON.parse(p.read('out/model.json'))).toMatchObject({ n: 70 });
  });

  it('a missing key or file is exit 2 naming the file, key and step; nothing runs', async () => {
    p.write('params.yaml', `prepare: { split: 0.2 }\ntrain:\n  seed: 7\n`);
    const r = await p.batch();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/step "train"\.paramsFrom: params\.yaml has no key "train\.n_est"/);
    p.write('params.yaml', `prepare: { split: 0.2 }\n`);
    const r2 = await p.batch();
    expect(r2.stderr).toMatch(/step "train"\.paramsFrom: params\.yaml has no key "train\.n_est" \(no "train"\)/);
    p.remove('conf/level.json');
    p.write('params.yaml', `prepare: { split: 0.2 }\ntrain:\n  n_est: 70\n  seed: 7\n`);
    const r3 = await p.batch();
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/step "cfg"\.paramsFrom: "conf\/level\.json" does not exist/);
    p.write('conf/level.json', '{ "level": 3 ');
    const r4 = await p.batch();
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/conf\/level\.json: not valid JSON \(read by step "cfg"\.paramsFrom\)/);
    p.write('conf/level.json', '{ "level": 3 }');
    const ok = await p.run();
    expect(ok.code).toBe(0);
    expect(ran(ok.steps)).toEqual([]);
  });

  it('refuses a bad declaration with exit 2 naming step and field', async () => {
    const q = TempProject.create({
      'Batchfile.ts': batchfile(`t: { command: 'x', outputs: ['o'], params: { train: 1 }, paramsFrom: { 'params.yaml': ['train.n'] } },`),
      'params.yaml': 'train: { n: 1 }\n',
    });
    try {
      const r = await q.batch();
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/step "t"\.paramsFrom: key "train\.n" collides with params\.train/);
      q.write('Batchfile.ts', batchfile(`t: { command: 'x', outputs: ['o'], paramsFrom: { 'params.ini': ['a'] } },`));
      const r2 = await q.batch();
      expect(r2.stderr).toMatch(/step "t"\.paramsFrom\["params\.ini"\]: must be a \.yaml, \.yml, \.json or \.toml file/);
    } finally {
      q.cleanup();
    }
  });
});
