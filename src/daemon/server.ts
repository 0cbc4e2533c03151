import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BatchError } from '../util/errors.js';
import { engineStamp } from '../util/engine.js';
import { shownPath, shownPathsIn } from '../util/paths.js';
import { Connection, type ActiveRun, type ConnectionHost } from './connection.js';
import { daemonDir, encode, makePrivateDir, infoPath, LineReader, shortSocketPath, socketPath, type Reply } from './protocol.js';
import { HeapWatch } from './heap-watch.js';
import { Resident, type RunReader } from './resident.js';
import { settleDaemonTuning } from './tuning.js';
import { startingMarker } from './auto-start.js';

/** How long the daemon waits with no run before collecting its garbage (see whenIdle). */
const GC_AFTER_QUIET_MS = 1000;
/** Garbage left since the last full collection beyond which the daemon collects at once after
 * a run, without waiting for a quiet second: runs back to back (a script, a benchmark) never
 * leave one, and each left its garbage to V8, which collects only as the heap nears a limit
 * set by what it held (at 10,000 steps the heap grew 221 → 350 MB over six runs, and the
 * daemon's peak RSS with it). A collection then costs ~100 ms at 10,000 steps, once every
 * few runs; at 1,000 steps (~1.4 MB of garbage a run) about never. */
const GC_AFTER_GROWTH_BYTES = 48 * 2 ** 20;

export interface DaemonInfo {
  pid: number;
  root: string;
  engine: string;
  startedAt: number;
}

export interface ServeOptions {
  root: string;
  /** Exit after this long without a request. */
  idleMs: number;
  /** How often to check that the socket file is still ours (`batch clean` removes .cache). */
  checkEveryMs?: number;
  /** Called once the socket accepts connections. */
  onReady?: () => void;
  log: (line: string) => void;
  /** How a client's command line is read: the CLI's reading, handed down (the daemon sits
   * below cli/ and never imports it). */
  readRun: RunReader;
}

/** The resident process: listens on .cache/daemon/daemon.sock and serves runs. Runs are served
 * as they come, each under the project lock like a direct run, so two at once behave as two
 * `batch` processes would (the second fails, or waits with --wait). Resolves when stopped. */
export async function serveDaemon(opts: ServeOptions): Promise<void> {
  settleDaemonTuning();
  const daemon = new Daemon(opts);
  await daemon.listen();
  opts.onReady?.();
  await daemon.stopped;
}

/** The daemon's lifecycle: the socket, the runs being served, idle work and idle exit, and
 * stopping (asked, idle, socket or project folder gone, a signal). */
class Daemon implements ConnectionHost {
  readonly resident: Resident;
  readonly stopped: Promise<void>;
  private readonly sock: string;
  private readonly startedAt = Date.now();
  private readonly active = new Set<ActiveRun>();
  private readonly server: net.Server;
  private served = 0;
  private stopping = false;
  private resolveStopped: () => void = () => {};
  private gcTimer: NodeJS.Timeout | undefined;
  /** The heap kept near what it holds while a run and the work after it go on (undefined
   * without --expose-gc, as under `node batch daemon serve`). */
  private readonly heap = heapWatch();
  private idle: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** The socket file this daemon made (device and inode), to tell it from a successor's. */
  private mine: fs.Stats | undefined;
  private readonly onSignal = (): void => void this.stop('signal');

  constructor(private readonly opts: ServeOptions) {
    this.sock = socketPath(opts.root);
    this.resident = new Resident(opts.root, opts.log, opts.readRun);
    this.stopped = new Promise<void>((r) => (this.resolveStopped = r));
    this.server = net.createServer((conn) => new Connection(this, conn));
  }

  log(line: string): void {
    this.opts.log(line);
  }

  accepting(): boolean {
    return !this.stopping;
  }

  touched(): void {
    this.resetIdle();
  }

  pong(): Extract<Reply, { t: 'pong' }> {
    return { t: 'pong', pid: process.pid, root: this.opts.root, engine: engineStamp(), startedAt: this.startedAt, served: this.served };
  }

  runStarted(run: ActiveRun): void {
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.gcTimer = undefined;
    this.active.add(run);
    this.heap?.start();
  }

  runEnded(run: ActiveRun): void {
    this.served++;
    this.active.delete(run);
    this.resetIdle();
    this.whenIdle();
  }

