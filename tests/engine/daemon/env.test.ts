// One daemon serves every environment: a served run's steps run with its client's environment
// (command steps, and `run` steps in the daemon's worker threads), `env`-listed variables are
// read from it, and nothing of one client's reaches another's run. The check: the same sequence
// of runs by two clients with different PATH and variables, once through one daemon and once
// direct in a copy of the project, gives the same verdicts and the same outputs at every step.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { batchfile, table } from '../helpers.js';
import { Daemons } from './daemons.js';

const projects: TempProject[] = [];
const daemons = new Daemons();

afterEach(async () => {
  for (const p of projects) await daemons.stopAll(p);
  for (const p of projects.splice(0)) p.cleanup();
});

/** `tool` runs `mytool` found on PATH, with GREETING listed and UNLISTED not; `show` and `again`
 * are `run` steps (worker threads) that print what their process.env holds, run `mytool` from
 * the worker, and set a variable that must not reach the next task. */
function files(): Record<string, string> {
  const showStep = (out: string): string => `import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
export default (ctx: { outputs: string[] }) => {
  const seen = [process.env.GREETING, process.env.UNLISTED, process.env.LEAKED ?? 'no leak', execFileSync('mytool', { encoding: 'utf8' }).trim()];
  process.env.LEAKED = 'leaked from ${out}';
  fs.mkdirSync('out', { recursive: true });
  fs.writeFileSync(ctx.outputs[0]!, seen.join(' | '));
};
`;
  return {
    'Batchfile.ts': batchfile(`
  tool: { command: 'mkdir -p out && mytool > out/tool.txt', outputs: ['out/tool.txt'], env: ['GREETING'] },
  show: { run: 'steps/show.ts', outputs: ['out/show.txt'], env: ['GREETING'] },
  again: { run: 'steps/again.ts', outputs: ['out/again.txt'], env: ['GREETING'], dependsOn: ['show'] },
`),
    'steps/show.ts': showStep('show'),
    'steps/again.ts': showStep('again'),
  };
}

/** Two tool folders, each with its own `mytool`, outside the projects. */
function toolDirs(base: TempProject): { a: string; b: string } {
  const make = (name: string): string => {
    const dir = base.path(`bin-${name}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'mytool'), `#!/bin/sh\necho "tool ${name}: $GREETING, $UNLISTED"\n`, { mode: 0o755 });
    return dir;
  };
  return { a: make('a'), b: make('b') };
}

function outputs(p: TempProject): string[] {
  return ['out/tool.txt', 'out/show.txt', 'out/again.txt'].map((f) => (p.exists(f) ? p.read(f) : '(none)'));
}

describe('one daemon, clients with different environments', () => {
  it('gives each client, through one daemon, exactly what a direct run in its environment gives', async () => {
    const served = TempProject.create(files());
    const direct = TempProject.create(files());
    const tools = TempProject.create();
    projects.push(served, direct, tools);
    const bins = toolDirs(tools);
    const envA = { PATH: `${bins.a}:${process.env.PATH}`, GREETING: 'hello', UNLISTED: 'one' };
    const envB = { PATH: `${bins.b}:${process.env.PATH}`, GREETING: 'bonjour', UNLISTED: 'two' };
    // Started from neither client's environment.
    await daemons.start(served);

    const sequence: { env: typeof envA; args: string[] }[] = [
      // -j1: one worker thread runs both `run` steps, so a variable one sets would reach the other.
      { env: envA, args: ['-j1'] },
      { env: envB, args: ['-j1'] }, // GREETING differs: every step reruns
      { env: envB, args: ['-j1'] }, // up to date
      { env: { ...envA, GREETING: 'bonjour' }, args: ['-j1'] }, // only PATH and UNLISTED differ: up to date, as direct
      { env: envA, args: ['-j1', '--force'] },
    ];
    let servedRuns = 0;
    const seen = new Set<string>();
    for (const [i, { env, args }] of sequence.entries()) {
      const viaDaemon = await served.run(args, { env });
      const alone = await direct.run([...args, '--no-daemon'], { env });
      expect(viaDaemon.code, viaDaemon.stderr).toBe(0);
      expect(alone.code, alone.stderr).toBe(0);
      expect(viaDaemon.stderr).not.toMatch(/not using the daemon/);
      servedRuns++;
      expect(table(viaDaemon.steps), `run ${i}`).toEqual(table(alone.steps));
      expect(outputs(served), `run ${i}`).toEqual(outputs(direct));
      seen.add(outputs(served).join('\n'));
    }
    // What each client saw is its own (so the comparison above could fail).
    expect(outputs(served)).toEqual(['tool a: hello, one\n', 'hello | one | no leak | tool a: hello, one', 'hello | one | no leak | tool a: hello, one']);
    expect(seen.size).toBeGreaterThan(1);
    const status = await served.batch(['daemon', 'status']);
    expect(status.stdout).toMatch(new RegExp(`${servedRuns} runs served`));
  });

  it('a client whose process-wide setting differs (NODE_OPTIONS, BATCH_*) runs the command itself, and says why', async () => {
    const p = TempProject.create(files());
    const tools = TempProject.create();
    projects.push(p, tools);
    const bins = toolDirs(tools);
    await daemons.start(p);
    const r = await p.run([], { env: { PATH: `${bins.a}:${process.env.PATH}`, NODE_OPTIONS: '--max-old-space-size=300' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/not using the daemon: \$NODE_OPTIONS differs from the daemon's/);
    const status = await p.batch(['daemon', 'status']);
    expect(status.stdout).toMatch(/0 runs served/);
  });
});
