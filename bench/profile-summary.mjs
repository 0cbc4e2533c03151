#!/usr/bin/env node
// Summarises a V8 CPU profile (`node --cpu-prof`): self time and inclusive time per function,
// as used for "Where batchfile's time goes" in docs/performance.md.
//
//   node bench/profile-summary.mjs FILE.cpuprofile [--filter dist/] [--top 40]
//
// Inclusive time counts a sample once per function even under recursion; --filter keeps only
// functions whose script URL contains the string (default: all). Shares are of all samples
// (wall-clock sampling: when the process waits for the CPU, time still accrues).
import fs from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
if (!file) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [--filter dist/] [--top 40]');
  process.exit(2);
}
const filter = opt('--filter', '');
const top = Number(opt('--top', 30));
const p = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`;

const self = new Map();
const incl = new Map();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const d = p.timeDeltas[i] ?? 0;
  total += d;
  const leaf = byId.get(p.samples[i]).callFrame;
  if (leaf.url.includes(filter)) self.set(label(leaf), (self.get(label(leaf)) ?? 0) + d);
  const seen = new Set();
  for (let id = p.samples[i]; id !== undefined; id = parent.get(id)) {
    const cf = byId.get(id).callFrame;
    if (!cf.url.includes(filter)) continue;
    const k = label(cf);
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + d);
  }
}
const show = (m) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, t]) => `${(t / 1000).toFixed(0).padStart(8)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled\n\n-- self time\n${show(self)}\n\n-- inclusive time\n${show(incl)}`);