  /** Listens, owner-only: the socket is made in a folder only this user can enter, with a mode
   * that admits only this user, whatever the umask (docs/daemon.md, "Who can connect"). */
  async listen(): Promise<void> {
    try {
      makePrivateDir(daemonDir(this.opts.root));
    } catch (e) {
      throw new BatchError(shownPathsIn(this.opts.root, (e as Error).message), 3);
    }
    await removeStaleSocket(this.sock);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new BatchError(`Cannot listen on ${shownPath(this.opts.root, path.resolve(this.sock))}: ${shownPathsIn(this.opts.root, e.message)}${e.code === 'EADDRINUSE' ? ' (another daemon started at the same time?)' : ''}`, 3)),
      );
      // The socket file is made inside listen(), synchronously: under umask 077 it is created
      // srwx------ (connecting needs write permission on it), never briefly wider.
      const umask = process.umask(0o077);
      try {
        this.server.listen(shortSocketPath(this.sock), () => resolve());
      } finally {
        process.umask(umask);
      }
    });
    this.mine = fs.statSync(this.sock);
    // The start a client made (auto-start.ts) is over: the next one may start another.
    fs.rmSync(startingMarker(this.opts.root), { force: true });
    this.watchdog = setInterval(() => {
      if (!this.ours()) void this.stop('socket removed (the project folder or its .cache went away)');
    }, this.opts.checkEveryMs ?? 1000);
    const info: DaemonInfo = { pid: process.pid, root: this.opts.root, engine: engineStamp(), startedAt: this.startedAt };
    // Written whole, then renamed: whoever sees the file (a test, `batch daemon start`) reads it whole.
    const tmp = `${infoPath(this.opts.root)}.${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(info), { mode: 0o600 });
    fs.renameSync(tmp, infoPath(this.opts.root));
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, this.onSignal);
    this.resetIdle();
    this.log(`listening on ${this.sock} (pid ${process.pid})`);
  }

  /** Still our socket: not removed (a `batch clean`, the project deleted), not replaced by
   * another daemon's. */
  private ours(): boolean {
    const st = fs.statSync(this.sock, { throwIfNoEntry: false });
    return st !== undefined && this.mine !== undefined && st.ino === this.mine.ino && st.dev === this.mine.dev;
  }

  /** Once the client has its answer and nothing else runs: the stats the run took are judged
   * (and, where their folder was not watched yet, taken again after watching it), so that the
   * next run finds every file known (FileStates.settle, app/file-states/); then garbage is collected. A run
   * leaves its garbage behind (at 10,000 steps ~14 MB a run), which V8 would collect only as
   * the heap nears its limit: the resident process's memory crept up run after run. A full
   * collection (when the daemon was started with --expose-gc, as `batch daemon start` does)
   * keeps it at what it holds. It waits for a quiet second: the collection takes ~20–25 ms
   * at 1,000 steps, which a run arriving during it (runs in a loop, a script) would wait for;
   * measured back to back, collecting after every run made each ~22 ms slower. */
  private whenIdle(): void {
    if (this.active.size > 0 || this.stopping) return;
    const heap = this.heap;
    void this.resident.settle().then(
      () => {
        if (!heap || this.active.size > 0 || this.stopping) return;
        heap.stop();
        if (this.gcTimer) clearTimeout(this.gcTimer);
        if (heap.grown() > GC_AFTER_GROWTH_BYTES) {
          heap.collect();
          return;
        }
        this.gcTimer = setTimeout(() => {
          this.gcTimer = undefined;
          if (this.active.size === 0 && !this.stopping) heap.collect();
        }, GC_AFTER_QUIET_MS);
        this.gcTimer.unref();
      },
      (e: unknown) => {
        if (this.active.size === 0) heap?.stop();
        this.log(`internal error after a run: ${(e as Error)?.stack ?? String(e)}`);
      },
    );
  }

  private resetIdle(): void {
    if (this.stopping) return;
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.active.size === 0) void this.stop(`idle for ${formatMinutes(this.opts.idleMs)}`);
      else this.resetIdle();
    }, this.opts.idleMs);
  }

  /** Stops after the runs being served end (they are aborted); resolves once stopped. */
  stop(why: string): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.log(`${why}: stopping`);
    this.server.close();
    void (async () => {
      for (const a of this.active) a.ac.abort(new Error('daemon stopping'));
      await Promise.allSettled([...this.active].map((a) => a.done));
      if (this.idle) clearTimeout(this.idle);
      if (this.gcTimer) clearTimeout(this.gcTimer);
      this.heap?.stop();
      if (this.watchdog) clearInterval(this.watchdog);
      await this.resident.close();
      if (this.ours()) {
        fs.rmSync(this.sock, { force: true });
        fs.rmSync(infoPath(this.opts.root), { force: true });
      }
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, this.onSignal);
      this.resolveStopped();
    })();
    return this.stopped;
  }
}

function heapWatch(): HeapWatch | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  return gc ? new HeapWatch(gc) : undefined;
}

function formatMinutes(ms: number): string {
  const min = ms / 60_000;
  return min >= 1 ? `${Math.round(min)} min` : `${Math.round(ms / 1000)} s`;
}

/** A socket file nobody listens on (a daemon that was killed) is removed; one that answers
 * means a daemon already serves this project. */
async function removeStaleSocket(sock: string): Promise<void> {
  if (!fs.existsSync(sock)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(shortSocketPath(sock));
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new BatchError(`A batch daemon already serves this project (${sock}); \`batch daemon stop\` first.`, 2);
  fs.rmSync(sock, { force: true });
}

/** Asks the daemon at `root` who it is; undefined when none answers. */
export function pingDaemon(root: string): Promise<Extract<Reply, { t: 'pong' }> | undefined> {
  const sock = socketPath(root);
  if (!fs.existsSync(sock)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const c = net.connect(shortSocketPath(sock));
    const reader = new LineReader<Reply>((m) => {
      if (m.t === 'pong') {
        c.destroy();
        resolve(m);
      }
    });
    c.setEncoding('utf8');
    c.on('connect', () => c.write(encode({ t: 'ping' })));
    c.on('data', (d: string) => reader.push(d));
    c.on('error', () => resolve(undefined));
    c.on('close', () => resolve(undefined));
  });
}

/** Asks the daemon at `root` to stop; resolves once its connection closes. */
export function askToStop(root: string): Promise<void> {
  return new Promise((resolve) => {
    const c = net.connect(shortSocketPath(socketPath(root)));
    c.on('connect', () => c.write(encode({ t: 'stop' })));
    c.on('error', () => resolve());
    c.on('close', () => resolve());
  });
}
