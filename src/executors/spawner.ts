// batch's side of the spawn helpers (see spawn-helper.ts and forkserver.c for why they exist,
// helper-kinds.ts for how each is spoken to).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { killGroup, startChild, type ChildEnd, type ChildSpec } from './child-run.js';
import { helperKinds, type HelperKind, type HelperMessage } from './helper-kinds.js';

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
/** Helpers at most: one per running step up to this many (the Node helper blocks while it
 * forks; the native one barely, but a crash of one then fails only its own steps). */
export const MAX_HELPERS = 4;

/** Starts children through long-lived helper processes, started on first use: a step goes to
 * an idle helper, a new one is started while there are fewer than `size`. `kinds`: the kinds
 * of helper to try, best first (a kind that does not start gives way to the next; after the
 * last, batch starts steps itself). */
export class HelperSpawner {
  private readonly conns: HelperConn[] = [];
  private readonly size: number;

  constructor(
    size: number,
    private readonly kinds: readonly HelperKind[] = helperKinds('native'),
  ) {
    this.size = Math.max(1, Math.min(MAX_HELPERS, size));
  }

  readonly start: StartChild = (spec, onStart) => {
    let conn = this.conns.find((c) => c.busy === 0);
    if (!conn && this.conns.length < this.size) {
      conn = new HelperConn(this.kinds);
      this.conns.push(conn);
    }
    conn ??= this.conns.reduce((a, b) => (b.busy < a.busy ? b : a));
    return conn.start(spec, onStart);
  };

  /** pids of the helper processes (tests). */
  get helperPids(): number[] {
    return this.conns.flatMap((c) => (c.helperPid !== undefined ? [c.helperPid] : []));
  }

  /** Names of the kinds of helper now running (tests). */
  get helperNames(): string[] {
    return this.conns.flatMap((c) => (c.helperPid !== undefined ? [c.kindName] : []));
  }

  async close(): Promise<void> {
    const conns = this.conns.splice(0);
    await Promise.all(conns.map((c) => c.close()));
  }
}

/** One helper process. Restarted on next use if it dies; after MAX_CRASHES deaths, or if no
 * kind of helper can be started at all, children are started by batch itself: slower, same
 * result. */
class HelperConn {
  private proc: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private crashes = 0;
  private direct = false;
  /** Which of `kinds` is used: the next one once a helper of this kind failed to start. */
  private kindAt = 0;
  private stderrTail = '';
  /** A line the helper should not have sent (it is then killed, and this says why). */
  private badLine: string | undefined;
  /** The current helper said it is ready: it may have started steps since. */
  private ready = false;
  /** The environment the current helper holds (it applies it to every later request). */
  private sentEnv: Record<string, string> | undefined;

  constructor(private readonly kinds: readonly HelperKind[]) {
    if (kinds.length === 0) this.direct = true;
  }

  private get kind(): HelperKind {
    return this.kinds[this.kindAt]!;
  }

  get kindName(): string {
    return this.kind.name;
  }

  /** Steps running through this helper now. */
  get busy(): number {
    return this.pending.size;
  }

  readonly start: StartChild = (spec, onStart) => {
    if (this.direct) return startChild(spec, onStart);
    const proc = this.ensure();
    const id = this.nextId++;
    // The environment goes once per distinct object (the helper keeps the last one), so a
    // run's steps send only what differs: their command, log and extra variables.
    const { env, ...rest } = spec;
    let request: (Buffer | string)[];
    try {
      request = [...(env !== this.sentEnv ? [this.kind.encodeEnv(env)] : []), this.kind.encodeRun(id, rest)];
    } catch (e) {
      return Promise.resolve({ code: null, signal: null, leftBehind: false, error: `cannot start ${JSON.stringify(spec.file)}: ${(e as Error).message}` });
    }
    return new Promise<ChildEnd>((resolve) => {
      this.pending.set(id, { spec, onStart, resolve });
      if (this.pending.size === 1) (proc.stdout as Socket).ref();
      for (const r of request) proc.stdin!.write(r);
      this.sentEnv = env;
    });
  };

  get helperPid(): number | undefined {
    return this.proc?.pid;
  }

  private ensure(): ChildProcess {
    if (this.proc) return this.proc;
    const kind = this.kind;
    const proc = spawn(kind.file, kind.args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: process.env });
    this.proc = proc;
    this.ready = false;
    this.sentEnv = undefined;
    this.stderrTail = '';
    this.badLine = undefined;
    let buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line || this.badLine !== undefined) continue;
        const msg = kind.parse(line);
        if (msg) {
          this.onMessage(msg);
        } else {
          // Not its protocol (a build of another version, a broken one): it cannot be trusted
          // with steps. Its death settles them ('close' below).
          this.badLine = line;
          proc.kill('SIGKILL');
        }
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    // A write to a helper that just died: its 'close' handler below settles everything.
    proc.stdin!.on('error', () => undefined);
    proc.on('error', (e) => {
      if (proc.pid === undefined) this.onGone(proc, `could not be started: ${e.message}`, true);
    });
    // 'close', not 'exit': only then has every line it wrote been read (its 'ready' included).
    proc.on('close', (code, signal) => {
      const why =
        this.badLine !== undefined
          ? `sent a line that is not its protocol: ${JSON.stringify(this.badLine.slice(0, 200))}`
          : `exited (${signal ?? `code ${code}`})${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`;
      this.onGone(proc, why, !this.ready);
    });
    // Idle, the helper must not keep batch alive; a pending step refs stdout again.
    proc.unref();
    (proc.stdin as Socket).unref();
    (proc.stdout as Socket).unref();
    (proc.stderr as Socket).unref();
    return proc;
  }

  private onMessage(msg: HelperMessage): void {
    if (msg.t === 'ready') {
      this.ready = true;
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.t === 'start') {
      p.pid = msg.pid;
      p.onStart(msg.pid);
    } else {
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
      // It died before reading any request (a broken install, a binary for another machine,
      // another protocol version): nothing was started by it, so every waiting step, and
      // every later one, goes to the next kind of helper, or is started directly.
      if (this.kindAt + 1 < this.kinds.length) this.kindAt++;
      else this.direct = true;
      for (const [id, p] of [...this.pending]) {
        this.pending.delete(id);
        void this.start(p.spec, p.onStart).then(p.resolve);
      }
      return;
    }
    if (++this.crashes >= MAX_CRASHES) this.direct = true;
    // Steps it had started are killed (nobody can report their end); a step it may have
    // started without saying so fails rather than risk running twice.
    for (const [id, p] of [...this.pending]) {
      if (p.pid !== undefined) killGroup(p.pid, 'SIGKILL');
      this.settle(id, { code: null, signal: null, leftBehind: false, error: `the ${this.kind.name} ${why}` });
    }
  }

  /** Ends the helper; it kills whatever it still runs. Resolves once it exited (bounded). */
  async close(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
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
    }
    for (const [id, p] of [...this.pending]) {
      if (p.pid !== undefined) killGroup(p.pid, 'SIGKILL');
      this.settle(id, { code: null, signal: null, leftBehind: false, error: `the ${this.kind.name} was closed` });
    }
  }
}
