#!/usr/bin/env node
// Heap held by the file-state tracker (src/app/file-states/) for a project of many files, and
// the time of a served no-op's stats, as the daemon uses it: run 1 stats every file, the idle
// work judges them (folders watched, stats kept), run 2 asks for every file again (answered
// from what is held: no stat). Each tracker is measured in a child process of its own (a fresh
// heap), with --expose-gc, after a full collection.
//
//   node bench/file-states-memory.mjs [--files 100000] [--per-folder 100] [--runs 5]
//        [--module dist/app/file-states/file-states.js:FileStates] [--module OTHER.js:ClassName] [--hash] [--out FILE.json]
//
// A --module is any class with the tracker's constructor ({root, store, log}) and cacheFor,
// beforeRun, settle and close (the daemon's TrustedStats before this tracker has them: pass
// its dist file to compare). "stat cache alone": a plain StatCache holding the same stats,
// to tell the tracker's own share from the cache's.
// The trackers get a real LMDB store in a temp folder of their own.
// Run it without NODE_EXTRA_CA_CERTS (a CA bundle parsed at start is no part of this).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const opts = { files: 100_000, perFolder: 100, runs: 5, modules: [], out: '', child: '', hash: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[++i];
  if (a === '--files') opts.files = Number(v);
  else if (a === '--per-folder') opts.perFolder = Number(v);
  else if (a === '--runs') opts.runs = Number(v);
  else if (a === '--module') opts.modules.push(v);
  else if (a === '--out') opts.out = v;
  else if (a === '--child') opts.child = v;
  else if (a === '--hash') (opts.hash = true), i--;
  else throw new Error(`unknown option ${a}`);
}

const rels = [];
for (let i = 0; i < opts.files; i++) rels.push(`in/d${Math.floor(i / opts.perFolder)}/f${i % opts.perFolder}.txt`);

if (opts.child) await child(opts.child);
else parent();

function parent() {
  if (opts.modules.length === 0) opts.modules.push('dist/app/file-states/file-states.js:FileStates');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-fs-mem-'));
  try {
    for (let d = 0; d * opts.perFolder < opts.files; d++) fs.mkdirSync(path.join(root, `in/d${d}`), { recursive: true });
    for (const rel of rels) fs.writeFileSync(path.join(root, rel), 'x');
    const results = [];
    for (const m of ['stat-cache', ...opts.modules]) {
      const env = { ...process.env };
      delete env.NODE_EXTRA_CA_CERTS;
      const r = spawnSync(process.execPath, ['--expose-gc', new URL(import.meta.url).pathname, '--child', m, '--files', String(opts.files), '--per-folder', String(opts.perFolder), '--runs', String(opts.runs), ...(opts.hash ? ['--hash'] : [])], { cwd: root, env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${m}: ${r.stderr}`);
      const res = JSON.parse(r.stdout.trim().split('\n').at(-1));
      results.push(res);
      const mb = (b) => (b / 1048576).toFixed(1);
      const per = (b) => Math.round(b / opts.files);
      console.log(
        `${res.name.padEnd(60)} held ${mb(res.held)} MB (${per(res.held)} B/file)` +
          (res.folders !== undefined ? `, ${res.folders} folders watched, no-op stats ${res.noop.median.toFixed(1)} ms (min ${res.noop.min.toFixed(1)}, max ${res.noop.max.toFixed(1)}), ${res.statted} stat'ed` : ''),
      );
    }
    const doc = { files: opts.files, perFolder: opts.perFolder, node: process.version, results };
    if (opts.out) fs.writeFileSync(opts.out, JSON.stringify(doc, null, 2) + '\n');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function child(spec) {
  const root = process.cwd();
  const gc = globalThis.gc;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const { StatCache } = await import(path.join(REPO, 'dist/fingerprint/stat-cache.js'));
  if (opts.hash) await (await import(path.join(REPO, 'dist/fingerprint/hash.js'))).initHash();
  if (spec === 'stat-cache') {
    const base = heap();
    const stats = new StatCache(root, undefined);
    for (const rel of rels) opts.hash ? stats.get(rel) : stats.stat(rel);
    const held = heap() - base;
    console.log(JSON.stringify({ name: 'stat cache alone (StatCache, every stat held)', held, keep: stats.peekStat(rels[0]) !== undefined }));
    return;
  }
  const [file, cls] = spec.split(':');
  const mod = await import(path.resolve(REPO, file));
  // A real store (the daemon's): where the hashes taken go, and what answers for them later.
  const { openStore } = await import(path.join(REPO, 'dist/store/store.js'));
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-fs-mem-store-'));
  const store = openStore(cacheDir);
  const base = heap();
  const t = new mod[cls]({ root, store, log: () => {} });
  const stats = t.cacheFor(store);
  await t.beforeRun();
  // --hash: run 1 also reads every file (a first build's check, or the run after a checkout).
  for (const rel of rels) opts.hash ? stats.get(rel) : stats.stat(rel);
  stats.flush();
  await t.settle();
  const times = [];
  let statted = 0;
  for (let r = 0; r < opts.runs; r++) {
    await t.beforeRun();
    const t0 = performance.now();
    for (const rel of rels) stats.stat(rel);
    times.push(performance.now() - t0);
    statted = stats.filesStatted;
    await t.settle();
  }
  const held = heap() - base;
  times.sort((a, b) => a - b);
  const folders = t.watches?.size ?? t.watched?.size;
  console.log(JSON.stringify({ name: `${file} ${cls}`, held, folders, statted, noop: { median: times[Math.floor(times.length / 2)], min: times[0], max: times.at(-1) } }));
  t.close();
  await store.close();
  fs.rmSync(cacheDir, { recursive: true, force: true });
}
