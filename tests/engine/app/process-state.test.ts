// The test phase runs Vitest inside the process that runs steps. Vitest sets environment
// variables (NODE_ENV, TEST, VITEST, MODE …) and may leave listeners and timers; none of it may
// reach a later run of a long-lived process: the daemon keeps serving, and a watch cycle's
// steps see the environment a direct run's steps see.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject, type Running } from '../rig.js';
import { Daemons } from '../daemon/daemons.js';

let p: TempProject | undefined;
let r: Running | undefined;
const daemons = new Daemons();
afterEach(async () => {
  if (r && r.child.exitCode === null && r.child.signalCode === null) {
    r.kill('SIGKILL');
    await r.exited;
  }
  r = undefined;
  await daemons.stopAll(p);
  p?.cleanup();
  p = undefined;
});

/** A step that writes its whole environment (sorted, without the run id) after the input's text. */
const BATCHFILE = `import { defineBatch } from 'batchfile';
export default defineBatch({
  steps: {
    env: {
      command: "mkdir -p out && cat in.txt > out/env.txt && env | grep -v '^BATCH_RUN_ID=' | sort >> out/env.txt",
      inputs: ['in.txt'],
      outputs: ['out/env.txt'],
    },
  },
  tests: { files: ['checks/*.test.ts'] },
});
`;

const TEST = `import fs from 'node:fs';
import { expect, it } from 'vitest';
it('writes the environment', () => {
  expect(fs.readFileSync('out/env.txt', 'utf8')).toContain('BATCH_STEP=env');
});
`;

/** This test runs under Vitest, whose variables are in its own environment: batch is started
 * without them, as from a user's shell. */
const SHELL_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.keys(process.env)
    .filter((k) => /^(VITEST.*|TEST|NODE_ENV|MODE|DEV|PROD|BASE_URL|SSR)$/.test(k))
    .map((k) => [k, undefined]),
);
const env = { env: SHELL_ENV };

const files = { 'Batchfile.ts': BATCHFILE, 'in.txt': 'one\n', 'checks/env.test.ts': TEST };

async function served(project: TempProject): Promise<number> {
  const s = await project.batch(['daemon', 'status']);
  const m = s.stdout.match(/(\d+) runs? served/);
  if (!m) throw new Error(`no daemon status: ${s.stdout}${s.stderr}`);
  return Number(m[1]);
}

describe('the test phase leaves the process as it found it', () => {
  it('the daemon serves 50 consecutive runs that each run the integrity tests', async () => {
    p = TempProject.create(files);
    const started = await p.batch(['daemon', 'start'], env);
    expect(started.code, started.stderr).toBe(0);
    daemons.track(p);
    for (let i = 1; i <= 50; i++) {
      // --force: the steps and the tests run every time (a cached test phase would not start Vitest).
      const run = await p.run(['--force'], env);
      expect(run.stderr, `run ${i}`).not.toMatch(/not using the daemon/);
      expect(run.code, `run ${i}: ${run.stderr}`).toBe(0);
      expect(run.tests, `run ${i}`).toMatchObject({ status: 'PASS', action: 'ran' });
    }
    expect(await served(p)).toBe(50);
    // The steps of the 50th run saw none of Vitest's variables.
    expect(p.read('out/env.txt')).not.toMatch(/^(VITEST|TEST|NODE_ENV|MODE)=/m);
  }, 180_000);

  it("a watch cycle's steps see the same environment as a direct run's", async () => {
    p = TempProject.create(files);
    r = p.start(['--watch'], env);
    expect((await r.waitFor(/cycle 1: (\w+)/, 60_000))[1], r.output).toBe('PASS');
    // Cycle 1 ran the tests (Vitest in the watch process); cycle 2 runs the step again.
    const from = r.output.length;
    p.write('in.txt', 'two\n');
    await r.waitFor(/cycle 2: \w+/, 60_000, from);
    const watched = p.read('out/env.txt');
    r.kill('SIGINT');
    await r.exited;

    const direct = await p.run(['--force', '--no-tests'], env);
    expect(direct.code, direct.stderr).toBe(0);
    expect(watched.startsWith('two\n')).toBe(true);
    expect(watched).toBe(p.read('out/env.txt'));
    expect(watched).not.toMatch(/^(VITEST|TEST|NODE_ENV|MODE)=/m);
  }, 120_000);
});

describe('withProcessState', () => {
  it('puts back env, working folder, exitCode, process listeners, and clears timers left pending', async () => {
    const { withProcessState } = await import('../../../src/util/process-state.js');
    const cwd = process.cwd();
    const onTerm = (): void => undefined;
    process.on('SIGTERM', onTerm);
    const termBefore = process.listeners('SIGTERM').length;
    let leftInterval: NodeJS.Timeout | undefined;
    let fired = 0;
    const out = await withProcessState(async () => {
      process.env.BATCH_PROCESS_STATE_PROBE = 'set';
      process.chdir('/');
      process.exitCode = 7;
      process.on('SIGTERM', () => undefined);
      process.on('unhandledRejection', () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1)); // async context carries on
      leftInterval = setInterval(() => fired++, 1);
      return 'result';
    });
    try {
      expect(out).toBe('result');
      expect(process.env.BATCH_PROCESS_STATE_PROBE).toBeUndefined();
      expect(process.cwd()).toBe(cwd);
      expect(process.exitCode).toBeUndefined();
      expect(process.listeners('SIGTERM')).toHaveLength(termBefore);
      expect(process.listeners('SIGTERM')).toContain(onTerm);
      expect(leftInterval!.hasRef()).toBe(true); // the object lives on, but is no longer scheduled:
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(fired).toBe(0);
    } finally {
      process.removeListener('SIGTERM', onTerm);
      process.chdir(cwd);
      clearInterval(leftInterval);
    }
  });
});
