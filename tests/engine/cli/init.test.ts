// `batch init`: a new project that runs PASS at once (with this engine), then is a no-op; its
// README's DAG is what `batch graph` prints; it never overwrites a file, lists what it left
// alone, and adds to package.json only what is missing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchIn, REPO } from '../rig.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-init-'));
  dirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** Every file under `dir` (but .cache, logs, build) with a hash of its content and its mode. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.posix.join(rel, d.name);
      if (d.isDirectory()) {
        if (!['.cache', 'logs', 'build'].includes(r)) walk(r);
      } else {
        const abs = path.join(dir, r);
        out[r] = `${crypto.createHash('sha1').update(fs.readFileSync(abs)).digest('hex')} ${(fs.statSync(abs).mode & 0o777).toString(8)}`;
      }
    }
  };
  walk('');
  return out;
}

const OWN = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string>; allowScripts: Record<string, boolean> };
const SEED = ['Batchfile.ts', 'steps/01-generate.ts', 'steps/02-summarize.mjs', 'tests/integrity/summary.test.ts', 'docs/pipeline.md', 'README.md'];
const LAYOUT = ['.gitignore', 'tsconfig.json', 'install.sh', 'install.bat', 'run.sh', 'run.bat', 'run.py'];

describe('batch init', () => {
  it('writes a project that runs PASS (steps and integrity tests), then is a no-op; the README shows `batch graph`', async () => {
    const dir = tempDir();
    const init = await batchIn(dir, ['init']);
    expect(init.code, init.stderr).toBe(0);
    expect(Object.keys(tree(dir)).sort()).toEqual([...SEED, ...LAYOUT, 'package.json'].sort());
    for (const f of ['install.sh', 'run.sh', 'run.py']) expect(fs.statSync(path.join(dir, f)).mode & 0o111, f).toBe(0o111);
    expect(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n')).toEqual(['.cache/', 'logs/', 'node_modules/', '']);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(pkg).toMatchObject({ type: 'module', scripts: { pipeline: 'batch', typecheck: 'tsc --noEmit' }, allowScripts: OWN.allowScripts });
    expect(pkg.devDependencies).toMatchObject({ batchfile: `file:${REPO}`, vitest: OWN.peerDependencies.vitest });
    expect(init.stdout).toContain('Next: ./run.sh');

    const run = await batchIn(dir, ['--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { status: string; steps: { name: string; action: string }[]; tests: { status: string; passed: number } };
    expect(summary.status).toBe('PASS');
    expect(summary.steps.map((s) => [s.name, s.action])).toEqual([['generate', 'ran'], ['summarize', 'ran']]);
    expect(summary.tests).toMatchObject({ status: 'PASS', passed: 1 });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'build/summary.json'), 'utf8'))).toEqual({ count: 100, sum: 5050, mean: 50.5 });
    const again = JSON.parse((await batchIn(dir, ['--json'])).stdout) as typeof summary & { tests: { action: string } };
    expect(again.steps.map((s) => s.action)).toEqual(['up-to-date', 'up-to-date']);
    expect(again.tests.action).toBe('up-to-date');

    const graph = await batchIn(dir, ['graph']);
    const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`mermaid\n${graph.stdout}\`\`\``);
  });

  it('never overwrites: a second init changes nothing and says so', async () => {
    const dir = tempDir();
    expect((await batchIn(dir, ['init'])).code).toBe(0);
    const before = tree(dir);
    const twice = await batchIn(dir, ['init']);
    expect(twice.code, twice.stderr).toBe(0);
    expect(twice.stdout).toContain(`batch init: every file was already there in ${fs.realpathSync(dir)}`);
    expect(twice.stdout).toContain('left alone (already there, not overwritten): the starter pipeline (Batchfile.ts, steps/01-generate.ts');
    expect(twice.stdout).not.toContain('package.json: added');
    expect(tree(dir)).toEqual(before);
  });

  it('in a folder with files of its own: keeps every one, lists them, and only adds to package.json', async () => {
    const npmInit = { name: 'mine', version: '1.0.0', main: 'index.js', scripts: { test: 'echo "Error: no test specified" && exit 1', typecheck: 'my-own' }, type: 'commonjs', devDependencies: { vitest: '^4.1.0' } };
    const dir = tempDir({ 'package.json': JSON.stringify(npmInit), 'README.md': '# mine\n', '.gitignore': 'dist/\n', 'run.sh': 'echo mine\n' });
    const before = tree(dir);
    const init = await batchIn(dir, ['init']);
    expect(init.code, init.stderr).toBe(0);
    const after = tree(dir);
    for (const f of ['README.md', '.gitignore', 'run.sh']) expect(after[f], f).toBe(before[f]);
    expect(init.stdout).toMatch(/left alone \(already there, not overwritten\): README\.md, \.gitignore, run\.sh\n/);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as typeof npmInit & { allowScripts: unknown; devDependencies: Record<string, string> };
    // What was there stays as it was (order too); what was missing is added.
    expect(pkg).toMatchObject({ name: 'mine', main: 'index.js', type: 'commonjs', scripts: { ...npmInit.scripts, pipeline: 'batch' }, allowScripts: OWN.allowScripts });
    expect(Object.keys(pkg).slice(0, 6)).toEqual(Object.keys(npmInit));
    expect(pkg.devDependencies.vitest).toBe('^4.1.0');
    expect(init.stdout).toContain('package.json: added scripts pipeline; devDependencies batchfile, typescript, @types/node; allowScripts esbuild, lmdb, msgpackr-extract');
    // A commonjs package still runs the seed (its step script is .mjs, its tsconfig resolves like a bundler).
    const run = await batchIn(dir, []);
    expect(run.code, run.stderr + run.stdout).toBe(0);
  });

  it('with a Batchfile already there: the layout only, never a starter pipeline beside it', async () => {
    const dir = tempDir({ 'Batchfile.mjs': 'export default { steps: {} };\n' });
    const init = await batchIn(dir, ['init']);
    expect(init.code, init.stderr).toBe(0);
    expect(Object.keys(tree(dir)).sort()).toEqual(['Batchfile.mjs', ...LAYOUT, 'package.json'].sort());
    expect(init.stdout).toContain('this folder has Batchfile.mjs');
  });

  it('a broken package.json stops it before it writes anything; -C makes a new folder', async () => {
    const dir = tempDir({ 'package.json': '{ "name": ' });
    const bad = await batchIn(dir, ['init']);
    expect(bad.code).toBe(2);
    // Named relative to the project, like every path the CLI prints.
    expect(bad.stderr).toContain('error: package.json is not valid JSON');
    expect(bad.stderr).not.toContain(fs.realpathSync(dir));
    expect(Object.keys(tree(dir))).toEqual(['package.json']);
    const made = await batchIn(dir, ['init', '-C', 'new/project']);
    expect(made.code, made.stderr).toBe(0);
    expect(fs.existsSync(path.join(dir, 'new/project/Batchfile.ts'))).toBe(true);
    expect((JSON.parse(fs.readFileSync(path.join(dir, 'new/project/package.json'), 'utf8')) as { name: string }).name).toBe('project');
  });
});
