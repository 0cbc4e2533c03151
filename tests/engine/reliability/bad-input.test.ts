// The bad-input and security table of docs/reliability.md, one test per row. Rejected inputs
// exit 2 (3 for the environment) with a message naming the problem, and run nothing; inputs
// that look dangerous but are legal (spaces, unicode, shell and HTML metacharacters in names
// and params, binary and empty files, symlinks, thousands of steps or files) work and are
// never interpreted. tests/engine/batchfile/bad-input.test.ts has the rest of the table (cycles
// through files, output clashes, outputs outside, missing inputs, syntax errors, …).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, TempProject } from '../rig.js';
import { STACK, batchfile, cmd, readStore } from './helpers.js';

const projects: TempProject[] = [];
afterAll(() => {
  for (const p of projects) p.cleanup();
});
const project = (files: Record<string, string | Uint8Array>): TempProject => {
  const p = TempProject.create();
  for (const [f, c] of Object.entries(files)) p.write(f, c);
  projects.push(p);
  return p;
};

const ok = `  first: { command: ${cmd('--mark', 'marks.txt', '--out', 'out/first.txt')}, outputs: ['out/first.txt'] },`;
const raw = (body: string): string => `export default ${body};\n`;

interface Rejected {
  name: string;
  files: Record<string, string>;
  args?: string[];
  code?: number;
  error: RegExp;
}

