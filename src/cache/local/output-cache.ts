import fs from 'node:fs';
import path from 'node:path';
import type { Database } from 'lmdb';
import type { StepConfig } from '../../batchfile/config.js';
import type { Emit } from '../../schedule/events.js';
import { isGlob, resolveSpecs, specMatcher } from '../../fingerprint/files.js';
import type { StatCache } from '../../fingerprint/stat-cache.js';
import type { Store } from '../../store/store.js';
import type { WriteOptions } from '../../store/write-batch.js';
import type { FileHashes } from '../../store/types.js';
import { formatBytes, parseSize } from '../../util/duration.js';
import { BatchError } from '../../util/errors.js';
import { isInside } from '../../util/paths.js';
import { OUTPUT_CACHE_DIR } from '../../util/project-layout.js';
import { BlobStore } from './blob-store.js';
import { InlineBlobs } from './inline-blobs.js';
import { BOUND_META_KEY, isCacheBound, LIMIT_META_KEY, openEntries, Tally, type CacheBound, type CachedFile, type CacheEntry } from './entries.js';
import type { CacheBackend, CacheReport, CacheStatus, Evicted, PruneResult, Restored } from '../backend.js';

/** Folder of the output cache's blobs, under the project's `.cache/`. */
export function outputsDir(cacheDir: string): string {
  return path.join(cacheDir, OUTPUT_CACHE_DIR);
}

export interface CacheOptions {
  root: string;
  cacheDir: string;
  store: Store;
  maxBytes: number;
}

export type { CacheStatus, Evicted, PruneResult };

/** The local output cache: blobs by content (small ones in an LMDB environment of their own,
 * `.cache/outputs/inline/`, bigger ones as files under `.cache/outputs/blobs/`), an index by
 * step fingerprint in the run store. One instance per run, created under the project lock. */
export class LocalOutputCache implements CacheBackend {
  readonly blobs: BlobStore;
  readonly db: Database<CacheEntry, string>;
  private tally: Tally | undefined;
  /** Entry count and size sum while the tally is not loaded (see `bound`). */
  private boundNow: CacheBound | undefined;
  /** Saves run one at a time: eviction must never delete a blob a concurrent save just
   * found present and is about to refer to. Restores are synchronous, so never interleave. */
  private queue: Promise<void> = Promise.resolve();
  /** Whether this instance has put index entries or the bound into the store's write batch
   * (queueWrite): only then must a first read of the index wait for the batch's commit. */
  private queued = false;

  constructor(
    private readonly opts: CacheOptions,
    parts?: { blobs: BlobStore; db: Database<CacheEntry, string> },
  ) {
    this.blobs = parts?.blobs ?? new BlobStore(outputsDir(opts.cacheDir), () => InlineBlobs.open(opts.store, opts.cacheDir));
    this.db = parts?.db ?? openEntries(opts.store);
  }

  /** For `batch cache status` on a read-only store: undefined while no run has created the
   * index (a store written before that has only blob files). */
  static readOnly(opts: CacheOptions): LocalOutputCache | undefined {
    let db: Database<CacheEntry, string>;
    try {
      db = openEntries(opts.store);
      db.getKeysCount({ limit: 1 }); // throws when the database does not exist
    } catch {
      return undefined;
    }
    return new LocalOutputCache(opts, { db, blobs: new BlobStore(outputsDir(opts.cacheDir), InlineBlobs.openReadOnly(opts.store, opts.cacheDir)) });
  }

  status(): Promise<CacheReport> {
    return Promise.resolve(cacheStatus(this.db, this.blobs));
  }

  /** Opens the cache for a run: clears temp files a killed run left and records the limit. */
  static forRun(opts: CacheOptions): LocalOutputCache {
    const c = new LocalOutputCache(opts);
    c.blobs.clearTmp();
    // Only informs `batch cache status`; losing it is harmless.
    if (opts.store.meta.get(LIMIT_META_KEY) !== opts.maxBytes) opts.store.meta.put(LIMIT_META_KEY, opts.maxBytes).catch(() => undefined);
    return c;
  }

  /** Every entry of the index, read once per instance: needed only to evict, prune or drop. */
  private getTally(): Tally {
    if (!this.tally) {
      this.tally = Tally.load(this.db);
      this.boundNow = undefined;
    }
    return this.tally;
  }

