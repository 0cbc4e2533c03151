// Every rerun trigger of issue 2, each on its own step of one project, so one run after all
// the edits shows that each trigger reruns exactly its step, with the reason down to the file,
// and that nothing else reruns. The output-damage steps keep out of the output cache (which
// would restore rather than rerun them; tests/engine/cache covers that).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, cmd } from '../helpers.js';

const ENV = 'BATCH_CORE_TEST_ENV';

/** A run module that appends its step name to marks.txt and writes `text` to its first output. */
const runModule = (imports: string, text: string): string => `import fs from 'node:fs';
import path from 'node:path';
${imports}
export default async (ctx: { step: string; root: string; outputs: string[] }) => {
  fs.appendFileSync(path.join(ctx.root, 'marks.txt'), ctx.step + '\\n');
  fs.mkdirSync(path.dirname(ctx.outputs[0]!), { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, ${text});
};
`;

// The params come from a module the Batchfile imports: editing it must reach the step too.
const steps = (v: { command: string }): string => batchfile(`
  content: { command: ${cmd('--in', 'in/content.txt', '--out', 'out/content.txt', '--mark', 'marks.txt')}, inputs: ['in/content.txt'], outputs: ['out/content.txt'] },
  globAdd: { command: ${cmd('--text', 'g', '--out', 'out/globadd.txt', '--mark', 'marks.txt')}, inputs: ['data/add/*.csv'], outputs: ['out/globadd.txt'] },
  globDel: { command: ${cmd('--text', 'g', '--out', 'out/globdel.txt', '--mark', 'marks.txt')}, inputs: ['data/del/*.csv'], outputs: ['out/globdel.txt'] },
  command: { command: ${cmd('--text', v.command, '--out', 'out/command.txt', '--mark', 'marks.txt')}, outputs: ['out/command.txt'] },
  params: { command: ${cmd('--text', 'p', '--out', 'out/params.txt', '--mark', 'marks.txt')}, outputs: ['out/params.txt'], params: { n: PARAM_N, nested: { keep: true } } },
  env: { command: ${cmd('--text', 'e', '--out', 'out/env.txt', '--mark', 'marks.txt')}, outputs: ['out/env.txt'], env: ['${ENV}'] },
  runMod: { run: 'steps/mod.ts', outputs: ['out/mod.txt'] },
  runImp: { run: 'steps/imp.ts', outputs: ['out/imp.txt'] },
  runPkg: { run: 'steps/pkg.ts', outputs: ['out/pkg.txt'] },
  script: { command: 'python3 "steps/02 tidy.py" in/script.txt out/script.txt', inputs: ['in/script.txt'], outputs: ['out/script.txt'] },
  delOut: { command: ${cmd('--text', 'd', '--out', 'out/del.txt', '--mark', 'marks.txt')}, outputs: ['out/del.txt'], cache: false },
  editOut: { command: ${cmd('--text', 'e', '--out', 'out/edit.txt', '--mark', 'marks.txt')}, outputs: ['out/edit.txt'], cache: false },
  stable: { command: ${cmd('--in', 'in/stable.txt', '--out', 'out/stable.txt', '--mark', 'marks.txt')}, inputs: ['in/stable.txt'], outputs: ['out/stable.txt'] },
  stableRun: { run: 'steps/stable.ts', inputs: ['in/stable.txt'], outputs: ['out/stable-run.txt'] },
`, `import { PARAM_N } from './pipeline/conf.ts';`);

const TIDY = `import sys, os
with open(os.path.join(os.getcwd(), 'marks.txt'), 'a') as m: m.write('script\\n')
data = open(sys.argv[1]).read()
open(sys.argv[2], 'w').write(data.upper())
`;

let p: TempProject;
const env1 = { [ENV]: 'one' };

