import { picomatch } from '../util/picomatch.js';
import type { PipelineConfig, StepConfig } from '../batchfile/config.js';
import { BatchError } from '../util/errors.js';
import { toRel } from '../util/paths.js';
import { didYouMean } from '../util/suggest.js';
import { globBase, isGlob, specMatcher } from '../fingerprint/files.js';

export interface Graph {
  steps: Map<string, StepConfig>;
  /** step → steps it needs first (explicit and inferred), sorted. */
  deps: Map<string, string[]>;
  /** step → steps that need it. */
  dependents: Map<string, string[]>;
  /** Every step, dependencies before dependents; ties keep declaration order. */
  order: string[];
  /** Why an edge exists: "from->to" → the file or spec that links them, or "dependsOn". */
  edgeReason: Map<string, string>;
}

interface GlobOutput {
  spec: string;
  step: string;
  base: string;
  /** Declaration order: producers list globs in it. */
  order: number;
  match: (p: string) => boolean;
}

/** Producers of a spec, step → the output spec that links them, in a fixed order: literal
 * outputs at or above the spec (deepest first), literal outputs inside it (sorted), then glob
 * outputs (declaration order). Only the first link per step is kept. */
class Found {
  map: Map<string, string> | undefined;
  add(step: string, out: string): void {
    if (!this.map) this.map = new Map();
    if (!this.map.has(step)) this.map.set(step, out);
  }
}

const EMPTY: ReadonlyMap<string, string> = new Map();

/** Compiled glob matchers, shared by every graph of the process (watch mode rebuilds the
 * graph after each change): compiling one costs far more than matching. */
const matchers = new Map<string, (p: string) => boolean>();
function globMatcher(glob: string): (p: string) => boolean {
  let m = matchers.get(glob);
  if (!m) {
    m = picomatch()(glob, { dot: true });
    matchers.set(glob, m);
  }
  return m;
}
const SLASH = 47;

/** Is path `b` equal to path `a` or inside folder `a`? Plain (non-glob) paths; "." holds
 * everything. The same test as specMatcher(a)(b), without building a matcher. */
function within(a: string, b: string): boolean {
  return a === '.' || a === b || (b.length > a.length && b.charCodeAt(a.length) === SLASH && b.startsWith(a));
}

function head(p: string): string {
  const i = p.indexOf('/');
  return i < 0 ? p : p.slice(0, i);
}

/** First index in `sorted` of a string >= `key`. */
function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Every step's outputs, indexed so that "who writes what this input names?" costs a few
 * set and map lookups for most inputs (a source file shares no first folder with any
 * output), and a binary search otherwise; never a scan of all outputs or all globs, so
 * building the graph stays linear at 10,000 steps. */
class OutputIndex {
  private readonly literal = new Map<string, string[]>();
  /** The literal outputs sorted, built on first use (only specs naming an output folder
   * need it). */
  private sortedCache: string[] | undefined;
  /** Folders strictly above some literal output: only these have outputs inside them. */
  private readonly folders = new Set<string>();
  /** First path segment of every literal output and glob base: a spec with another first
   * segment overlaps none of them. */
  private readonly heads = new Set<string>();
  private headList: string[] = [];
  /** Does some literal output sit at or inside another step's literal output? Only then can
   * the duplicate-output check find anything. */
  readonly literalOverlap: boolean;
  private readonly globs: GlobOutput[] = [];
  private readonly globsByBase = new Map<string, GlobOutput[]>();
  private readonly globBases: string[];
  /** Globs that every spec must be checked against: based at the root, or with a base that
   * is itself glob-like (then the prefix tests below do not describe what it overlaps). */
  private readonly rootGlobs: GlobOutput[] = [];
  /** Producers of glob specs (each costs a picomatch compile). */
  private readonly memo = new Map<string, ReadonlyMap<string, string>>();

