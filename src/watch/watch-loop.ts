import type { PipelineConfig, StepConfig } from '../batchfile/config.js';
import fs from 'node:fs';
import { impurity, type Loaded } from '../batchfile/load.js';
import type { Io } from '../report/io.js';
import type { RunEvent } from '../schedule/events.js';
import { kindOf } from '../kinds/registry.js';
import { initHash } from '../fingerprint/hash.js';
import { StatCache } from '../fingerprint/stat-cache.js';
import { buildGraph, selectSteps } from '../graph/graph.js';
import { afterRun } from '../report/after-run.js';
import { Progress } from '../report/progress.js';
import { expandTargets, followedSpecs, materialize } from '../app/materialize.js';
import type { RunOutput } from '../app/pipeline.js';
import type { Session } from '../app/session.js';
import { FileStates } from '../app/file-states/file-states.js';
import { BatchError } from '../util/errors.js';
import { toRel } from '../util/paths.js';
import { ChangeQueue, type ChangeBatch } from './change-queue.js';
import { cycleLine, type CycleStatus } from './cycle-line.js';
import { OutputGuard } from './output-guard.js';
import { WatchSet } from './watch-set.js';
import { Watcher } from './watcher.js';

export interface WatchOptions {
  targets: string[];
  /** --force applies to the first cycle only; later cycles rerun what changed. */
  force: boolean;
  debounceMs: number;
  poll: boolean;
  json: boolean;
  /** The test phase is on (no --no-tests). */
  tests: boolean;
}

/** Follow-ups caused only by the same files changing during the previous run, in a row, before
 * watch mode stops and asks: a step that rewrites a file it (or another step) reads without
 * declaring it as an output would otherwise rerun forever. */
const SELF_FEED_LIMIT = 3;

/** Runs the pipeline, then again after every change that matters, one run at a time. */
export class WatchLoop {
  /** The last Batchfile that loaded, its graph selection, and whether the latest load failed. */
  private loaded: Loaded | undefined;
  /** The config the latest run executed (forEach steps expanded), and its selected steps. */
  private runConfig: PipelineConfig | undefined;
  private selected: string[] = [];
  private broken = false;
  private batchfileSources: string[];
  /** Project files the Batchfile read while last evaluated (a change reloads it afresh). */
  private batchfileReads: string[] = [];
  private loadedOnce = false;
  /** Compiled Batchfiles already warned about (see warnImpure). */
  private readonly warned = new Set<string>();
  /** step → code files the engine hashed for it in the latest run. */
  private code = new Map<string, string[]>();
  private running = false;
  private cycle = 0;
  private selfFeed = { key: '', count: 0 };
  /** What the current watch set was built from; unchanged → nothing to rebuild. */
  private watchedFor: { config: PipelineConfig | undefined; selected: string[]; sources: string[]; reads: string[]; broken: boolean; code: string } | undefined;
  /** Output and input events that arrived during a run (path → the step writing it, when
   * the watch set knows one), judged once the run's outputs are known. */
  private deferred = new Map<string, string | undefined>();
  private readonly root: string;
  private readonly guard: OutputGuard;
  /** File knowledge carried from run to run, kept true by the file events, which it also
   * tells this loop of (app/file-states/: the same tracker the daemon uses). */
  private readonly files: FileStates;
  private readonly stats: StatCache;
  private readonly queue: ChangeQueue;
  private readonly watcher: Watcher;
  private readonly progress: Progress;
  private readonly emit = (ev: RunEvent): void => this.progress.on(ev);

