import fs from 'node:fs';
import path from 'node:path';
import type { PipelineConfig } from '../batchfile/config.js';
import { isGlob, resolveSpecs } from '../fingerprint/files.js';
import { StatCache } from '../fingerprint/stat-cache.js';

const MISSING = 'missing';

function signatureOf(abs: string): string {
  try {
    const st = fs.statSync(abs);
    return `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;
  } catch {
    return MISSING;
  }
}

/** Tells the engine's own writes to declared outputs from hand edits. Events on outputs that
 * arrive during a run are the engine's (ignored by the loop); after the run, the outputs of
 * every step that ran are stat'ed once, and an event that arrives later (file events trail the
 * writes by up to ~100 ms) is the engine's when the file still looks exactly like that.
 * Anything else (an edit, a delete, a file added to an output folder) is a hand edit, and the
 * engine reruns a step whose outputs are not what it last wrote. */
export class OutputGuard {
  /** step → (output file → stat signature after the step last ran in this session). */
  private readonly seen = new Map<string, Map<string, string>>();
  /** output file → the step whose snapshot holds it. */
  private readonly writer = new Map<string, string>();

  constructor(private readonly root: string) {}

  /** Records the outputs of the steps that just ran (or were restored). */
  snapshot(config: PipelineConfig, steps: Iterable<string>): void {
    // No store behind it: only the listing of glob and folder outputs is wanted here.
    const stats = new StatCache(this.root, undefined);
    for (const name of steps) {
      const step = config.steps.get(name);
      if (!step) continue;
      const files = new Map<string, string>();
      for (const rel of listOutputs(this.root, step.outputs, stats)) {
        files.set(rel, signatureOf(path.resolve(this.root, rel)));
        this.writer.set(rel, name);
      }
      this.seen.set(name, files);
    }
  }

  /** True when `rel` (an output of `step`) is as the engine left it. */
  isEngineWrite(step: string, rel: string): boolean {
    const files = this.seen.get(step);
    if (!files) return false;
    return (files.get(rel) ?? MISSING) === signatureOf(path.resolve(this.root, rel));
  }

  /** True when `rel` is, as it is now, what some step wrote in the last run that ran it. The
   * watch set of a cycle is the one before its run: a step the run added (a new forEach
   * match) is not among its outputs, and that step's output may be another step's input
   * (`merge` reading `build/tidy/*.csv`), so its event arrives as an input change. */
  wroteLast(rel: string): boolean {
    const step = this.writer.get(rel);
    return step !== undefined && this.isEngineWrite(step, rel);
  }

  /** Forgets steps the Batchfile no longer has. */
  retain(config: PipelineConfig): void {
    for (const name of this.seen.keys()) if (!config.steps.has(name)) this.seen.delete(name);
    for (const [rel, name] of this.writer) if (!this.seen.has(name)) this.writer.delete(rel);
  }
}

/** Output files as the engine lists them. Literal outputs are taken as named (the stat above
 * tells whether they exist) so no file is hashed just to be listed. */
function listOutputs(root: string, specs: readonly string[], stats: StatCache): string[] {
  const out: string[] = [];
  const folders: string[] = [];
  for (const spec of specs) {
    let isDir = false;
    try {
      isDir = fs.statSync(path.resolve(root, spec)).isDirectory();
    } catch {
      isDir = false;
    }
    if (isDir || isGlob(spec)) folders.push(spec);
    else out.push(spec);
  }
  if (folders.length > 0) {
    // resolveSpecs lists globs and folders; it hashes only literal files, and none is passed.
    out.push(...resolveSpecs(root, folders, stats).files);
  }
  return out;
}
