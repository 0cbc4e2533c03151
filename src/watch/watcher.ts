import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { FileEvent } from './known-files.js';
import type { WatchSet } from './watch-set.js';

/** Polling interval with --poll (network file systems): a few hundred ms keeps a big project's
 * CPU use modest; native events (the default) cost nothing while idle. */
const POLL_INTERVAL_MS = 250;

export interface WatcherOptions {
  poll: boolean;
  /** Called with the absolute path of every file or folder added, changed or removed. */
  onChange: (abs: string, event: FileEvent) => void;
  onError: (e: Error) => void;
}

/** chokidar over a WatchSet. It is re-created only when the set's signature changes (a new
 * input, step or import), never per cycle; the new watcher is ready before the old one closes,
 * so no change falls between them. */
export class Watcher {
  private fsw: FSWatcher | undefined;
  private signature = '';
  private set: WatchSet | undefined;

  constructor(private readonly opts: WatcherOptions) {}

  get current(): WatchSet | undefined {
    return this.set;
  }

  /** Watches `set`. Returns true when a new chokidar watcher was made. */
  async use(set: WatchSet): Promise<boolean> {
    if (this.fsw && set.signature === this.signature) return false;
    const fsw = watch(set.roots, {
      ignoreInitial: true,
      ignored: set.ignored,
      usePolling: this.opts.poll,
      interval: POLL_INTERVAL_MS,
      binaryInterval: POLL_INTERVAL_MS * 4,
      followSymlinks: true,
      persistent: true,
    });
    fsw.on('all', this.onAll);
    fsw.on('error', this.onError);
    await new Promise<void>((resolve) => fsw.once('ready', resolve));
    const old = this.fsw;
    this.fsw = fsw;
    this.set = set;
    this.signature = set.signature;
    if (old) await old.close();
    return true;
  }

  /** Folders and files chokidar holds watches on (for the "watching …" line). chokidar also
   * lists each root's parent (to see the root itself go away); that one is not counted. */
  counts(): { folders: number; files: number } {
    const w = this.fsw?.getWatched() ?? {};
    const roots = new Set(this.set?.roots ?? []);
    const dirs = new Set(Object.keys(w));
    let folders = 0;
    let files = 0;
    for (const [dir, items] of Object.entries(w)) {
      if (roots.has(dir) || w[path.dirname(dir)]?.includes(path.basename(dir))) folders++;
      for (const i of items) if (!dirs.has(path.join(dir, i))) files++;
    }
    return { folders, files };
  }

  private readonly onAll = (event: string, abs: string): void => {
    if (event === 'add' || event === 'change' || event === 'unlink' || event === 'addDir' || event === 'unlinkDir') this.opts.onChange(abs, event);
  };

  private readonly onError = (e: unknown): void => {
    this.opts.onError(e instanceof Error ? e : new Error(String(e)));
  };

  async close(): Promise<void> {
    const fsw = this.fsw;
    this.fsw = undefined;
    this.set = undefined;
    this.signature = '';
    if (fsw) await fsw.close();
  }
}
