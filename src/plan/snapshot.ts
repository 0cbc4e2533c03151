import type { StepConfig } from '../batchfile/config.js';
import { isGlob, resolveSpecs } from '../fingerprint/files.js';
import { hashBytes, hashString } from '../fingerprint/hash.js';
import { RACY_WINDOW_MS, type FileStat, type StatCache } from '../fingerprint/stat-cache.js';
import { definitionText, KEY_SCHEMA } from './step-key.js';
import type { SnapshotEntry } from '../store/store.js';

/**
 * The no-op fast path (Ninja's and Make's trick, made safe for content fingerprints).
 *
 * When a step is found up to date, or finishes, with every file it depends on hashed, the
 * stats of those files (size, mtime, ctime, inode, mode) are recorded beside it. Next time,
 * if the definition and env are the same and every file still has exactly that stat, the
 * contents are the ones that were hashed, so the step is up to date without reading a file,
 * a stat-cache entry or its recorded fingerprint: one stat per file and one small read.
 *
 * Two guards keep it exact. A file hashed within the racy window after its last change
 * could still be rewritten in the same timestamp tick without a visible change, so no
 * snapshot is taken while one is that fresh (the full check runs next time, re-hashes it and
 * takes the snapshot then); nor when a file changed while it was read.
 * And anything else that can change the verdict is part of the signature: which files the
 * input and output specs name now (globs and folders are listed again), the code files, and
 * for a `command` step every word that could name a script, present or not.
 */

const SNAPSHOT_SCHEMA = 3;

/** Definition, env values and schemas: what besides file contents decides a step's key.
 * The definition is the key's own encoding of it (step-key.ts's text, once per loaded step),
 * so the two can never disagree; the env values go in as text (not the key's per-variable
 * hashes): this runs for every step on every run, and a changed value only needs to be
 * noticed here, not named. */
export function definitionSignature(step: StepConfig, env: NodeJS.ProcessEnv): string {
  const envText = envValues(step, env);
  const hit = definitionMemo.get(step);
  if (hit && hit.envText === envText) return hit.sig;
  const d = definitionText(step);
  const sig = hashString(`${SNAPSHOT_SCHEMA}\0${KEY_SCHEMA}\0${d.command}\0${d.params}\0${d.specs}\0${d.runtime ?? ''}${envText}`);
  definitionMemo.set(step, { envText, sig });
  return sig;
}

/** The step's env values as text ('' for a step that reads none). */
function envValues(step: StepConfig, env: NodeJS.ProcessEnv): string {
  let text = '';
  for (const name of step.env) {
    const v = env[name];
    text += `\0${name}${v === undefined ? '\0' : `=${v}`}`;
  }
  return text;
}

/** A loaded config's steps do not change (a process that runs many times, the daemon or watch
 * mode, checks the same step objects each run); only the env values can, and are compared. */
const definitionMemo = new WeakMap<StepConfig, { envText: string; sig: string }>();

export interface StatSignature {
  sig: string;
  /** The files in it that exist. */
  files: string[];
}

/** Numbers per file in the signature: kind, size, mtime, ctime, inode, mode. */
const PER_FILE = 6;
let nums = new Float64Array(PER_FILE * 64);

/** Builds a signature from the stats of files (kept in a reused buffer of doubles, hashed as
 * bytes: no text per file, which at 100,000 files was most of the fast path's garbage).
 * Paths go in as text only where the definition does not fix them: files a glob or a folder
 * expands to. */
class SignatureBuilder {
  private n = 0;
  private paths = '';
  readonly files: string[] = [];
  /** Some spec was listed (a glob, a folder, or a path that is not a file): its entries can
   * change without any path in the signature being forgotten by the stat cache. */
  listed = false;

  constructor(private readonly stats: StatCache) {}

  add(rel: string, st: FileStat | null, named: boolean): void {
    if (this.n + PER_FILE > nums.length) {
      const bigger = new Float64Array(nums.length * 2);
      bigger.set(nums);
      nums = bigger;
    }
    const i = this.n;
    this.n += PER_FILE;
    if (named) this.paths += `${rel}\0`;
    if (!st) {
      nums.fill(0, i, i + PER_FILE);
      return;
    }
    this.files.push(rel);
    nums[i] = st.isFile() ? 1 : st.isDirectory() ? 2 : 3;
    // A folder's own times change with every entry added or removed; its files are listed.
    const full = nums[i] === 1;
    nums[i + 1] = full ? st.size : 0;
    nums[i + 2] = full ? st.mtimeMs : 0;
    nums[i + 3] = full ? st.ctimeMs : 0;
    nums[i + 4] = full ? st.ino : 0;
    nums[i + 5] = st.mode;
  }

