// inclusive time of functions called (transitively) under frames whose label matches ROOT, per run (divide by N)
import fs from 'node:fs';
const [file, root, n = '40', gapMs = '1000'] = process.argv.slice(2);
const p = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((x) => [x.id, x]));
const parent = new Map(); for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
let t = p.startTime; const times = p.timeDeltas.map((d) => (t += d));
const idle = (id) => byId.get(id).callFrame.functionName === '(idle)';
let start = 0, is = -1;
for (let i = 0; i < p.samples.length; i++) { if (idle(p.samples[i])) { if (is < 0) is = i; } else { if (is >= 0 && times[i] - times[is] > Number(gapMs) * 1000) start = i; is = -1; } }
const label = (cf) => `${cf.functionName || '(anon)'} ${cf.url.replace(/^.*\//, '')}:${cf.lineNumber + 1}`;
const incl = new Map();
for (let i = start + 1; i < p.samples.length; i++) {
  const dt = (times[i] - times[i - 1]) / 1000;
  const chain = []; let c = p.samples[i]; while (c !== undefined) { chain.push(label(byId.get(c).callFrame)); c = parent.get(c); }
  const k = chain.findIndex((l) => l.startsWith(root + ' ')); if (k < 0) continue;
  const seen = new Set(); for (const l of chain.slice(0, k + 1)) if (!seen.has(l)) { seen.add(l); incl.set(l, (incl.get(l) ?? 0) + dt); }
}
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((v / Number(n)).toFixed(2).padStart(7), k);
