// CI: the example pipeline end to end on the full data. A cold run must PASS with every
// integrity test passing; the second run must be a no-op with the tests shown as cached.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const batch = (...args) => {
  const t0 = Date.now();
  let out;
  try {
    out = execFileSync(process.execPath, [path.join(root, 'bin/batch.js'), '-C', root, '--json', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  } catch (e) {
    console.error(`batch ${args.join(' ')} exited ${e.status}`);
    console.error(e.stdout);
    process.exit(1);
  }
  return { summary: JSON.parse(out), ms: Date.now() - t0 };
};
const fail = (msg) => {
  console.error(`ci-example: ${msg}`);
  process.exit(1);
};

const cold = batch('--force');
if (cold.summary.status !== 'PASS') fail(`cold run status ${cold.summary.status}`);
const t = cold.summary.tests;
if (!t || t.status !== 'PASS' || t.failed !== 0 || t.passed < 10) fail(`integrity tests: ${JSON.stringify(t && { status: t.status, passed: t.passed, failed: t.failed })}`);
console.log(`cold run: PASS, ${cold.summary.steps.length} steps, ${t.passed} integrity tests passed, ${cold.ms} ms`);

const noop = batch();
const ran = noop.summary.steps.filter((s) => s.action !== 'up-to-date');
if (noop.summary.status !== 'PASS' || ran.length > 0) fail(`no-op run reran: ${ran.map((s) => `${s.name} (${s.reason})`).join(', ')}`);
if (noop.summary.tests?.action !== 'up-to-date') fail(`no-op run did not reuse the test result: ${noop.summary.tests?.action}`);
console.log(`no-op run: every step up to date, tests cached, ${noop.ms} ms`);
// These runs were interactive (no CI variable): the first started the project's daemon, which
// served the no-op. Stopped here rather than left to its idle exit, hours after CI ended.
execFileSync(process.execPath, [path.join(root, 'bin/batch.js'), '-C', root, 'daemon', 'stop'], { stdio: 'inherit' });