beforeAll(async () => {
  p = TempProject.create({
    'Batchfile.ts': steps({ command: 'v1' }),
    'pipeline/conf.ts': 'export const PARAM_N = 1;\n',
    'in/content.txt': 'content 1',
    'in/script.txt': 'script input',
    'in/stable.txt': 'stable',
    'notes.txt': 'not an input of anything',
    'data/add/a.csv': 'a',
    'data/add/b.csv': 'b',
    'data/del/a.csv': 'a',
    'data/del/b.csv': 'b',
    'steps/mod.ts': runModule('', `'mod v1'`),
    'steps/lib/helper.ts': `export const helper = (): string => 'helper v1';\n`,
    'steps/imp.ts': runModule(`import { helper } from './lib/helper.ts';`, 'helper()'),
    'node_modules/fakepkg/package.json': JSON.stringify({ name: 'fakepkg', version: '1.0.0', type: 'module', main: 'index.js' }),
    'node_modules/fakepkg/index.js': `export const pkgText = 'from fakepkg';\n`,
    'steps/pkg.ts': runModule(`import { pkgText } from 'fakepkg';`, 'pkgText'),
    'steps/stable.ts': runModule('', `fs.readFileSync(path.join(ctx.root, 'in/stable.txt'), 'utf8')`),
    'steps/02 tidy.py': TIDY,
  });
  const first = await p.run([], { env: env1 });
  expect(first.code, first.stderr).toBe(0);
  expect(first.steps.every((s) => s.status === 'PASS' && s.action === 'ran')).toBe(true);
});
afterAll(() => p?.cleanup());

describe('rerun triggers', () => {
  it('each change reruns exactly its step, with the reason down to the file', async () => {
    expect(p.read('out/script.txt')).toBe('SCRIPT INPUT');
    expect(p.read('out/pkg.txt')).toBe('from fakepkg');
    const before = p.marks().length;

    p.write('in/content.txt', 'content 2');
    p.write('data/add/c.csv', 'c');
    p.remove('data/del/b.csv');
    p.write('Batchfile.ts', steps({ command: 'v2' }));
    p.write('pipeline/conf.ts', 'export const PARAM_N = 2;\n');
    p.write('steps/mod.ts', runModule('', `'mod v2'`));
    p.write('steps/lib/helper.ts', `export const helper = (): string => 'helper v2';\n`);
    p.write('node_modules/fakepkg/package.json', JSON.stringify({ name: 'fakepkg', version: '1.0.1', type: 'module', main: 'index.js' }));
    p.write('steps/02 tidy.py', `${TIDY}# edited\n`);
    p.remove('out/del.txt');
    p.write('out/edit.txt', 'edited by hand');
    // Non-triggers mixed in: a touched input and module, an edited unrelated file.
    p.touch('in/stable.txt');
    p.touch('steps/stable.ts');
    p.write('notes.txt', 'edited, but nobody reads it');

    const r = await p.run([], { env: { [ENV]: 'two' } });
    expect(r.code, r.stderr).toBe(0);
    const reasons = Object.fromEntries(r.steps.map((s) => [s.name, s.action === 'ran' ? s.reason : s.action]));
    expect(reasons).toEqual({
      content: 'input changed: in/content.txt',
      globAdd: 'input added: data/add/c.csv',
      globDel: 'input removed: data/del/b.csv',
      command: 'command changed',
      params: 'param changed: n 1 -> 2',
      env: `env changed: ${ENV}`,
      runMod: 'code changed: steps/mod.ts',
      runImp: 'code changed: steps/lib/helper.ts',
      runPkg: 'code changed: node_modules/fakepkg/package.json',
      script: 'code changed: steps/02 tidy.py',
      delOut: 'output missing: out/del.txt',
      editOut: 'output changed: out/edit.txt',
      stable: 'up-to-date',
      stableRun: 'up-to-date',
    });
    // The reruns really executed (marks), and wrote the new results.
    expect(p.marks().slice(before).sort()).toEqual(
      ['command', 'content', 'delOut', 'editOut', 'env', 'globAdd', 'globDel', 'params', 'runImp', 'runMod', 'runPkg', 'script'].sort(),
    );
    expect(p.read('out/command.txt')).toBe('v2');
    expect(p.read('out/mod.txt')).toBe('mod v2');
    expect(p.read('out/imp.txt')).toBe('helper v2');
    expect(p.read('out/edit.txt')).toBe('e');
    expect(p.read('out/del.txt')).toBe('d');

    // A fixpoint: the same world again reruns nothing.
    const again = await p.run([], { env: { [ENV]: 'two' } });
    expect(again.steps.filter((s) => s.action !== 'up-to-date')).toEqual([]);
  });

  it('unset and empty env values differ; restoring the first value reruns again', async () => {
    const unset = await p.run([], { env: { [ENV]: undefined } });
    expect(unset.steps.filter((s) => s.action === 'ran').map((s) => [s.name, s.reason])).toEqual([['env', `env changed: ${ENV}`]]);
    const empty = await p.run([], { env: { [ENV]: '' } });
    expect(empty.steps.filter((s) => s.action === 'ran').map((s) => s.name)).toEqual(['env']);
  });
});
