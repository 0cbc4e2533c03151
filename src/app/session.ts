import os from 'node:os';
import path from 'node:path';
import type { CompiledBatchfile, Loaded, LoadOptions } from '../batchfile/load.js';
import type { StatCache } from '../fingerprint/stat-cache.js';
import type { Emit } from '../schedule/events.js';
import { chooseCache } from '../cache/choose.js';
import { runTestPhase, testRunner } from './test-phase.js';
import { acquireLock, type Lock } from '../store/lock.js';
import { openStore, type Store } from '../store/store.js';
import { loadProject, type Project } from './project.js';
import type { RunSettings } from './settings.js';
import { mark } from '../util/timing.js';
import { ExecutorRegistry } from '../executors/registry.js';
import { runPipeline, type RunOutput } from './pipeline.js';
import { openRemote, prefetchQueueLibs, queueName, REMOTE_DEFAULT_JOBS, remoteUrl, workerFiles, type LazyQueueExecutor } from '../executors/queue/select.js';
import { Shipper } from '../executors/queue/ship.js';
import { transferOf } from '../executors/queue/transfer.js';
import { resolveRemote, type RemoteSettings } from '../cache/remote/settings.js';
import { BatchError } from '../util/errors.js';

export interface RunRequest {
  targets: string[];
  force: boolean;
  /** Extra flags to record (e.g. --watch). */
  flags?: string[];
  /** File knowledge kept across runs (watch mode); see RunOptions.stats. */
  stats?: StatCache;
  /** The environment steps run with and `env`-listed variables are read from (default
   * process.env; a run the daemon serves: its client's). */
  env?: NodeJS.ProcessEnv;
}

/** What one or many runs in a process share: the project, the lock, the store and the
 * executors (so watch mode keeps its worker pool warm). */
export class Session {
  private constructor(
    readonly settings: RunSettings,
    readonly project: Project,
    readonly store: Store,
    readonly executors: ExecutorRegistry,
    readonly jobs: number,
    private readonly lock: Lock,
    /** False for a session over the daemon's store and executors: closing releases the lock only. */
    private readonly ownsResources = true,
  ) {}

  /** The Redis executor, opened by the first run that sends steps to workers. */
  private remote: { url: string; files: string; executor: LazyQueueExecutor } | undefined;

  /** `files`: the cache server files travel through (file mode `cache`), or none (shared). */
  private remoteExecutors(url: string, files: RemoteSettings | undefined): LazyQueueExecutor {
    const filesKey = files ? `${files.url} ${files.team}` : 'shared';
    if (this.remote?.url !== url || this.remote.files !== filesKey) {
      const old = this.remote;
      const queue = queueName(this.settings.queue, this.project.root);
      const shipper = files ? new Shipper(transferOf(files), this.project.cacheDir) : undefined;
      void old?.executor.close();
      this.remote = { url, files: filesKey, executor: openRemote(url, queue, (m) => process.stderr.write(`batch: ${m}\n`), shipper) };
    }
    return this.remote.executor;
  }

