// Step logs are created on a command's first byte: a step that prints nothing leaves no log
// file and no log link; one that prints, or fails (even silently), has its log with the
// attempt's header, and the failure tail still finds it. The same through the native
// forkserver, the Node spawn helper and batch's own spawn.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile } from '../helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

describe.each([
  ['native forkserver', {}],
  ['Node spawn helper', { BATCH_SPAWN_HELPER: 'node' }],
  ['direct spawn', { BATCH_SPAWN_HELPER: '0' }],
] as const)('step logs (%s)', (_name, env) => {
  it('no log for a silent step; header and output for one that prints; header and FAIL line for a silent failure', async () => {
    p = TempProject.create({
      'Batchfile.ts': batchfile(`
  quiet: { command: 'mkdir -p build && echo q > build/quiet.txt', outputs: ['build/quiet.txt'] },
  chatty: { command: 'mkdir -p build && echo hello && echo warn >&2 && echo c > build/chatty.txt', outputs: ['build/chatty.txt'] },
  mute: { command: 'exit 4', outputs: ['build/mute.txt'], retries: 1 },
`),
    });
    const r = await p.run(['--keep-going', '-j', '2'], { env });
    expect(r.code, r.stderr).toBe(1);
    const step = Object.fromEntries(r.steps.map((s) => [s.name, s as typeof s & { logFile?: string }]));
    expect(step.quiet).toMatchObject({ status: 'PASS', action: 'ran' });
    expect(step.quiet!.logFile).toBeUndefined();
    const runDir = `logs/runs/${r.runId}`;
    expect(p.exists(`${runDir}/quiet.log`)).toBe(false);

    expect(step.chatty!.logFile).toBe(`${runDir}/chatty.log`);
    expect(p.read(`${runDir}/chatty.log`)).toMatch(/^# batch: step chatty, attempt 1\/1, run \S+\n# reason: .*\nhello\nwarn\n$/);

    // Both attempts printed nothing: each one's header, then its FAIL line.
    expect(step.mute).toMatchObject({ status: 'FAIL', reason: 'exit code 4', attempts: 2 });
    expect(step.mute!.logFile).toBe(`${runDir}/mute.log`);
    expect(p.read(`${runDir}/mute.log`)).toMatch(/^# batch: step mute, attempt 1\/2, .*\n# reason: .*\n# batch: FAIL: exit code 4\n# batch: step mute, attempt 2\/2, .*\n# reason: .*\n# batch: FAIL: exit code 4\n$/);

    // The terminal's failure line points at the log; history keeps the links it had.
    const text = await p.batch(['--keep-going']);
    expect(text.stdout).toMatch(/mute: exit code 4 \(log: logs\/runs\/[^/]+\/mute\.log/);
    const logs: Record<string, string | undefined> = {};
    for (const name of ['quiet', 'chatty', 'mute']) {
      const hist = await p.batch(['history', name, '--json']);
      expect(hist.code, hist.stderr).toBe(0);
      const shown = JSON.parse(hist.stdout) as { executions: { runId: string; logFile?: string }[] };
      logs[name] = shown.executions.find((x) => x.runId === r.runId)?.logFile;
    }
    expect(logs).toEqual({ quiet: undefined, chatty: `${runDir}/chatty.log`, mute: `${runDir}/mute.log` });
    for (const f of Object.values(logs)) if (f) expect(fs.existsSync(p.path(f))).toBe(true);
  });
});