  constructor(
    private readonly session: Session,
    private readonly io: Io,
    private readonly opts: WatchOptions,
    private readonly signal: AbortSignal,
  ) {
    this.root = session.project.root;
    this.batchfileSources = [toRel(this.root, session.project.file)];
    this.guard = new OutputGuard(this.root);
    this.progress = new Progress(io.human, io.style, io.human.isTTY === true && !process.env.CI);
    this.files = new FileStates({ root: this.root, store: session.store, log: () => {}, persistent: true, warn: (line) => this.progress.print(io.style.yellow(`warning: watching files: ${line}`)) });
    this.stats = this.files.cacheFor(session.store);
    // Polling can miss a change (same size and mtime): nothing is carried from run to run.
    if (opts.poll) this.files.distrust();
    // At once, whatever the path is to the run and whether a run is going: the tracker has
    // already forgotten it, so the next look at it (in this run or the next) sees it as it is.
    this.files.subscribe((rel) => this.changed(rel));
    this.queue = new ChangeQueue(opts.debounceMs, signal);
    this.watcher = new Watcher({ files: this.files, poll: opts.poll, onError: this.onWatchError });
  }

  /** Returns the exit code once interrupted: 130. */
  async run(): Promise<number> {
    try {
      await this.runCycle({ paths: [], batchfile: true, whileRunning: false });
      while (!this.signal.aborted) {
        // While idle: the stats the run took are judged (their folders watched), so that the
        // next run finds them known; the next run finishes what is left first.
        void this.files.settle();
        await this.queue.next(this.signal);
        if (this.signal.aborted) break;
        const batch = this.queue.take();
        if (this.selfFeeding(batch)) continue;
        await this.runCycle(batch);
      }
      this.progress.print('stopped watching');
      return 130;
    } finally {
      this.queue.dispose();
      await this.watcher.close();
      this.files.close();
    }
  }

  /** A file changed: does it start (or join) a cycle? */
  private changed(rel: string): void {
    const set = this.watcher.current;
    if (!set) return;
    const c = set.classify(rel);
    if (!c) return;
    if (c.kind === 'output' && c.step !== undefined) {
      if (this.running) {
        this.deferred.set(rel, c.step);
        return;
      }
      if (this.guard.isEngineWrite(c.step, rel)) return;
    }
    if (c.kind === 'input') {
      // Maybe the output of a step this run added (see OutputGuard.wroteLast): judged once
      // the run has recorded what it wrote.
      if (this.running) {
        this.deferred.set(rel, undefined);
        return;
      }
      if (this.guard.wroteLast(rel)) return;
    }
    this.queue.add(rel, c.kind === 'batchfile');
  }

  private readonly onWatchError = (e: Error): void => {
    this.files.distrust();
    const hint = (e as NodeJS.ErrnoException).code === 'ENOSPC' ? ' (too many watched files: raise fs.inotify.max_user_watches, or use --poll)' : '';
    this.progress.print(this.io.style.yellow(`warning: watching files: ${e.message}${hint}`));
  };

  private async runCycle(batch: ChangeBatch): Promise<void> {
    const n = ++this.cycle;
    const t0 = performance.now();
    this.running = true;
    this.queue.setRunning(true);
    try {
      if (batch.batchfile || this.broken || !this.loaded) {
        const read = batch.paths.filter((p) => this.batchfileReads.some((r) => p === r || p.startsWith(`${r}/`)));
        if (read.length > 0) this.progress.print(this.io.style.dim(`loading ${this.batchfileSources[0] ?? 'the Batchfile'} again: it read ${read.slice(0, 3).join(', ')}, which changed`));
        const error = await this.reload();
        if (error !== undefined) {
          this.judgeDeferred(undefined, []);
          this.progress.print(`${this.io.style.red('error:')} ${error}`);
          await this.updateWatch();
          this.say(n, 'ERROR', t0, batch, { error: 'the Batchfile does not load (see above); watching for a fix' });
          return;
        }
      }
      const loaded = this.loaded!;
      let out: RunOutput;
      await this.files.beforeRun();
      try {
        out = await this.session.runOnce(
          loaded,
          { targets: this.opts.targets, force: n === 1 && this.opts.force, flags: ['--watch'], stats: this.stats },
          this.emit,
          this.signal,
        );
      } catch (e) {
        if (!(e instanceof BatchError)) throw e;
        // A check before the run failed (a missing input, a module that does not compile):
        // nothing ran; the files to fix are watched.
        this.progress.print(`${this.io.style.red('error:')} ${e.message}`);
        this.judgeDeferred(this.runConfig ?? loaded.config, []);
        this.say(n, 'ERROR', t0, batch, { error: 'not run (see above); watching for a fix' });
        return;
      }
      const touched = out.results.filter((r) => r.action === 'ran' || r.action === 'restored').map((r) => r.name);
      this.runConfig = out.config;
      this.selected = out.results.map((r) => r.name);
      this.judgeDeferred(out.config, touched);
      this.code = out.codeFiles();
      await this.updateWatch();
      await afterRun(out, { project: this.session.project, store: this.session.store, io: this.io, json: this.opts.json });
      this.say(n, out.record.status, t0, batch, { out });
    } finally {
      this.running = false;
      this.queue.setRunning(false);
    }
  }

