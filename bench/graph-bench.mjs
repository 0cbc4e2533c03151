#!/usr/bin/env node
// In-process cost of the step graph: buildGraph + selectSteps (every step) + one hasProducer
// per input (what preflight asks of the graph), on a real project's Batchfile or on a
// synthetic pipeline whose edges come from files, folders and globs.
//
//   npm run build && node bench/graph-bench.mjs --project DIR [--reps 15] [--dist DIR]
//   node bench/graph-bench.mjs --synthetic 10000 [--inputs 10]
//
// "cold" is the first call in the process (what one `batch` run pays, JIT not warmed up);
// "warm" is the median of --reps further calls, each on a fresh copy of the step map (the
// graph module caches its output index per map).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const opts = { project: '', synthetic: 0, inputs: 10, reps: 15, dist: path.join(REPO, 'dist') };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--project') opts.project = path.resolve(process.argv[++i]);
  else if (a === '--synthetic') opts.synthetic = Number(process.argv[++i]);
  else if (a === '--inputs') opts.inputs = Number(process.argv[++i]);
  else if (a === '--reps') opts.reps = Number(process.argv[++i]);
  else if (a === '--dist') opts.dist = path.resolve(process.argv[++i]);
  else throw new Error(`unknown argument ${a}`);
}
if (!opts.project && !opts.synthetic) throw new Error('give --project DIR or --synthetic N');
const dist = (p) => import(pathToFileURL(path.join(opts.dist, p)).href);
const { buildGraph, selectSteps, hasProducer } = await dist('graph/graph.js');

/** Step i writes out/s{i}.txt (every 10th also a folder out/d{i}, every 50th a glob
 * gen/s{i}/*.bin); it reads K files under in/, the file of step i-1, sometimes the folder
 * of an earlier step, a file inside one, or a glob over generated files. */
function synthetic(n, k) {
  const steps = new Map();
  for (let i = 0; i < n; i++) {
    const outputs = [`out/s${i}.txt`];
    if (i % 10 === 0) outputs.push(`out/d${i}`);
    if (i % 50 === 0) outputs.push(`gen/s${i}/*.bin`);
    const inputs = [];
    for (let f = 0; f < k; f++) inputs.push(`in/s${i}/f${f}.txt`);
    if (i > 0) inputs.push(`out/s${i - 1}.txt`);
    if (i % 7 === 0 && i >= 10) inputs.push(`out/d${Math.floor((i - 10) / 10) * 10}`);
    if (i % 13 === 0 && i >= 20) inputs.push(`out/d${Math.floor((i - 20) / 10) * 10}/part.txt`);
    if (i % 97 === 0 && i >= 50) inputs.push(`gen/s${Math.floor((i - 50) / 50) * 50}/*.bin`);
    steps.set(`s${i}`, { name: `s${i}`, kind: 'command', command: 'true', inputs, outputs, dependsOn: i % 31 === 0 && i > 0 ? [`s${i - 1}`] : [], params: {}, env: [], retries: 0, cache: true });
  }
  return { root: '/nowhere', file: '/nowhere/Batchfile.ts', steps, cache: { enabled: true, maxBytes: 0 } };
}

let config;
if (opts.project) {
  const { findBatchfile, loadBatchfile } = await dist('batchfile/load.js');
  // The step kinds (a dist from before they were modules takes no such argument).
  const kinds = await dist('kinds/registry.js').then((m) => [m.KINDS], () => []);
  config = (await loadBatchfile(opts.project, findBatchfile(opts.project), path.join(opts.project, '.cache'), ...kinds)).config;
} else config = synthetic(opts.synthetic, opts.inputs);

const fresh = () => ({ ...config, steps: new Map(config.steps) });
function once() {
  const c = fresh();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const g = buildGraph(c);
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  selectSteps(g, []);
  const t2 = performance.now();
  const c2 = process.cpuUsage();
  let linked = 0;
  for (const s of c.steps.values()) for (const spec of s.inputs) if (hasProducer(g, spec, s.name)) linked++;
  const t3 = performance.now();
  const c3 = process.cpuUsage(c2);
  return { build: t1 - t0, buildCpu: (c1.user + c1.system) / 1000, select: t2 - t1, producers: t3 - t2, producersCpu: (c3.user + c3.system) / 1000, edges: [...g.deps.values()].reduce((a, d) => a + d.length, 0), linked };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const cold = once();
const warm = Array.from({ length: opts.reps }, once);
const inputs = [...config.steps.values()].reduce((a, s) => a + s.inputs.length, 0);
const f = (x) => `${x.toFixed(2)} ms`;
console.log(`${config.steps.size} steps, ${inputs} inputs, ${cold.edges} edges (${cold.linked} inputs with a producer)`);
console.log(`cold: buildGraph ${f(cold.build)} (CPU ${f(cold.buildCpu)}), selectSteps ${f(cold.select)}, hasProducer×${inputs} ${f(cold.producers)} (CPU ${f(cold.producersCpu)})`);
console.log(`warm (median of ${opts.reps}): buildGraph ${f(median(warm.map((w) => w.build)))} (CPU ${f(median(warm.map((w) => w.buildCpu)))}), selectSteps ${f(median(warm.map((w) => w.select)))}, hasProducer×${inputs} ${f(median(warm.map((w) => w.producers)))} (CPU ${f(median(warm.map((w) => w.producersCpu)))})`);
if (process.env.GRAPH_BENCH_JSON) fs.writeFileSync(process.env.GRAPH_BENCH_JSON, JSON.stringify({ cold, warm }));
