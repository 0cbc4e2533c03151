// The command line: argv-array commands, -C/--cwd and --file, target selection, --dry-run and
// `explain` down to the file, and `batch graph` (`batch init`: tests/engine/package/init.test.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, TempProject } from '../rig.js';
import { batchfile, cmd, csvRows, readStore, table } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

/** Runs bin/batch.js from `cwd` with exactly `args` (no -C added). */
function batchIn(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const CHAIN = batchfile(`
  a: { command: ${cmd('--in', 'in.txt', '--out', 'build/a.txt', '--mark', 'marks.txt')}, inputs: ['in.txt', 'extra.txt'], outputs: ['build/a.txt'] },
  b: { command: ${cmd('--in', 'build/a.txt', '--out', 'build/b.txt', '--mark', 'marks.txt')}, inputs: ['build/a.txt'], outputs: ['build/b.txt'] },
  c: { command: ${cmd('--in', 'build/b.txt', '--out', 'build/c.txt', '--mark', 'marks.txt')}, inputs: ['build/b.txt'], outputs: ['build/c.txt'] },
  d: { run: 'steps/d.ts', outputs: ['build/d.txt'], description: 'independent' },
`);
const D_STEP = `import fs from 'node:fs';
export default async () => { fs.appendFileSync('marks.txt', 'd\\n'); fs.mkdirSync('build', { recursive: true }); fs.writeFileSync('build/d.txt', 'd'); };
`;

describe('command line', () => {
  it('argv arrays run without a shell, and a script they name is code', async () => {
    p = TempProject.create({
      'tools/write.mjs': `import fs from 'node:fs';\nfs.mkdirSync('build', { recursive: true });\nfs.writeFileSync(process.argv[2], process.argv.slice(3).join('|'));\n`,
      'Batchfile.ts': batchfile(`
  literal: { command: ['node', 'tools/write.mjs', 'build/literal.txt', 'a b', '$HOME', '"q"', ';', '*', '\`id\`'], outputs: ['build/literal.txt'] },
`),
    });
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(p.read('build/literal.txt')).toBe('a b|$HOME|"q"|;|*|`id`');
    p.write('tools/write.mjs', `${p.read('tools/write.mjs')}// edited\n`);
    const again = await p.run();
    expect(again.steps[0]).toMatchObject({ action: 'ran', reason: 'code changed: tools/write.mjs' });
  });

  it('-C/--cwd and --file select the project and the Batchfile; relative paths stay relative to the root', async () => {
    p = TempProject.create({
      'in.txt': 'x',
      'pipelines/alt.ts': batchfile(`  alt: { command: ${cmd('--in', 'in.txt', '--out', 'build/alt.txt')}, inputs: ['in.txt'], outputs: ['build/alt.txt'] },`),
    });
    const parent = path.dirname(p.dir);
    const rel = path.basename(p.dir);
    const [none, withFile, missing] = await Promise.all([
      batchIn(parent, ['--cwd', rel]),
      batchIn(parent, ['--cwd', rel, '--file', 'pipelines/alt.ts', '--json']),
      batchIn(os.tmpdir(), ['-C', p.dir, '--file', 'pipelines/nope.ts']),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`No Batchfile in ${p.dir}`);
    expect(none.stderr).toContain('batch init');
    expect(withFile.code, withFile.stderr).toBe(0);
    expect(JSON.parse(withFile.stdout)).toMatchObject({ status: 'PASS', steps: [{ name: 'alt', action: 'ran' }] });
    expect(p.read('build/alt.txt')).toBe('x');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`Batchfile not found: ${p.path('pipelines/nope.ts')}`);
    // From inside the project, no -C: the current folder is the project.
    const inside = await batchIn(p.dir, ['--file=pipelines/alt.ts', '-j1']);
    expect(inside.code, inside.stderr).toBe(0);
    expect(inside.stdout).toMatch(/PASS\s+up-to-date\s+-\s+alt/);
  });

  it('target selection: named steps and what they need, `run NAME`, `-- NAME`', async () => {
    p = TempProject.create({ 'in.txt': 'x', 'extra.txt': 'e', 'steps/d.ts': D_STEP, 'Batchfile.ts': CHAIN });
    const b = await p.run(['b']);
    expect(table(b.steps)).toEqual({ a: 'PASS ran', b: 'PASS ran' });
    expect((await readStore(p)).runs[0]).toMatchObject({ targets: ['b'] });
    const c = await p.run(['run', 'c']);
    expect(table(c.steps)).toEqual({ a: 'PASS up-to-date', b: 'PASS up-to-date', c: 'PASS ran' });
    const d = await p.batch(['--json', '--', 'd', 'a']);
    expect(table((JSON.parse(d.stdout) as { steps: { name: string; status: string; action: string }[] }).steps)).toEqual({ a: 'PASS up-to-date', d: 'PASS ran' });
    expect(p.marks()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('--dry-run and explain give every reason down to the file, and execute and record nothing', async () => {
    p = TempProject.create({ 'in.txt': 'x', 'extra.txt': 'e', 'steps/d.ts': D_STEP, 'Batchfile.ts': CHAIN });
    const fresh = await p.batch(['--dry-run']);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toMatch(/^run\s+a\s+no previous run recorded$/m);
    expect(fresh.stdout).toMatch(/^run\s+d\s+no previous run recorded$/m);
    expect(p.exists('build')).toBe(false);
    expect(p.marks()).toEqual([]);

    expect((await p.run()).code).toBe(0);
    const csvBefore = p.read('logs/execution_logs.csv');
    p.write('in.txt', 'changed');
    p.write('extra.txt', 'changed too');
    p.remove('build/c.txt');
    const dry = await p.batch(['-n']);
    expect(dry.code).toBe(0);
    const lines = dry.stdout.split('\n');
    expect(lines.find((l) => /^run\s+a\s/.test(l))).toMatch(/input changed: extra\.txt$/);
    expect(lines[lines.findIndex((l) => /^run\s+a\s/.test(l)) + 1]).toMatch(/^\s+input changed: in\.txt$/);
    expect(dry.stdout).toMatch(/^pending\s+b\s+upstream will run: a;/m);
    // c's outputs are in the output cache under its unchanged fingerprint: it would be restored.
    expect(dry.stdout).toMatch(/^restore\s+c\s+outputs of run \S+ are in the output cache/m);
    expect(lines[lines.findIndex((l) => /^restore\s+c\s/.test(l)) + 1]).toMatch(/^\s+output missing: build\/c\.txt$/);
    expect(dry.stdout).toMatch(/^up-to-date\s+d\s*$/m);
    expect(dry.stdout).toContain('nothing was executed');

    const explained = await p.batch(['explain', 'b', '--json']);
    expect(JSON.parse(explained.stdout)).toEqual({
      steps: [
        { name: 'a', decision: 'run', reasons: ['input changed: extra.txt', 'input changed: in.txt'] },
        { name: 'b', decision: 'pending', reasons: ['upstream will run: a; decided against its new outputs (may stay up to date)'] },
      ],
    });
    // Nothing ran, nothing was recorded.
    expect(p.marks().sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(p.read('logs/execution_logs.csv')).toBe(csvBefore);
    expect((await readStore(p)).runs).toHaveLength(1);
    expect(p.exists('build/c.txt')).toBe(false);
  });

  it('batch clean removes the declared outputs of the named (or all) steps and lists them; --cache drops the caches only; history stays', async () => {
    p = TempProject.create({ 'in.txt': 'x', 'extra.txt': 'e', 'steps/d.ts': D_STEP, 'Batchfile.ts': CHAIN });
    expect((await p.run(['-j', '2'])).code).toBe(0);
    p.write('build/notes.txt', 'not an output');

    const one = await p.batch(['clean', 'b', 'd']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^Removed 2 output files \(\d+ B\) of b, d:\n {2}build\/b\.txt\n {2}build\/d\.txt\n$/);
    expect(['build/a.txt', 'build/b.txt', 'build/c.txt', 'build/d.txt', 'build/notes.txt'].map((f) => p!.exists(f))).toEqual([true, false, true, false, true]);
    const unknown = await p.batch(['clean', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown step "nope"/);

    // The next run rebuilds what was removed (from the output cache: b and d are there).
    const rebuilt = await p.run(['-j', '2']);
    expect(rebuilt.steps.filter((s) => s.action !== 'up-to-date').map((s) => `${s.name} ${s.reason}`).sort()).toEqual([
      expect.stringMatching(/^b .*output missing: build\/b\.txt/),
      expect.stringMatching(/^d .*output missing: build\/d\.txt/),
    ]);
    expect(p.read('build/b.txt')).toBe('x');

    const all = await p.batch(['clean', '--json']);
    expect(JSON.parse(all.stdout)).toMatchObject({ steps: ['a', 'b', 'c', 'd'], removed: ['build/a.txt', 'build/b.txt', 'build/c.txt', 'build/d.txt'] });
    expect(p.read('build/notes.txt')).toBe('not an output');
    expect((await p.batch(['clean'])).stdout).toBe('Nothing to remove: no declared output of all 4 steps is on disk.\n');
    expect((await p.run(['--no-cache', '-j', '2'])).steps.every((s) => s.action === 'ran')).toBe(true);

    // --cache: the output cache and stat cache go; outputs, fingerprints and history stay.
    const caches = await p.batch(['clean', '--cache']);
    expect(caches.code, caches.stderr).toBe(0);
    expect(caches.stdout).toMatch(/^Dropped the output cache \(\d+ entries, .*\) and the stat cache \(\d+ files\)\./);
    const status = JSON.parse((await p.batch(['cache', 'status', '--json'])).stdout) as { entries: number; blobs: number };
    expect([status.entries, status.blobs]).toEqual([0, 0]);
    expect(Object.keys((await readStore(p, ['in.txt', 'build/a.txt'])).stat)).toEqual([]);
    const after = await p.run(['-j', '2']);
    expect(after.steps.every((s) => s.action === 'up-to-date')).toBe(true);
    expect(p.exists('logs/execution_logs.csv')).toBe(true);
    expect((await readStore(p)).runs).toHaveLength(4);

    // --store only removes a store that does not open: history goes only by `history --prune`.
    const store = await p.batch(['clean', '--store']);
    expect(store.code).toBe(2);
    expect(store.stderr).toContain('`batch clean --store` only removes a damaged one');
    expect((await readStore(p)).runs).toHaveLength(4);
  });

  it('batch graph prints the inferred and declared edges in mermaid, dot and text', async () => {
    p = TempProject.create({
      'in.txt': 'x',
      'extra.txt': 'e',
      'steps/d.ts': D_STEP,
      'Batchfile.ts': CHAIN.replace(`description: 'independent'`, `description: 'independent', dependsOn: ['a']`),
    });
    const [mermaid, dot, text] = await Promise.all([p.batch(['graph']), p.batch(['graph', '--format', 'dot']), p.batch(['graph', '--format=text'])]);
    expect([mermaid.code, dot.code, text.code]).toEqual([0, 0, 0]);
    expect(mermaid.stdout.split('\n')).toEqual(expect.arrayContaining(['flowchart LR', '  s0[/"a"/]', '  s3["d"]', '  s0 --> s1', '  s1 --> s2', '  s0 --> s3']));
    expect(dot.stdout).toContain('"a" -> "b";');
    expect(dot.stdout).toContain('"b" -> "c";');
    expect(dot.stdout).toContain('"a" -> "d";');
    expect(text.stdout.trim().split('\n')).toEqual(['c (command)', '  └─ b (command)', '    └─ a (command)', 'd (run) — independent', '  └─ a (command) …']);
    expect(p.exists('logs')).toBe(false);
  });
});
