import path from 'node:path';
import type { PipelineConfig, TestsConfig } from '../batchfile/config.js';
import type { Emit } from '../schedule/events.js';
import { globBase, isGlob, resolveSpecs } from '../fingerprint/files.js';
import { hashString } from '../fingerprint/hash.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { Store } from '../store/store.js';
import type { TestCaseResult, TestPhaseResult } from '../store/types.js';
import { canonicalJson } from '../util/json.js';
import { importPeer, requirePeer, type Peer } from '../util/optional-peer.js';
import { withProcessState } from '../util/process-state.js';
import { importEsm } from '../util/import-esm.js';

interface CachedTests {
  key: string;
  result: TestPhaseResult;
  runId?: string;
}

const META_KEY = 'tests';

/** Vitest is an optional peer dependency (package.json): a project that declares `tests:`
 * installs it. Throws a BatchError naming the fix when it is missing or of another major
 * version; called before the run starts any step, so the error costs nothing. */
export function testRunner(): Peer {
  return requirePeer('vitest', 'The test phase (`tests:` in the Batchfile)');
}

/** The test phase's key: the test files and every file in their folders, the files they check (default: every step output)
 * and the Vitest version. Unchanged key and a previous pass: the phase is up to date. */
function testsKey(config: PipelineConfig, tests: TestsConfig, stats: StatCache): { key: string; files: string[] } {
  const testFiles = resolveSpecs(config.root, tests.files, stats).files;
  // Everything beside the tests (shared helpers, fixtures) counts too: a test file's
  // local imports live there.
  const besideTests = resolveSpecs(config.root, [...new Set(tests.files.map((f) => (isGlob(f) ? globBase(f) : path.posix.dirname(f))))], stats).files;
  const checked = tests.inputs ?? [...config.steps.values()].flatMap((s) => s.outputs);
  const checkedFiles = resolveSpecs(config.root, checked, stats).files;
  const hashes: Record<string, string> = {};
  for (const f of [...testFiles, ...besideTests, ...checkedFiles]) hashes[f] = stats.get(f)?.hash ?? 'missing';
  return { key: hashString(canonicalJson({ v: 1, vitest: testRunner().version, hashes })), files: testFiles };
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '')?.trim() ?? s;
}

/** Runs the Batchfile's integrity tests through Vitest's Node API (loaded only here), with
 * the project as root and no config file, and turns the results into plain records. */
export async function runTestPhase(opts: {
  config: PipelineConfig;
  tests: TestsConfig;
  store: Store;
  stats: StatCache;
  force: boolean;
  runId: string;
  signal: AbortSignal;
  emit: Emit;
}): Promise<TestPhaseResult> {
  const { config, tests, store, stats } = opts;
  for (const spec of tests.files) stats.forget(spec);
  const { key, files } = testsKey(config, tests, stats);
  const cached = store.meta.get(META_KEY) as CachedTests | undefined;
  const shortcut = withoutRunning(tests, files, cached, key, opts.force);
  if (shortcut) {
    opts.emit({ type: 'tests-end', result: shortcut });
    return shortcut;
  }
  opts.emit({ type: 'tests-start', files });
  const t0 = performance.now();
  const { cases, moduleErrors } = await runVitest(config.root, tests, files);
  const result = summarise(cases, moduleErrors, opts.force ? 'forced (--force)' : cached ? 'tests or checked files changed' : 'no previous test run recorded');
  result.durationMs = Math.round(performance.now() - t0);
  opts.emit({ type: 'tests-end', result });
  if (result.status === 'PASS') await store.meta.put(META_KEY, { key, result, runId: opts.runId } satisfies CachedTests);
  return result;
}

/** The result when Vitest need not start: the tests and the files they check are those of
 * the last passing test phase, or no test file matches. */
function withoutRunning(tests: TestsConfig, files: string[], cached: CachedTests | undefined, key: string, force: boolean): TestPhaseResult | undefined {
  if (!force && cached && cached.key === key && cached.result.status === 'PASS') {
    return { ...cached.result, action: 'up-to-date', reason: `cached: tests and checked files unchanged since run ${cached.runId ?? '?'}`, durationMs: 0 };
  }
  if (files.length === 0) {
    return { status: 'FAIL', action: 'not-run', reason: `no test file matches ${tests.files.join(', ')}`, durationMs: 0, passed: 0, failed: 1, skipped: 0, cases: [] };
  }
  return undefined;
}

async function runVitest(root: string, tests: TestsConfig, files: string[]): Promise<{ cases: TestCaseResult[]; moduleErrors: number }> {
  const { startVitest } = await importPeer(testRunner(), () => importEsm<typeof import('vitest/node')>('vitest/node'));
  const cases: TestCaseResult[] = [];
  let moduleErrors = 0;
  // Vitest sets process.env (NODE_ENV, TEST, VITEST, MODE …) and may leave listeners and
  // timers; this process goes on to run steps (daemon, watch mode), so all of it is put back.
  await withProcessState(async () => {
    const vitest = await startVitest('test', files, {
      root,
      config: false,
      run: true,
      watch: false,
      reporters: [{}],
      include: tests.files.map((f) => f),
      ...(tests.timeoutMs ? { testTimeout: tests.timeoutMs } : {}),
    } as Parameters<typeof startVitest>[2]);
    try {
      for (const mod of vitest.state.getTestModules()) {
        const file = mod.relativeModuleId;
        for (const tc of mod.children.allTests()) {
          const r = tc.result();
          const status = r.state === 'passed' ? 'PASS' : r.state === 'failed' ? 'FAIL' : 'SKIP';
          const c: TestCaseResult = { file, name: tc.fullName, status, durationMs: Math.round(tc.diagnostic()?.duration ?? 0) };
          if (r.state === 'failed') c.message = r.errors.map((e) => firstLine(e.message ?? String(e))).join(' | ');
          cases.push(c);
        }
        const errs = mod.errors();
        if (errs.length > 0) {
          moduleErrors++;
          cases.push({ file, name: '(module)', status: 'FAIL', durationMs: 0, message: errs.map((e) => firstLine(e.message ?? String(e))).join(' | ') });
        }
      }
    } finally {
      await vitest.close();
    }
  });
  return { cases, moduleErrors };
}

function summarise(cases: TestCaseResult[], moduleErrors: number, reason: string): TestPhaseResult {
  const passed = cases.filter((c) => c.status === 'PASS').length;
  const failed = cases.filter((c) => c.status === 'FAIL').length;
  const skipped = cases.filter((c) => c.status === 'SKIP').length;
  const result: TestPhaseResult = { status: failed === 0 && passed > 0 ? 'PASS' : 'FAIL', action: 'ran', reason, durationMs: 0, passed, failed, skipped, cases };
  if (passed === 0 && failed === 0) result.reason = 'no test ran';
  if (moduleErrors > 0) result.reason = `${moduleErrors} test file(s) failed to load`;
  return result;
}