  /** Loads the Batchfile and selects the steps; returns the error message when either fails. */
  private async reload(): Promise<string | undefined> {
    try {
      // Evaluated afresh after the first load: a Batchfile that reads files may give other steps.
      const loaded = await this.session.load(undefined, { fresh: this.loadedOnce, trackReads: true });
      this.loadedOnce = true;
      this.batchfileReads = loaded.reads ?? [];
      this.warnImpure(loaded);
      const runConfig = await this.runConfigOf(loaded.config);
      const selected = selectSteps(buildGraph(runConfig), expandTargets(runConfig, this.opts.targets));
      this.loaded = loaded;
      this.runConfig = runConfig;
      this.selected = selected;
      this.batchfileSources = loaded.sources;
      this.broken = false;
      this.guard.retain(runConfig);
      await this.updateWatch();
    } catch (e) {
      if (!(e instanceof BatchError)) throw e;
      this.broken = true;
      return e.message;
    } finally {
      this.queue.setBatchfileOnly(this.broken);
    }
    return undefined;
  }

  /** The daemon's warning about a Batchfile that may give other steps each time it is loaded,
   * said once per compiled Batchfile, with what watch mode does about it. */
  private warnImpure(loaded: Loaded): void {
    if (!loaded.out || this.warned.has(loaded.out)) return;
    this.warned.add(loaded.out);
    let why: string | undefined;
    try {
      why = impurity(fs.readFileSync(loaded.out, 'utf8'));
    } catch {
      return;
    }
    if (why === undefined) return;
    const file = this.batchfileSources[0] ?? 'the Batchfile';
    const reads = loaded.reads ?? [];
    const follow = reads.length > 0 ? `watch mode loads it again when a file it read changes (${reads.slice(0, 5).join(', ')}${reads.length > 5 ? ', …' : ''})` : 'watch mode sees only the files it read while loaded, and it read none';
    this.progress.print(this.io.style.yellow(`warning: ${file} may define other steps each time it is loaded (${why}): ${follow}. paramsFrom and forEach need neither (docs/batchfile.md).`));
  }

  /** The steps the next run will have (forEach expanded); when a params file or key is missing,
   * the declared ones (the run reports the error, and the followed files are watched for a fix). */
  private async runConfigOf(declared: PipelineConfig): Promise<PipelineConfig> {
    try {
      return await materialize(declared, this.stats);
    } catch (e) {
      if (!(e instanceof BatchError)) throw e;
      return declared;
    }
  }

  /** Records what the run left in its outputs, then keeps the output events of the run that
   * are not the engine's (a hand edit during the run) as changes for the next cycle. */
  private judgeDeferred(config: PipelineConfig | undefined, touched: string[]): void {
    if (config) this.guard.snapshot(config, touched);
    const deferred = this.deferred;
    this.deferred = new Map();
    for (const [rel, step] of deferred) {
      const engine = step === undefined ? this.guard.wroteLast(rel) : this.guard.isEngineWrite(step, rel);
      if (!engine) this.queue.add(rel, false);
    }
  }

