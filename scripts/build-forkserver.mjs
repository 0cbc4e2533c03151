// Compiles batch's native spawn helper (src/executors/forkserver.c) into dist/forkserver (run
// by `npm run build`). Optional: with no C compiler, off Linux, or on a failed compile it says
// so in one line, removes any older binary (it could speak an older protocol) and succeeds;
// batch then starts steps through the Node spawn helper, as before.
// Options: --out FILE (default dist/forkserver); the compiler is $CC, else cc, gcc, clang.
// `--stat-many` builds the no-op's stat helper instead (src/fingerprint/stat-many.c into
// dist/stat-many; optional the same way: without it a no-op stats its files on the main thread).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const statMany = args.includes('--stat-many');
const NAME = statMany ? 'stat-many' : 'forkserver';
const SRC = statMany ? path.join(REPO, 'src', 'fingerprint', 'stat-many.c') : path.join(REPO, 'src', 'executors', 'forkserver.c');
const outAt = args.indexOf('--out');
const OUT = outAt >= 0 && args[outAt + 1] ? path.resolve(args[outAt + 1]) : path.join(REPO, 'dist', NAME);
const WITHOUT = statMany ? "a no-op stats its files on Node's main thread" : 'command steps start through the Node spawn helper';

function skip(why) {
  fs.rmSync(OUT, { force: true });
  console.log(`${NAME}: not built (${why}); ${WITHOUT}`);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`${process.platform} is not Linux`);
const candidates = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
const cc = candidates.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
if (!cc) skip(`no C compiler: tried ${candidates.join(', ')}`);
fs.mkdirSync(path.dirname(OUT), { recursive: true });
// Into a temporary name first: a batch running meanwhile never sees half a binary.
const tmp = `${OUT}.${process.pid}.tmp`;
const r = spawnSync(cc, ['-O2', '-ffp-contract=off', '-Wall', '-Wextra', '-Werror', '-o', tmp, SRC], { encoding: 'utf8' });
if (r.status !== 0) {
  fs.rmSync(tmp, { force: true });
  const first = `${r.error?.message ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim() !== '') ?? `exit ${r.status}`;
  skip(`${cc} failed: ${first.trim()}`);
}
fs.renameSync(tmp, OUT);
console.log(`${NAME}: built ${path.relative(REPO, OUT)} with ${cc}`);
