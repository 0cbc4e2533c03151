import fs from 'node:fs';
import path from 'node:path';

/** How long to wait for a cookie's event before trusting nothing for a run. */
const SYNC_TIMEOUT_MS = 2000;

/**
 * Proof that file events are being delivered, the approach of Watchman's "cookies": a file is
 * written into a watched folder of its own and its event awaited. Events come in the order the
 * changes happened (one inotify descriptor), so once the cookie's event is read, so is the
 * event of every change made before the cookie was written.
 */
export class Cookies {
  private readonly waiting = new Map<string, () => void>();
  private watch: fs.FSWatcher | undefined;
  private next = 0;
  /** Events read in the cookie folder (they share the kernel's queue with the folder watches). */
  events = 0;

  /** `dir`: a folder of this process's own (created on first use, removed by `close`). */
  constructor(private readonly dir: string) {}

  /** Writes a cookie and waits for its event: true once every earlier change has been read,
   * false when its event did not come in time or the folder cannot be used. */
  async sync(): Promise<boolean> {
    try {
      if (!this.watch) {
        fs.mkdirSync(this.dir, { recursive: true });
        this.watch = fs.watch(this.dir, { persistent: false }, (_type, name) => {
          this.events++;
          const done = name === null ? undefined : this.waiting.get(String(name));
          done?.();
        });
        this.watch.on('error', () => {
          this.watch?.close();
          this.watch = undefined;
        });
      }
      const name = `${process.pid}-${++this.next}`;
      const file = path.join(this.dir, name);
      let timer: NodeJS.Timeout | undefined;
      const arrived = new Promise<boolean>((resolve) => {
        this.waiting.set(name, () => resolve(true));
        timer = setTimeout(() => resolve(false), SYNC_TIMEOUT_MS);
      });
      fs.writeFileSync(file, '');
      const ok = await arrived;
      clearTimeout(timer);
      this.waiting.delete(name);
      fs.rmSync(file, { force: true });
      return ok;
    } catch {
      return false;
    }
  }

  close(): void {
    this.watch?.close();
    this.watch = undefined;
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
      fs.rmdirSync(path.dirname(this.dir)); // the folder of every process's cookies, once empty
    } catch {
      // another process's cookies are there, or no folder could be made there
    }
  }
}