  constructor(steps: Iterable<StepConfig>) {
    for (const s of steps) {
      for (const o of s.outputs) {
        if (isGlob(o)) {
          const g: GlobOutput = { spec: o, step: s.name, base: globBase(o), order: this.globs.length, match: globMatcher(o) };
          this.globs.push(g);
          if (g.base === '.' || isGlob(g.base)) this.rootGlobs.push(g);
          else {
            const list = this.globsByBase.get(g.base);
            if (list) list.push(g);
            else this.globsByBase.set(g.base, [g]);
            this.heads.add(head(g.base));
          }
          continue;
        }
        const list = this.literal.get(o);
        if (list) list.push(s.name);
        else this.literal.set(o, [s.name]);
        this.heads.add(head(o));
        for (let i = o.lastIndexOf('/'); i > 0; i = o.lastIndexOf('/', i - 1)) {
          const dir = o.slice(0, i);
          if (this.folders.has(dir)) break;
          this.folders.add(dir);
        }
      }
    }
    this.globBases = [...this.globsByBase.keys()].sort();
    this.headList = [...this.heads];
    let overlap = false;
    for (const [o, list] of this.literal) if (list.length > 1 || this.folders.has(o)) overlap = true;
    this.literalOverlap = overlap;
  }

  private get sorted(): string[] {
    return (this.sortedCache ??= [...this.literal.keys()].sort());
  }

  /** Could `p` (a plain path) overlap any output at all? Most inputs are source files in
   * folders no step writes to: a test against the few first segments rules them out. */
  related(p: string): boolean {
    if (p === '.') return true;
    if (this.headList.length > 8) return this.heads.has(head(p));
    for (const h of this.headList) {
      if (p.length === h.length ? p === h : p.charCodeAt(h.length) === SLASH && p.startsWith(h)) return true;
    }
    return false;
  }

  get hasGlobs(): boolean {
    return this.globs.length > 0;
  }

  /** Literal outputs equal to `p` or a folder above it, deepest first. */
  private ancestorsOf(p: string, found: Found): void {
    let cur = p;
    for (;;) {
      const steps = this.literal.get(cur);
      if (steps) for (const st of steps) found.add(st, cur);
      const i = cur.lastIndexOf('/');
      if (i <= 0) break;
      cur = cur.slice(0, i);
    }
  }

  /** Literal outputs strictly inside folder `p` (all of them for the root), sorted. */
  private descendantsOf(p: string, found: Found, keep?: (o: string) => boolean): void {
    if (p !== '.' && !this.folders.has(p)) return;
    const prefix = p === '.' ? '' : `${p}/`;
    for (let i = lowerBound(this.sorted, prefix); i < this.sorted.length && this.sorted[i]!.startsWith(prefix); i++) {
      const o = this.sorted[i]!;
      if (!keep || keep(o)) for (const st of this.literal.get(o)!) found.add(st, o);
    }
  }

  /** Glob outputs whose base is at, above or inside plain path `p` (plus the root globs), in
   * declaration order: the only globs that can overlap `p`. */
  private globsNear(p: string): GlobOutput[] {
    if (this.globs.length === 0) return [];
    if (p === '.') return this.globs;
    const near: GlobOutput[] = [...this.rootGlobs];
    if (this.related(p)) {
      for (let cur = p; ; ) {
        const gs = this.globsByBase.get(cur);
        if (gs) near.push(...gs);
        const i = cur.lastIndexOf('/');
        if (i <= 0) break;
        cur = cur.slice(0, i);
      }
      const prefix = `${p}/`;
      for (let i = lowerBound(this.globBases, prefix); i < this.globBases.length && this.globBases[i]!.startsWith(prefix); i++) {
        near.push(...this.globsByBase.get(this.globBases[i]!)!);
      }
    }
    return near.sort((a, b) => a.order - b.order);
  }

  /** Literal outputs a glob output also claims: files it matches, or a folder holding its
   * static base. (The step owning the glob deletes what it matches before each run.) */
  claimedBy(glob: string): ReadonlyMap<string, string> {
    const found = new Found();
    const base = globBase(glob);
    const m = globMatcher(glob);
    this.ancestorsOf(base, found);
    this.descendantsOf(base, found, (o) => m(o));
    return found.map ?? EMPTY;
  }

