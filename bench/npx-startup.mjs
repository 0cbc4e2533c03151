// What calling batch through npm costs: `batch --version` started each way a user can, in a
// project that installed the packed tarball (scripts/tarball-e2e.mjs --keep leaves one), and
// the pieces it is made of (Node's start, npm's start). Runs are interleaved (one of each way,
// then again), so a busy machine slows every way alike. NODE_EXTRA_CA_CERTS is unset (it costs
// every Node start ~50 ms here), as in the other benchmarks.
// Usage: node bench/npx-startup.mjs --project DIR [--runs N]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const at = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const project = at('--project');
const runs = Number(at('--runs') ?? 15);
if (!project || !fs.existsSync(path.join(project, 'node_modules/.bin/batch'))) {
  console.error('usage: node bench/npx-startup.mjs --project DIR (a project with batchfile installed; scripts/tarball-e2e.mjs --keep leaves one)');
  process.exit(2);
}
const env = { ...process.env, CI: '1' };
delete env.NODE_EXTRA_CA_CERTS;

const WAYS = [
  ['node -e 0 (Node alone)', ['node', '-e', '0']],
  ['npm --version (npm alone)', ['npm', '--version']],
  ['node_modules/.bin/batch --version', ['node_modules/.bin/batch', '--version']],
  ['npx batch --version', ['npx', 'batch', '--version']],
  ['npm run -s pipeline -- --version', ['npm', 'run', '-s', 'pipeline', '--', '--version']],
  // npm checks the registry for a newer npm (update-notifier): measured here, most of npx's cost.
  ['npx --no-update-notifier batch --version', ['npx', '--no-update-notifier', 'batch', '--version']],
  ['npm run -s --no-update-notifier pipeline …', ['npm', 'run', '-s', '--no-update-notifier', 'pipeline', '--', '--version']],
];

const times = WAYS.map(() => []);
for (let i = 0; i < runs + 1; i++) {
  WAYS.forEach(([name, argv], w) => {
    const t0 = performance.now();
    const r = spawnSync(argv[0], argv.slice(1), { cwd: project, env, encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
    if (i > 0) times[w].push(ms); // the first round warms the file cache
  });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${runs} runs each, interleaved; wall time in ms: median (min–max)`);
WAYS.forEach(([name], w) => {
  const xs = times[w];
  console.log(`${name.padEnd(44)} ${median(xs).toFixed(0).padStart(5)}  (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`);
});
const bin = median(times[2]);
console.log(`more than node_modules/.bin/batch: npx ${(median(times[3]) - bin).toFixed(0)} ms, a package.json script ${(median(times[4]) - bin).toFixed(0)} ms; without npm's update check: npx ${(median(times[5]) - bin).toFixed(0)} ms, script ${(median(times[6]) - bin).toFixed(0)} ms`);
