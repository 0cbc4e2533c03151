import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compiledBatchfile, impurity, type CompiledBatchfile } from '../batchfile/load.js';
import { resolveProject, type Project, type ProjectPlace } from '../app/project.js';
import { FileStates } from '../app/file-states/file-states.js';
import { Session } from '../app/session.js';
import type { RunSettings } from '../app/settings.js';
import { killAllCommandSteps } from '../executors/process-executor.js';
import { ExecutorRegistry } from '../executors/registry.js';
import { reportFailure } from '../report/failure.js';
import { makeIo } from '../report/io.js';
import { ReportMemo } from '../report/report-memo.js';
import { showRun } from '../report/show-run.js';
import { openStore, storePath, type Store } from '../store/store.js';
import { engineStamp } from '../util/engine.js';
import type { TextOut } from '../util/text-out.js';
import { mark } from '../util/timing.js';
import { settingDifference, type Reply, type Request } from './protocol.js';

type RunRequest = Extract<Request, { t: 'run' }>;

/** A command line the daemon may serve: a plain run, as a direct run would read it. */
export interface ServedRun {
  settings: RunSettings;
  place: ProjectPlace;
  /** --json: the summary as one JSON document on stdout. */
  json: boolean;
  /** --json or --csv: stdout carries a document, human output goes to stderr. */
  machine: boolean;
}

/** Reads a client's command line (argv, and the client's folder): 'usage' when it does not
 * parse (the client reports that itself), 'command' when it asks for anything but a plain run. */
export type RunReader = (argv: readonly string[], cwd: string) => ServedRun | 'usage' | 'command';

/** A run the daemon will serve, with what checking it found. */
export interface Accepted {
  run: ServedRun;
  project: Project;
  compiled: CompiledBatchfile;
}

/** Recorded in the run's flags, so history shows which runs the daemon served. */
export const VIA_DAEMON = 'via-daemon';

/** What the daemon keeps warm between runs: the open store, the executors (worker threads
 * started, spawn helpers running), the loaded engine code, the imported and validated
 * Batchfile (Node's module cache and load.ts's memo; only a pure one is served), and the stat
 * of every file, kept true by file events (app/file-states/). Verdicts are not kept: every
 * run decides every step as a direct run does, from those stats. */
export class Resident {
  private store: { store: Store; id: string } | undefined;
  private executors: { key: string; executors: ExecutorRegistry } | undefined;
  private trusted: FileStates | undefined;
  /** Runs being served (a run waiting for the lock counts). */
  private running = 0;
  /** The step rows of the last report, for the next (report/report-memo.ts). */
  private readonly reportMemo = new ReportMemo();

  private readonly realRoot: string;

  constructor(
    readonly root: string,
    private readonly log: (line: string) => void,
    private readonly readRun: RunReader,
  ) {
    this.realRoot = realpath(root);
  }

  /** Whether this daemon serves `req`; the reason when it does not. Other commands are
   * declined quietly (the client runs them); a run it cannot serve says why. */
  async check(req: RunRequest): Promise<Accepted | { why: string; note?: string; stale?: boolean }> {
    const run = this.readRun(req.argv, req.cwd);
    if (run === 'usage' || run === 'command') return { why: run }; // the client reports a usage error itself
    let project: Project;
    try {
      project = resolveProject(run.place);
    } catch {
      return { why: 'project' }; // no Batchfile there: the client says so itself
    }
    if (realpath(project.root) !== this.realRoot) return { why: 'root' };
    if (req.engine !== engineStamp()) {
      return { why: 'engine', stale: true, note: 'batch: the daemon runs another build of batchfile; stopping it and running here.' };
    }
    // Steps get the client's environment; only what acts on the whole process must match.
    const differs = settingDifference(req.env, process.env);
    if (differs !== undefined) {
      return { why: 'env', note: `batch: not using the daemon: $${differs} differs from the daemon's, and acts on the whole process (\`batch daemon restart\` takes this one).` };
    }
    // The Batchfile is kept loaded between runs only when loading it again would give the same
    // steps; one that lists files (node:fs) or reads the clock is loaded afresh by every direct run.
    let compiled: CompiledBatchfile;
    try {
      compiled = await compiledBatchfile(project.root, project.file, project.cacheDir);
    } catch {
      return { why: 'project' }; // does not compile: the client reports it
    }
    const why = this.impurityOf(compiled.out);
    if (why !== undefined) {
      // A daemon nobody asked for (started by itself) says nothing: runs simply go direct.
      if (process.env.BATCH_DAEMON_AUTO === '1') return { why: 'batchfile' };
      return { why: 'batchfile', note: `batch: not using the daemon: ${path.relative(project.root, project.file)} may define other steps each time it is loaded (${why}), so every run loads it afresh.` };
    }
    return { run, project, compiled };
  }

