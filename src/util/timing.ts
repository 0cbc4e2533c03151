// Phase marks for `BATCH_TIMING=1`: where one process's time goes, printed to stderr at exit.
// Each mark shows the wall time since the process started and the CPU time (user + system,
// every thread) used by then, each with its increase since the previous mark; CPU time is
// the steadier measure on a busy machine. Off by default: a disabled mark is one test.
const enabled = process.env.BATCH_TIMING === '1';
const marks: { name: string; wall: number; cpu: number }[] = [];

export function mark(name: string): void {
  if (!enabled) return;
  const c = process.cpuUsage();
  marks.push({ name, wall: performance.now(), cpu: (c.user + c.system) / 1000 });
}

/** The marks as aligned lines; empty when disabled. */
export function timingReport(): string {
  if (!enabled || marks.length === 0) return '';
  const f = (n: number): string => n.toFixed(1).padStart(8);
  let prev = { wall: 0, cpu: 0 };
  const lines = marks.map((m) => {
    const line = `  ${m.name.padEnd(20)} wall ${f(m.wall)} ms (+${f(m.wall - prev.wall)})   cpu ${f(m.cpu)} ms (+${f(m.cpu - prev.cpu)})`;
    prev = m;
    return line;
  });
  return `timing (BATCH_TIMING=1):\n${lines.join('\n')}\n`;
}

/** Starts the marks afresh (the daemon reports each run it serves on its own). */
export function resetTiming(): void {
  marks.length = 0;
}
