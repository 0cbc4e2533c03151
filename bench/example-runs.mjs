// What the benchmarks that run the repository's example pipeline share (cache-restore.mjs,
// remote-cache.mjs): a copy of it outside the repository, one timed `batch --json --no-tests`
// process, and a digest of the outputs it wrote (to check a restore against a rerun).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const CLI = path.join(REPO, 'bin', 'batch.js');
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

export const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
export const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
export function sh(c) {
  const r = spawnSync('sh', ['-c', c], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${c}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The example pipeline's sources copied to `dir` (emptied first); node_modules and dist/ are
 * linked: the flights data file alone is 60 MB. */
export function copyExample(dir) {
  if (!fs.existsSync(path.join(REPO, 'Batchfile.ts'))) throw new Error('no Batchfile.ts at the repository root: the example pipeline is not there');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  sh(
    `cd ${shq(REPO)} && tar --exclude=./node_modules --exclude=./.git --exclude=./.cache --exclude=./logs --exclude=./output --exclude=./build --exclude=./dist --exclude=./bench -cf - . | tar -C ${shq(dir)} -xf - && ln -s ${shq(path.join(REPO, 'node_modules'))} ${shq(dir)}/node_modules && ln -s ${shq(path.join(REPO, 'dist'))} ${shq(dir)}/dist`,
  );
}

/** One `batch --json --no-tests` process in `dir` with `env` over this one (CI=1, no colour,
 * and without NODE_EXTRA_CA_CERTS, as in bench/run-all.mjs: reading the CA bundle at start is
 * a cost of this machine, not of the tool). Wall ms, CPU ms of batch and every step it ran
 * (/usr/bin/time: less disturbed than the wall clock when other work shares the machine),
 * the summary, stderr and the load before it. Throws unless the run passed. */
export function batchJson(dir, args = [], env = {}) {
  const load = loadavg();
  const e = { ...process.env, CI: '1', NO_COLOR: '1', ...env };
  delete e.NODE_EXTRA_CA_CERTS;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  const argv = [process.execPath, CLI, '-C', dir, '--no-tests', '--json', ...args];
  const t0 = performance.now();
  const r = TIME ? spawnSync(TIME, ['-f', 'CPU %U %S', ...argv], { encoding: 'utf8', env: e, maxBuffer: 1 << 26 }) : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: e, maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  const cpu = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr ?? '');
  const cpuMs = cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : undefined;
  let doc;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new Error(`batch ${args.join(' ')} printed no JSON (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  }
  if (r.status !== 0 || doc.status !== 'PASS') throw new Error(`batch ${args.join(' ')}: exit ${r.status}, ${doc.status}\n${r.stderr.slice(-2000)}`);
  return { ms, cpuMs, doc, load, stderr: r.stderr };
}

/** sha256 over every file (path and bytes) under the pipeline's output folders. */
export function treeDigest(dir) {
  const h = crypto.createHash('sha256');
  let bytes = 0;
  let files = 0;
  const walk = (rel) => {
    const abs = path.join(dir, rel);
    if (!fs.existsSync(abs)) return;
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else {
        const data = fs.readFileSync(path.join(dir, r));
        h.update(`${r}\0${data.length}\0`).update(data);
        bytes += data.length;
        files++;
      }
    }
  };
  walk('build');
  walk('output');
  return { digest: h.digest('hex'), bytes, files };
}