/** Each name is a row of the table in docs/reliability.md (the last test checks they are). */
export const REJECTED: Rejected[] = [
  { name: 'default export is not an object', files: { 'Batchfile.ts': raw('42') }, error: /default export: must be defineBatch\(\{ steps: \{ \.\.\. \} \}\)/ },
  { name: 'steps is an array', files: { 'Batchfile.ts': raw('{ steps: [] }') }, error: /steps: must be an object of named steps/ },
  { name: 'no steps', files: { 'Batchfile.ts': raw('{ steps: {} }') }, error: /steps: declares no steps/ },
  { name: 'a misspelt top-level field', files: { 'Batchfile.ts': raw(`{ setps: {} }`) }, error: /defineBatch: unknown field "setps" \(did you mean "steps"\?\)/ },
  { name: 'a misspelt cache field', files: { 'Batchfile.ts': batchfile(ok).replace('steps: {', "cache: { maxSise: '1GB' }, steps: {") }, error: /cache: unknown field "maxSise" \(did you mean "maxSize"\?\)/ },
  { name: 'a misspelt tests field', files: { 'Batchfile.ts': batchfile(ok).replace('steps: {', "tests: { file: ['t.test.ts'] }, steps: {") }, error: /tests: unknown field "file" \(did you mean "files"\?\)/ },
  { name: 'a misspelt step field', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', ouputs: ['x'] },`) }, error: /step "b": unknown field "ouputs" \(did you mean "outputs"\?\)/ },
  { name: 'a step that is a string', files: { 'Batchfile.ts': raw(`{ steps: { a: 'echo hi' } }`) }, error: /step "a": must be an object with `run`, `command` or `python`/ },
  { name: 'inputs as a string, not a list', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', inputs: 'data.csv' },`) }, error: /step "b"\.inputs: must be an array of strings/ },
  { name: 'params holding a function', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', params: { f: () => 1 } as never },`) }, error: /step "b"\.params: must be a plain JSON object/ },
  { name: 'params holding NaN', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', params: { n: NaN } },`) }, error: /step "b"\.params: must be a plain JSON object/ },
  { name: 'retries not a whole number', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', retries: 1.5 },`) }, error: /step "b"\.retries: must be an integer from 0 to 100/ },
  { name: 'a negative timeout', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', timeout: -5 },`) }, error: /step "b"\.timeout: -5 is not a positive duration/ },
  { name: 'an empty command', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: '  ' },`) }, error: /step "b"\.command: is empty/ },
  { name: 'an empty argv command', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: [] as never },`) }, error: /step "b"\.command: must be a non-empty string or a non-empty array of strings/ },
  { name: 'an env entry that is not a variable name', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', env: ['MY-TOKEN'] },`) }, error: /step "b"\.env: "MY-TOKEN" is not an environment variable name/ },
  { name: 'a step name with shell metacharacters', files: { 'Batchfile.ts': batchfile(`${ok}\n  'x;rm -rf ~': { command: 'true' },`) }, error: /step "x;rm -rf ~": a step name may contain letters, digits and _ \. : @ \+ -/ },
  { name: 'a step name with HTML', files: { 'Batchfile.ts': batchfile(`${ok}\n  '<img src=x onerror=alert(1)>': { command: 'true' },`) }, error: /step "<img src=x onerror=alert\(1\)>": a step name may contain letters/ },
  { name: 'a step name with a space', files: { 'Batchfile.ts': batchfile(`${ok}\n  'my step': { command: 'true' },`) }, error: /step "my step": a step name may contain/ },
  { name: 'a step depending on itself', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', dependsOn: ['b'] as never },`) }, error: /step "b"\.dependsOn: a step cannot depend on itself/ },
  { name: 'a cycle through dependsOn', files: { 'Batchfile.ts': batchfile(`${ok}\n  a: { command: 'true', dependsOn: ['b'] },\n  b: { command: 'true', dependsOn: ['a'] },`) }, error: /the steps form a cycle: (a -> b -> a|b -> a -> b)/ },
  { name: 'an input outside the project (..)', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', inputs: ['../secret.txt'] },`) }, error: /step "b"\.inputs\[0\]: "\.\.\/secret\.txt" points outside the project/ },
  { name: 'an absolute input', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', inputs: ['/etc/passwd'] },`) }, error: /step "b"\.inputs\[0\]: "\/etc\/passwd" is absolute/ },
  { name: 'an absolute run module', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { run: '/tmp/evil.ts' },`) }, error: /step "b"\.run\[0\]: "\/tmp\/evil\.ts" is absolute/ },
  { name: 'an empty path', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', inputs: [''] },`) }, error: /step "b"\.inputs\[0\]: is an empty path/ },
  { name: 'an output in .cache/', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', outputs: ['.cache/store/data.mdb'] },`) }, error: /step "b"\.outputs\[0\]: "\.cache\/store\/data\.mdb" is managed by batch or git/ },
  { name: 'an output in logs/', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', outputs: ['logs/execution_logs.csv'] },`) }, error: /"logs\/execution_logs\.csv" is managed by batch or git/ },
  { name: 'an output in .git/', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', outputs: ['.git/hooks/pre-commit'] },`) }, error: /"\.git\/hooks\/pre-commit" is managed by batch or git/ },
  { name: 'the project root as an output', files: { 'Batchfile.ts': batchfile(`${ok}\n  b: { command: 'true', outputs: ['./'] },`) }, error: /step "b"\.outputs\[0\]: the project root itself cannot be an output/ },
  { name: 'a cache size that is not a size', files: { 'Batchfile.ts': batchfile(ok).replace('steps: {', "cache: { maxSize: 'lots' }, steps: {") }, error: /cache\.maxSize: "lots" is not a size/ },
  { name: 'a Batchfile importing a missing module', files: { 'Batchfile.ts': `import { defineBatch } from 'batchfile';\nimport { steps } from './lib/steps.ts';\nexport default defineBatch({ steps });\n` }, error: /Batchfile\.ts does not compile:\n\s+Batchfile\.ts:2:\d+: Could not resolve "\.\/lib\/steps\.ts"/ },
  { name: 'a Batchfile whose steps come from a loop that throws', files: { 'Batchfile.ts': `import { defineBatch } from 'batchfile';\nconst names: string[] = JSON.parse('[1');\nexport default defineBatch({ steps: Object.fromEntries(names.map((n) => [n, { command: 'true' }])) });\n` }, error: /evaluating the Batchfile threw: .*JSON/ },
  { name: 'no Batchfile in the folder', files: { 'readme.txt': 'no Batchfile here' }, error: /No Batchfile in .* \(looked for Batchfile\.ts, Batchfile\.mts, Batchfile\.js, Batchfile\.mjs\)\. Create one with `batch init`\./ },
  { name: '--file naming a missing file', files: { 'Batchfile.ts': batchfile(ok) }, args: ['--file', 'Other.ts'], error: /Batchfile not found: .*Other\.ts/ },
  { name: '-C naming a missing folder', files: { 'Batchfile.ts': batchfile(ok) }, args: ['-C', '/nonexistent/folder'], error: /Cannot use \/nonexistent\/folder as the project folder: ENOENT/ },
  { name: '-j that is not a number', files: { 'Batchfile.ts': batchfile(ok) }, args: ['-j', 'many'], error: /Option -j needs a whole number, got "many"/ },
  { name: 'a step name with shell metacharacters on the command line', files: { 'Batchfile.ts': batchfile(ok) }, args: ['first;touch pwned'], error: /Unknown step "first;touch pwned"/ },
];

describe('rejected: exit 2, the problem named, nothing run or recorded', () => {
  it.concurrent.for(REJECTED)('$name', async (c, { expect }) => {
    const p = project(c.files);
    const r = await p.batch(c.args ?? []);
    expect(r.stderr).toMatch(c.error);
    expect(r.code).toBe(c.code ?? 2);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(p.marks()).toEqual([]);
    expect(p.exists('out')).toBe(false);
    expect(p.exists('pwned')).toBe(false);
    expect((await readStore(p)).runs).toEqual([]);
  });
});

/** A run step that writes, for each input, its project-relative name and bytes, then params. */
const LIST = `import fs from 'node:fs';
import path from 'node:path';
export default async (ctx: { root: string; inputs: string[]; outputs: string[]; params: unknown }) => {
  fs.mkdirSync(path.dirname(ctx.outputs[0]!), { recursive: true });
  const parts = ctx.inputs.map((f) => Buffer.concat([Buffer.from(path.relative(ctx.root, f) + '\\n'), fs.readFileSync(f), Buffer.from('\\n')]));
  fs.writeFileSync(ctx.outputs[0]!, Buffer.concat([...parts, Buffer.from(JSON.stringify(ctx.params))]));
};
`;

const actions = (r: { steps: { name: string; action: string }[] }): Record<string, string> => Object.fromEntries(r.steps.map((s) => [s.name, s.action]));

describe('legal but unusual: works, never interpreted', () => {
  it('paths with spaces, unicode, parentheses and a `..` that stays inside', async () => {
    const p = project({
      'data/my file ü ✓.txt': 'spaces and unicode',
      'data/report (1).csv': 'a name a browser gives a second download',
      'in.txt': 'plain',
      'steps/list.ts': LIST,
      'Batchfile.ts': batchfile(`
  list: { run: 'steps/list.ts', inputs: ['data/my file ü ✓.txt', 'data/report (1).csv', 'data/../in.txt'], outputs: ['out/résumé (final) ✓.txt'] },
  copy: { command: ['cp', 'out/résumé (final) ✓.txt', 'out/copy of résumé.txt'], inputs: ['out/résumé (final) ✓.txt'], outputs: ['out/copy of résumé.txt'] },
`),
    });
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(p.read('out/copy of résumé.txt')).toBe('data/my file ü ✓.txt\nspaces and unicode\ndata/report (1).csv\na name a browser gives a second download\nin.txt\nplain\n{}');
    expect(actions(await p.run())).toEqual({ list: 'up-to-date', copy: 'up-to-date' });
    p.write('data/report (1).csv', 'edited');
    const again = await p.run();
    expect(again.steps.map((s) => `${s.name} ${s.action} ${s.reason}`)).toEqual(['list ran input changed: data/report (1).csv', 'copy ran input changed: out/résumé (final) ✓.txt']);
  });

  it('shell and HTML metacharacters in file names, params and descriptions: never run, escaped in the reports', async () => {
    const names = ['$(touch pwned).txt', '`touch pwned`.txt', 'a;b|c&d.txt', '<img src=x onerror=alert(1)>.txt', `it's "quoted".txt`, 'tab\there.txt'];
    const files: Record<string, string> = { 'steps/list.ts': LIST };
    for (const n of names) files[`data/${n}`] = `content of ${n}`;
    files['Batchfile.ts'] = batchfile(`
  list: {
    run: 'steps/list.ts', inputs: ['data/*.txt'], outputs: ['out/list.txt'],
    description: '<script>alert(1)</script>',
    params: { cmd: '$(touch pwned) \`touch pwned\` && touch pwned', html: '<b onmouseover=alert(1)>x</b>' },
  },
  argv: { command: ['cp', 'data/<img src=x onerror=alert(1)>.txt', 'out/copy.txt'], inputs: ['data/<img src=x onerror=alert(1)>.txt'], outputs: ['out/copy.txt'], dependsOn: ['list'] },
`);
    const p = project(files);
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(p.read('out/list.txt')).toContain('"cmd":"$(touch pwned) `touch pwned` && touch pwned"');
    for (const n of names) expect(p.read('out/list.txt')).toContain(`data/${n}\ncontent of ${n}\n`);
    p.write('data/<img src=x onerror=alert(1)>.txt', 'edited');
    const again = await p.run();
    expect(again.steps.map((s) => s.reason)).toEqual(['input changed: data/<img src=x onerror=alert(1)>.txt', 'input changed: data/<img src=x onerror=alert(1)>.txt']);
    expect(p.exists('pwned') || p.exists('data/pwned')).toBe(false);
    for (const report of ['logs/report.html', 'logs/report.md']) {
      const text = p.read(report);
      expect(text).not.toContain('<img src=x onerror');
      expect(text).not.toContain('<script>alert(1)</script>');
      expect(text).not.toContain('<b onmouseover');
      expect(text).toContain('&lt;img src=x onerror=alert');
    }
  });

  it('control characters in a file name are not sent to the terminal raw', async () => {
    const evil = 'esc\u001b]0;owned title\u0007\u001b[2J.txt';
    const p = project({ [`data/${evil}`]: 'x', 'steps/list.ts': LIST, 'Batchfile.ts': batchfile(`  list: { run: 'steps/list.ts', inputs: ['data/*.txt'], outputs: ['out/list.txt'] },`) });
    expect((await p.run()).code).toBe(0);
    p.write(`data/${evil}`, 'y');
    const human = await p.batch();
    const explain = await p.batch(['explain', 'list']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout + human.stderr).toContain('input changed: data/esc');
    // Neither the run summary nor explain passes ESC or BEL through.
    expect(human.stdout + human.stderr + explain.stdout + explain.stderr).not.toMatch(/[\u001b\u0007]/);
  });

  it('binary and empty files: hashed byte for byte, an empty output counts as written', async () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const p = project({
      'data/all-bytes.bin': all,
      'data/empty.txt': '',
      'steps/list.ts': LIST,
      'Batchfile.ts': batchfile(`
  list: { run: 'steps/list.ts', inputs: ['data/all-bytes.bin', 'data/empty.txt'], outputs: ['out/list.bin'] },
  touchy: { command: ['sh', '-c', 'mkdir -p out && : > out/empty.txt'], inputs: ['data/empty.txt'], outputs: ['out/empty.txt'] },
`),
    });
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(p.path('out/list.bin')).includes(Buffer.from(all))).toBe(true);
    expect(fs.statSync(p.path('out/empty.txt')).size).toBe(0);
    expect(actions(await p.run())).toEqual({ list: 'up-to-date', touchy: 'up-to-date' });
    const flipped = Uint8Array.from(all);
    flipped[200] = 0;
    p.write('data/all-bytes.bin', flipped);
    const again = await p.run();
    expect(again.steps.map((s) => `${s.name} ${s.action}`)).toEqual(['list ran', 'touchy up-to-date']);
  });

  it('symlinks: an input linked outside is read (and followed for changes); an output folder linked outside is refused before anything there is deleted', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-outside-'));
    try {
      fs.writeFileSync(path.join(outside, 'lake.csv'), 'from the data lake');
      fs.writeFileSync(path.join(outside, 'precious.txt'), 'not batch\'s to delete');
      const p = project({
        'steps/list.ts': LIST,
        'Batchfile.ts': batchfile(`
  read: { run: 'steps/list.ts', inputs: ['data/lake.csv'], outputs: ['out/read.txt'] },
  write: { command: ${cmd('--text', 'x', '--out', 'linked/precious.txt')}, outputs: ['linked/precious.txt'] },
  writeAll: { command: 'true', outputs: ['alsoLinked'] },
`),
      });
      fs.mkdirSync(p.path('data'));
      fs.symlinkSync(path.join(outside, 'lake.csv'), p.path('data/lake.csv'));
      fs.symlinkSync(outside, p.path('linked'));
      fs.symlinkSync(outside, p.path('alsoLinked'));
      const r = await p.run(['-k']);
      expect(r.code).toBe(1);
      const reason = Object.fromEntries(r.steps.map((s) => [s.name, `${s.status} ${s.action}: ${s.reason}`]));
      expect(reason.read).toBe('PASS ran: no previous run recorded');
      expect(reason.write).toBe(`FAIL not-run: output linked/precious.txt resolves outside the project (${fs.realpathSync(outside)}/precious.txt); refused`);
      expect(reason.writeAll).toBe(`FAIL not-run: output alsoLinked resolves outside the project (${fs.realpathSync(outside)}); refused`);
      expect(fs.readdirSync(outside).sort()).toEqual(['lake.csv', 'precious.txt']);
      expect(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8')).toBe('not batch\'s to delete');
      fs.writeFileSync(path.join(outside, 'lake.csv'), 'the lake changed');
      const again = await p.run(['read']);
      expect(again.steps.map((s) => `${s.action}: ${s.reason}`)).toEqual(['ran: input changed: data/lake.csv']);
      expect(p.read('out/read.txt')).toContain('the lake changed');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('env values listed in `env` are hashed: the value is nowhere in the store, logs, reports, CSV or --json output', async () => {
    const secret = `s3cr3t-${Math.random().toString(36).slice(2)}-value`;
    const p = project({
      'steps/use.ts': `import fs from 'node:fs';
export default async (ctx: { outputs: string[] }) => {
  fs.mkdirSync('out', { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, String(process.env.API_TOKEN?.length));
};
`,
      'Batchfile.ts': batchfile(`
  use: { run: 'steps/use.ts', outputs: ['out/len.txt'], env: ['API_TOKEN'] },
  cmd: { command: 'test -n "$API_TOKEN" && echo ok > out/cmd.txt', outputs: ['out/cmd.txt'], env: ['API_TOKEN'], dependsOn: ['use'] },
`),
    });
    const first = await p.batch(['--json'], { env: { API_TOKEN: secret } });
    const second = await p.batch(['--json'], { env: { API_TOKEN: `${secret}-rotated` } });
    const explain = await p.batch(['explain', 'use'], { env: { API_TOKEN: secret } });
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(second.stdout).steps.map((s: { reason: string }) => s.reason)).toEqual(['env changed: API_TOKEN', 'env changed: API_TOKEN']);
    expect(p.read('out/len.txt')).toBe(String(secret.length + '-rotated'.length));
    for (const out of [first, second, explain]) expect(out.stdout + out.stderr).not.toContain(secret);
    // grep exits 1 when nothing matches, 0 (listing the files) when something does.
    const grep = spawnSync('grep', ['-rlaF', secret, p.path('.cache'), p.path('logs')], { encoding: 'utf8' });
    expect(grep.stdout).toBe('');
    expect(grep.status).toBe(1);
  }, 60_000);
});

describe('huge inputs', () => {
  it('5,000 steps made in a loop: planned in one go; a 5,000-step cycle is refused', async () => {
    const loop = (cyclic: boolean): string => `import { defineBatch } from 'batchfile';
const steps: Record<string, { command: string; outputs: string[]; inputs?: string[] }> = {};
for (let i = 0; i < 5000; i++) steps['s' + i] = { command: 'true', outputs: ['out/' + i + '.txt'], ...(i > 0 || ${cyclic} ? { inputs: ['out/' + ((i + 4999) % 5000) + '.txt'] } : {}) };
export default defineBatch({ steps });
`;
    const p = project({ 'Batchfile.ts': loop(false) });
    const plan = await p.batch(['--dry-run']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/5000 of 5000 step\(s\) would run/);
    const q = project({ 'Batchfile.ts': loop(true) });
    const cyc = await q.batch();
    expect(cyc.code).toBe(2);
    expect(cyc.stderr).toMatch(/the steps form a cycle: s\d+ -> s\d+ -> /);
    expect(q.exists('out')).toBe(false);
  }, 120_000);

  it('a glob over 20,000 files: hashed once, then a no-op, then exactly the edited file named', async () => {
    const p = project({
      'Batchfile.ts': batchfile(`  count: { command: ['sh', '-c', 'mkdir -p out && ls data | wc -l > out/count.txt'], inputs: ['data/*.txt'], outputs: ['out/count.txt'] },`),
    });
    fs.mkdirSync(p.path('data'));
    for (let i = 0; i < 20_000; i++) fs.writeFileSync(p.path(`data/f${i}.txt`), `row ${i}\n`);
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(p.read('out/count.txt').trim()).toBe('20000');
    expect(actions(await p.run())).toEqual({ count: 'up-to-date' });
    p.write('data/f12345.txt', 'edited\n');
    const again = await p.run();
    expect(again.steps[0]?.reason).toBe('input changed: data/f12345.txt');
  }, 120_000);

  it.runIf(process.env.BATCH_RELIABILITY_LONG === '1')('long: 5,000 run steps executed, then a no-op', async () => {
    const p = project({
      'steps/one.ts': `import fs from 'node:fs';\nexport default async (ctx: { outputs: string[]; params: { i: number } }) => { fs.writeFileSync(ctx.outputs[0]!, String(ctx.params.i)); };\n`,
      'out/.keep': '',
      'Batchfile.ts': `import { defineBatch } from 'batchfile';
const steps: Record<string, { run: string; outputs: string[]; params: { i: number }; inputs?: string[] }> = {};
for (let i = 0; i < 5000; i++) steps['s' + i] = { run: 'steps/one.ts', outputs: ['out/' + i + '.txt'], params: { i }, ...(i % 100 ? { inputs: ['out/' + (i - 1) + '.txt'] } : {}) };
export default defineBatch({ steps });
`,
    });
    const r = await p.run([], { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.steps.filter((s) => s.action === 'ran')).toHaveLength(5000);
    const noop = await p.run([], { timeoutMs: 600_000 });
    expect(noop.steps.filter((s) => s.action === 'up-to-date')).toHaveLength(5000);
  }, 1_200_000);
});

describe('the table in docs/reliability.md', () => {
  it('lists every rejected input tested here', () => {
    const doc = fs.readFileSync(path.join(REPO, 'docs/reliability.md'), 'utf8');
    const missing = REJECTED.map((c) => c.name).filter((n) => !doc.includes(`| ${n} |`));
    expect(missing).toEqual([]);
  });
});
