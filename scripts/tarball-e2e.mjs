// The package as a new user gets it (run by .ci/run): the README's section "Use batchfile in
// your own project" is run word for word, line by line, in a temporary home folder outside the
// repository — once with a normal npm, once with every npm command under --ignore-scripts
// (npm_config_ignore_scripts=true: what npm 12 does to dependencies by default). Between and
// after those lines it checks what a newcomer would run into: sizes (node_modules of the bare
// install ≤ 45 MB, printed), the mistakes (batch before init, a run before Vitest is installed,
// a typo'd flag, a flag of another command, a subfolder), adding a `run` and a `command` step,
// the type check (and that it can fail), that allowScripts covers every install script, and
// that the lowest Vitest of the declared peer range works.
// Options: --keep (leave the temp folders for a look), --only normal|ignore-scripts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIMIT_MB = 45;
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
  return ok;
}

/** The commands of the README's section, one per line, comments and blanks dropped. */
function readmeCommands() {
  const md = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const at = md.indexOf('\n## Use batchfile in your own project');
  if (at < 0) throw new Error('README.md has no section "## Use batchfile in your own project"');
  const block = /```sh\n([\s\S]*?)```/.exec(md.slice(at));
  if (!block) throw new Error('README.md: the section "Use batchfile in your own project" has no ```sh block');
  return block[1].split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** Runs one shell line in `cwd`; returns its output, exit code and the folder it ended in. */
function sh(line, cwd, env) {
  const pwdFile = path.join(env.HOME, '.e2e-pwd');
  const t0 = performance.now();
  const r = spawnSync('bash', ['-c', `set -eo pipefail\n${line}\npwd > ${JSON.stringify(pwdFile)}`], { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  const out = `${r.stdout}${r.stderr}`;
  const ended = r.status === 0 && fs.existsSync(pwdFile) ? fs.readFileSync(pwdFile, 'utf8').trim() : cwd;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, out, ms, cwd: ended };
}

/** Disk use of a folder as `du` counts it (allocated blocks, a hard-linked file once: esbuild's
 * install script links its binary into esbuild/bin), in MB (MiB). */
function duMb(dir) {
  let bytes = 0;
  const seen = new Set();
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      const id = `${st.dev}:${st.ino}`;
      if (!seen.has(id)) bytes += st.blocks * 512;
      seen.add(id);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return bytes / (1 << 20);
}

const tail = (s, n = 15) => s.trim().split('\n').slice(-n).join('\n');

/** Checks made between the README's lines, keyed by the line they come before. */
function beforeLine(line, ctx) {
  if (line === 'npx batch init') {
    const mb = duMb(path.join(ctx.cwd, 'node_modules'));
    ctx.sizes.bare = mb;
    console.log(`     node_modules after installing the tarball alone: ${mb.toFixed(1)} MB (goal ≤ ${LIMIT_MB} MB)`);
    check(mb <= LIMIT_MB, `installed size ${mb.toFixed(1)} MB ≤ ${LIMIT_MB} MB`);
    check(!fs.existsSync(path.join(ctx.cwd, 'node_modules', 'vitest')), 'vitest is not installed with batchfile (optional peer)');
    const none = sh('npx batch', ctx.cwd, ctx.env);
    check(none.code === 2 && /No Batchfile in .* or any folder above it .*Create one with `batch init`/.test(none.stderr), `mistake: \`npx batch\` before init says to run batch init (exit ${none.code})`);
  }
  if (line === './run.sh' && !ctx.ranOnce) {
    const early = sh('npx batch', ctx.cwd, ctx.env);
    check(
      early.code === 2 && early.stderr.includes('The test phase (`tests:` in the Batchfile) needs vitest, which is not installed; add vitest to your devDependencies: npm install --save-dev vitest@'),
      `mistake: \`npx batch\` right after init (Vitest not installed yet) names the fix, runs nothing (exit ${early.code}: ${tail(early.stderr, 1)})`,
    );
    check(!fs.existsSync(path.join(ctx.cwd, 'build')), '  … and no step ran');
  }
}

/** Checks of a README line's result. */
function afterLine(line, r, ctx) {
  if (line === './run.sh') {
    if (!ctx.ranOnce) {
      ctx.ranOnce = true;
      check(/PASS +2 ran, 0 up-to-date/.test(r.out) && /integrity tests: 1 passed, 0 failed/.test(r.out), 'first ./run.sh: both steps ran, the integrity test passed');
    } else {
      check(/PASS +0 ran, 2 up-to-date/.test(r.out) && !/npm install|added \d+ package/.test(r.out), 'second ./run.sh: a no-op, no install');
    }
  }
}

/** After the README: what a user does next, and their mistakes. */
function afterReadme(ctx) {
  const { cwd, env } = ctx;
  const withAll = duMb(path.join(cwd, 'node_modules'));
  ctx.sizes.withTools = withAll;
  console.log(`     node_modules after ./run.sh (adds vitest, typescript, @types/node): ${withAll.toFixed(1)} MB`);

  const typo = sh('npx batch --forse', cwd, env);
  check(typo.code === 2 && typo.stderr.includes('Unknown option --forse (did you mean "--force"?)'), 'mistake: a typo\'d flag gets a did-you-mean (exit 2)');
  const other = sh('npx batch --keep 3', cwd, env);
  check(other.code === 2 && other.stderr.includes('--keep is a flag of `history`, not of `run`'), 'mistake: a flag of another command names that command (exit 2)');
  const help = sh('npx batch history --help', cwd, env);
  check(help.code === 0 && help.stdout.includes('--keep N') && !help.stdout.includes('--force'), '`batch history --help` lists history\'s flags only');
  const sub = sh('npx batch', path.join(cwd, 'steps'), env);
  check(sub.code === 0 && sub.stderr.includes(`batch: using ${path.join(cwd, 'Batchfile.ts')}`) && /0 ran, 2 up-to-date/.test(sub.out), 'from a subfolder: the project\'s Batchfile is found, named, and the run is a no-op');

  // A `run` step and a `command` step, added as the docs show.
  fs.writeFileSync(path.join(cwd, 'steps/03-double.ts'), `import fs from 'node:fs';
import { defineStep } from 'batchfile';

export default defineStep(async (ctx) => {
  const numbers = JSON.parse(fs.readFileSync(ctx.inputs[0]!, 'utf8')) as number[];
  fs.writeFileSync(ctx.outputs[0]!, JSON.stringify(numbers.map((n) => n * 2)));
});
`);
  const bf = path.join(cwd, 'Batchfile.ts');
  const original = fs.readFileSync(bf, 'utf8');
  const added = original.replace('  steps: {\n', `  steps: {
    double: { run: 'steps/03-double.ts', inputs: ['build/numbers.json'], outputs: ['build/doubled.json'] },
    checksum: { command: 'sha256sum build/doubled.json > build/doubled.sha256', inputs: ['build/doubled.json'], outputs: ['build/doubled.sha256'], dependsOn: ['double'] },
`);
  check(added !== original, 'the seed Batchfile has the `steps: {` line the docs add steps under');
  fs.writeFileSync(bf, added);
  const more = sh('./run.sh', cwd, env);
  check(more.code === 0 && /PASS +2 ran, 2 up-to-date/.test(more.out) && fs.existsSync(path.join(cwd, 'build/doubled.sha256')), `after adding a run and a command step: exactly those ran (${tail(more.out, 1)})`);
  const tc = sh('npm run typecheck', cwd, env);
  check(tc.code === 0, `tsc type-checks the Batchfile, the steps and the tests${tc.code === 0 ? '' : `:\n${tail(tc.out)}`}`);
  fs.writeFileSync(bf, added.replace("dependsOn: ['double']", "dependsOn: ['dobule']"));
  const bad = sh('npm run typecheck', cwd, env);
  check(bad.code !== 0 && bad.out.includes('dobule'), 'tsc catches a dependsOn that names no step');
  fs.writeFileSync(bf, added);

  if (ctx.lowestVitest) {
    // The lowest Vitest of batchfile's declared peer range must work too.
    const range = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).peerDependencies.vitest;
    const lowest = /^\^(\d+\.\d+\.\d+)$/.exec(range)?.[1];
    if (check(lowest !== undefined, `the vitest peer range ${range} has a lowest version`)) {
      const pin = sh(`npm install --no-audit --no-fund --save-dev vitest@${lowest}`, cwd, env);
      const forced = sh('npx batch --force', cwd, env);
      check(pin.code === 0 && forced.code === 0 && /integrity tests: 1 passed, 0 failed/.test(forced.out), `the lowest Vitest of the range (${lowest}) runs the integrity tests${forced.code === 0 ? '' : `:\n${tail(forced.out)}`}`);
    }
  }
  if (!env.npm_config_ignore_scripts) {
    // npm ≥ 11.10 can say which install scripts package.json's allowScripts does not cover.
    const ls = sh('npm install-scripts ls', cwd, env);
    if (ls.code === 0) check(!/@\d/.test(ls.stdout), `allowScripts (written by batch init) covers every install script: npm install-scripts ls lists nothing${/@\d/.test(ls.stdout) ? `:\n${ls.stdout}` : ''}`);
    const strict = sh('npm install --no-audit --no-fund --strict-allow-scripts', cwd, env);
    check(strict.code === 0, `npm install --strict-allow-scripts (npm 12's rule) succeeds${strict.code === 0 ? '' : `:\n${tail(strict.out)}`}`);
  }
}

function runMode(mode, tgzName) {
  console.log(`\n== ${mode === 'normal' ? 'npm as it is' : 'every npm command with --ignore-scripts'}`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `batch-e2e-${mode}-`));
  const env = { ...process.env, HOME: home, CI: '1', NO_COLOR: '1', npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm'), npm_config_update_notifier: 'false' };
  delete env.INIT_CWD;
  if (mode === 'ignore-scripts') env.npm_config_ignore_scripts = 'true';
  const ctx = { cwd: REPO, env, sizes: {}, ranOnce: false, lowestVitest: mode === 'ignore-scripts' };
  try {
    for (const line of readmeCommands()) {
      beforeLine(line, ctx);
      const r = sh(line, ctx.cwd, env);
      const ok = check(r.code === 0, `$ ${line}   (${(r.ms / 1000).toFixed(1)} s)`);
      if (!ok) {
        console.log(tail(r.out, 30));
        return;
      }
      ctx.cwd = r.cwd;
      afterLine(line, r, ctx);
    }
    check(fs.existsSync(path.join(home, tgzName)) && ctx.cwd.startsWith(home), `the project is outside the repository (${ctx.cwd})`);
    afterReadme(ctx);
  } finally {
    if (keep) console.log(`     kept: ${home}`);
    else fs.rmSync(home, { recursive: true, force: true });
  }
}

/** What the tarball holds: one build, the public types, no images, no tests. */
function checkTarball() {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
  const [info] = JSON.parse(r.stdout);
  const files = info.files.map((f) => f.path);
  console.log(`tarball: ${info.filename}, ${(info.size / 1024).toFixed(0)} KB packed, ${(info.unpackedSize / 1024).toFixed(0)} KB unpacked, ${files.length} files`);
  check(!files.some((f) => /\.(png|jpe?g|gif|svg)$/.test(f)), 'no images in the tarball');
  check(files.every((f) => !f.startsWith('dist/') || f.startsWith('dist/bundle/') || f.startsWith('dist/types/') || f === 'dist/forkserver' || f === 'dist/stat-many'), 'one build: dist/bundle (+ dist/types, dist/forkserver, dist/stat-many) only');
  check(files.includes('dist/types/index.d.ts') && files.includes('dist/bundle/index.js') && files.includes('bin/batch.js'), 'the public entry, its types and the bin are in it');
  check(!files.some((f) => f.startsWith('tests/') || f.startsWith('steps/') || f.startsWith('src/')), 'no tests, example steps or sources in it');
  return info.filename;
}

const tgzName = checkTarball();
for (const mode of ['normal', 'ignore-scripts']) if (!only || only === mode) runMode(mode, tgzName);
console.log(`\ntarball-e2e: ${failures === 0 ? 'all checks passed' : `${failures} check(s) failed`}`);
process.exit(failures === 0 ? 0 : 1);