  /** The entry count and size sum (CacheBound): from the tally once it is loaded, else from
   * the store's record of them while that record agrees with the index's entry count (which
   * LMDB keeps without reading an entry), else from a tally loaded now. At 10,000 entries the
   * full read is a few hundred milliseconds that every run storing one output paid. */
  private bound(): CacheBound {
    if (!this.tally && !this.boundNow) {
      const rec = this.opts.store.meta.get(BOUND_META_KEY);
      if (isCacheBound(rec) && rec.entries === entryCount(this.db)) this.boundNow = { entries: rec.entries, bytes: rec.bytes };
      else {
        // No record, or one that missed writes (a lost write, an older batch): read it all.
        this.getTally();
        this.writeTallyBound();
      }
    }
    if (this.tally) return { entries: this.tally.entries.size, bytes: this.tally.entryBytes };
    return this.boundNow ?? { entries: 0, bytes: 0 };
  }

  /** Records the bound for the next run. Not awaited, and in the same write batch as the
   * entry writes just before it; a lost record is found out by its entry count and rebuilt. */
  private writeBound(b: CacheBound): void {
    this.queueWrite(() => void this.opts.store.meta.put(BOUND_META_KEY, b)).catch(() => undefined);
  }

  /** A write of the index or the bound, in the store's write batch. */
  private queueWrite(write: () => void, opts?: WriteOptions): Promise<void> {
    this.queued = true;
    return this.opts.store.writes.add(write, opts);
  }

  private writeTallyBound(): void {
    if (this.tally) this.writeBound({ entries: this.tally.entries.size, bytes: this.tally.entryBytes });
  }

  private warn(emit: Emit, message: string): void {
    emit({ type: 'warning', message: `output cache: ${message}` });
  }

  readonly name = 'local';

  lookup(_step: StepConfig, key: string): Promise<{ fromRun: string } | undefined> {
    const entry = this.db.get(key);
    return Promise.resolve(entry && (!this.tally || this.tally.entries.has(key)) ? { fromRun: entry.runId } : undefined);
  }

  restore(step: StepConfig, key: string, emit: Emit, stats: StatCache): Promise<Restored | undefined> {
    return Promise.resolve(this.restoreSync(step, key, emit, stats));
  }

  private restoreSync(step: StepConfig, key: string, emit: Emit, stats: StatCache): Restored | undefined {
    const entry = this.db.get(key);
    if (!entry || (this.tally && !this.tally.entries.has(key))) return undefined;
    const drop = (why: string, badBlob?: string): undefined => {
      if (badBlob) this.blobs.remove(badBlob);
      this.dropEntry(key);
      this.warn(emit, `step "${step.name}": ${why}; entry ${key} dropped, the step runs`);
      return undefined;
    };
    const under = step.outputs.map(specMatcher);
    const files = Object.entries(entry.files);
    // Checked before anything is removed: a missing or truncated blob leaves the outputs alone.
    for (const [rel, f] of files) {
      if (!isInside(rel) || !under.some((m) => m(rel))) return drop(`cached file ${rel} is not under the step's outputs`);
      const size = this.blobs.sizeOf(f.hash);
      if (size === undefined) return drop(`cached copy of ${rel} is missing`);
      if (size !== f.size) return drop(`cached copy of ${rel} is corrupt (${size} bytes, expected ${f.size})`, f.hash);
    }
    const root = this.opts.root;
    try {
      removeOutputs(root, step, stats);
      for (const d of entry.dirs) fs.mkdirSync(path.resolve(root, d), { recursive: true });
      const outputs: FileHashes = {};
      for (const [rel, f] of files) {
        stats.forget(rel);
        if (this.blobs.copyOut(f.hash, f.size, path.resolve(root, rel), f.mode) !== f.hash) {
          removeOutputs(root, step, stats);
          return drop(`restored ${rel} does not match its recorded hash (cached copy corrupt)`, f.hash);
        }
        outputs[rel] = f.hash;
      }
      const now = Date.now();
      // A lost use time only makes the entry look older to eviction.
      const used = { ...entry, lastUsed: now, hits: entry.hits + 1 };
      this.queueWrite(() => void this.db.put(key, used)).catch(() => undefined);
      this.tally?.touch(key, now);
      return { outputs, bytes: entry.bytes, fromRun: entry.runId };
    } catch (e) {
      // A file-system problem (permissions, disk full): leave no half-restored outputs and
      // let the step run; the entry itself may be fine, so it stays.
      try {
        removeOutputs(root, step, stats);
      } catch {
        // the step's own removal will report it
      }
      this.warn(emit, `step "${step.name}": could not restore (${(e as Error).message}); the step runs`);
      return undefined;
    }
  }

