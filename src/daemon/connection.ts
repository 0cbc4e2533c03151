// One client's conversation with the daemon: its request, the run served for it, the output
// relayed back, its Ctrl-C. The daemon's lifecycle (listening, idle, stopping) is server.ts's.
import type net from 'node:net';
import { mark, resetTiming, timingReport } from '../util/timing.js';
import { encode, LineReader, type Reply, type Request } from './protocol.js';
import type { Accepted, Resident } from './resident.js';

type RunRequest = Extract<Request, { t: 'run' }>;

/** A run being served: aborted on Ctrl-C, a client gone or the daemon stopping. */
export interface ActiveRun {
  ac: AbortController;
  done: Promise<unknown>;
}

/** What a connection needs from the daemon that accepted it. */
export interface ConnectionHost {
  readonly resident: Resident;
  /** False once the daemon is stopping: new runs are declined. */
  accepting(): boolean;
  /** A request arrived (the idle clock starts again). */
  touched(): void;
  runStarted(run: ActiveRun): void;
  runEnded(run: ActiveRun): void;
  pong(): Extract<Reply, { t: 'pong' }>;
  /** Stops the daemon; resolves once it has. */
  stop(why: string): Promise<void>;
  log(line: string): void;
}

export class Connection {
  private ac: AbortController | undefined;
  private interrupts = 0;
  /** Output gathered for the rest of the current tick and sent in one write: a run prints many
   * short lines, and a write per line showed in profiles. */
  private pending = '';
  private readonly reader = new LineReader<Request>((m) => this.onRequest(m));

  constructor(
    private readonly host: ConnectionHost,
    private readonly conn: net.Socket,
  ) {
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => {
      try {
        this.reader.push(d);
      } catch (e) {
        host.log(`bad request: ${(e as Error).message}`);
        conn.destroy();
      }
    });
    // The client went away (killed, or its terminal closed): stop its run as Ctrl-C would.
    conn.on('close', () => this.ac?.abort(new Error('client gone')));
    conn.on('error', () => {});
  }

  private readonly flush = (): void => {
    if (this.pending !== '' && !this.conn.destroyed) this.conn.write(this.pending);
    this.pending = '';
  };

  private readonly send = (r: Reply): void => {
    if (r.t === 'out' || r.t === 'err') {
      if (this.pending === '') setImmediate(this.flush);
      this.pending += encode(r);
      return;
    }
    this.flush();
    if (!this.conn.destroyed) this.conn.write(encode(r));
  };

  private end(r?: Reply): void {
    if (r) this.send(r);
    this.conn.end();
  }

  private onRequest(m: Request): void {
    if (m.t === 'ping') this.end(this.host.pong());
    else if (m.t === 'stop') {
      // Answered once stopped, so `batch daemon stop` returns with the socket gone.
      void this.host.stop('stop requested').then(() => this.conn.end());
    } else if (m.t === 'interrupt') this.interrupt();
    else if (m.t === 'run') this.onRun(m);
  }

  private interrupt(): void {
    if (!this.ac) return;
    this.interrupts++;
    if (this.interrupts === 1) {
      this.send({ t: 'err', d: '\nInterrupted: stopping running steps…\n' });
      this.ac.abort(new Error('interrupted'));
    } else this.host.resident.killSteps();
  }

  private onRun(m: RunRequest): void {
    this.host.touched();
    if (!this.host.accepting()) return this.end({ t: 'decline', why: 'stopping' });
    this.host.resident.check(m).then(
      (verdict) => {
        if ('run' in verdict) return this.serve(m, verdict);
        this.end({ t: 'decline', why: verdict.why, ...(verdict.note ? { note: verdict.note } : {}) });
        if (verdict.stale) void this.host.stop('a client of another build asked');
      },
      (e: unknown) => {
        this.host.log(`internal error while checking a request: ${(e as Error)?.stack ?? String(e)}`);
        this.end({ t: 'decline', why: 'error' });
      },
    );
  }

  /** Serves a run the daemon accepted: from `accept` on, the client relies on it. */
  private serve(m: RunRequest, accepted: Accepted): void {
    if (!this.host.accepting() || this.conn.destroyed) return this.end({ t: 'decline', why: 'stopping' });
    this.send({ t: 'accept' });
    const t0 = performance.now();
    resetTiming();
    mark('request');
    const run: ActiveRun = { ac: new AbortController(), done: Promise.resolve() };
    this.ac = run.ac;
    this.host.runStarted(run);
    run.done = this.host.resident
      .run(accepted, m, this.send, run.ac.signal)
      .catch((e: unknown) => {
        this.host.log(`internal error: ${(e as Error)?.stack ?? String(e)}`);
        return 70;
      })
      .then((code) => {
        mark('served');
        const ms = Math.round(performance.now() - t0);
        // The client has its answer first: the log line (reading the memory figures costs
        // ~0.3 ms) is the daemon's own.
        this.end({ t: 'exit', code });
        const mem = process.memoryUsage();
        const mb = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MB`;
        this.host.log(`served \`batch ${m.argv.join(' ')}\`: exit ${code} in ${ms} ms (heap ${mb(mem.heapUsed)}, rss ${mb(mem.rss)})\n${timingReport()}`.trimEnd());
        this.host.runEnded(run);
      });
  }
}
