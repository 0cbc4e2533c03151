import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { childrenCpuMs, sampleTree } from './procfs.js';
import { KILL_GRACE_MS, type ExecOutcome, type ExecRequest, type Executor } from './types.js';

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // already gone
  }
}

/** Live process groups of running command steps, so an interrupted batch can kill them all. */
const liveGroups = new Set<number>();
/** Command-step exits so far: a step's children-CPU delta is its own only if no other ended meanwhile. */
let exits = 0;
export function killAllCommandSteps(): void {
  for (const g of liveGroups) killGroup(g, 'SIGKILL');
}

/** Runs `command` steps as child processes in their own process group, output to the log.
 * A timeout or interrupt sends SIGTERM to the group, then SIGKILL after a grace period;
 * anything the command leaves running after it exits is killed and fails the step. */
export class ProcessExecutor implements Executor {
  execute(req: ExecRequest): Promise<ExecOutcome> {
    const { step } = req;
    const fd = fs.openSync(req.logFile, 'a');
    const env = { ...process.env, BATCH_STEP: step.name, BATCH_RUN_ID: req.runId, BATCH_ROOT: req.root };
    const cmd = step.command!;
    const [file, args] = typeof cmd === 'string' ? ['/bin/sh', ['-c', cmd]] : [cmd[0]!, cmd.slice(1)];
    return new Promise<ExecOutcome>((resolve) => {
      let peak: number | undefined;
      let sampledCpu: number | undefined;
      let settled = false;
      const child = spawn(file, args, { cwd: req.root, env, detached: true, stdio: ['ignore', fd, fd] });
      const pid = child.pid;
      if (pid !== undefined) liveGroups.add(pid);
      // The whole process tree (a shell's children do the work): peak = the larger of the
      // tree's summed RSS and any one process's high-water mark. Early looks catch short steps.
      const sample = (): void => {
        const t = pid !== undefined ? sampleTree(pid) : undefined;
        if (!t) return;
        if (!t.exited) peak = Math.max(peak ?? 0, t.rssBytes, t.hwmBytes);
        sampledCpu = Math.max(sampledCpu ?? 0, t.cpuMs);
      };
      let sampler: NodeJS.Timeout | undefined;
      const delays = [5, 15, 30];
      const next = (): void => {
        sampler = setTimeout(() => {
          sample();
          next();
        }, delays.shift() ?? 50);
      };
      next();
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        if (pid === undefined) return;
        killGroup(pid, 'SIGTERM');
        killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
      const cpuBefore = childrenCpuMs();
      const exitsBefore = exits;
      const finish = (outcome: ExecOutcome): void => {
        if (settled) return;
        settled = true;
        if (sampler) clearTimeout(sampler);
        if (killTimer) clearTimeout(killTimer);
        req.signal.removeEventListener('abort', onAbort);
        fs.closeSync(fd);
        if (pid !== undefined) liveGroups.delete(pid);
        resolve(outcome);
      };
      child.on('error', (e) => finish({ ok: false, error: `cannot start ${JSON.stringify(file)}: ${e.message}` }));
      child.on('exit', (code, signal) => {
        const cpuAfter = childrenCpuMs();
        // Exact (the kernel's account of the reaped tree) when this was the only command step
        // to end meanwhile; otherwise the last /proc sample (short by at most one interval).
        const alone = exits++ === exitsBefore;
        const cpuMs = alone && cpuBefore !== undefined && cpuAfter !== undefined ? Math.max(cpuAfter - cpuBefore, sampledCpu ?? 0) : sampledCpu;
        let leftBehind = false;
        if (pid !== undefined && groupAlive(pid)) {
          leftBehind = true;
          killGroup(pid, 'SIGKILL');
        }
        const metrics: Pick<ExecOutcome, 'cpuMs' | 'peakRssBytes'> = {};
        if (cpuMs !== undefined) metrics.cpuMs = cpuMs;
        if (peak !== undefined) metrics.peakRssBytes = peak;
        if (req.signal.aborted) {
          finish({ ok: false, error: String((req.signal.reason as Error | undefined)?.message ?? 'aborted'), ...metrics });
        } else if (signal) {
          finish({ ok: false, error: `killed by ${signal}`, ...metrics });
        } else if (code !== 0) {
          finish({ ok: false, error: `exit code ${code}`, ...metrics });
        } else if (leftBehind) {
          finish({ ok: false, error: 'the command left processes running after it exited (they were killed)', ...metrics });
        } else {
          finish({ ok: true, ...metrics });
        }
      });
    });
  }

  async close(): Promise<void> {
    killAllCommandSteps();
  }
}