  /** Files a spec names now; false when it names nothing. */
  addSpec(root: string, spec: string): boolean {
    if (!isGlob(spec)) {
      const st = this.stats.stat(spec);
      if (st?.isFile()) {
        this.add(spec, st, false);
        return true;
      }
    }
    this.listed = true;
    const res = resolveSpecs(root, [spec], this.stats);
    if (res.missing.length > 0 || res.empty.length > 0) return false;
    for (const f of res.files) this.add(f, this.stats.stat(f), true);
    this.add('', null, true); // end of this spec's list
    return true;
  }

  separator(): void {
    this.add('', null, false);
  }

  finish(): StatSignature {
    let sig = hashBytes(new Uint8Array(nums.buffer, 0, this.n * 8));
    if (this.paths !== '') sig = hashString(`${sig}\0${this.paths}`);
    return { sig, files: this.files };
  }
}

/** The stat signature of a step's files as they are now, or null when an input or output
 * spec names nothing (such a step is never up to date by snapshot). `code` comes from the
 * snapshot itself, so its paths are fixed by it. */
export function statSignature(root: string, stats: StatCache, step: StepConfig, code: readonly string[]): StatSignature | null {
  return build(root, stats, step, code).sig;
}

function build(root: string, stats: StatCache, step: StepConfig, code: readonly string[]): { sig: StatSignature | null; listed: boolean } {
  const b = new SignatureBuilder(stats);
  for (const spec of step.inputs) if (!b.addSpec(root, spec)) return { sig: null, listed: true };
  b.separator();
  for (const f of code) b.add(f, stats.stat(f), false);
  b.separator();
  for (const spec of step.outputs) if (!b.addSpec(root, spec)) return { sig: null, listed: true };
  return { sig: b.finish(), listed: b.listed };
}

/** Signatures worked out before, per step object: a process that checks the same loaded
 * config again and again (the daemon, watch mode) keeps its StatCache between runs, and a
 * signature made only of stats that cache holds is the same while the cache has forgotten or
 * replaced none of them since (its epoch: every forget and every changed stat bumps it, and
 * it knows which path each recent bump was for, so one changed input leaves every other
 * step's signature standing). Its paths are exactly the step's input and output specs and
 * its code files: a spec that is not one plain file is listed, and such a step is not kept
 * (a glob's or a folder's entries can change without a stat in it being forgotten). */
const signatureMemo = new WeakMap<StepConfig, { stats: StatCache; epoch: number; code: readonly string[]; sig: StatSignature }>();

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** statSignature, from the memo above when it still holds. The fast path (fast-check.ts). */
export function statSignatureNow(root: string, stats: StatCache, step: StepConfig, code: readonly string[]): StatSignature | null {
  const hit = signatureMemo.get(step);
  if (hit && hit.stats === stats && sameList(hit.code, code)) {
    if (!stats.movedSince(hit.epoch, (rel) => step.inputs.includes(rel) || step.outputs.includes(rel) || code.includes(rel))) {
      hit.epoch = stats.epoch;
      return hit.sig;
    }
  }
  const epoch = stats.epoch;
  const { sig, listed } = build(root, stats, step, code);
  // Only if building it forgot nothing (a helper's failed stat, say) and it listed nothing.
  if (sig && !listed && stats.epoch === epoch) signatureMemo.set(step, { stats, epoch, code: [...code], sig });
  return sig;
}

/** True when the recorded snapshot proves the step up to date now. */
export function snapshotHolds(snap: SnapshotEntry | undefined, def: string, now: StatSignature | null): boolean {
  return snap !== undefined && now !== null && snap.def === def && snap.sig === now.sig;
}

/** A snapshot of the step's files as they are now, to record after a full check found it up
 * to date (or after it ran), or undefined when it could not be trusted later: a file changed
 * while it was hashed, or was hashed within the racy window after its last change (it could
 * still be rewritten in the same timestamp tick, unseen by stat). Every stat in it is the
 * one the file's hash was taken under, so a matching stat later means the same content. */
export function takeSnapshot(root: string, stats: StatCache, step: StepConfig, def: string, code: readonly string[]): SnapshotEntry | undefined {
  const now = statSignature(root, stats, step, code);
  if (!now) return undefined;
  const codeSet = new Set(code);
  for (const f of now.files) {
    const h = stats.peek(f);
    // A command word naming a data file was never hashed: only its stat (exists, mode) matters.
    if (h === undefined && codeSet.has(f)) continue;
    if (!h) return undefined;
    const st = stats.stat(f);
    if (!h.stable || !st || h.hashedAt - Math.max(st.mtimeMs, st.ctimeMs) <= RACY_WINDOW_MS) return undefined;
  }
  return { at: Date.now(), def, sig: now.sig, code: [...code] };
}
