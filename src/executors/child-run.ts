// Starting one command step's process and measuring it. Used in two places: in batch itself
// (direct mode) and in the spawn helper (src/executors/spawn-helper.ts), so both report the
// same things. Knows nothing of steps, logs' content or abort policy.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { childrenCpuMs, sampleTree } from './procfs.js';

/** What to start: a program with arguments, its folder and environment, and the log file
 * that receives its stdout and stderr (opened for append, its folder created if missing).
 * A log that holds no more than the header once the child ended is removed, as the native
 * forkserver never creates it: a step that prints nothing leaves no log (see forkserver.c). */
export interface ChildSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Set over `env` for this child only. `env` is then the same object for many children, so
   * the spawn helper is sent it once, not once per step (it is most of a request's bytes). */
  extraEnv?: Record<string, string>;
  logFile: string;
  /** Written to the log before the child starts, on the descriptor the child gets: the step
   * runner's header, without a second open of the log (a file creation costs the main
   * thread most when it is done there). */
  header?: string;
}

/** How it ended. `error`: it could not be started (no pid, nothing ran). */
export interface ChildEnd {
  code: number | null;
  signal: string | null;
  /** The process group still had members after the command exited (they were killed). */
  leftBehind: boolean;
  cpuMs?: number;
  peakRssBytes?: number;
  error?: string;
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export function killGroup(pgid: number, sig: NodeJS.Signals): void {
  if (!(pgid > 0)) return; // kill(-0) would signal our own group
  try {
    process.kill(-pgid, sig);
  } catch {
    // already gone
  }
}

/** Opens a log for append; its folder is created only when the open finds it missing (once
 * per run's log folder, not a mkdir per step). */
function openLog(file: string): number {
  try {
    return fs.openSync(file, 'a');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    return fs.openSync(file, 'a');
  }
}

/** Removes a log that holds only its header (`size` bytes): the child wrote nothing. */
function removeIfOnly(file: string, size: number): void {
  try {
    if (fs.statSync(file).size === size) fs.unlinkSync(file);
  } catch {
    // gone or unreadable: nothing to tidy
  }
}

/** Children ended so far by this process: a child's children-CPU delta is its own only if no
 * other ended meanwhile. */
let exits = 0;

/** Starts `spec` in its own process group (pgid = its pid). `onStart` gets the pid as soon as
 * it exists; the promise settles once the process exited and its group was checked. */
export function startChild(spec: ChildSpec, onStart: (pid: number) => void): Promise<ChildEnd> {
  let fd: number;
  try {
    fd = openLog(spec.logFile);
  } catch (e) {
    return Promise.resolve({ code: null, signal: null, leftBehind: false, error: `cannot open the log ${spec.logFile}: ${(e as Error).message}` });
  }
  let logBytes: number;
  try {
    // The log's size before this child: it is removed afterwards only if the child added
    // nothing to a log this start created.
    logBytes = fs.fstatSync(fd).size;
    if (spec.header) fs.writeSync(fd, spec.header);
  } catch (e) {
    fs.closeSync(fd);
    return Promise.resolve({ code: null, signal: null, leftBehind: false, error: `cannot write the log ${spec.logFile}: ${(e as Error).message}` });
  }
  const env = spec.extraEnv ? { ...spec.env, ...spec.extraEnv } : spec.env;
  return new Promise<ChildEnd>((resolve) => {
    let peak: number | undefined;
    let sampledCpu: number | undefined;
    let settled = false;
    const cpuBefore = childrenCpuMs();
    const exitsBefore = exits;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(spec.file, spec.args, { cwd: spec.cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    } catch (e) {
      resolve({ code: null, signal: null, leftBehind: false, error: `cannot start ${JSON.stringify(spec.file)}: ${(e as Error).message}` });
      return;
    } finally {
      // The child holds its own copy of the descriptor now.
      fs.closeSync(fd);
    }
    const pid = child.pid;
    // The whole process tree (a shell's children do the work): peak = the larger of the
    // tree's summed RSS and any one process's high-water mark. Early looks catch short steps.
    const sample = (): void => {
      if (pid === undefined) return;
      const t = sampleTree(pid);
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
    const finish = (end: ChildEnd): void => {
      if (settled) return;
      settled = true;
      if (sampler) clearTimeout(sampler);
      resolve(end);
    };
    child.on('error', (e) => finish({ code: null, signal: null, leftBehind: false, error: `cannot start ${JSON.stringify(spec.file)}: ${e.message}` }));
    if (pid === undefined) return; // 'error' follows
    next();
    onStart(pid);
    child.on('exit', (code, signal) => {
      const cpuAfter = childrenCpuMs();
      // Exact (the kernel's account of the reaped tree) when this was the only child to end
      // meanwhile; otherwise the last /proc sample (short by at most one interval).
      const alone = exits++ === exitsBefore;
      const cpuMs = alone && cpuBefore !== undefined && cpuAfter !== undefined ? Math.max(cpuAfter - cpuBefore, sampledCpu ?? 0) : sampledCpu;
      let leftBehind = false;
      if (groupAlive(pid)) {
        leftBehind = true;
        killGroup(pid, 'SIGKILL');
      }
      if (logBytes === 0) removeIfOnly(spec.logFile, Buffer.byteLength(spec.header ?? ''));
      const end: ChildEnd = { code, signal, leftBehind };
      if (cpuMs !== undefined) end.cpuMs = cpuMs;
      if (peak !== undefined) end.peakRssBytes = peak;
      finish(end);
    });
  });
}
