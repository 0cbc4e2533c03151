// Start-up: what `batch` loads before it works. --version/--help need no project; the bin
// runs the freshest build (the bundle unless tsc's output is newer); the compiled Batchfile
// is reused while its sources, the engine and the compile format are unchanged, and rebuilt
// otherwise; path specs are normalised as before by the allocation-free fast path.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { normaliseSpec } from '../../../src/util/paths.js';
import { BIN, REPO, TempProject, nodeIn, copyBinAndLoader } from '../rig.js';
import { batchfile, cmd } from '../helpers.js';

let p: TempProject | undefined;
const dirs: string[] = [];
afterEach(() => {
  p?.cleanup();
  p = undefined;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const node = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => nodeIn(cwd, args, env);

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-startup-'));
  dirs.push(d);
  return d;
}

const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('start-up', () => {
  it('--version, -V and `batch version` print the version, and help prints usage, outside any project', async () => {
    const dir = tempDir();
    for (const args of [['--version'], ['-V'], ['version']]) {
      const r = await node([BIN, ...args], dir);
      expect(r, args.join(' ')).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    }
    for (const args of [['--help'], ['help']]) {
      const r = await node([BIN, ...args], dir);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^batch — incremental runner/);
    }
  });

  it('BATCH_TIMING=1 prints the phase marks to stderr', async () => {
    const r = await node([BIN, '--version'], tempDir(), { BATCH_TIMING: '1' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
    expect(r.stderr).toMatch(/^timing \(BATCH_TIMING=1\):\n {2}cli loaded(?: \(code cache \w+\))? +wall +[\d.]+ ms .*cpu +[\d.]+ ms/);
  });

  it('the bin runs the bundle, or tsc\'s per-file output when that is newer', async () => {
    // A copy of the bin beside two fake builds, each announcing itself.
    const dir = tempDir();
    copyBinAndLoader(dir);
    // The bundle: one CommonJS file run through the real loader (cli/cached-load.ts).
    fs.writeFileSync(path.join(dir, 'dist', 'bundle', 'cli.cjs'), `exports.main = async () => { console.log('bundle'); return 0; };\n`);
    fs.mkdirSync(path.join(dir, 'dist', 'cli'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'dist', 'cli', 'main.js'), `export async function main() { console.log('cli'); return 0; }\n`);
    // The daemon clients (no daemon here: each says so by resolving to undefined).
    fs.mkdirSync(path.join(dir, 'dist', 'daemon'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'dist', 'bundle', 'client.cjs'), `exports.settleDaemonFlags = () => {};\nexports.viaDaemon = async () => process.env.FAKE_SERVED ? Number(process.env.FAKE_SERVED) : undefined;\n`);
    fs.writeFileSync(path.join(dir, 'dist', 'daemon', 'client.js'), `export function settleDaemonFlags() {}\nexport async function viaDaemon() { return undefined; }\n`);
    const at = (rel: string, s: number): void => fs.utimesSync(path.join(dir, rel), s, s);
    at('dist/cli/main.js', 1_000_000);
    at('dist/bundle/cli.cjs', 1_000_010);
    expect((await node(['bin/batch.js'], dir)).stdout).toBe('bundle\n');
    at('dist/cli/main.js', 1_000_020);
    expect((await node(['bin/batch.js'], dir)).stdout).toBe('cli\n');
    fs.rmSync(path.join(dir, 'dist', 'cli'), { recursive: true });
    expect((await node(['bin/batch.js'], dir)).stdout).toBe('bundle\n');
    // A run the daemon served: its exit code, and the CLI never loads.
    const served = await node(['bin/batch.js'], dir, { FAKE_SERVED: '7' });
    expect(served.code).toBe(7);
    expect(served.stdout).toBe('');
  });

  it('the build bundles the CLI with the pool worker beside it (run steps work through it)', async () => {
    expect(fs.existsSync(path.join(REPO, 'dist/bundle/cli.cjs'))).toBe(true);
    expect(fs.existsSync(path.join(REPO, 'dist/bundle/worker.js'))).toBe(true);
    p = TempProject.create({
      'Batchfile.ts': batchfile(`r: { run: 'steps/r.ts', outputs: ['out/r.txt'] },`),
      'steps/r.ts': `import fs from 'node:fs';\nexport default async () => { fs.mkdirSync('out', { recursive: true }); fs.writeFileSync('out/r.txt', 'r'); };\n`,
    });
    const r = await p.run();
    expect(r.status).toBe('PASS');
    expect(p.read('out/r.txt')).toBe('r');
  });
});

describe('compiled Batchfile', () => {
  const compiledDir = (): string => p!.path('.cache/batchfile');
  const manifest = (): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(compiledDir(), 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const compiled = (): string => path.join(compiledDir(), manifest().out as string);

  it('is reused while nothing changed, rebuilt when the Batchfile, the engine entry or the compile format differ, and carries no source map', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`a: { command: ${cmd('--out', 'out/a.txt')}, outputs: ['out/a.txt'] },`),
    });
    expect((await p.run()).status).toBe('PASS');
    const first = compiled();
    const text = fs.readFileSync(first, 'utf8');
    expect(text).not.toMatch(/sourceMappingURL/);
    expect(manifest()).toMatchObject({ format: expect.any(Number), engineEntry: path.join(REPO, 'dist', 'bundle', 'index.js') });

    // (bin/batch.js runs the bundle, whose public entry is dist/bundle/index.js: one build.)
    // Unchanged: reused, not rewritten (an old mtime survives).
    fs.utimesSync(first, 1_000_000, 1_000_000);
    expect((await p.run()).status).toBe('PASS');
    expect(compiled()).toBe(first);
    expect(fs.statSync(first).mtimeMs).toBe(1_000_000_000);

    // Another engine install (the compiled code imports `batchfile` by absolute path), then a
    // manifest from before compile formats existed: each is recompiled, which rewrites the
    // manifest with the current values.
    for (const stale of [{ engineEntry: '/elsewhere/dist/index.js' }, { format: undefined }]) {
      fs.writeFileSync(path.join(compiledDir(), 'manifest.json'), JSON.stringify({ ...manifest(), ...stale }));
      expect((await p.run()).status).toBe('PASS');
      expect(manifest(), JSON.stringify(stale)).toMatchObject({ format: expect.any(Number), engineEntry: path.join(REPO, 'dist', 'bundle', 'index.js') });
    }

    // A changed Batchfile: a new compiled file, and the new step runs.
    p.write('Batchfile.ts', batchfile(`a: { command: ${cmd('--out', 'out/a.txt')}, outputs: ['out/a.txt'] },\n  b: { command: ${cmd('--out', 'out/b.txt')}, outputs: ['out/b.txt'] },`));
    const r = await p.run();
    expect(r.steps.map((s) => `${s.name} ${s.action}`).sort()).toEqual(['a up-to-date', 'b ran']);
    expect(compiled()).not.toBe(first);
  });
});

describe('normaliseSpec', () => {
  /** The definition the fast path must agree with. */
  const reference = (spec: string): string => {
    let s = path.sep === '\\' ? spec.replace(/\\/g, '/') : spec;
    while (s.startsWith('./')) s = s.slice(2);
    if (s.length > 1 && s.endsWith('/')) s = s.replace(/\/+$/, '');
    return path.posix.normalize(s);
  };

  it('returns specs already in normal form as they are, and equals the full normalisation for any spec', () => {
    for (const s of ['in/s0/f0.txt', 'a', 'out/x.y.z', '...', 'a/.b/c..', '/abs/x']) expect(normaliseSpec(s)).toBe(s);
    for (const s of ['./a', 'a/', 'a//b', 'a/./b', 'a/../b', '.', '..', '', 'a/..']) expect(normaliseSpec(s)).toBe(reference(s));
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b.', '.', '..', '/', '//', '\\', '*'), { maxLength: 10 }), (parts) => {
        const s = parts.join('');
        expect(normaliseSpec(s)).toBe(reference(s));
      }),
      { numRuns: 2000 },
    );
  });
});