  static async open(project: Project, settings: RunSettings, signal: AbortSignal): Promise<Session> {
    // --executor redis://…: BullMQ loads while the lock is taken and the Batchfile loaded and checked.
    if (settings.executor !== undefined && settings.executor !== 'local') prefetchQueueLibs();
    const lock = await acquireLock(project.cacheDir, { wait: settings.wait, signal, onWait: (m) => process.stderr.write(`${m}\n`), root: project.root });
    mark('lock');
    try {
      const store = openStore(project.cacheDir, { root: project.root });
      mark('store open');
      const jobs = settings.jobs ?? os.availableParallelism();
      return new Session(settings, project, store, ExecutorRegistry.create(jobs, settings.workerMemoryMb), jobs, lock);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** A session over a store and executors that outlive it (the daemon keeps them warm across
   * runs); it holds the project lock like any run, so a direct run and a served one never
   * overlap. */
  static async borrow(settings: RunSettings, project: Project, store: Store, executors: ExecutorRegistry, jobs: number, signal: AbortSignal, onWait: (m: string) => void): Promise<Session> {
    const lock = await acquireLock(project.cacheDir, { wait: settings.wait, signal, onWait, root: project.root });
    return new Session(settings, project, store, executors, jobs, lock, false);
  }

  /** The project lock's generation before this session took it, and the one it wrote
   * (util/lock-generation.ts). */
  get lockGenerations(): { before: string; mine: string } {
    return { before: this.lock.generationBefore, mine: this.lock.generation };
  }

  load(compiled?: CompiledBatchfile, opts?: LoadOptions): Promise<Loaded> {
    return loadProject(this.project, compiled, opts);
  }

  async runOnce(loaded: Loaded, req: RunRequest, emit: Emit, signal: AbortSignal): Promise<RunOutput> {
    const a = this.settings;
    const url = remoteUrl(a.executor, loaded.config.executor);
    const remote = url ? this.remoteExecutors(url, this.filesServer(loaded)) : undefined;
    const executors = remote ? ExecutorRegistry.of({ pool: remote, process: remote }) : this.executors;
    const jobs = remote && a.jobs === undefined ? REMOTE_DEFAULT_JOBS : this.jobs;
    const flags = [
      ...(req.force ? ['--force'] : []),
      ...(a.keepGoing ? ['--keep-going'] : []),
      ...(a.tests ? [] : ['--no-tests']),
      ...(a.jobs ? [`-j${a.jobs}`] : []),
      ...(a.cache ? [] : ['--no-cache']),
      ...(a.remoteCache?.readOnly ? ['--remote-cache-read-only'] : []),
      ...(req.flags ?? []),
    ];
    const tests = loaded.config.tests;
    // Tests check the whole pipeline's results, so they run only when every step was selected.
    const withTests = tests !== undefined && a.tests && req.targets.length === 0;
    // Vitest missing: say so before any step runs, not after them.
    if (withTests) testRunner();
    const outputCache = await chooseCache(
      loaded.config.cache,
      { enabled: a.cache, ...(a.maxSize !== undefined ? { maxSize: a.maxSize } : {}), ...(a.remoteCache ? { remote: a.remoteCache } : {}) },
      { root: this.project.root, cacheDir: this.project.cacheDir, store: this.store, env: process.env, batchfileName: path.relative(this.project.root, loaded.config.file) || loaded.config.file },
      'run',
    );
    return runPipeline(loaded.config, this.store, executors, {
      root: this.project.root,
      cacheDir: this.project.cacheDir,
      logsDir: this.project.logsDir,
      targets: req.targets,
      force: req.force,
      jobs,
      keepGoing: a.keepGoing,
      flags,
      env: req.env ?? process.env,
      signal,
      emit,
      ...(outputCache ? { outputCache } : {}),
      ...(req.stats ? { stats: req.stats } : {}),
      ...(loaded.configId ? { configId: loaded.configId } : {}),
      lockGenerationBefore: this.lock.generationBefore,
      ...(withTests
        ? { tests: (ctx) => runTestPhase({ config: loaded.config, tests, store: ctx.store, stats: ctx.stats, force: req.force, runId: ctx.runId, signal, emit }) }
        : {}),
    });
  }

  /** File mode `cache`: the cache server the steps' files travel through (the remote cache's
   * settings, whether or not the output cache is on); undefined in mode `shared`. */
  private filesServer(loaded: Loaded): RemoteSettings | undefined {
    if (workerFiles(this.settings.workerFiles, process.env) === 'shared') return undefined;
    const name = path.relative(this.project.root, loaded.config.file) || loaded.config.file;
    const s = resolveRemote(loaded.config.cache.remote, this.settings.remoteCache ?? { readOnly: false }, process.env, name);
    if (!s) throw new BatchError('file mode cache (--worker-files cache) moves files through a remote cache server: set --remote-cache URL and --remote-cache-team SLUG (or BATCH_REMOTE_CACHE_URL and BATCH_REMOTE_CACHE_TEAM, or cache.remote in the Batchfile)', 2);
    return s;
  }

  async close(): Promise<void> {
    const remote = this.remote;
    this.remote = undefined;
    await remote?.executor.close();
    if (!this.ownsResources) {
      // The store stays open, but its queued writes (a late blob removal, say) commit before
      // the lock goes: after it, another process may hold the lock and write the same keys.
      try {
        await this.store.writes.flush().catch(() => undefined);
      } finally {
        this.lock.release();
      }
      return;
    }
    try {
      await this.executors.closeAll();
      await this.store.close();
    } finally {
      this.lock.release();
    }
  }
}
