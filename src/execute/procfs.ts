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

/** CPU ms of this thread (Linux): a worker thread's own time, not the whole process's. */
export function threadCpuMs(): number | undefined {
  try {
    return cpuOfStat(fs.readFileSync('/proc/thread-self/stat', 'utf8'), 0);
  } catch {
    return undefined;
  }
}

/** Summed CPU ms of this process's waited-for children (cutime + cstime). */
export function childrenCpuMs(): number | undefined {
  try {
    return cpuOfStat(fs.readFileSync('/proc/self/stat', 'utf8'), 2);
  } catch {
    return undefined;
  }
}

/** Peak resident set (VmHWM) of a live process, in bytes. */
export function peakRssOf(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
