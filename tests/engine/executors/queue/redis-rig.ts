// Test rig for the Redis executor: a real redis-server on a free loopback port in a temp
// folder, `batch worker` processes (separate OS processes), and a direct look at the queue.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BIN, Running, type TempProject } from '../../rig.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of its own; `stop()` ends it (SIGKILL with `kill()`). */
export class RedisServer {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly child: ChildProcess,
    readonly exited: Promise<void>,
    readonly password?: string,
  ) {}

  get url(): string {
    return `redis://${this.password ? `:${this.password}@` : ''}127.0.0.1:${this.port}`;
  }

  static async start(opts: { password?: string } = {}): Promise<RedisServer> {
    for (let attempt = 1; ; attempt++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-redis-'));
      const port = await freePort();
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...(opts.password ? ['--requirepass', opts.password] : [])];
      const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<void>((r) => child.on('exit', () => r()));
      let out = '';
      const ready = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000);
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (/Ready to accept connections/.test(out)) {
            clearTimeout(timer);
            resolve(true);
          }
        });
        void exited.then(() => (clearTimeout(timer), resolve(false)));
      });
      if (ready) return new RedisServer(port, dir, child, exited, opts.password);
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      // The port was taken between the probe and the start: another one.
      if (attempt >= 3) throw new Error(`redis-server did not start:\n${out}`);
    }
  }

  kill(): Promise<void> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      await this.exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts `batch worker` in the project's folder (so it derives the same queue name). */
export async function startWorker(p: TempProject, redis: RedisServer, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const w = p.start(['worker', '--redis', redis.url, ...extra], { env });
  await w.waitFor(/serving queue|waiting for a coordinator/, 20_000);
  return w;
}

/** Stops workers politely and waits for them; kills any that does not stop. */
export async function stopAll(workers: Running[]): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return;
      w.kill('SIGTERM');
      const t = setTimeout(() => w.kill('SIGKILL'), 10_000);
      await w.exited;
      clearTimeout(t);
    }),
  );
}

/** The keys Redis holds under a queue (jobs left behind show up here). */
export async function queueKeys(redis: RedisServer, queue: string): Promise<string[]> {
  const { Redis } = await import('ioredis');
  const r = new Redis(redis.url);
  try {
    return (await r.keys(`batch:${queue}:*`)).sort();
  } finally {
    r.disconnect();
  }
}

/** Job-shaped keys: what BullMQ keeps per job and in its job lists (not meta, events, id…). */
export function jobKeys(all: string[], queue: string): string[] {
  const fixed = new Set(['meta', 'events', 'id', 'stalled-check', 'batch-settings', 'marker', 'limiter', 'de']);
  return all.filter((k) => !fixed.has(k.slice(`batch:${queue}:`.length)));
}

/** A `batch worker` of file mode `cache` in a folder of its own: its cwd is that folder, it is
 * never told the project's path, and (with `trace`) it runs under strace, whose log of every
 * path the worker's processes touched the test can search for the project's folder. The
 * worker's own pid is read from its first line (the child is strace then). */
export interface CacheWorker {
  running: Running;
  pid: number;
  /** The worker's folder (cwd; its work folder is `work/` inside). */
  dir: string;
  traceFile?: string;
}

export async function startCacheWorker(
  redis: RedisServer,
  cache: { url: string; team: string; token: string },
  queue: string,
  opts: { jobs?: number; trace?: boolean; env?: NodeJS.ProcessEnv; nodeModules?: string } = {},
): Promise<CacheWorker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-cache-worker-'));
  // The worker's own install of the project's packages (a deployment's `npm ci`).
  if (opts.nodeModules) fs.symlinkSync(opts.nodeModules, path.join(dir, 'node_modules'));
  const args = [BIN, 'worker', '--redis', redis.url, '--queue', queue, '--remote-cache', cache.url, '--remote-cache-team', cache.team, '--workdir', 'work', '-j', String(opts.jobs ?? 2)];
  const traceFile = opts.trace ? path.join(os.tmpdir(), `batch-worker-trace-${process.pid}-${path.basename(dir)}.txt`) : undefined;
  const [file, argv] = traceFile ? ['strace', ['-f', '-qq', '-e', 'trace=%file,chdir', '-o', traceFile, process.execPath, ...args]] : [process.execPath, args];
  const env = { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1', BATCH_REMOTE_CACHE_TOKEN: cache.token, ...opts.env };
  const running = new Running(spawn(file, argv as string[], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const m = await running.waitFor(/worker [^\s:]+:(\d+): (?:serving queue|waiting for a coordinator)/, 30_000);
  return { running, pid: Number(m[1]), dir, ...(traceFile ? { traceFile } : {}) };
}

/** Stops a cache-mode worker (its own pid: under strace the child is strace) and removes its folder. */
export async function stopCacheWorker(w: CacheWorker): Promise<void> {
  if (w.running.child.exitCode === null && w.running.child.signalCode === null) {
    try {
      process.kill(w.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const t = setTimeout(() => {
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        // gone
      }
      w.running.kill('SIGKILL');
    }, 10_000);
    await w.running.exited;
    clearTimeout(t);
  }
  fs.rmSync(w.dir, { recursive: true, force: true });
}
