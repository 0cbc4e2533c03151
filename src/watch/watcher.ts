import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { FileStates } from '../app/file-states/file-states.js';
import type { WatchSet } from './watch-set.js';

/** Polling interval with --poll (network file systems): a few hundred ms keeps a big project's
 * CPU use modest; native events (the default) cost nothing while idle. */
const POLL_INTERVAL_MS = 250;

export interface WatcherOptions {
  /** The session's file-state tracker: it watches the set's folders (native events) and tells
   * its subscribers what changed; with --poll it is told by chokidar's poller instead. */
  files: FileStates;
  poll: boolean;
  onError: (e: Error) => void;
}

/** Keeps the watched folders on the current WatchSet. Native events: the file-state tracker's
 * folder watches (app/file-states/), extended when the set's signature changes (a new input,
 * step or import), never per cycle. With --poll: a polling chokidar watcher over the set,
 * re-created when the signature changes (the new one is ready before the old one closes, so no
 * change falls between them), whose events are handed to the tracker. */
export class Watcher {
  private fsw: FSWatcher | undefined;
  private signature: string | undefined;
  private set: WatchSet | undefined;
  private watched = { folders: 0, files: 0 };

  constructor(private readonly opts: WatcherOptions) {}

  get current(): WatchSet | undefined {
    return this.set;
  }

  /** Watches `set`. Returns true when what is watched changed. */
  async use(set: WatchSet): Promise<boolean> {
    if (this.signature === set.signature) return false;
    if (this.opts.poll) await this.poll(set);
    else this.watched = this.opts.files.watchTree(set.tree());
    this.set = set;
    this.signature = set.signature;
    return true;
  }

  /** Folders and files watched (for the "watching …" line). */
  counts(): { folders: number; files: number } {
    return this.watched;
  }

  private async poll(set: WatchSet): Promise<void> {
    const fsw = watch(set.roots, {
      ignoreInitial: true,
      ignored: set.ignored,
      usePolling: true,
      interval: POLL_INTERVAL_MS,
      binaryInterval: POLL_INTERVAL_MS * 4,
      followSymlinks: true,
      persistent: true,
    });
    fsw.on('all', (event: string, abs: string) => {
      if (event === 'add' || event === 'change' || event === 'unlink') this.opts.files.noteChange(set.relOf(abs), false);
      else if (event === 'addDir' || event === 'unlinkDir') this.opts.files.noteChange(set.relOf(abs), true);
    });
    fsw.on('error', (e: unknown) => this.opts.onError(e instanceof Error ? e : new Error(String(e))));
    await new Promise<void>((resolve) => fsw.once('ready', resolve));
    const old = this.fsw;
    this.fsw = fsw;
    this.watched = countPolled(fsw, set);
    if (old) await old.close();
  }

  async close(): Promise<void> {
    const fsw = this.fsw;
    this.fsw = undefined;
    this.set = undefined;
    this.signature = undefined;
    if (fsw) await fsw.close();
  }
}

/** Folders and files a polling chokidar watcher holds. chokidar also lists each root's parent
 * (to see the root itself go away); that one is not counted. */
function countPolled(fsw: FSWatcher, set: WatchSet): { folders: number; files: number } {
  const w = fsw.getWatched();
  const roots = new Set(set.roots);
  const dirs = new Set(Object.keys(w));
  let folders = 0;
  let files = 0;
  for (const [dir, items] of Object.entries(w)) {
    if (roots.has(dir) || w[path.dirname(dir)]?.includes(path.basename(dir))) folders++;
    for (const i of items) if (!dirs.has(path.join(dir, i))) files++;
  }
  return { folders, files };
}
