/** The output cache with a shared remote behind the local one: a lookup tries the local cache,
 * then the remote (a remote hit is stored locally too); a step that passed is stored locally
 * and uploaded in the background, and the uploads are awaited, bounded, when the run ends.
 * Only steps that must run reach `restore`, so an up-to-date step never contacts the server. */
import type Crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { StepConfig } from '../../batchfile/config.js';
import type { Emit } from '../../schedule/events.js';
import type { StatCache } from '../../fingerprint/stat-cache.js';
import type { FileHashes } from '../../store/types.js';
import { EMPTY_STATUS, type CacheBackend, type CacheReport, type PruneResult, type RemoteRunReport, type Restored } from '../backend.js';
import { RemoteCacheClient, RemoteError } from './client.js';
import { checkManifest } from './manifest.js';
import { PayloadError, readPayload, writePayload, type Manifest } from './payload.js';
import { newTmpDir, placeOutputs } from './place.js';
import type { RemoteSettings } from './settings.js';

/** node:crypto when first used: the engine chunk holding this file loads on every run, and a
 * no-op never needs it (~3 ms of start-up). */
const crypto = (): typeof Crypto => process.getBuiltinModule('node:crypto');

/** How long the end of a run waits for unfinished uploads, in all. Each upload also stops on
 * its own when it makes no progress for the request timeout. */
export const FLUSH_MS = 60_000;
/** Uploads at a time: enough to overlap latency, few enough to leave bandwidth to downloads. */
const UPLOADS_AT_ONCE = 2;

/** The artifact id of a step key: hex, and namespaced and versioned so it never meets a
 * Turborepo task's hash (or an older payload format) on a shared server. */
export function artifactId(key: string): string {
  return crypto().createHash('sha256').update(`batchfile-output/1\0${key}`).digest('hex').slice(0, 32);
}

export class RemoteOutputCache implements CacheBackend {
  readonly name = 'local+remote';
  readonly client: RemoteCacheClient;
  /** Set by the first failure of the server: one warning, then no more requests this run. */
  private sick: string | undefined;
  private readonly report: RemoteRunReport;
  private readonly pending = new Set<Promise<void>>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private readonly stop = new AbortController();

  constructor(
    private readonly local: CacheBackend | undefined,
    private readonly settings: RemoteSettings,
    private readonly root: string,
    private readonly cacheDir: string,
  ) {
    this.client = new RemoteCacheClient({ url: settings.url, team: settings.team, timeoutMs: settings.timeoutMs, ...(settings.token ? { token: settings.token } : {}) });
    this.report = { url: this.client.displayUrl, team: settings.team, readOnly: settings.readOnly, hits: 0, misses: 0, refused: 0, uploads: [], uploadsFailed: 0 };
  }

  /** The server failed: warn once for the run, and stop using it. */
  private fail(e: RemoteError, emit: Emit): void {
    if (this.sick) return;
    this.sick = e.message;
    this.report.error = e.message;
    emit({ type: 'warning', message: `remote cache: ${e.message}; steps run locally and nothing more is uploaded this run` });
  }

  /** The local cache's entry; else, while the server is usable, a possible one on the remote:
   * in a run, restore()'s GET answers as soon as a HEAD would, so asking first would only
   * double the requests. A miss there costs one request, and the step runs. (`explain` and
   * `--dry-run` ask the server with a HEAD instead: remote/probe.ts.) */
  async lookup(step: StepConfig, key: string): Promise<{ fromRun: string } | undefined> {
    const hit = await this.local?.lookup(step, key);
    if (hit) return hit;
    return this.sick ? undefined : { fromRun: 'unknown (remote cache)' };
  }