  /** Steps whose outputs overlap `spec`: a literal path equal to, inside or containing an
   * output; a glob matching an output or reaching into an output folder. Two globs are
   * linked when one's static folder contains the other's (conservative; dependsOn is exact). */
  producers(spec: string, glob = isGlob(spec)): ReadonlyMap<string, string> {
    if (!glob) return this.literalProducers(spec);
    let found = this.memo.get(spec);
    if (!found) {
      found = this.globProducers(spec);
      this.memo.set(spec, found);
    }
    return found;
  }

  private literalProducers(spec: string): ReadonlyMap<string, string> {
    if (!this.related(spec) && this.rootGlobs.length === 0) return EMPTY;
    const found = new Found();
    if (this.related(spec)) {
      this.ancestorsOf(spec, found);
      this.descendantsOf(spec, found);
    }
    for (const g of this.globsNear(spec)) {
      if (g.match(spec) || within(spec, g.base) || (within(g.base, spec) && reachesInto(g.spec, g.base, spec))) found.add(g.step, g.spec);
    }
    return found.map ?? EMPTY;
  }

  private globProducers(spec: string): ReadonlyMap<string, string> {
    const found = new Found();
    const base = globBase(spec);
    const m = globMatcher(spec);
    const recursive = spec.includes('**');
    if (this.related(base)) {
      this.ancestorsOf(base, found);
      this.descendantsOf(base, found, (o) => recursive || m(o));
    }
    for (const g of this.globsNear(base)) if (specMatcher(base)(g.base) || specMatcher(g.base)(base)) found.add(g.step, g.spec);
    return found.map ?? EMPTY;
  }
}

/** Per-segment matchers of a glob below its base, or undefined when its segments cannot be
 * read one by one (a brace or group holding a "/"): then any path under the base may match. */
const segmentMemo = new Map<string, ((seg: string) => boolean)[] | undefined>();
function globSegments(glob: string, base: string): ((seg: string) => boolean)[] | undefined {
  if (segmentMemo.has(glob)) return segmentMemo.get(glob);
  const rest = base === '.' ? glob : glob.slice(base.length + 1);
  let segs: ((seg: string) => boolean)[] | undefined;
  if (!/[{(][^})]*\//.test(rest)) {
    segs = rest.split('/').map((seg) => (seg.includes('**') ? () => true : picomatch()(seg, { dot: true })));
    // A "**" segment matches any number of segments: from there on, anything may match.
    const deep = rest.split('/').findIndex((seg) => seg.includes('**'));
    if (deep >= 0) segs = [...segs.slice(0, deep), ANY_DEPTH];
  }
  segmentMemo.set(glob, segs);
  return segs;
}
const ANY_DEPTH = (): boolean => true;

/** Can a path inside folder `p` (a plain path at or below the glob's base) match the glob?
 * `build/*.json` reaches into no file below `build/w.csv`; `build/*\/x.csv` reaches into
 * `build/raw`. Per segment, so a glob output links only the inputs it can produce. */
function reachesInto(glob: string, base: string, p: string): boolean {
  const segs = globSegments(glob, base);
  if (!segs) return true;
  const below = base === '.' ? p.split('/') : p === base ? [] : p.slice(base.length + 1).split('/');
  for (let i = 0; i < below.length; i++) {
    const m = segs[i];
    if (!m) return false; // p is deeper than anything the glob matches
    if (m === ANY_DEPTH) return true;
    if (!m(below[i]!)) return false;
  }
  return below.length < segs.length; // only a path strictly inside p can still match
}

/** Could one path be named by both specs? Exact for plain paths (equal, or a folder holding
 * the other); a glob against a plain path matches it or lives under it; two globs clash when
 * one matches the other's pattern text (a close, cheap approximation). */
