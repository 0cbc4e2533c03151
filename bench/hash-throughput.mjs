#!/usr/bin/env node
// Micro-benchmark of content hashing: the engine's hashFileSync/hashBytes against the previous
// implementation (xxhash-wasm: readFileSync per file, create64().update per 4 MiB chunk) and
// `xxhsum -H64`, by CPU time (user + system; the machine is shared, wall times are noisy).
//   npm run build && node bench/hash-throughput.mjs [--big FILE] [--small DIR] [--runs N] [--impl hash.js]
// --small DIR: a folder of small files, hashed one by one (default: 10,000 4 KiB files made in a
// temporary folder); --big FILE: a big file (default: the hash-1024m suite's in/big.bin).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import xxhash from 'xxhash-wasm';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const RUNS = Number(opt('runs', 5));
const BIG = opt('big', '/tmp/batchfile-bench/projects/hash-1024m/base/in/big.bin');
const impl = await import(pathToFileURL(path.resolve(opt('impl', path.join(root, 'dist/fingerprint/hash.js')))).href);
await impl.initHash();

// The implementation before this benchmark existed, kept here to compare against.
const lib = await xxhash();
const hex = (n) => n.toString(16).padStart(16, '0');
const OLD_CHUNK = 4 * 1024 * 1024;
let oldBuf;
function oldHashFileSync(abs, size) {
  const known = size ?? fs.statSync(abs).size;
  if (known <= 8 * 1024 * 1024) return hex(lib.h64Raw(fs.readFileSync(abs)));
  const state = lib.create64();
  oldBuf ??= Buffer.allocUnsafe(OLD_CHUNK);
  const fd = fs.openSync(abs, 'r');
  try {
    for (;;) {
      const n = fs.readSync(fd, oldBuf, 0, OLD_CHUNK, null);
      if (n === 0) break;
      state.update(n === OLD_CHUNK ? oldBuf : oldBuf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hex(state.digest());
}

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Runs each case once per round, interleaved, and returns the median CPU and wall ms of each. */
function measure(cases) {
  const cpu = {}, wall = {};
  for (let r = 0; r < RUNS; r++) {
    for (const [name, fn] of Object.entries(cases)) {
      const c0 = cpuMs(), w0 = performance.now();
      fn();
      (cpu[name] ??= []).push(cpuMs() - c0);
      (wall[name] ??= []).push(performance.now() - w0);
    }
  }
  return Object.fromEntries(Object.keys(cases).map((k) => [k, { cpu: median(cpu[k]), wall: median(wall[k]) }]));
}
/** CPU and wall ms of an external command (user + sys of the child). */
function timeCmd(cmd, argv) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', cmd, ...argv], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const [e, u, s] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return { cpu: (u + s) * 1000, wall: e * 1000, stdout: r.stdout };
}
function timeCmdMedian(cmd, argv) {
  const runs = Array.from({ length: RUNS }, () => timeCmd(cmd, argv));
  return { cpu: median(runs.map((r) => r.cpu)), wall: median(runs.map((r) => r.wall)), stdout: runs[0].stdout };
}
const hasXxhsum = spawnSync('xxhsum', ['--version']).status === 0;
const GiB = 1024 ** 3;
const rate = (bytes, ms) => `${((bytes / GiB) / (ms / 1000)).toFixed(2)} GiB/s`;

// 1. In memory (no reads).
{
  const buf = crypto.randomBytes(1024 * 1024);
  const reps = 256;
  const res = measure({
    'xxhash-wasm h64Raw': () => { for (let i = 0; i < reps; i++) lib.h64Raw(buf); },
    'hashBytes (new)': () => { for (let i = 0; i < reps; i++) impl.hashBytes(buf); },
  });
  console.log(`\nIn memory, 1 MiB buffer x ${reps} (CPU time):`);
  for (const [k, v] of Object.entries(res)) console.log(`  ${k.padEnd(24)} ${rate(reps * buf.length, v.cpu)}`);
  if (impl.hashBytes(buf) !== hex(lib.h64Raw(buf))) throw new Error('hashBytes differs from xxhash-wasm');
}

// 2. One big file.
if (fs.existsSync(BIG)) {
  const size = fs.statSync(BIG).size;
  const want = oldHashFileSync(BIG, size);
  if (impl.hashFileSync(BIG, size) !== want) throw new Error('hashFileSync differs on the big file');
  const res = measure({
    'old (xxhash-wasm)': () => oldHashFileSync(BIG, size),
    'hashFileSync (new)': () => impl.hashFileSync(BIG, size),
  });
  console.log(`\nBig file ${BIG} (${(size / 2 ** 20).toFixed(0)} MiB), median of ${RUNS}:`);
  for (const [k, v] of Object.entries(res))
    console.log(`  ${k.padEnd(24)} CPU ${v.cpu.toFixed(0)} ms = ${rate(size, v.cpu)}   wall ${v.wall.toFixed(0)} ms = ${rate(size, v.wall)}`);
  if (hasXxhsum) {
    const x = timeCmdMedian('xxhsum', ['-H64', BIG]);
    if (!x.stdout.startsWith(want)) throw new Error(`xxhsum disagrees: ${x.stdout}`);
    console.log(`  ${'xxhsum -H64 (process)'.padEnd(24)} CPU ${x.cpu.toFixed(0)} ms = ${rate(size, x.cpu)}   wall ${x.wall.toFixed(0)} ms = ${rate(size, x.wall)}`);
    console.log(`  new / xxhsum throughput: CPU ${((x.cpu / res['hashFileSync (new)'].cpu) * 100).toFixed(0)}%, wall ${((x.wall / res['hashFileSync (new)'].wall) * 100).toFixed(0)}%`);
  }
} else console.log(`\n(no big file at ${BIG}; generate the hash suite or pass --big FILE)`);

// 3. Many small files.
{
  let dir = opt('small', undefined);
  let made;
  if (!dir) {
    made = dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hash-small-'));
    const data = crypto.randomBytes(4096 * 10000);
    for (let i = 0; i < 10000; i++) fs.writeFileSync(path.join(dir, `f${i}.txt`), data.subarray(i * 4096, (i + 1) * 4096));
  }
  const files = fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f))).filter((f) => fs.statSync(f).isFile());
  const sizes = files.map((f) => fs.statSync(f).size);
  const res = measure({
    'old (xxhash-wasm)': () => { for (let i = 0; i < files.length; i++) oldHashFileSync(files[i], sizes[i]); },
    'hashFileSync (new)': () => { for (let i = 0; i < files.length; i++) impl.hashFileSync(files[i], sizes[i]); },
    // What the stat cache does per changed file: stat, hash, stat again to see it did not change.
    'stat+hash+stat (new)': () => {
      for (const f of files) {
        impl.hashFileSync(f, fs.statSync(f).size);
        fs.statSync(f);
      }
    },
    ...(impl.hashFileAndStatSync && {
      'stat+hashFileAndStat': () => { for (const f of files) impl.hashFileAndStatSync(f, fs.statSync(f).size); },
    }),
  });
  for (let i = 0; i < files.length; i += 997) if (impl.hashFileSync(files[i], sizes[i]) !== oldHashFileSync(files[i], sizes[i])) throw new Error(`differs on ${files[i]}`);
  const us = (ms) => `${((ms * 1000) / files.length).toFixed(2)} µs/file`;
  console.log(`\n${files.length} small files in ${dir}, median of ${RUNS}:`);
  for (const [k, v] of Object.entries(res)) console.log(`  ${k.padEnd(24)} CPU ${v.cpu.toFixed(0)} ms = ${us(v.cpu)}   wall ${v.wall.toFixed(0)} ms = ${us(v.wall)}`);
  if (hasXxhsum) {
    const x = timeCmdMedian('xxhsum', ['-H64', ...files]);
    console.log(`  ${'xxhsum -H64 (process)'.padEnd(24)} CPU ${x.cpu.toFixed(0)} ms = ${us(x.cpu)}   wall ${x.wall.toFixed(0)} ms = ${us(x.wall)}`);
  }
  if (made) fs.rmSync(made, { recursive: true, force: true });
}
