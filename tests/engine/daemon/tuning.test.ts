// The daemon's own memory settings (src/daemon/tuning.ts): it is launched with a small young
// generation and glibc malloc settings, and neither reaches a step. A served command step
// sees no malloc variable in its environment, a served `run` step's worker thread neither, and
// its young generation grows past the daemon main thread's 2 × 4 MB as a direct run's does.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DAEMON_MALLOC_TUNABLES, DAEMON_SEMI_SPACE_FLAG, daemonEnv, settleDaemonTuning } from '../../../src/daemon/tuning.js';
import { TempProject } from '../rig.js';
import { batchfile } from '../helpers.js';
import { Daemons } from './daemons.js';

const projects: TempProject[] = [];
const daemons = new Daemons();

afterEach(async () => {
  for (const p of projects) await daemons.stopAll(p);
  for (const p of projects.splice(0)) p.cleanup();
});

/** `cmd` writes its environment; `young` (a worker thread) writes its malloc variable and how
 * large its young generation grew while it allocated objects that survive a while (bounded:
 * 3 s at most, when it cannot grow past the daemon's own 8 MB). */
function files(): Record<string, string> {
  return {
    'Batchfile.ts': batchfile(`
  cmd: { command: 'mkdir -p out && env > out/env.txt', outputs: ['out/env.txt'] },
  young: { run: 'steps/young.ts', outputs: ['out/young.json'] },
`),
    'steps/young.ts': `import fs from 'node:fs';
import v8 from 'node:v8';
export default (ctx: { outputs: string[] }) => {
  const youngMb = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size / 2 ** 20;
  const t = Date.now();
  let keep: object[] = [];
  let most = youngMb();
  for (let i = 0; most <= 8 && Date.now() - t < 3000; i++) {
    const o = { i, s: 'x' + i, a: [i, i] };
    if (i % 10 === 0) keep.push(o);
    if (keep.length > 200_000) keep = [];
    if (i % 10_000 === 0) most = Math.max(most, youngMb());
  }
  fs.mkdirSync('out', { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, JSON.stringify({ tunables: process.env.GLIBC_TUNABLES ?? null, youngMb: most }));
};
`,
  };
}

describe("the daemon's memory settings", () => {
  it('reach the daemon process, and no step it serves', async () => {
    // The client's environment has no malloc settings of its own (those would be kept).
    expect(Object.keys(process.env).filter((k) => k === 'GLIBC_TUNABLES' || k.startsWith('MALLOC_'))).toEqual([]);
    const p = TempProject.create(files());
    projects.push(p);
    const pid = await daemons.start(p);
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain('--expose-gc');
    expect(argv).toContain(DAEMON_SEMI_SPACE_FLAG);
    // The environment the daemon was started with (glibc read it then; glibc 2.36 cuts the
    // variable's value at each ':' in place as it parses it).
    expect(`:${fs.readFileSync(`/proc/${pid}/environ`, 'utf8').replaceAll('\0', ':')}`).toContain(`:GLIBC_TUNABLES=${DAEMON_MALLOC_TUNABLES}:`);

    const r = await p.run(['-j1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/not using the daemon/);
    expect(r.steps.map((s) => s.action).sort()).toEqual(['ran', 'ran']);
    const status = await p.batch(['daemon', 'status']);
    expect(status.stdout).toMatch(/1 run served/);
    expect(p.read('out/env.txt')).not.toMatch(/^(GLIBC_TUNABLES|MALLOC_)/m);
    const young = JSON.parse(p.read('out/young.json')) as { tunables: string | null; youngMb: number };
    expect(young.tunables).toBeNull();
    expect(young.youngMb).toBeGreaterThan(8);
  });
});

describe('daemonEnv and settleDaemonTuning', () => {
  it("keep the user's own malloc settings, and remove only the daemon's", () => {
    expect(daemonEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', GLIBC_TUNABLES: DAEMON_MALLOC_TUNABLES });
    const own = { PATH: '/bin', GLIBC_TUNABLES: 'glibc.malloc.arena_max=8' };
    expect(daemonEnv(own)).toBe(own);
    const arena = { PATH: '/bin', MALLOC_ARENA_MAX: '4' };
    expect(daemonEnv(arena)).toBe(arena);

    const launched: NodeJS.ProcessEnv = { PATH: '/bin', GLIBC_TUNABLES: DAEMON_MALLOC_TUNABLES };
    settleDaemonTuning(launched, []);
    expect(launched).toEqual({ PATH: '/bin' });
    const users: NodeJS.ProcessEnv = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=8' };
    settleDaemonTuning(users, []);
    expect(users).toEqual({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=8' });
  });
});
