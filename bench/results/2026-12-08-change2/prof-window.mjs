// Summarise a cpuprofile over the samples after the last idle gap longer than GAP ms.
import fs from 'node:fs';
const [file, gapMs = '1000', top = '40', filter = ''] = process.argv.slice(2);
const p = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
let t = p.startTime; const times = p.timeDeltas.map((d) => (t += d));
const isIdle = (id) => { const f = byId.get(id).callFrame.functionName; return f === '(idle)' || f === '(program)' && false; };
// find last gap of idle samples lasting > gapMs
let start = 0, idleStart = -1;
for (let i = 0; i < p.samples.length; i++) {
  if (isIdle(p.samples[i])) { if (idleStart < 0) idleStart = i; }
  else { if (idleStart >= 0 && times[i] - times[idleStart] > Number(gapMs) * 1000) start = i; idleStart = -1; }
}
const label = (cf) => `${cf.functionName || '(anon)'} ${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`;
const self = new Map(), incl = new Map();
let total = 0, busy = 0;
for (let i = start + 1; i < p.samples.length; i++) {
  const dt = (times[i] - times[i - 1]) / 1000; total += dt;
  const id = p.samples[i]; if (!isIdle(id)) busy += dt; else continue;
  const n = byId.get(id); const l = label(n.callFrame);
  self.set(l, (self.get(l) ?? 0) + dt);
  const seen = new Set(); let c = id;
  while (c !== undefined) { const L = label(byId.get(c).callFrame); if (!seen.has(L)) { seen.add(L); incl.set(L, (incl.get(L) ?? 0) + dt); } c = parent.get(c); }
}
console.log(`window ${(total).toFixed(0)} ms, busy ${busy.toFixed(0)} ms, from sample ${start}/${p.samples.length}`);
const show = (m, name) => { console.log(`-- ${name}`); for (const [k, v] of [...m].filter(([k]) => k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, Number(top))) console.log(v.toFixed(1).padStart(8), k); };
show(self, 'self'); show(incl, 'inclusive');