function specsClash(a: string, b: string, ag: boolean, bg: boolean): boolean {
  if (!ag && !bg) return within(a, b) || within(b, a);
  if (ag && bg) return a === b || globMatcher(a)(b) || globMatcher(b)(a);
  const [glob, plain] = ag ? [a, b] : [b, a];
  return globMatcher(glob)(plain) || specMatcher(plain)(globBase(glob));
}

const indexCache = new WeakMap<Map<string, StepConfig>, OutputIndex>();
function outputIndex(steps: Map<string, StepConfig>): OutputIndex {
  let idx = indexCache.get(steps);
  if (!idx) {
    idx = new OutputIndex(steps.values());
    indexCache.set(steps, idx);
  }
  return idx;
}

const graphMemo = new WeakMap<PipelineConfig, Graph>();

/** A graph without its steps (those are its config's): what app/graph-cache.ts stores. */
export type GraphParts = Omit<Graph, 'steps'>;

/** The graph of `config` as an earlier build of it gave it (app/graph-cache.ts, keyed by the
 * config's id): buildGraph then returns it for this config object. */
export function adoptGraph(config: PipelineConfig, parts: GraphParts): Graph {
  const g: Graph = { steps: config.steps, deps: parts.deps, dependents: parts.dependents, order: parts.order, edgeReason: parts.edgeReason };
  graphMemo.set(config, g);
  return g;
}

/** The graph of a loaded config, built once per config object: watch mode runs the same
 * config many times, and a Graph is never changed after it is built. */
export function buildGraph(config: PipelineConfig): Graph {
  let g = graphMemo.get(config);
  if (!g) {
    g = computeGraph(config);
    graphMemo.set(config, g);
  }
  return g;
}

/** Builds the step graph: edges from `dependsOn` and from outputs read as inputs. Refuses
 * two steps writing one output, and cycles (printed). Linear in the number of specs (plus
 * the edges found), so it costs milliseconds at thousands of steps. */
function computeGraph(config: PipelineConfig): Graph {
  const steps = config.steps;
  // Printed like every other Batchfile error: relative to the project.
  const file = toRel(config.root, config.file);
  const index = outputIndex(steps);
  refuseLiteralOverlap(steps, index, file);
  refuseGlobClashes(steps, index, file);
  const { deps, edgeReason } = collectEdges(steps, index, file);
  const names = [...steps.keys()];
  const order = topoOrder(names, deps, file, (dependent, dep) => linkText(index, edgeReason, dependent, dep));
  return { steps, ...orderedLinks(names, order, deps), order, edgeReason };
}

function bothWrite(file: string, a: string, b: string, aSpec: string, bSpec: string): BatchError {
  return new BatchError(`${file}: steps "${a}" and "${b}" both write "${aSpec === bSpec ? aSpec : `${aSpec}" / "${bSpec}`}"; an output has one producer`, 2);
}

/** Two steps writing the same output (or one inside the other's output folder). The index
 * knows whether any literal outputs overlap at all; only then is each one looked up. */
function refuseLiteralOverlap(steps: PipelineConfig['steps'], index: OutputIndex, file: string): void {
  if (!index.literalOverlap) return;
  for (const s of steps.values()) {
    for (const o of s.outputs) {
      if (isGlob(o)) continue;
      for (const [other, spec] of index.producers(o, false)) {
        if (other === s.name || isGlob(spec)) continue;
        throw bothWrite(file, other, s.name, spec, o);
      }
    }
  }
}

/** A glob output may not claim another step's output either: each step would delete the
 * other's files before it runs, and the two would never settle. Two globs clash when one
 * matches the other's pattern text (e.g. "build/*" and "build/*.txt"), a close, cheap
 * approximation of "some path matches both". */
