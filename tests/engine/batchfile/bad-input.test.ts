// Every bad input of issue 2: a clear error naming the problem, exit 2, and nothing run or
// recorded (no step executed, no run in the store, no CSV row, no step log).
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, TempProject } from '../rig.js';
import { batchfile, cmd, readStore } from '../helpers.js';

const projects: TempProject[] = [];
afterAll(() => {
  for (const p of projects) p.cleanup();
});

const ok = (name: string, extra = ''): string =>
  `${name}: { command: ${cmd('--mark', 'marks.txt', '--out', `build/${name}.txt`)}, outputs: ['build/${name}.txt']${extra} },`;

interface Case {
  name: string;
  files: Record<string, string>;
  args?: string[];
  error: RegExp;
  /** Files that must be left exactly as they were. */
  keeps?: Record<string, string>;
}

const CASES: Case[] = [
  {
    name: 'a cycle, printed',
    files: {
      'Batchfile.ts': batchfile(`${ok('first')}
  a: { command: ${cmd('--mark', 'marks.txt')}, inputs: ['build/c.txt'], outputs: ['build/a.txt'] },
  b: { command: ${cmd('--mark', 'marks.txt')}, inputs: ['build/a.txt'], outputs: ['build/b.txt'] },
  c: { command: ${cmd('--mark', 'marks.txt')}, inputs: ['build/b.txt'], outputs: ['build/c.txt'] },`),
    },
    error: /the steps form a cycle: a -> c -> b -> a/,
  },
  {
    name: 'two steps writing one output',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n${ok('a')}\n  b: { command: 'true', outputs: ['./build/a.txt'] },`) },
    error: /steps "(a" and "b|b" and "a)" both write "build\/a.txt"; an output has one producer/,
  },
  {
    name: 'an output folder containing another step\'s output',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n${ok('a')}\n  b: { command: 'true', outputs: ['build'] },`) },
    error: /steps "(first" and "b" both write "build\/first.txt" \/ "build|b" and "first" both write "build" \/ "build\/first.txt)"/,
  },
  {
    name: 'a glob output that claims another step\'s output',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  gen: { command: 'true', outputs: ['build/*.txt'] },`) },
    error: /steps "first" and "gen" both write "build\/first.txt" \/ "build\/\*\.txt"/,
  },
  {
    name: 'two overlapping glob outputs',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  g1: { command: 'true', outputs: ['gen/**'] },\n  g2: { command: 'true', outputs: ['gen/*.csv'] },`) },
    error: /steps "g1" and "g2" both write "gen\/\*\*" \/ "gen\/\*\.csv"/,
  },
  {
    name: 'a step that reads and writes one file (its outputs are removed before it runs)',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  bump: { command: 'true', inputs: ['data.json'], outputs: ['data.json'] },`), 'data.json': '{"n":1}' },
    error: /step "bump" reads and writes "data\.json"; its outputs are removed before it runs/,
    keeps: { 'data.json': '{"n":1}' },
  },
  {
    name: 'a step whose input glob matches its own output',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  merge: { command: 'true', inputs: ['data/*.csv'], outputs: ['data/all.csv'] },`), 'data/a.csv': 'a' },
    error: /step "merge" reads and writes "data\/\*\.csv" \/ "data\/all\.csv"/,
  },
  {
    name: 'an output outside the project',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  out: { command: 'true', outputs: ['build/../../x.txt'] },`) },
    error: /step "out"\.outputs\[0\]: "build\/\.\.\/\.\.\/x\.txt" points outside the project/,
  },
  {
    name: 'an absolute output',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  out: { command: 'true', outputs: ['/tmp/x.txt'] },`) },
    error: /step "out"\.outputs\[0\]: "\/tmp\/x\.txt" is absolute/,
  },
  {
    name: 'an input nobody writes that does not exist',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  use: { command: 'true', inputs: ['data/nope.csv'] },`) },
    error: /step "use"\.inputs: "data\/nope\.csv" does not exist and no step writes it/,
  },
  {
    // Found by the correctness oracle: the run steps before the bad one were still compiling
    // when the error closed the store, and their code check then read the closed store (an
    // uncaught "Can not renew a transaction from a closed database", exit 1).
    name: 'an input nobody writes, after run steps whose modules are still compiling',
    files: {
      'Batchfile.ts': batchfile(`${ok('first')}\n  m1: { run: 'steps/m1.ts', outputs: ['build/m1.txt'] },\n  m2: { run: 'steps/m2.ts', outputs: ['build/m2.txt'] },\n  use: { command: 'true', inputs: ['data/nope.csv'] },`),
      'steps/m1.ts': "import fs from 'node:fs';\nexport default async () => { fs.writeFileSync('build/m1.txt', '1'); };\n",
      'steps/m2.ts': "import fs from 'node:fs';\nexport default async () => { fs.writeFileSync('build/m2.txt', '2'); };\n",
    },
    error: /step "use"\.inputs: "data\/nope\.csv" does not exist and no step writes it/,
  },
  {
    name: 'a glob that matches nothing',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  use: { command: 'true', inputs: ['data/*.csv'] },`), 'data/readme.txt': 'no csv here' },
    error: /step "use"\.inputs: the glob "data\/\*\.csv" matches no file and no step writes it/,
  },
  {
    name: 'an unknown step name on the command line',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n${ok('build')}`) },
    args: ['buld'],
    error: /Unknown step "buld" \(did you mean "build"\?\)\. Steps: first, build/,
  },
  {
    name: 'a TypeScript syntax error, with file:line',
    files: { 'Batchfile.ts': `import { defineBatch } from 'batchfile';\n\nconst broken = ;\nexport default defineBatch({ steps: {} });\n` },
    error: /Batchfile\.ts:3:\d+: /,
  },
  {
    name: 'a Batchfile without a default export',
    files: { 'Batchfile.ts': `import { defineBatch } from 'batchfile';\nexport const pipeline = defineBatch({ steps: {} });\n` },
    error: /Batchfile\.ts: has no default export/,
  },
  {
    name: 'a Batchfile that throws',
    files: { 'Batchfile.ts': `throw new Error('config server unreachable');\n` },
    error: /evaluating the Batchfile threw: config server unreachable/,
  },
  {
    name: 'a run module with no default export',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  mod: { run: 'steps/mod.ts' },`), 'steps/mod.ts': 'export const step = async () => {};\n' },
    error: /step "mod"\.run: module "steps\/mod\.ts" has no default export/,
  },
  {
    name: 'a run module with a syntax error, with file:line',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  mod: { run: 'steps/mod.ts' },`), 'steps/mod.ts': 'export default async () => {\n  const = 1;\n};\n' },
    error: /steps\/mod\.ts:2:\d+: /,
  },
  {
    name: 'a run module that does not exist',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  mod: { run: 'steps/missing.ts' },`) },
    error: /step "mod"\.run: module "steps\/missing\.ts" does not exist/,
  },
  {
    name: 'an unknown field, with did-you-mean',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  use: { command: 'true', input: ['x'] },`) },
    error: /step "use": unknown field "input" \(did you mean "inputs"\?\)/,
  },
  {
    name: 'dependsOn naming no step',
    files: { 'Batchfile.ts': batchfile(`${ok('build')}\n  use: { command: 'true', dependsOn: ['bulid'] },`) },
    error: /step "use"\.dependsOn: no step is named "bulid" \(did you mean "build"\?\)/,
  },
  {
    name: 'a step named like a subcommand',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  graph: { command: 'true' },`) },
    error: /step "graph": "graph" is a batch subcommand; rename the step/,
  },
  {
    name: 'a step with both run and command',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  both: { command: 'true', run: 'x.ts' },`) },
    error: /step "both": needs exactly one of `run`/,
  },
  {
    name: 'a bad timeout',
    files: { 'Batchfile.ts': batchfile(`${ok('first')}\n  slow: { command: 'true', timeout: '5 minutes' },`) },
    error: /step "slow"\.timeout: "5 minutes" is not a positive duration/,
  },
];

describe('bad input: exit 2, a clear error, nothing run or recorded', () => {
  // Concurrent: each case is one short batch process in its own project.
  it.concurrent.for(CASES)('$name', async (c, { expect }) => {
    const p = TempProject.create(c.files);
    projects.push(p);
    const r = await p.batch(c.args ?? []);
    expect(r.stderr).toMatch(c.error);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(p.marks()).toEqual([]);
    expect(p.exists('build')).toBe(false);
    expect(p.exists('logs')).toBe(false);
    expect((await readStore(p)).runs).toEqual([]);
    for (const [rel, content] of Object.entries(c.keeps ?? {})) expect(p.read(rel)).toBe(content);
  });

  it('unknown options and subcommand misuse are usage errors too', async () => {
    const p = TempProject.create({ 'Batchfile.ts': batchfile(ok('first')) });
    projects.push(p);
    const [opt, explain, fmt, jobs] = await Promise.all([
      p.batch(['--forse']),
      p.batch(['explain']),
      p.batch(['graph', '--format', 'svg']),
      p.batch(['-j', '0']),
    ]);
    expect(opt.stderr).toMatch(/Unknown option --forse \(did you mean "--force"\?\)/);
    expect(explain.stderr).toMatch(/batch explain needs at least one step name/);
    expect(fmt.stderr).toMatch(/Unknown graph format "svg"/);
    expect(jobs.stderr).toMatch(/-j needs at least 1/);
    expect([opt.code, explain.code, fmt.code, jobs.code]).toEqual([2, 2, 2, 2]);
    expect(p.marks()).toEqual([]);
  });

  it('the types make a dependsOn entry naming no step a compile error', () => {
    const p = TempProject.create({
      'typo.ts': batchfile(`  build: { command: 'true' },\n  use: { command: 'true', dependsOn: ['bulid'] },`),
      'fine.ts': batchfile(`  build: { command: 'true' },\n  use: { command: 'true', dependsOn: ['build'] },`),
    });
    projects.push(p);
    const program = ts.createProgram([p.path('typo.ts'), p.path('fine.ts')], {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      // The smallest lib that has what the public types use: loading less keeps this fast.
      lib: ['lib.es5.d.ts'],
      skipLibCheck: true,
      types: [],
      paths: { batchfile: [path.join(REPO, 'src/index.ts')] },
    });
    const errors = (file: string): string[] =>
      ts.getPreEmitDiagnostics(program, program.getSourceFile(p.path(file))).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(errors('fine.ts')).toEqual([]);
    expect(errors('typo.ts').join('\n')).toMatch(/"bulid"/);
  });
});
