import path from 'node:path';
import type { Stats } from 'node:fs';
import picomatch from 'picomatch';
import type { PipelineConfig, StepConfig } from '../batchfile/config.js';
import { globBase, isGlob, specMatcher } from '../fingerprint/files.js';
import { toRel } from '../util/paths.js';
import type { WatchTree } from '../app/file-states/file-states.js';
import { LOGS_DIR, STATE_DIR } from '../util/project-layout.js';

/** Why a changed path matters: it decides what the watch loop does with the event. */
export type ChangeKind = 'batchfile' | 'output' | 'code' | 'input' | 'tests';

export interface Classified {
  kind: ChangeKind;
  /** For outputs: the step that writes the path. */
  step?: string;
}

/** Folders the engine writes or that are never a step's business: events under them never
 * start a run (an imported package's package.json, named exactly, is the one exception). */
const EXCLUDED_TOP = new Set([STATE_DIR, LOGS_DIR, '.git']);

export function isExcluded(rel: string): boolean {
  const first = rel.split('/', 1)[0]!;
  return EXCLUDED_TOP.has(first) || rel === 'node_modules' || rel.startsWith('node_modules/') || rel.includes('/node_modules/') || rel.endsWith('/node_modules');
}

/** Specs indexed for many lookups: a literal spec matches itself and everything under it
 * (the same rule as specMatcher, found by walking the path's ancestors instead of testing every
 * spec, because 1,000 steps have 10,000 literal inputs); globs are tested with specMatcher. */
class SpecIndex<T> {
  private readonly literal = new Map<string, T>();
  private readonly globs: { match: (rel: string) => boolean; value: T }[] = [];

  add(spec: string, value: T): void {
    if (isGlob(spec)) this.globs.push({ match: specMatcher(spec), value });
    else if (!this.literal.has(spec)) this.literal.set(spec, value);
  }

  get(rel: string): T | undefined {
    let p = rel;
    for (;;) {
      const v = this.literal.get(p);
      if (v !== undefined) return v;
      const i = p.lastIndexOf('/');
      if (i < 0) break;
      p = p.slice(0, i);
    }
    const all = this.literal.get('.');
    if (all !== undefined) return all;
    for (const g of this.globs) if (g.match(rel)) return g.value;
    return undefined;
  }
}

/** Which folders under a glob's static base can hold a file the glob matches, checked segment
 * by segment (so `data/*.csv` does not descend into data/'s subfolders). `**`, or a pattern this
 * simple check cannot split (a brace or group holding a "/"), says yes to every folder below. */
class GlobFolders {
  private readonly base: string;
  /** The pattern's segments below the base; the last one names files. */
  private readonly segments: { deep: boolean; match: (part: string) => boolean }[] | 'any';

  constructor(spec: string) {
    this.base = globBase(spec);
    const rest = this.base === '.' ? spec : spec.slice(this.base.length + 1);
    this.segments = /[{(][^})]*\//.test(rest)
      ? 'any'
      : rest.split('/').map((p) => ({ deep: p.includes('**'), match: picomatch(p, { dot: true }) }));
  }

  mayEnter(relDir: string): boolean {
    if (this.base !== '.' && relDir !== this.base && !relDir.startsWith(`${this.base}/`)) return false;
    if (this.segments === 'any') return true;
    const sub = this.base === '.' ? (relDir === '.' ? '' : relDir) : relDir.slice(this.base.length + 1);
    const parts = sub === '' ? [] : sub.split('/');
    for (let i = 0; i < parts.length; i++) {
      const seg = this.segments[i];
      if (seg === undefined) return false;
      if (seg.deep) return true;
      if (i >= this.segments.length - 1 || !seg.match(parts[i]!)) return false;
    }
    return true;
  }
}

export interface WatchSetSpec {
  root: string;
  /** Undefined while the Batchfile cannot be loaded: then only its sources are watched. */
  config: PipelineConfig | undefined;
  /** Steps of the run (the targets and what they need). */
  selected: readonly string[];
  /** Project-relative code files of each selected step. */
  code: ReadonlyMap<string, readonly string[]>;
  /** The Batchfile and its local imports, project-relative. */
  batchfile: readonly string[];
  /** Files and folders the Batchfile read while evaluated: a change reloads it. */
  batchfileReads?: readonly string[];
  /** Whether the run includes the test phase (then its files are watched too). */
  tests: boolean;
  /** Files and globs the run's steps are made from (forEach globs, paramsFrom files): a change
   * counts as an input change, and the next run lists and reads them again. */
  follow?: readonly string[];
  /** The Batchfile does not load: any script in the project may be the import to fix, so every
   * TS/JS file counts as a Batchfile source until it loads again. */
  broken?: boolean;
}

/** What may hold a Batchfile's local import while the Batchfile does not load. */
const SCRIPT_GLOB = '**/*.{ts,mts,cts,tsx,js,mjs,cjs,jsx,json}';

/** Exactly what the engine hashes for a run, as chokidar roots plus a filter: every selected
 * step's inputs (globs through their static folder, so new matching files count), its declared
 * outputs (a hand edit reruns the step; the engine's own writes are told apart later), its code
 * files, the test phase's files, and the Batchfile with its local imports. */
