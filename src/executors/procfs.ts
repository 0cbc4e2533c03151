import fs from 'node:fs';

/** Clock ticks per second of /proc times; 100 on every Linux Node runs on in practice. */
const CLK_TCK = 100;

/** utime+stime in ms of a /proc stat line (fields 14 and 15, after the comm in parentheses). */
function cpuOfStat(text: string, offset: number): number | undefined {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const u = Number(rest[11 + offset]);
  const s = Number(rest[12 + offset]);
  return Number.isFinite(u) && Number.isFinite(s) ? ((u + s) * 1000) / CLK_TCK : undefined;
}

/** CPU ms of this thread (Linux): a worker thread's own time, not the whole process's.
 * schedstat gives it in nanoseconds; stat (10 ms ticks) is the fallback. */
export function threadCpuMs(): number | undefined {
  try {
    const ns = Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    if (Number.isFinite(ns)) return ns / 1e6;
  } catch {
    // no schedstat (kernel without CONFIG_SCHED_INFO): fall back to stat
  }
  try {
    return cpuOfStat(fs.readFileSync('/proc/thread-self/stat', 'utf8'), 0);
  } catch {
    return undefined;
  }
}

/** /proc/self/stat, kept open: it is read twice per command step (before and after), and a
 * read at offset 0 of an open /proc file gives its current text for a third of the cost of
 * open, fstat, read and close. */
let selfStat: { fd: number; buf: Buffer } | undefined;

/** Summed CPU ms of this process's waited-for children (cutime + cstime). */
export function childrenCpuMs(): number | undefined {
  try {
    selfStat ??= { fd: fs.openSync('/proc/self/stat', 'r'), buf: Buffer.alloc(4096) };
    const n = fs.readSync(selfStat.fd, selfStat.buf, 0, selfStat.buf.length, 0);
    return cpuOfStat(selfStat.buf.toString('latin1', 0, n), 2);
  } catch {
    try {
      return cpuOfStat(fs.readFileSync('/proc/self/stat', 'utf8'), 2);
    } catch {
      return undefined;
    }
  }
}

/** Threads of a process, from its /proc stat line (field 20). */
function threadsOfStat(text: string): number {
  const n = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[17]);
  return Number.isFinite(n) ? n : 0;
}

/** Children of process `pid` (via /proc/PID/task/TID/children). A single-threaded process
 * (most shells and tools) has one task, its own pid: read directly, without listing the
 * task folder. */
function childrenOf(pid: number, threads: number): number[] {
  const tids = threads === 1 ? [String(pid)] : fs.readdirSync(`/proc/${pid}/task`);
  const out: number[] = [];
  for (const tid of tids) {
    const kids = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    if (kids) for (const k of kids.split(' ')) out.push(Number(k));
  }
  return out;
}

export interface TreeSample {
  /** Resident memory of the whole tree now (sum of VmRSS). */
  rssBytes: number;
  /** The largest single process's peak (max of VmHWM). */
  hwmBytes: number;
  /** CPU of the tree so far: each live process's own time plus its waited-for children's. */
  cpuMs: number;
  /** Nothing in the tree had memory any more (all exited): the memory figures are void. */
  exited?: boolean;
}

/** One look at a command step's process tree: a shell's children are where the work is.
 * Each process is read once: its stat (CPU, threads), its children, its status (memory). */
export function sampleTree(pid: number): TreeSample {
  let rss = 0;
  let hwm = 0;
  let cpu = 0;
  let seen = 0;
  let listed = 0;
  const todo = [pid];
  while (todo.length > 0 && listed < 4096) {
    const p = todo.pop()!;
    listed++;
    try {
      const text = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      cpu += (cpuOfStat(text, 0) ?? 0) + (cpuOfStat(text, 2) ?? 0);
      for (const k of childrenOf(p, threadsOfStat(text))) todo.push(k);
      const status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      const r = /VmRSS:\s+(\d+)\s+kB/.exec(status);
      const h = /VmHWM:\s+(\d+)\s+kB/.exec(status);
      // A zombie (exited, not yet reaped) has no memory lines.
      if (!r || !h) continue;
      rss += Number(r[1]) * 1024;
      hwm = Math.max(hwm, Number(h[1]) * 1024);
      seen++;
    } catch {
      // exited meanwhile
    }
  }
  return { rssBytes: rss, hwmBytes: hwm, cpuMs: cpu, ...(seen > 0 ? {} : { exited: true }) };
}