  async restore(step: StepConfig, key: string, emit: Emit, stats: StatCache): Promise<Restored | undefined> {
    const hit = await this.local?.restore(step, key, emit, stats);
    if (hit) return { ...hit, source: 'local' };
    if (this.sick) return undefined;
    const id = artifactId(key);
    let tmp: string | undefined;
    try {
      const body = await this.client.get(id, this.stop.signal);
      if (!body) {
        this.report.misses++;
        return undefined;
      }
      tmp = newTmpDir(this.cacheDir);
      let manifest: Manifest;
      try {
        manifest = await readPayload(body.chunks, { artifactId: id, signingKey: this.settings.signingKey, tmpDir: tmp, check: (m) => checkManifest(m, key, step.outputs) });
      } finally {
        body.cancel();
      }
      const outputs = placeOutputs(this.root, step, tmp, manifest, stats);
      this.report.hits++;
      const bytes = manifest.files.reduce((n, f) => n + f.size, 0);
      // Stored locally too, so the next restore needs no network. Never rejects.
      await this.local?.save(step, key, outputs, manifest.runId, emit, stats);
      return { outputs, bytes, fromRun: manifest.runId, source: 'remote' };
    } catch (e) {
      if (e instanceof RemoteError) this.fail(e, emit);
      else {
        if (e instanceof PayloadError) this.report.refused++;
        const what = e instanceof PayloadError ? 'entry refused' : 'could not restore';
        emit({ type: 'warning', message: `remote cache: step "${step.name}": ${what} (${(e as Error).message}); the step runs` });
      }
      return undefined;
    } finally {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  async save(step: StepConfig, key: string, outputs: FileHashes, runId: string, emit: Emit, stats?: StatCache): Promise<void> {
    await this.local?.save(step, key, outputs, runId, emit, stats);
    if (this.settings.readOnly || this.sick) return;
    let manifest: Manifest;
    try {
      manifest = manifestOf(this.root, step, key, outputs, runId, stats);
    } catch (e) {
      emit({ type: 'warning', message: `remote cache: step "${step.name}": not uploaded (${(e as Error).message})` });
      return;
    }
    const p = this.upload(step, manifest, emit).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private async upload(step: StepConfig, manifest: Manifest, emit: Emit): Promise<void> {
    if (this.active >= UPLOADS_AT_ONCE) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      if (this.sick || this.stop.signal.aborted) return;
      const id = artifactId(manifest.key);
      await this.client.put(id, writePayload(this.root, manifest, id, this.settings.signingKey), { signal: this.stop.signal });
      this.report.uploads.push({ step: step.name, key: manifest.key, bytes: manifest.files.reduce((n, f) => n + f.size, 0) });
    } catch (e) {
      this.report.uploadsFailed++;
      if (e instanceof RemoteError) this.fail(e, emit);
      else emit({ type: 'warning', message: `remote cache: step "${step.name}": not uploaded (${(e as Error).message})` });
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** The local cache's contents, and whether the server answers now. */
  async status(): Promise<CacheReport> {
    const local = (await this.local?.status()) ?? EMPTY_STATUS;
    const r = await this.client.status();
    const remote = { url: this.client.displayUrl, team: this.settings.team, readOnly: this.settings.readOnly, reachable: r.ok, ...(r.ok ? {} : { error: r.error.message }) };
    return { ...local, remote };
  }

  /** Prunes the local cache only: what the server keeps, and for how long, is the server's
   * to decide (turborepo-remote-cache and its peers expire artifacts themselves). */
  async prune(maxBytes: number): Promise<PruneResult> {
    return (await this.local?.prune(maxBytes)) ?? { evicted: { entries: 0, files: 0, bytes: 0 }, broken: 0, orphans: { files: 0, bytes: 0 }, tmpFiles: 0 };
  }

  /** Waits for the uploads still running, at most `boundMs` in all; cancels the rest. */
  async finish(emit: Emit, boundMs: number = FLUSH_MS): Promise<RemoteRunReport> {
    if (this.pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), boundMs)));
      const all = Promise.allSettled([...this.pending]).then(() => 'done' as const);
      const r = await Promise.race([all, timedOut]);
      clearTimeout(timer);
      if (r === 'timeout') {
        const n = this.pending.size;
        this.stop.abort();
        await all;
        emit({ type: 'warning', message: `remote cache: ${n} upload${n === 1 ? '' : 's'} not finished within ${Math.round(boundMs / 1000)} s; cancelled` });
      }
    }
    this.stop.abort();
    return { ...this.report, uploads: [...this.report.uploads] };
  }
}

/** The manifest of outputs a step just wrote and hashed (sizes and modes as they are now; the
 * upload checks each file's bytes against its hash while it sends them). */
function manifestOf(root: string, step: StepConfig, key: string, outputs: FileHashes, runId: string, stats?: StatCache): Manifest {
  const files = Object.entries(outputs)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([rel, hash]) => {
      const st = stats?.peekStat(rel) ?? fs.statSync(path.resolve(root, rel));
      // A symlinked output is sent as the regular file it points to, as the local cache keeps it.
      return { path: rel, size: st.size, mode: 0o100000 | (st.mode & 0o777), hash };
    });
  const dirs = step.outputs.filter((s) => !files.some((f) => f.path === s) && isDir(path.resolve(root, s)));
  return { format: 'batchfile-remote-cache', version: 1, key, step: step.name, runId, dirs, files };
}

function isDir(abs: string): boolean {
  try {
    return fs.statSync(abs).isDirectory();
  } catch {
    return false;
  }
}
