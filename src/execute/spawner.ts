// batch's side of the spawn helper (see spawn-helper.ts for why it exists).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { killGroup, startChild, type ChildEnd, type ChildSpec } from './child-run.js';

/** Starts command-step processes: a function, so the executor does not care how. */
export type StartChild = (spec: ChildSpec, onStart: (pid: number) => void) => Promise<ChildEnd>;

interface Pending {
  spec: ChildSpec;
  onStart: (pid: number) => void;
  resolve: (end: ChildEnd) => void;
  pid?: number;
}

/** After this many unexpected helper exits, steps are started directly by batch. */
const MAX_CRASHES = 2;
/** Helpers at most: each blocks while it forks, so one per running step up to this many. */
export const MAX_HELPERS = 4;

const HELPER = fileURLToPath(new URL('./spawn-helper.js', import.meta.url));

/** Starts children through long-lived helper processes, started on first use: a step goes to
 * an idle helper, a new one is started while there are fewer than `size`. A helper blocks
 * while it forks (Node waits for the child's exec), so one helper per concurrently running
 * step keeps one step's fork from delaying another's start or end. */
export class HelperSpawner {
  private readonly conns: HelperConn[] = [];
  private readonly size: number;

  constructor(size: number, private readonly helperPath = HELPER) {
    this.size = Math.max(1, Math.min(MAX_HELPERS, size));
  }

  readonly start: StartChild = (spec, onStart) => {
    let conn = this.conns.find((c) => c.busy === 0);
    if (!conn && this.conns.length < this.size) {
      conn = new HelperConn(this.helperPath);
      this.conns.push(conn);
    }
    conn ??= this.conns.reduce((a, b) => (b.busy < a.busy ? b : a));
    return conn.start(spec, onStart);
  };

  /** pids of the helper processes (tests). */
  get helperPids(): number[] {
    return this.conns.flatMap((c) => (c.helperPid !== undefined ? [c.helperPid] : []));
  }

  async close(): Promise<void> {
    const conns = this.conns.splice(0);
    await Promise.all(conns.map((c) => c.close()));
  }
}

/** One helper process. Restarted on next use if it dies; after MAX_CRASHES deaths, or if it
 * cannot be started at all, children are started by batch itself: slower, same result. */
class HelperConn {
  private proc: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private crashes = 0;
  private direct = false;
  private stderrTail = '';
  /** The current helper said it is ready: it may have started steps since. */
  private ready = false;
  /** The environment the current helper holds (it applies it to every later request). */
  private sentEnv: Record<string, string> | undefined;

  constructor(private readonly helperPath: string) {}

  /** Steps running through this helper now. */
  get busy(): number {
    return this.pending.size;
  }

  readonly start: StartChild = (spec, onStart) => {
    if (this.direct) return startChild(spec, onStart);
    const proc = this.ensure();
    return new Promise<ChildEnd>((resolve) => {
      const id = this.nextId++;
      this.pending.set(id, { spec, onStart, resolve });
      if (this.pending.size === 1) (proc.stdout as Socket).ref();
      // The environment goes once per distinct object (the helper keeps the last one), so a
      // run's steps send only what differs: their command, log and extra variables.
      const { env, ...rest } = spec;
      if (env !== this.sentEnv) {
        proc.stdin!.write(`${JSON.stringify({ t: 'env', env })}\n`);
        this.sentEnv = env;
      }
      proc.stdin!.write(`${JSON.stringify({ t: 'run', id, spec: rest })}\n`);
    });
  };

  get helperPid(): number | undefined {
    return this.proc?.pid;
  }

  private ensure(): ChildProcess {
    if (this.proc) return this.proc;
    // Not batch's execArgv (--cpu-prof, --inspect...): the helper is plain Node.
    const proc = spawn(process.execPath, [this.helperPath], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: process.env });
    this.proc = proc;
    this.ready = false;
    this.sentEnv = undefined;
    this.stderrTail = '';
    let buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line) this.onMessage(JSON.parse(line) as { t: string; id: number; pid?: number; end?: ChildEnd });
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    // A write to a helper that just died: its 'exit' handler below settles everything.
    proc.stdin!.on('error', () => undefined);
    proc.on('error', (e) => {
      if (proc.pid === undefined) this.onGone(proc, `could not be started: ${e.message}`, true);
    });
    // 'close', not 'exit': only then has every line it wrote been read (its 'ready' included).
    proc.on('close', (code, signal) => this.onGone(proc, `exited (${signal ?? `code ${code}`})${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`, !this.ready));
    // Idle, the helper must not keep batch alive; a pending step refs stdout again.
    proc.unref();
    (proc.stdin as Socket).unref();
    (proc.stdout as Socket).unref();
    (proc.stderr as Socket).unref();
    return proc;
  }

  private onMessage(msg: { t: string; id: number; pid?: number; end?: ChildEnd }): void {
    if (msg.t === 'ready') {
      this.ready = true;
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.t === 'start' && msg.pid !== undefined) {
      p.pid = msg.pid;
      p.onStart(msg.pid);
    } else if (msg.t === 'end' && msg.end) {
      this.settle(msg.id, msg.end);
    }
  }

  private settle(id: number, end: ChildEnd): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (this.pending.size === 0 && this.proc) (this.proc.stdout as Socket).unref();
    p.resolve(end);
  }

  private onGone(proc: ChildProcess, why: string, neverStarted: boolean): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    if (neverStarted) {
      // It died before reading any request (a broken install, say): nothing was started by
      // it, so every waiting step, and every later one, is started directly.
      this.direct = true;
      for (const [id, p] of [...this.pending]) {
        this.pending.delete(id);
        void startChild(p.spec, p.onStart).then(p.resolve);
      }
      return;
    }
    if (++this.crashes >= MAX_CRASHES) this.direct = true;
    // Steps it had started are killed (nobody can report their end); a step it may have
    // started without saying so fails rather than risk running twice.
    for (const [id, p] of [...this.pending]) {
      if (p.pid !== undefined) killGroup(p.pid, 'SIGKILL');
      this.settle(id, { code: null, signal: null, leftBehind: false, error: `the spawn helper ${why}` });
    }
  }

  /** Ends the helper; it kills whatever it still runs. Resolves once it exited (bounded). */
  async close(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      // Held open until the helper is reaped: its (and its steps') CPU time then counts as
      // batch's children's, and no helper outlives batch.
      proc.ref();
      const t = setTimeout(resolve, 2000);
      proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      proc.stdin!.end();
    });
    for (const [id, p] of [...this.pending]) {
      if (p.pid !== undefined) killGroup(p.pid, 'SIGKILL');
      this.settle(id, { code: null, signal: null, leftBehind: false, error: 'the spawn helper was closed' });
    }
  }
}