  save(step: StepConfig, key: string, outputs: FileHashes, runId: string, emit: Emit, stats?: StatCache): Promise<void> {
    const p = this.queue.then(() => this.saveNow(step, key, outputs, runId, emit, stats));
    // A failed save costs only a future rerun: warn and keep the run going.
    this.queue = p.catch((e: unknown) => this.warn(emit, `step "${step.name}": outputs not stored (${(e as Error).message})`));
    return this.queue;
  }

  private async saveNow(step: StepConfig, key: string, outputs: FileHashes, runId: string, emit: Emit, stats?: StatCache): Promise<void> {
    const root = this.opts.root;
    const files: Record<string, CachedFile> = {};
    const firstPath = new Map<string, string>();
    let bytes = 0;
    for (const [rel, hash] of Object.entries(outputs)) {
      const st = stats?.peekStat(rel) ?? fs.statSync(path.resolve(root, rel));
      files[rel] = { hash, size: st.size, mode: st.mode & 0o7777 };
      bytes += st.size;
      if (!firstPath.has(hash)) firstPath.set(hash, rel);
    }
    const distinct = new Tally().newBytes(Object.values(files));
    if (distinct > this.opts.maxBytes) {
      this.warn(emit, `step "${step.name}": outputs (${formatBytes(distinct)}) exceed the cache limit (${formatBytes(this.opts.maxBytes)}); not stored`);
      return;
    }
    const dirs = step.outputs.filter((s) => {
      if (isGlob(s)) return false;
      const known = stats?.peekStat(s);
      return known !== undefined ? known?.isDirectory() === true : isDir(path.resolve(root, s));
    });
    for (const [hash, rel] of firstPath) {
      if ((await this.blobs.put(path.resolve(root, rel), hash, files[rel]!.size)) === 'changed') {
        this.warn(emit, `step "${step.name}": ${rel} changed after the step finished; outputs not stored`);
        return;
      }
    }
    const now = Date.now();
    const old = this.db.get(key);
    const entry: CacheEntry = { step: step.name, files, dirs, bytes, runId, storedAt: now, lastUsed: now, hits: old?.hits ?? 0 };
    // Written last: an entry exists only once every blob it names is in place (the write
    // batch commits the blobs' environment first, and the entry is not made when a put of
    // a blob it names failed). Not awaited: waiting for each commit would serialise a disk
    // flush per step (10,000 small steps would pay it 10,000 times).
    const needs = [...firstPath.keys()].flatMap((h) => this.blobs.inline?.ticketOf(h) ?? []);
    const put = (): void =>
      void this.queueWrite(() => void this.db.put(key, entry), { needs }).catch((e: unknown) => this.warn(emit, `step "${step.name}": index entry not written (${(e as Error).message})`));
    // Entries this instance put earlier may still wait in the write batch: the index read
    // below (the bound's check, or the whole tally) must see them, or an eviction would delete
    // blobs one of them names. Once per instance: after it, the tally or bound is kept here.
    // Nothing else writes the index or the bound (one instance per run, under the lock; a run
    // commits its writes before it releases the lock, Session.close), so an instance that
    // queued none reads them as they are, and the first step a run stores waits for no
    // commit (it waited for two, ~1-2 ms).
    if (!this.tally && !this.boundNow && this.queued) await this.opts.store.writes.flush();
    const b = this.bound();
    if (!this.tally) {
      const next = { entries: b.entries + (old ? 0 : 1), bytes: b.bytes - (old?.bytes ?? 0) + bytes };
      if (next.bytes <= this.opts.maxBytes) {
        // Under the limit even counting shared files once per entry: nothing to evict, and
        // no need to read the index.
        put();
        this.boundNow = next;
        this.writeBound(next);
        return;
      }
    }
    if (!this.tally && this.queued) await this.opts.store.writes.flush(); // as above
    const tally = this.getTally();
    put();
    tally.add(key, entry);
    await this.evict(this.opts.maxBytes, key);
    this.writeTallyBound();
  }

