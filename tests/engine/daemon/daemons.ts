// The daemons a test file starts: each one's pid noted, so that after every test the project's
// daemon is stopped and any left over (a test that failed half-way) is killed.
import { expect } from 'vitest';
import { killQuietly } from '../helpers.js';
import type { TempProject } from '../rig.js';

export class Daemons {
  private pids: number[] = [];

  /** Notes the pid of the daemon the project's `.cache/daemon/daemon.json` names, and returns it. */
  track(project: TempProject): number {
    const pid = (JSON.parse(project.read('.cache/daemon/daemon.json')) as { pid: number }).pid;
    this.pids.push(pid);
    return pid;
  }

  /** `batch daemon start` in the project (must succeed), with `env` added; returns the daemon's pid. */
  async start(project: TempProject, env: NodeJS.ProcessEnv = {}): Promise<number> {
    const r = await project.batch(['daemon', 'start'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return this.track(project);
  }

  /** After a test: `batch daemon stop` in the project, then kills every daemon noted. */
  async stopAll(project: TempProject | undefined): Promise<void> {
    if (project) await project.batch(['daemon', 'stop']).catch(() => undefined);
    killQuietly(this.pids);
    this.pids = [];
  }
}