  /** Serves one run; resolves to its exit code. */
  async run({ run, project, compiled }: Accepted, req: RunRequest, send: (r: Reply) => void, signal: AbortSignal): Promise<number> {
    const out: TextOut = { write: (d: string) => send({ t: 'out', d }), isTTY: req.tty.out, ...(req.tty.columns ? { columns: req.tty.columns } : {}) };
    const err: TextOut = { write: (d: string) => send({ t: 'err', d }), isTTY: req.tty.err, ...(req.tty.columns ? { columns: req.tty.columns } : {}) };
    const io = makeIo(run.machine, out, err, req.env);
    this.running++;
    try {
      const { settings } = run;
      const jobs = settings.jobs ?? os.availableParallelism();
      const store = this.openStore(project);
      const session = await Session.borrow(settings, project, store, this.executorsFor(jobs, settings.workerMemoryMb), jobs, signal, (m) => err.write(`${m}\n`));
      try {
        // Under the lock, so that the writes of a direct run that held it are among the events
        // the cookie sync waits for.
        this.trusted ??= new FileStates({ root: project.root, store, log: this.log });
        const stats = this.trusted.cacheFor(store);
        await this.trusted.beforeRun();
        mark('file events read');
        // A served Batchfile is pure: its config is a function of its compiled code (named by
        // its hash) and of this engine build.
        const configId = `daemon|${engineStamp()}|${compiled.out}`;
        const served = { targets: settings.targets, force: settings.force, flags: [VIA_DAEMON], stats, compiled, env: req.env, configId, reportMemo: this.reportMemo };
        const code = await showRun(session, served, { io, json: run.json }, signal);
        return signal.aborted ? 130 : code;
      } finally {
        await session.close();
      }
    } catch (e) {
      return reportFailure(e, err);
    } finally {
      this.running--;
    }
  }

  /** Once a run is over and the client has its answer: the work that makes the next run find
   * every file known (FileStates.settle). Resolves when it is done or a run cut it short. */
  settle(): Promise<void> {
    if (this.running > 0) return Promise.resolve();
    this.reportMemo.afterReply();
    return this.trusted ? this.trusted.settle() : Promise.resolve();
  }

  private readonly purity = new Map<string, string | undefined>();
  /** Why a compiled Batchfile is impure (see load.ts), read once per compiled file. */
  private impurityOf(out: string): string | undefined {
    if (!this.purity.has(out)) this.purity.set(out, impurity(fs.readFileSync(out, 'utf8')));
    return this.purity.get(out);
  }

  /** Stops every command step (a second Ctrl-C, or the daemon shutting down). */
  killSteps(): void {
    killAllCommandSteps();
  }

  async close(): Promise<void> {
    this.trusted?.close();
    this.trusted = undefined;
    const ex = this.executors?.executors;
    this.executors = undefined;
    if (ex) await ex.closeAll();
    const st = this.store?.store;
    this.store = undefined;
    if (st) await st.close();
  }

  /** The open store, reopened when its file was replaced (`batch clean --store` and a direct
   * run since): the daemon must never write into a store nobody else sees. */
  private openStore(project: Project): Store {
    const id = storeId(project.cacheDir);
    if (this.store && this.store.id === id) return this.store.store;
    const old = this.store?.store;
    this.store = undefined;
    if (old) void old.close();
    // It reads the same snapshots run after run: kept decoded while their bytes stay the same.
    const store = openStore(project.cacheDir, { root: project.root, memoSnapshots: true });
    this.store = { store, id: storeId(project.cacheDir) };
    return store;
  }

  /** Executors for this run's -j and --worker-memory, kept while they stay the same. */
  private executorsFor(jobs: number, workerMemoryMb: number | undefined): ExecutorRegistry {
    const key = `${jobs}/${workerMemoryMb ?? ''}`;
    if (this.executors?.key === key) return this.executors.executors;
    const old = this.executors?.executors;
    if (old) void old.closeAll();
    const executors = ExecutorRegistry.create(jobs, workerMemoryMb);
    this.executors = { key, executors };
    return executors;
  }
}

function storeId(cacheDir: string): string {
  const st = fs.statSync(path.join(storePath(cacheDir), 'data.mdb'), { throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}` : 'none';
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}
