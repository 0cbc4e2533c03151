// The CLI bundle's V8 code cache (src/cli/cached-load.ts): written after a run that had none,
// used by the next, and never used for a bundle other than the one it was made from (V8 itself
// knows the source only by its length) or when damaged. Through a copy of the bin beside a
// small bundle of its own, run by the real loader (dist/bundle/load.cjs), and through the
// real CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, REPO, TempProject, nodeIn, copyBinAndLoader } from '../rig.js';
import { batchfile, cmd } from '../helpers.js';

const dirs: string[] = [];
let p: TempProject | undefined;
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  p?.cleanup();
  p = undefined;
});

const node = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => nodeIn(cwd, args, env);

/** A bundle whose main prints `word` and how it was loaded; `word`s of one length make
 * bundles of one length. Its dynamic import goes through the loader's (util/import-esm.ts). */
const bundle = (word: string): string =>
  `exports.main = async (argv, engine, use) => { const os = await __import('node:os'); console.log('${word}', use, typeof os.cpus); return 0; };\n`;

/** A copy of the bin with the real loader and a bundle of its own. */
function fakeInstall(): { dir: string; cli: string; cache: () => string | undefined; run: (env?: NodeJS.ProcessEnv) => Promise<string> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-code-cache-'));
  dirs.push(dir);
  copyBinAndLoader(dir);
  fs.writeFileSync(path.join(dir, 'dist', 'bundle', 'client.cjs'), 'exports.settleDaemonFlags = () => {};\nexports.viaDaemon = async () => undefined;\n');
  const cli = path.join(dir, 'dist', 'bundle', 'cli.cjs');
  const cache = (): string | undefined => fs.readdirSync(path.dirname(cli)).find((f) => f.endsWith('.v8cache'));
  const run = async (env: NodeJS.ProcessEnv = {}): Promise<string> => {
    const r = await node(['bin/batch.js'], dir, env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout;
  };
  return { dir, cli, cache, run };
}

describe('the CLI bundle through its code cache', () => {
  it('writes the cache after a run that had none and uses it in the next', async () => {
    const f = fakeInstall();
    fs.writeFileSync(f.cli, bundle('alpha'));
    expect(f.cache()).toBeUndefined();
    expect(await f.run()).toBe('alpha miss function\n');
    expect(f.cache()).toMatch(new RegExp(`^cli\\.cjs\\.${process.version.replace(/\./g, '\\.')}-${process.arch}\\.v8cache$`));
    expect(await f.run()).toBe('alpha hit function\n');
    expect(await f.run()).toBe('alpha hit function\n');
  });

  it('never runs the bytecode of another bundle of the same length (V8 would take it)', async () => {
    const f = fakeInstall();
    fs.writeFileSync(f.cli, bundle('alpha'));
    await f.run();
    expect(await f.run()).toBe('alpha hit function\n');
    // Rebuilt: same length, other code. A time set back to the old one's does not fool it
    // either (the inode differs: a new file, as a build writes).
    const old = fs.statSync(f.cli);
    fs.rmSync(f.cli);
    fs.writeFileSync(f.cli, bundle('omega'));
    fs.utimesSync(f.cli, old.atime, old.mtime);
    expect(fs.statSync(f.cli).size).toBe(old.size);
    expect(await f.run()).toBe('omega stale function\n');
    expect(await f.run()).toBe('omega hit function\n');
    // Rewritten in place (same inode), with a new time.
    fs.writeFileSync(f.cli, bundle('gamma'));
    expect(await f.run()).toBe('gamma stale function\n');
    expect(await f.run()).toBe('gamma hit function\n');
  });

  it('an install that keeps the tarball\'s times (tar, npm pack) and reuses the inode is still told apart', async () => {
    const f = fakeInstall();
    const packed = new Date('1985-10-26T08:15:00Z'); // the time npm pack gives every file
    fs.writeFileSync(f.cli, bundle('alpha'));
    fs.utimesSync(f.cli, packed, packed);
    await f.run();
    expect(await f.run()).toBe('alpha hit function\n');
    // Same inode, same length, the same packed mtime: only the change time differs, which
    // nothing but the kernel sets.
    const old = fs.statSync(f.cli);
    fs.writeFileSync(f.cli, bundle('omega'));
    fs.utimesSync(f.cli, packed, packed);
    const now = fs.statSync(f.cli);
    expect([now.ino, now.size, now.mtimeMs]).toEqual([old.ino, old.size, old.mtimeMs]);
    expect(await f.run()).toBe('omega stale function\n');
    expect(await f.run()).toBe('omega hit function\n');
  });

  it('the build stamp a daemon serves by changes when the bundle is replaced with the same packed time', async () => {
    const f = fakeInstall();
    // The client is handed the stamp first: print it instead of asking a daemon.
    fs.writeFileSync(path.join(f.dir, 'dist', 'bundle', 'client.cjs'), 'exports.settleDaemonFlags = () => {};\nexports.viaDaemon = async (argv, engine) => { console.log(engine); return 0; };\n');
    const packed = new Date('1985-10-26T08:15:00Z');
    fs.writeFileSync(f.cli, bundle('alpha'));
    fs.utimesSync(f.cli, packed, packed);
    const first = await f.run();
    fs.writeFileSync(f.cli, bundle('omega'));
    fs.utimesSync(f.cli, packed, packed);
    const second = await f.run();
    expect(first).toMatch(/\|bundle\|/);
    expect(second).not.toBe(first);
  });

  it('keeps one cache per set of V8 flags (V8 refuses another set\'s): the daemon\'s and the CLI\'s do not replace each other', async () => {
    const f = fakeInstall();
    fs.writeFileSync(f.cli, bundle('alpha'));
    await f.run();
    expect(await f.run({ NODE_OPTIONS: '--max-old-space-size=999' })).toBe('alpha miss function\n');
    expect(await f.run({ NODE_OPTIONS: '--max-old-space-size=999' })).toBe('alpha hit function\n');
    expect(await f.run()).toBe('alpha hit function\n');
    expect(fs.readdirSync(path.dirname(f.cli)).filter((n) => n.endsWith('.v8cache'))).toHaveLength(2);
  });

  it('removes temp files a process that died mid-write left, once they are a minute old', async () => {
    const f = fakeInstall();
    fs.writeFileSync(f.cli, bundle('alpha'));
    const dir = path.dirname(f.cli);
    const stale = path.join(dir, `cli.cjs.${process.version}-${process.arch}.v8cache.99999.tmp`);
    const fresh = path.join(dir, `cli.cjs.${process.version}-${process.arch}.v8cache.99998.tmp`);
    fs.writeFileSync(stale, 'x');
    fs.writeFileSync(fresh, 'x');
    const old = new Date(Date.now() - 5 * 60_000);
    fs.utimesSync(stale, old, old);
    expect(await f.run()).toBe('alpha miss function\n');
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(fresh)).toBe(true);
  });

  it('the built bundle is strict code (its ES modules were), and under --enable-source-maps loads through Node\'s loader, which maps it', async () => {
    const cli = path.join(REPO, 'dist', 'bundle', 'cli.cjs');
    expect(fs.readFileSync(cli, 'utf8').startsWith('"use strict";')).toBe(true);
    const probe = `const { loadCli } = require(${JSON.stringify(path.join(REPO, 'dist', 'bundle', 'load.cjs'))});
const cli = loadCli(${JSON.stringify(cli)}, (s) => import(s));
console.log(cli.use, typeof cli.exports.main, require('node:module').findSourceMap(${JSON.stringify(cli)}) !== undefined);`;
    const mapped = await node(['--enable-source-maps', '-e', probe], REPO);
    expect(mapped.stderr).toBe('');
    expect(mapped.stdout).toBe('off function true\n');
    const plain = await node(['-e', probe], REPO, { BATCH_CODE_CACHE: '0' });
    expect(plain.stdout).toBe('off function false\n');
  });

  it('ignores a damaged cache (a flipped byte, a truncated file, garbage) and writes it again', async () => {
    const f = fakeInstall();
    fs.writeFileSync(f.cli, bundle('alpha'));
    await f.run();
    const file = path.join(path.dirname(f.cli), f.cache()!);
    const good = fs.readFileSync(file);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 9]! ^= 0xff;
    for (const bad of [flipped, good.subarray(0, good.length - 100), good.subarray(0, 10), Buffer.from('garbage')]) {
      fs.writeFileSync(file, bad);
      expect(await f.run()).toBe('alpha stale function\n');
      expect(fs.readFileSync(file).equals(good) || (await f.run()) === 'alpha hit function\n').toBe(true);
    }
  });

  it('BATCH_CODE_CACHE=0 compiles from source and writes no cache', async () => {
    const f = fakeInstall();
    fs.writeFileSync(f.cli, bundle('alpha'));
    expect(await f.run({ BATCH_CODE_CACHE: '0' })).toBe('alpha off function\n');
    expect(f.cache()).toBeUndefined();
  });

  it("the bundle's CommonJS interop wraps each module once (scripts/bundle.mjs), with the same live view as esbuild's own", () => {
    const text = fs.readFileSync(path.join(REPO, 'dist', 'bundle', 'cli.cjs'), 'utf8');
    // The helpers: everything before the first module.
    const helpers = text.slice(0, text.indexOf('\n// src/'));
    const toEsm = vm.runInNewContext(`${helpers.replace(/^.*var __batch_import_meta_url.*\n/, '')}\n;__toESM`, { require: () => ({}), __filename: '/x' }) as (m: unknown, nodeMode?: number) => Record<string, unknown>;
    const mod = { a: 1, f: (): number => 2 };
    const first = toEsm(mod, 1);
    expect(toEsm(mod, 1)).toBe(first);
    expect(first.default).toBe(mod);
    expect(first.a).toBe(1);
    mod.a = 3; // live, as esbuild's getters are
    expect(first.a).toBe(3);
    // A transpiled ES module (`__esModule`) outside node mode has no default added; in node mode it does.
    const esm = { __esModule: true, x: 1 };
    expect('default' in toEsm(esm)).toBe(false);
    expect(toEsm(esm, 1).default).toBe(esm);
    expect(toEsm(esm)).toBe(toEsm(esm));
    expect(toEsm(undefined)).toEqual({});
  });

  it('the real CLI runs from the cache: a run that compiles the Batchfile (esbuild, imported lazily) and a no-op', async () => {
    p = TempProject.create({ 'Batchfile.ts': batchfile(`a: { command: ${cmd('--out', 'out/a.txt')}, outputs: ['out/a.txt'] },`) });
    // The cache beside the repository's bundle may exist already (other tests ran the CLI).
    const first = await p.run([], { env: { BATCH_TIMING: '1' } });
    expect(first.status).toBe('PASS');
    const again = await p.run([], { env: { BATCH_TIMING: '1' } });
    expect(again.status).toBe('PASS');
    expect(again.stderr).toMatch(/cli loaded \(code cache hit\)/);
    p.write('Batchfile.ts', batchfile(`a: { command: ${cmd('--out', 'out/a.txt')}, outputs: ['out/a.txt'] },\n  b: { command: ${cmd('--out', 'out/b.txt')}, outputs: ['out/b.txt'] },`));
    const changed = await p.run([], { env: { BATCH_TIMING: '1' } });
    expect(changed.stderr).toMatch(/cli loaded \(code cache hit\)/);
    expect(changed.steps.map((s) => `${s.name} ${s.action}`).sort()).toEqual(['a up-to-date', 'b ran']);
  });
});
