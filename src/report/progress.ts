import type { RunEvent } from '../schedule/events.js';
import { formatMs } from '../util/duration.js';
import { clean, type Style } from './style.js';
import type { TextOut } from '../util/text-out.js';

/** How long plain lines (CI, a pipe) may wait to be written together. A write to a pipe is
 * a system call that wakes the reader: two per step were ~10% of a first build's main
 * thread with its output piped. */
export const PLAIN_FLUSH_MS = 100;

/** Live feedback while a run goes: on a terminal, one redrawn status line; in CI or a pipe,
 * a plain line per step that starts or ends (up-to-date steps stay quiet), written in
 * batches at most PLAIN_FLUSH_MS apart and always before the run's end is reported. */
export class Progress {
  private total = 0;
  private done = 0;
  private readonly running = new Set<string>();
  private lineShown = false;
  /** Plain lines not written yet, and the timer that writes them. */
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  /** Between a run's start and its end: only then are plain lines batched (watch mode's own
   * messages between runs are written at once). */
  private inRun = false;

  constructor(
    private readonly out: TextOut,
    private readonly style: Style,
    private readonly live: boolean,
  ) {}

  private clearLine(): void {
    if (this.lineShown) {
      this.out.write('\r\x1b[2K');
      this.lineShown = false;
    }
  }

  private draw(): void {
    if (!this.live || this.running.size === 0) return;
    const names = [...this.running].slice(0, 4).map(clean).join(', ');
    const more = this.running.size > 4 ? ` +${this.running.size - 4}` : '';
    const text = `[${this.done}/${this.total}] running ${names}${more}`;
    const width = this.out.columns ?? 100;
    this.clearLine();
    this.out.write(text.length > width - 1 ? text.slice(0, width - 2) + '…' : text);
    this.lineShown = true;
  }

  print(line: string): void {
    if (!this.live && this.inRun) {
      this.pending += `${line}\n`;
      if (this.pending.length >= 16384) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), PLAIN_FLUSH_MS);
      return;
    }
    this.flush();
    this.clearLine();
    this.out.write(`${line}\n`);
    this.draw();
  }

  /** Writes the plain lines still waiting (before anything else writes to the same stream). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.out.write(text);
  }

  on(ev: RunEvent): void {
    switch (ev.type) {
      case 'run-start':
        this.inRun = true;
        this.total = ev.steps.length;
        this.done = 0;
        break;
      case 'step-start':
        this.running.add(ev.step);
        if (!this.live) this.print(this.style.dim(`▶ ${clean(ev.step)}${ev.attempt > 1 ? ` (attempt ${ev.attempt})` : ''}: ${clean(ev.reasons[0] ?? '')}`));
        else this.draw();
        break;
      case 'step-end': {
        this.done++;
        const r = ev.result;
        const wasRunning = this.running.delete(r.name);
        if (wasRunning || r.status !== 'PASS') {
          const tag = r.status === 'PASS' ? this.style.green('✓') : r.status === 'FAIL' ? this.style.red('✗') : this.style.yellow('-');
          this.print(`${tag} ${clean(r.name)} ${this.style.dim(r.action === 'ran' ? formatMs(r.durationMs) : r.reason)}`);
        } else this.draw();
        break;
      }
      case 'tests-start':
        this.print(this.style.dim(`▶ integrity tests (${ev.files.length} file${ev.files.length === 1 ? '' : 's'})`));
        // The tests' own output follows on the same stream.
        this.flush();
        break;
      case 'warning':
        this.print(this.style.yellow(`warning: ${clean(ev.message)}`));
        break;
      case 'run-end':
      case 'tests-end':
        this.inRun = false;
        this.flush();
        this.clearLine();
        break;
    }
  }
}