  /** Drops least recently used entries until the cache fits `maxBytes`, then deletes the
   * blobs no remaining entry refers to (index first, so no entry ever names a deleted blob). */
  async evict(maxBytes: number, keep?: string): Promise<Evicted> {
    const tally = this.getTally();
    const victims = tally.victims(maxBytes, keep);
    if (victims.length === 0) return { entries: 0, files: 0, bytes: 0 };
    const before = tally.bytes;
    const freed: string[] = [];
    for (const k of victims) freed.push(...tally.remove(k));
    // After the batched writes before it (an entry put still waiting there must not land
    // after its eviction, naming blobs deleted below).
    const removed = this.queueWrite(() => {
      for (const k of victims) void this.db.remove(k);
    });
    await this.opts.store.writes.flush();
    await removed;
    for (const h of freed) this.blobs.remove(h);
    this.writeTallyBound();
    return { entries: victims.length, files: freed.length, bytes: before - tally.bytes };
  }

  private dropEntry(key: string): void {
    const freed = this.getTally().remove(key);
    // If this write is lost, the entry is found again and dropped again: its blobs are gone.
    this.queueWrite(() => void this.db.remove(key)).catch(() => undefined);
    this.writeTallyBound();
    for (const h of freed) this.blobs.remove(h);
  }

  /** `batch cache prune`: drops entries whose blobs are gone, evicts down to `maxBytes`,
   * removes blobs no entry refers to and stray temp files. */
  async prune(maxBytes: number): Promise<PruneResult> {
    const tally = this.getTally();
    const sizes = new Map<string, number | undefined>();
    const sizeOf = (h: string): number | undefined => {
      if (!sizes.has(h)) sizes.set(h, this.blobs.sizeOf(h));
      return sizes.get(h);
    };
    const broken: string[] = [];
    for (const { key, value } of this.db.getRange()) {
      if (Object.values(value.files).some((f) => sizeOf(f.hash) !== f.size)) broken.push(key);
    }
    for (const k of broken) {
      tally.remove(k);
      await this.db.remove(k);
    }
    // Swept before evicting, so `orphans` counts only what no entry referred to.
    const orphans = { files: 0, bytes: 0 };
    for (const h of this.blobs.hashes()) {
      if (tally.blobs.has(h)) continue;
      orphans.files++;
      orphans.bytes += sizeOf(h) ?? 0;
      this.blobs.remove(h);
    }
    const evicted = await this.evict(maxBytes);
    this.writeTallyBound();
    await this.blobs.inline?.dropLegacyIfEmpty();
    return { evicted, broken: broken.length, orphans, tmpFiles: this.blobs.clearTmp() };
  }
}

/** The index's entry count as LMDB keeps it (no entry read); lmdb's typings leave the
 * stats object untyped. */
function entryCount(db: Database<CacheEntry, string>): number | undefined {
  const n = (db.getStats() as { entryCount?: unknown }).entryCount;
  return typeof n === 'number' ? n : undefined;
}

function isDir(abs: string): boolean {
  try {
    return fs.statSync(abs).isDirectory();
  } catch {
    return false;
  }
}

/** Removes a step's declared outputs (what the step runner does before a run), so a file
 * the cached step did not write does not survive the restore. */
export function removeOutputs(root: string, step: StepConfig, stats: StatCache): void {
  const res = resolveSpecs(root, step.outputs, stats);
  for (const f of res.files) {
    fs.rmSync(path.resolve(root, f), { force: true });
    stats.forget(f);
  }
  for (const spec of step.outputs) {
    stats.forget(spec);
    if (!isGlob(spec)) fs.rmSync(path.resolve(root, spec), { recursive: true, force: true });
  }
}

/** What `batch cache status` shows, read from the index and the blobs. */
function cacheStatus(db: Database<CacheEntry, string>, blobs: BlobStore): CacheStatus {
  const tally = Tally.load(db);
  const steps = new Map<string, { step: string; entries: number; bytes: number; lastUsed: number; hits: number }>();
  for (const { value } of db.getRange()) {
    const s = steps.get(value.step) ?? { step: value.step, entries: 0, bytes: 0, lastUsed: 0, hits: 0 };
    s.entries++;
    s.bytes += value.bytes;
    s.lastUsed = Math.max(s.lastUsed, value.lastUsed);
    s.hits += value.hits;
    steps.set(value.step, s);
  }
  const orphans = { files: 0, bytes: 0 };
  for (const h of blobs.hashes()) {
    if (tally.blobs.has(h)) continue;
    orphans.files++;
    orphans.bytes += blobs.sizeOf(h) ?? 0;
  }
  return {
    entries: tally.entries.size,
    bytes: tally.bytes,
    blobs: tally.blobs.size,
    orphans,
    steps: [...steps.values()].sort((a, b) => b.bytes - a.bytes),
  };
}
