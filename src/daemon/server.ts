import fs from 'node:fs';
import net from 'node:net';
import { BatchError } from '../util/errors.js';
import { engineStamp } from '../util/engine.js';
import { mark, resetTiming, timingReport } from '../util/timing.js';
import { encode, infoPath, LineReader, shortSocketPath, socketPath, type Reply, type Request } from './protocol.js';
import { Resident, type Accepted, type RunReader } from './resident.js';

/** How long the daemon waits with no run before collecting its garbage (see whenIdle). */
const GC_AFTER_QUIET_MS = 1000;

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

/** The resident process: listens on .cache/daemon.sock and serves runs. Runs are served as
 * they come, each under the project lock like a direct run, so two at once behave as two
 * `batch` processes would (the second fails, or waits with --wait). Resolves when stopped. */
export async function serveDaemon(opts: ServeOptions): Promise<void> {
  const sock = socketPath(opts.root);
  await removeStaleSocket(sock);
  const resident = new Resident(opts.root, opts.log, opts.readRun);
  const active = new Set<{ ac: AbortController; done: Promise<unknown> }>();
  let served = 0;
  let stopping = false;
  const startedAt = Date.now();
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => (stop = r));

  const server = net.createServer((conn) => {
    conn.setEncoding('utf8');
    let ac: AbortController | undefined;
    let interrupts = 0;
    // Output is gathered for the rest of the current tick and sent in one write: a run
    // prints many short lines, and a write per line showed in profiles.
    let pending = '';
    const flush = (): void => {
      if (pending !== '' && !conn.destroyed) conn.write(pending);
      pending = '';
    };
    const send = (r: Reply): void => {
      if (r.t === 'out' || r.t === 'err') {
        if (pending === '') setImmediate(flush);
        pending += encode(r);
        return;
      }
      flush();
      if (!conn.destroyed) conn.write(encode(r));
    };
    const reader = new LineReader<Request>((m) => {
      if (m.t === 'ping') {
        send({ t: 'pong', pid: process.pid, root: opts.root, engine: engineStamp(), startedAt, served });
        conn.end();
      } else if (m.t === 'stop') {
        opts.log('stop requested');
        shutdown();
        // Answered once stopped, so `batch daemon stop` returns with the socket gone.
        void stopped.then(() => conn.end());
      } else if (m.t === 'interrupt') {
        if (!ac) return;
        interrupts++;
        if (interrupts === 1) {
          send({ t: 'err', d: '\nInterrupted: stopping running steps…\n' });
          ac.abort(new Error('interrupted'));
        } else resident.killSteps();
      } else if (m.t === 'run') {
        resetIdle();
        if (stopping) {
          send({ t: 'decline', why: 'stopping' });
          conn.end();
          return;
        }
        void resident.check(m).then((verdict) => {
          if (!('run' in verdict)) {
            send({ t: 'decline', why: verdict.why, ...(verdict.note ? { note: verdict.note } : {}) });
            conn.end();
            if (verdict.stale) shutdown();
            return;
          }
          serve(m, verdict);
        }, (e: unknown) => {
          opts.log(`internal error while checking a request: ${(e as Error)?.stack ?? String(e)}`);
          send({ t: 'decline', why: 'error' });
          conn.end();
        });
      }
    });
    /** Serves a run the daemon accepted: from `accept` on, the client relies on it. */
    const serve = (m: Extract<Request, { t: 'run' }>, accepted: Accepted): void => {
      if (stopping || conn.destroyed) {
        send({ t: 'decline', why: 'stopping' });
        conn.end();
        return;
      }
      send({ t: 'accept' });
      if (gcTimer) clearTimeout(gcTimer);
      gcTimer = undefined;
      const t0 = performance.now();
      resetTiming();
      mark('request');
      const entry = { ac: new AbortController(), done: Promise.resolve() as Promise<unknown> };
      ac = entry.ac;
      entry.done = resident
        .run(accepted, m, send, entry.ac.signal)
        .catch((e: unknown) => {
          opts.log(`internal error: ${(e as Error)?.stack ?? String(e)}`);
          return 70;
        })
        .then((code) => {
          served++;
          mark('served');
          const mem = process.memoryUsage();
          const mb = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MB`;
          opts.log(`served \`batch ${m.argv.join(' ')}\`: exit ${code} in ${Math.round(performance.now() - t0)} ms (heap ${mb(mem.heapUsed)}, rss ${mb(mem.rss)})\n${timingReport()}`.trimEnd());
          send({ t: 'exit', code });
          conn.end();
          active.delete(entry);
          resetIdle();
          whenIdle();
        });
      active.add(entry);
    };
    conn.on('data', (d: string) => {
      try {
        reader.push(d);
      } catch (e) {
        opts.log(`bad request: ${(e as Error).message}`);
        conn.destroy();
      }
    });
    // The client went away (killed, or its terminal closed): stop its run as Ctrl-C would.
    conn.on('close', () => ac?.abort(new Error('client gone')));
    conn.on('error', () => {});
  });

  /** Once the client has its answer and nothing else runs: the stats the run took are judged
   * (and, where their folder was not watched yet, taken again after watching it), so that the
   * next run finds every file known (TrustedStats.settle); then garbage is collected. A run
   * leaves its garbage behind (at 10,000 steps ~14 MB a run), which V8 would collect only as
   * the heap nears its limit: the resident process's memory crept up run after run. A full
   * collection (when the daemon was started with --expose-gc, as `batch daemon start` does)
   * keeps it at what it holds. It waits for a quiet second: the collection takes ~20–25 ms
   * at 1,000 steps, which a run arriving during it (runs in a loop, a script) would wait for;
   * measured back to back, collecting after every run made each ~22 ms slower. */
  const whenIdle = (): void => {
    if (active.size > 0 || stopping) return;
    const gc = (globalThis as { gc?: () => void }).gc;
    void resident.settle().then(
      () => {
        if (!gc || active.size > 0 || stopping) return;
        if (gcTimer) clearTimeout(gcTimer);
        gcTimer = setTimeout(() => {
          gcTimer = undefined;
          if (active.size === 0 && !stopping) gc();
        }, GC_AFTER_QUIET_MS);
        gcTimer.unref();
      },
      (e: unknown) => opts.log(`internal error after a run: ${(e as Error)?.stack ?? String(e)}`),
    );
  };

  let gcTimer: NodeJS.Timeout | undefined;
  let idle: NodeJS.Timeout | undefined;
  function resetIdle(): void {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => {
      if (active.size === 0) {
        opts.log(`idle for ${Math.round(opts.idleMs / 60000)} min: stopping`);
        shutdown();
      } else resetIdle();
    }, opts.idleMs);
  }

  function shutdown(): void {
    if (stopping) return;
    stopping = true;
    server.close();
    void (async () => {
      for (const a of active) a.ac.abort(new Error('daemon stopping'));
      await Promise.allSettled([...active].map((a) => a.done));
      if (idle) clearTimeout(idle);
      if (gcTimer) clearTimeout(gcTimer);
      clearInterval(watchdog);
      await resident.close();
      if (ours()) {
        fs.rmSync(sock, { force: true });
        fs.rmSync(infoPath(opts.root), { force: true });
      }
      stop();
    })();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new BatchError(`Cannot listen on ${sock}: ${e.message}${e.code === 'EADDRINUSE' ? ' (another daemon started at the same time?)' : ''}`, 3)),
    );
    server.listen(shortSocketPath(sock), () => resolve());
  });
  const mine = fs.statSync(sock);
  /** Still our socket: not removed (a `batch clean`), not replaced by another daemon's. */
  const ours = (): boolean => {
    const st = fs.statSync(sock, { throwIfNoEntry: false });
    return st !== undefined && st.ino === mine.ino && st.dev === mine.dev;
  };
  const watchdog = setInterval(() => {
    if (!ours()) {
      opts.log('socket removed: stopping');
      shutdown();
    }
  }, opts.checkEveryMs ?? 1000);
  const info: DaemonInfo = { pid: process.pid, root: opts.root, engine: engineStamp(), startedAt };
  fs.writeFileSync(infoPath(opts.root), JSON.stringify(info));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, shutdown);
  resetIdle();
  opts.log(`listening on ${sock} (pid ${process.pid})`);
  opts.onReady?.();
  await stopped;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, shutdown);
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