function refuseGlobClashes(steps: PipelineConfig['steps'], index: OutputIndex, file: string): void {
  if (!index.hasGlobs) return;
  const globs: { step: string; spec: string; match: (p: string) => boolean }[] = [];
  for (const s of steps.values()) for (const o of s.outputs) if (isGlob(o)) globs.push({ step: s.name, spec: o, match: globMatcher(o) });
  for (const [i, g] of globs.entries()) {
    for (const [other, spec] of index.claimedBy(g.spec)) if (other !== g.step) throw bothWrite(file, other, g.step, spec, g.spec);
    for (let j = i + 1; j < globs.length; j++) {
      const h = globs[j]!;
      if (h.step !== g.step && (h.spec === g.spec || g.match(h.spec) || h.match(g.spec))) throw bothWrite(file, g.step, h.step, g.spec, h.spec);
    }
  }
}

/** One pass over every step's inputs: the in-place check, then the edges (with the file, or
 * `dependsOn`, that made each). The edges cannot fail, so the first error is the same as
 * checking every step first. */
function collectEdges(steps: PipelineConfig['steps'], index: OutputIndex, file: string): { deps: Map<string, Set<string>>; edgeReason: Map<string, string> } {
  const deps = new Map<string, Set<string>>();
  const edgeReason = new Map<string, string>();
  const outGlob: boolean[] = [];
  for (const s of steps.values()) {
    const outs = s.outputs;
    outGlob.length = 0;
    for (const o of outs) outGlob.push(isGlob(o));
    let mine: Set<string> | undefined;
    for (const d of s.dependsOn) {
      (mine ??= new Set()).add(d);
      edgeReason.set(`${d}->${s.name}`, 'dependsOn');
    }
    for (const input of s.inputs) {
      const ig = isGlob(input);
      // A step's outputs are removed before it runs (so every run starts clean): one that
      // also reads them would lose its input, so updating a file in place is refused.
      for (let k = 0; k < outs.length; k++) {
        const o = outs[k]!;
        if (!specsClash(input, o, ig, outGlob[k]!)) continue;
        throw new BatchError(
          `${file}: step "${s.name}" reads and writes "${input === o ? input : `${input}" / "${o}`}"; its outputs are removed before it runs, so it cannot update a file in place: write a new file`,
          2,
        );
      }
      if (!ig && !index.hasGlobs && !index.related(input)) continue;
      for (const producer of index.producers(input, ig).keys()) {
        if (producer === s.name) continue;
        (mine ??= new Set()).add(producer);
        const key = `${producer}->${s.name}`;
        if (!edgeReason.has(key)) edgeReason.set(key, input);
      }
    }
    if (mine) deps.set(s.name, mine);
  }
  return { deps, edgeReason };
}

/** Each step's deps in run order, and its dependents. Most steps of a big pipeline have no
 * edges: they share one frozen empty list. */
function orderedLinks(names: string[], order: string[], deps: Map<string, Set<string>>): Pick<Graph, 'deps' | 'dependents'> {
  const dependents = new Map<string, string[]>();
  const depsSorted = new Map<string, string[]>();
  for (const n of names) dependents.set(n, NONE);
  let position: Map<string, number> | undefined;
  for (const n of order) {
    const d = deps.get(n);
    if (!d) {
      depsSorted.set(n, NONE);
      continue;
    }
    position ??= new Map(order.map((m, i) => [m, i]));
    const ds = [...d].sort((a, b) => position!.get(a)! - position!.get(b)!);
    depsSorted.set(n, ds);
    for (const x of ds) {
      let list = dependents.get(x)!;
      if (list === NONE) dependents.set(x, (list = []));
      list.push(n);
    }
  }
  return { deps: depsSorted, dependents };
}

const NO_DEPS: ReadonlySet<string> = new Set();
/** The deps or dependents of a step that has none (read-only: callers never change them). */
const NONE = Object.freeze([]) as unknown as string[];

/** Dependencies before dependents, ties in declaration order: a depth-first post-order
 * from each step in turn, iterative so a chain of 10,000 steps does not overflow the stack.
 * A step met again while on the current path closes a cycle, which is printed. */