  private async updateWatch(): Promise<void> {
    const config = this.runConfig ?? this.loaded?.config;
    const code = new Map<string, string[]>();
    let stats: StatCache | undefined;
    for (const name of this.selected) {
      const step = config?.steps.get(name);
      const known = this.code.get(name);
      const files = [...(known ?? [])];
      // Before the first run (or after a failed check) the engine's list is missing: the
      // step's kind says what it knows cheaply (a `run` module and what it was last compiled
      // from; the scripts a `command` names), so the first watcher is complete.
      if (step && !known) {
        if (!stats) {
          await initHash();
          stats = new StatCache(this.root, this.session.store);
        }
        files.push(...this.knownCode(step, stats));
      }
      code.set(name, files);
    }
    const codeKey = [...code].map(([name, files]) => `${name}\0${files.join('\0')}`).join('\n');
    const w = this.watchedFor;
    if (w && w.config === config && w.selected.join('\n') === this.selected.join('\n') && w.sources === this.batchfileSources && w.reads === this.batchfileReads && w.broken === this.broken && w.code === codeKey) return;
    this.watchedFor = { config, selected: this.selected, sources: this.batchfileSources, reads: this.batchfileReads, broken: this.broken, code: codeKey };
    const set = new WatchSet({
      root: this.root,
      config,
      selected: this.selected,
      code,
      batchfile: this.batchfileSources,
      batchfileReads: this.batchfileReads,
      tests: this.opts.tests && this.opts.targets.length === 0,
      broken: this.broken,
      follow: this.loaded ? followedSpecs(this.loaded.config) : [],
    });
    if (await this.watcher.use(set)) {
      const c = this.watcher.counts();
      const n = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
      this.progress.print(this.io.style.dim(`watching ${n(c.files, 'file')} in ${n(c.folders, 'folder')}${this.broken ? ' (every script, until the Batchfile loads)' : ''}`));
    }
  }

  private knownCode(step: StepConfig, stats: StatCache): string[] {
    try {
      return kindOf(step).knownCode(step, { root: this.root, cacheDir: this.session.project.cacheDir, store: this.session.store, stats });
    } catch {
      return []; // the run reports what is wrong with it
    }
  }

  /** A follow-up caused only by the very files that changed during each of the last runs. */
  private selfFeeding(batch: ChangeBatch): boolean {
    if (!batch.whileRunning) {
      this.selfFeed = { key: '', count: 0 };
      return false;
    }
    const key = [...batch.paths].sort().join('\n');
    this.selfFeed = key === this.selfFeed.key ? { key, count: this.selfFeed.count + 1 } : { key, count: 1 };
    if (this.selfFeed.count <= SELF_FEED_LIMIT) return false;
    this.queue.hold(batch);
    this.progress.print(
      this.io.style.yellow(
        `paused: ${batch.paths.slice(0, 3).join(', ')} changed during each of the last ${SELF_FEED_LIMIT} runs. ` +
          'Does a step write a file that a step reads without declaring it in its outputs? Save any watched file to run again.',
      ),
    );
    return true;
  }

  /** The cycle's line; its time is the whole cycle (load, plan, run, tests). */
  private say(n: number, status: CycleStatus, t0: number, batch: ChangeBatch, more: { out?: RunOutput; error?: string }): void {
    const line = cycleLine({
      n,
      status,
      durationMs: performance.now() - t0,
      changed: batch.paths,
      ...(more.out ? { results: more.out.results } : {}),
      ...(more.error !== undefined ? { error: more.error } : {}),
    });
    const colour = status === 'PASS' ? this.io.style.green : status === 'INTERRUPTED' ? this.io.style.yellow : this.io.style.red;
    this.progress.print(colour(line));
  }
}