export class WatchSet {
  readonly root: string;
  /** Absolute paths handed to chokidar (with --poll). */
  readonly roots: string[];
  /** The same, project-relative. */
  private readonly rootRels: string[];
  /** Changes when what is watched changes: the watcher is re-created only then. */
  readonly signature: string;
  private readonly exact = new Map<string, Classified>();
  private readonly outputs = new SpecIndex<string>();
  private readonly inputs = new SpecIndex<ChangeKind>();
  private readonly scripts = new SpecIndex<true>();
  private readonly globFolders: GlobFolders[] = [];
  private readonly literalDirs = new SpecIndex<true>();
  private readonly needed = new Set<string>();

  constructor(spec: WatchSetSpec) {
    this.root = spec.root;
    const specs: string[] = [];
    for (const f of spec.batchfile) this.exact.set(f, { kind: 'batchfile' });
    // A declared forEach step (its specs hold placeholders) is watched through its instances.
    const steps = spec.config ? spec.selected.map((n) => spec.config!.steps.get(n)).filter((s): s is StepConfig => s !== undefined && !s.forEach) : [];
    for (const s of steps) {
      for (const o of s.outputs) this.outputs.add(o, s.name);
      for (const i of s.inputs) this.inputs.add(i, 'input');
      specs.push(...s.outputs, ...s.inputs);
      for (const f of spec.code.get(s.name) ?? []) if (!this.exact.has(f)) this.exact.set(f, { kind: 'code' });
    }
    for (const f of spec.batchfileReads ?? []) {
      this.inputs.add(f, 'batchfile');
      specs.push(f);
    }
    for (const f of spec.follow ?? []) {
      this.inputs.add(f, 'input');
      specs.push(f);
    }
    const tests = spec.tests ? spec.config?.tests : undefined;
    if (tests) {
      for (const t of [...tests.files, ...(tests.inputs ?? [])]) this.inputs.add(t, 'tests');
      specs.push(...tests.files, ...(tests.inputs ?? []));
    }
    if (spec.broken) {
      this.scripts.add(SCRIPT_GLOB, true);
      specs.push(SCRIPT_GLOB);
    }
    for (const s of specs) {
      if (isGlob(s)) this.globFolders.push(new GlobFolders(s));
      else this.literalDirs.add(s, true);
    }

    // Roots: a glob's static folder, and the folder of a literal path (file or folder: either
    // way its parent sees it deleted, re-created or created late, and the filter below lets
    // chokidar into a literal folder). The filter keeps chokidar to what matters inside them.
    const rootRels = new Set<string>();
    for (const s of specs) rootRels.add(isGlob(s) ? globBase(s) : parentOf(s));
    for (const f of this.exact.keys()) rootRels.add(parentOf(f));
    for (const r of rootRels) {
      for (let p = r; ; p = parentOf(p)) {
        this.needed.add(p);
        if (p === '.' || p === '..' || p.endsWith('/..')) break;
      }
    }
    // A root inside another root is reached from it (its folders are `needed`), unless it
    // lies in a folder the filter skips (node_modules) or outside the project.
    const sorted = [...rootRels].sort();
    const kept: string[] = [];
    for (const r of sorted) {
      const covered = kept.some((k) => (k === '.' || r.startsWith(`${k}/`)) && !r.startsWith('..') && !isExcluded(r));
      if (!covered) kept.push(r);
    }
    this.rootRels = kept;
    this.roots = kept.map((r) => path.resolve(this.root, r));
    this.signature = JSON.stringify([kept, [...this.exact.entries()].sort(), steps.map((s) => [s.name, s.inputs, s.outputs]), tests ?? null, spec.broken === true, spec.follow ?? [], spec.batchfileReads ?? []]);
  }

  /** What a project-relative path is to the run, or undefined when it does not matter. */
  classify(rel: string): Classified | undefined {
    const exact = this.exact.get(rel);
    if (exact) return exact;
    if (isExcluded(rel) || rel.startsWith('../')) return undefined;
    if (this.scripts.get(rel)) return { kind: 'batchfile' };
    const step = this.outputs.get(rel);
    if (step !== undefined) return { kind: 'output', step };
    const kind = this.inputs.get(rel);
    return kind === undefined ? undefined : { kind };
  }

  /** chokidar's `ignored`: skip folders that cannot hold a watched file, and files that are
   * not watched. Called without stats first; then only the excluded folders are certain. */
  readonly ignored = (abs: string, stats?: Stats): boolean => {
    const rel = toRel(this.root, abs) || '.';
    if (this.exact.has(rel) || this.needed.has(rel)) return false;
    if (!stats) return isExcluded(rel);
    if (stats.isDirectory()) return isExcluded(rel) || !(this.literalDirs.get(rel) || this.globFolders.some((g) => g.mayEnter(rel)));
    return this.classify(rel) === undefined;
  };

  /** The folders to watch whole, for the file-state tracker (what `roots` and `ignored` are to
   * chokidar with --poll): a folder is entered when it may hold a watched file. */
  tree(): WatchTree {
    return {
      roots: this.rootRels,
      enter: (rel) => this.exact.has(rel) || this.needed.has(rel) || (!isExcluded(rel) && (this.literalDirs.get(rel) === true || this.globFolders.some((g) => g.mayEnter(rel)))),
      wants: (rel) => this.classify(rel) !== undefined,
    };
  }

  relOf(abs: string): string {
    return toRel(this.root, abs);
  }
}

function parentOf(rel: string): string {
  const d = path.posix.dirname(rel);
  return d === '' ? '.' : d;
}
