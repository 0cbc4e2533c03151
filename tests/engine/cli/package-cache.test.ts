// The packages' V8 code cache (src/cli/package-cache.ts): the CommonJS files of a package the
// engine loads through util/package-code-cache.ts (lmdb) compile from bytecode a previous run
// left, as Node's loader would compile them (their own require, module, __dirname), and never
// from bytecode of another version of a file (V8 knows a source only by its length). Through a
// copy of the bin with a small bundle of its own that loads a small package of its own, run by
// the real loader (dist/bundle/load.cjs); and through the real CLI, with the real lmdb.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject, copyBinAndLoader, nodeIn, otherUser } from '../rig.js';
import { batchfile, cmd, waitDead } from '../helpers.js';
import { Daemons } from '../daemon/daemons.js';
import { decodeEntries, sourceKey } from '../../../src/cli/package-cache.js';

const dirs: string[] = [];
let p: TempProject | undefined;
const daemons = new Daemons();
afterEach(async () => {
  await daemons.stopAll(p);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  p?.cleanup();
  p = undefined;
});

/** A bundle whose main loads `pkg` through the loader's package cache (when it offers one) and
 * prints what the package says and how its files were compiled; `other` is loaded plainly. */
const BUNDLE = `exports.main = async () => {
  const slot = globalThis[Symbol.for('batchfile.packageCodeCache')];
  const load = () => require('pkg');
  const r = slot ? slot(load) : { value: load(), use: 'none' };
  require('other');
  console.log(r.value.word(), r.use);
  if (process.env.SHOW_CHECKS) console.log(JSON.stringify(r.value.checks()));
  return 0;
};
`;

/** The package's second file; words of one length make files of one length. */
const lib = (word: string): string => `exports.word = '${word}';\n`;

const INDEX = `'use strict';
const path = require('node:path');
const lib = require('./lib.cjs');
const self = this;
exports.word = () => lib.word;
function fail() {
  throw new Error('boom');
}
exports.checks = () => {
  let line;
  try { fail(); } catch (e) { line = /index\\.cjs:(\\d+)/.exec(e.stack)[1]; }
  return {
    dirname: __dirname === path.dirname(__filename) && path.isAbsolute(__filename),
    thisIsExports: self === module.exports,
    cached: require.cache[__filename] === module,
    resolve: require.resolve('./lib.cjs') === path.join(__dirname, 'lib.cjs'),
    paths: Array.isArray(require.resolve.paths('x')),
    data: require('node:fs').readFileSync(path.join(__dirname, 'data.txt'), 'utf8'),
    child: module.children.some((c) => c.filename === path.join(__dirname, 'lib.cjs')),
    line: Number(line),
  };
};
`;

interface Install {
  dir: string;
  lib: string;
  cacheFiles: () => string[];
  packagesCache: () => string;
  run: (env?: NodeJS.ProcessEnv) => Promise<string>;
}

function fakeInstall(word = 'alpha'): Install {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-pkg-cache-'));
  dirs.push(dir);
  copyBinAndLoader(dir);
  const bundleDir = path.join(dir, 'dist', 'bundle');
  fs.writeFileSync(path.join(bundleDir, 'client.cjs'), 'exports.settleDaemonFlags = () => {};\nexports.viaDaemon = async () => undefined;\n');
  fs.writeFileSync(path.join(bundleDir, 'cli.cjs'), BUNDLE);
  const pkg = path.join(dir, 'node_modules', 'pkg');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"pkg","main":"index.cjs"}');
  fs.writeFileSync(path.join(pkg, 'index.cjs'), INDEX);
  fs.writeFileSync(path.join(pkg, 'lib.cjs'), lib(word));
  fs.writeFileSync(path.join(pkg, 'data.txt'), 'beside');
  const other = path.join(dir, 'node_modules', 'other');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'index.js'), 'module.exports = 1;\n');
  const cacheFiles = (): string[] => fs.readdirSync(bundleDir).filter((f) => f.includes('.packages.'));
  return {
    dir,
    lib: path.join(pkg, 'lib.cjs'),
    cacheFiles,
    packagesCache: () => path.join(bundleDir, `cli.cjs.${process.version}-${process.arch}.packages.v8cache`),
    run: async (env = {}) => {
      const r = await nodeIn(dir, ['bin/batch.js'], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return r.stdout;
    },
  };
}