function topoOrder(names: string[], deps: Map<string, ReadonlySet<string>>, file: string, link: (dependent: string, dep: string) => string): string[] {
  const state = new Map<string, 1 | 2>();
  const order: string[] = [];
  const path: string[] = [];
  const pending: Iterator<string>[] = [];
  for (const start of names) {
    if (state.has(start)) continue;
    const first = deps.get(start);
    if (!first) {
      state.set(start, 2);
      order.push(start);
      continue;
    }
    state.set(start, 1);
    path.push(start);
    pending.push(first.values());
    while (path.length > 0) {
      const next = pending[pending.length - 1]!.next();
      if (next.done) {
        const n = path.pop()!;
        pending.pop();
        state.set(n, 2);
        order.push(n);
        continue;
      }
      const d = next.value;
      const st = state.get(d);
      if (st === 2) continue;
      if (st === 1) {
        throw cycleError(file, [...path.slice(path.indexOf(d)), d], link);
      }
      state.set(d, 1);
      path.push(d);
      pending.push((deps.get(d) ?? NO_DEPS).values());
    }
  }
  return order;
}

/** What links `dependent` to `dep`: the file it reads that `dep` writes (and the output spec
 * that names it, when that differs), or its dependsOn. */
function linkText(index: OutputIndex, edgeReason: Map<string, string>, dependent: string, dep: string): string {
  const input = edgeReason.get(`${dep}->${dependent}`);
  if (input === undefined || input === 'dependsOn') return `"${dependent}" lists "${dep}" in dependsOn`;
  const out = index.producers(input).get(dep);
  return `"${dependent}" reads "${input}", which "${dep}" writes${out !== undefined && out !== input ? ` ("${out}")` : ''}`;
}

/** The cycle (first step repeated at the end) and, one line each, the file linking each pair;
 * a long cycle lists its first links only. */
function cycleError(file: string, cycle: string[], link: (dependent: string, dep: string) => string): BatchError {
  const SHOWN = 12;
  const links: string[] = [];
  for (let i = 0; i + 1 < cycle.length && i < SHOWN; i++) links.push(`  ${link(cycle[i]!, cycle[i + 1]!)}`);
  if (cycle.length - 1 > SHOWN) links.push(`  … and ${cycle.length - 1 - SHOWN} more links`);
  return new BatchError(`${file}: the steps form a cycle: ${cycle.join(' -> ')}\n${links.join('\n')}`, 2);
}

/** Does some step other than `self` write what `spec` names? */
export function hasProducer(graph: Graph, spec: string, self: string): boolean {
  const index = outputIndex(graph.steps);
  const glob = isGlob(spec);
  if (!glob && !index.hasGlobs && !index.related(spec)) return false;
  for (const step of index.producers(spec, glob).keys()) if (step !== self) return true;
  return false;
}

/** The named steps and everything they need, in graph order. No names: every step. */
export function selectSteps(graph: Graph, targets: readonly string[]): string[] {
  if (targets.length === 0) return graph.order;
  const wanted = new Set<string>();
  const todo: string[] = [];
  for (const t of targets) {
    if (!graph.steps.has(t)) {
      throw new BatchError(`Unknown step "${t}"${didYouMean(t, graph.steps.keys())}. Steps: ${[...graph.steps.keys()].join(', ')}`, 2);
    }
    todo.push(t);
    // Iterative: a long chain of dependencies must not overflow the stack.
    while (todo.length > 0) {
      const n = todo.pop()!;
      if (wanted.has(n)) continue;
      wanted.add(n);
      for (const d of graph.deps.get(n) ?? []) if (!wanted.has(d)) todo.push(d);
    }
  }
  return graph.order.filter((n) => wanted.has(n));
}

/** Steps downstream of any of `names` (not including them). */
export function downstreamOf(graph: Graph, names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const todo = [...names];
  while (todo.length > 0) {
    for (const d of graph.dependents.get(todo.pop()!) ?? []) {
      if (!out.has(d)) {
        out.add(d);
        todo.push(d);
      }
    }
  }
  return out;
}
