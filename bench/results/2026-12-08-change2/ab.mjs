// A/B of served change-one runs: two copies of one generated project, each with its own
// build's auto-started daemon, runs alternating. Wall + CPU (client, via /usr/bin/time) and
// the daemon's CPU (utime+stime of all its threads, /proc) per run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
const [aBin, bBin, n = '20'] = process.argv.slice(2);
const env = { ...process.env }; delete env.NODE_EXTRA_CA_CERTS; delete env.CI; delete env.BATCH_DAEMON; delete env.BATCH_TIMING;
const builds = { A: { bin: aBin, dir: '/tmp/change2/abA' }, B: { bin: bBin, dir: '/tmp/change2/abB' } };
for (const b of Object.values(builds)) {
  if (!fs.existsSync(b.dir)) spawnSync('cp', ['-a', '/tmp/change2/p', b.dir]);
  spawnSync(process.execPath, [b.bin, '-C', b.dir, 'daemon', 'stop'], { env });
  for (const d of ['.cache', 'logs']) fs.rmSync(`${b.dir}/${d}`, { recursive: true, force: true });
  spawnSync(process.execPath, [b.bin, '-C', b.dir, '-j', '2'], { env }); // first build, starts daemon
}
await new Promise((r) => setTimeout(r, 2500));
const head = fs.readFileSync('/tmp/change2/p/.bench/input.a').subarray(0, 4064);
const change = (dir) => fs.writeFileSync(`${dir}/in/s500/f0.txt`, Buffer.concat([head, Buffer.from(String(process.hrtime.bigint()).padStart(31, '0') + '\n')]));
const pidOf = (dir) => JSON.parse(fs.readFileSync(`${dir}/.cache/daemon/daemon.json`, 'utf8')).pid;
const ticks = (pid) => fs.readdirSync(`/proc/${pid}/task`).reduce((s, t) => { const f = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1].split(' '); return s + Number(f[11]) + Number(f[12]); }, 0);
const run = (k) => {
  const b = builds[k];
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', '/tmp/change2/ab-cpu', process.execPath, b.bin, '-C', b.dir, '-j', '2'], { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(r.stderr);
  const [u, s] = fs.readFileSync('/tmp/change2/ab-cpu', 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { ms, cpu: (u + s) * 1000, served: !r.stderr.includes('not using') };
};
for (const k of ['A', 'B']) { change(builds[k].dir); run(k); run(k); } // warm: the first served run stats all
await new Promise((r) => setTimeout(r, 1500));
const res = { A: { wall: [], cpu: [], dcpu: [] }, B: { wall: [], cpu: [], dcpu: [] } };
const pids = { A: pidOf(builds.A.dir), B: pidOf(builds.B.dir) };
for (let i = 0; i < Number(n); i++) for (const k of i % 2 ? ['A', 'B'] : ['B', 'A']) {
  change(builds[k].dir);
  const d0 = ticks(pids[k]);
  const r = run(k);
  res[k].wall.push(r.ms); res[k].cpu.push(r.cpu); res[k].dcpu.push((ticks(pids[k]) - d0) * 10);
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ratios = res.B.wall.map((x, i) => x / res.A.wall[i]);
console.log(`load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (const k of ['A', 'B']) console.log(k, `wall median ${med(res[k].wall).toFixed(1)} (min ${Math.min(...res[k].wall).toFixed(1)}, max ${Math.max(...res[k].wall).toFixed(1)})  client cpu mean ${mean(res[k].cpu).toFixed(1)}  daemon cpu mean ${mean(res[k].dcpu).toFixed(1)}`);
console.log(`B/A wall ratio median ${med(ratios).toFixed(3)}`);
for (const k of ['A', 'B']) spawnSync(process.execPath, [builds[k].bin, '-C', builds[k].dir, 'daemon', 'stop'], { env });