describe("the packages' code cache", () => {
  it('writes it after a run that had none and compiles from it in the next, only for the files loaded through it', async () => {
    const f = fakeInstall();
    expect(await f.run()).toBe('alpha miss\n');
    expect(f.cacheFiles()).toEqual([path.basename(f.packagesCache())]);
    expect(await f.run()).toBe('alpha hit\n');
    expect(await f.run()).toBe('alpha hit\n');
    const entries = decodeEntries(fs.readFileSync(f.packagesCache()))!;
    const pkg = path.join(fs.realpathSync(f.dir), 'node_modules', 'pkg');
    expect([...entries.keys()].sort()).toEqual([path.join(pkg, 'index.cjs'), path.join(pkg, 'lib.cjs')]);
  });

  it("runs a package's files as Node's loader does: __dirname, this, require.cache, require.resolve, children, stack lines", async () => {
    const f = fakeInstall();
    const direct = spawnSync(process.execPath, ['-e', "const r = require('pkg'); console.log(r.word(), 'none'); console.log(JSON.stringify(r.checks()))"], { cwd: f.dir, encoding: 'utf8' });
    expect(direct.stderr).toBe('');
    const [, plain] = direct.stdout.trim().split('\n');
    expect(JSON.parse(plain!)).toEqual({ dirname: true, thisIsExports: true, cached: true, resolve: true, paths: true, data: 'beside', child: true, line: 7 });
    expect((await f.run({ SHOW_CHECKS: '1' })).split('\n')).toEqual(['alpha miss', plain, '']);
    expect((await f.run({ SHOW_CHECKS: '1' })).split('\n')).toEqual(['alpha hit', plain, '']);
  });

  it('never runs the bytecode of another version of a file of the same length (an upgrade), whatever its times', async () => {
    const f = fakeInstall();
    const packed = new Date('1985-10-26T08:15:00Z'); // the time npm pack gives every file
    fs.utimesSync(f.lib, packed, packed);
    await f.run();
    expect(await f.run()).toBe('alpha hit\n');
    // Upgraded: a new file of the same length, its time the packed one.
    const old = fs.statSync(f.lib);
    fs.rmSync(f.lib);
    fs.writeFileSync(f.lib, lib('omega'));
    fs.utimesSync(f.lib, packed, packed);
    expect([fs.statSync(f.lib).size, fs.statSync(f.lib).mtimeMs]).toEqual([old.size, old.mtimeMs]);
    expect(await f.run()).toBe('omega stale\n');
    expect(await f.run()).toBe('omega hit\n');
    // Rewritten in place: same inode, length and time; only the change time differs.
    fs.writeFileSync(f.lib, lib('gamma'));
    fs.utimesSync(f.lib, packed, packed);
    expect(await f.run()).toBe('gamma stale\n');
    expect(await f.run()).toBe('gamma hit\n');
  });

  it('names the source it read, not only the file: the same file and stat with other content is another key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-pkg-key-'));
    dirs.push(dir);
    const file = path.join(dir, 'a|b.cjs'); // a path may hold the separator
    fs.writeFileSync(file, lib('alpha'));
    const a = sourceKey(file, lib('alpha'));
    expect(a).toMatch(/^.*a\|b\.cjs\|\d+\|/);
    expect(sourceKey(file, lib('omega'))).not.toBe(a);
    expect(sourceKey(file, lib('alpha'))).toBe(a);
    expect(sourceKey(path.join(dir, 'gone.cjs'), '')).toBeUndefined();
  });

  it('ignores a damaged cache (a flipped byte, a truncated file, garbage) and writes it again', async () => {
    const f = fakeInstall();
    await f.run();
    const good = fs.readFileSync(f.packagesCache());
    const flipped = Buffer.from(good);
    flipped[flipped.length - 9]! ^= 0xff;
    for (const bad of [flipped, good.subarray(0, good.length - 100), good.subarray(0, 10), Buffer.from('garbage')]) {
      fs.writeFileSync(f.packagesCache(), bad);
      expect(await f.run()).toBe('alpha stale\n');
      expect(decodeEntries(fs.readFileSync(f.packagesCache()))?.size).toBe(2);
      expect(await f.run()).toBe('alpha hit\n');
    }
  });

  it('keeps one cache per set of V8 flags: the daemon\'s and the CLI\'s do not replace each other', async () => {
    const f = fakeInstall();
    await f.run();
    expect(await f.run({ NODE_OPTIONS: '--max-old-space-size=999' })).toBe('alpha miss\n');
    expect(await f.run({ NODE_OPTIONS: '--max-old-space-size=999' })).toBe('alpha hit\n');
    expect(await f.run()).toBe('alpha hit\n');
    expect(f.cacheFiles()).toHaveLength(2);
  });

  it('removes temp files a process that died mid-write left, once they are a minute old', async () => {
    const f = fakeInstall();
    const stale = `${f.packagesCache()}.99999.tmp`;
    const fresh = `${f.packagesCache()}.99998.tmp`;
    fs.writeFileSync(stale, 'x');
    fs.writeFileSync(fresh, 'x');
    const old = new Date(Date.now() - 5 * 60_000);
    fs.utimesSync(stale, old, old);
    // A run that writes only the packages' cache (the bundle's is there): it sweeps too.
    await f.run();
    fs.writeFileSync(stale, 'x');
    fs.utimesSync(stale, old, old);
    fs.rmSync(f.packagesCache());
    expect(await f.run()).toBe('alpha miss\n');
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(fresh)).toBe(true);
  });

  // Node's policy checks a file's integrity as its loader compiles it: code compiled here would
  // skip that, so under a policy nothing comes from (or goes to) a cache.
  it('under a Node policy (--experimental-policy) every file is compiled by Node, and its integrity checked', async () => {
    const f = fakeInstall();
    const policy = path.join(f.dir, 'policy.json');
    const wrong = `sha384-${'A'.repeat(64)}`;
    fs.writeFileSync(policy, JSON.stringify({ onerror: 'throw', scopes: { 'file:': { integrity: true, dependencies: true } }, resources: { [`file://${f.lib}`]: { integrity: wrong, dependencies: true } } }));
    for (let i = 0; i < 2; i++) {
      const r = await nodeIn(f.dir, [`--experimental-policy=${policy}`, 'bin/batch.js']);
      expect(r.stderr).toMatch(/ERR_MANIFEST_ASSERT_INTEGRITY/);
      expect(r.code).not.toBe(0);
    }
    expect(f.cacheFiles()).toEqual([]);
    expect(await f.run()).toBe('alpha miss\n');
  });

  it('BATCH_CODE_CACHE=0 offers no package cache and writes none', async () => {
    const f = fakeInstall();
    expect(await f.run({ BATCH_CODE_CACHE: '0' })).toBe('alpha none\n');
    expect(f.cacheFiles()).toEqual([]);
    expect(await f.run()).toBe('alpha miss\n');
    expect(await f.run({ BATCH_CODE_CACHE: '0' })).toBe('alpha none\n');
  });

  // Needs root to make the second user; this suite runs as root here and in CI.
  it.runIf(process.getuid?.() === 0)('a user who cannot write the install runs from source every time, and writes nothing', async () => {
    const other = otherUser();
    const f = fakeInstall();
    fs.chmodSync(f.dir, 0o755); // mkdtemp made it 0700: readable by its owner only
    const runAs = (): ReturnType<typeof spawnSync> =>
      spawnSync('setpriv', [`--reuid=${other.uid}`, `--regid=${other.gid}`, '--clear-groups', process.execPath, 'bin/batch.js'], {
        cwd: f.dir,
        encoding: 'utf8',
        timeout: 20_000,
        env: { ...process.env, CI: '1', HOME: f.dir },
      });
    for (let i = 0; i < 2; i++) {
      const r = runAs();
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('alpha miss\n');
    }
    expect(fs.readdirSync(path.join(f.dir, 'dist', 'bundle')).filter((n) => n.includes('v8cache'))).toEqual([]);
    // Its owner still gets one.
    expect(await f.run()).toBe('alpha miss\n');
    expect(await f.run()).toBe('alpha hit\n');
  });

  it('the real CLI loads lmdb from it: a run that builds, a no-op, and the same results', async () => {
    p = TempProject.create({ 'Batchfile.ts': batchfile(`a: { command: ${cmd('--out', 'out/a.txt')}, outputs: ['out/a.txt'] },`) });
    // The cache beside the repository's bundle may exist already (other tests ran the CLI).
    const first = await p.run([], { env: { BATCH_TIMING: '1' } });
    expect(first.status).toBe('PASS');
    expect(first.stderr).toMatch(/lmdb loaded \(code cache (hit|miss|stale)\)/);
    const again = await p.run([], { env: { BATCH_TIMING: '1' } });
    expect(again.stderr).toMatch(/lmdb loaded \(code cache hit\)/);
    expect(again.steps.map((s) => `${s.name} ${s.action}`)).toEqual(['a up-to-date']);
    const off = await p.run(['--force'], { env: { BATCH_TIMING: '1', BATCH_CODE_CACHE: '0' } });
    expect(off.stderr).toMatch(/lmdb loaded \(code cache off\)/);
    expect(off.steps.map((s) => `${s.name} ${s.action}`)).toEqual(['a ran']);
  });

  // The daemon is launched with V8 flags of its own and resets one once started; V8 stamps a
  // cache with the flags it has when the cache is written, at exit. Reset after the CLI was
  // compiled, every daemon had both caches refused and wrote them again.
  it('a daemon compiles the CLI and lmdb from the caches the daemon before it wrote', async () => {
    p = TempProject.create({ 'Batchfile.ts': batchfile(`a: { command: ${cmd('--out', 'out/a.txt')}, outputs: ['out/a.txt'] },`) });
    for (let i = 0; i < 2; i++) {
      const pid = await daemons.start(p, { BATCH_TIMING: '1' });
      await p.batch(['daemon', 'stop']);
      await waitDead([pid], 30_000);
    }
    // Each daemon prints its timing at exit: the last one's.
    const last = p.read('.cache/daemon/daemon.log').split('timing (BATCH_TIMING=1):').at(-1) ?? '';
    expect(last).toMatch(/cli loaded \(code cache hit\)/);
    expect(last).toMatch(/lmdb loaded \(code cache hit\)/);
  });
});
