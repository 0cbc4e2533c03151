import picomatch from 'picomatch';
import type { PipelineConfig, StepConfig } from '../batchfile/config.js';
import { BatchError } from '../util/errors.js';
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

/** Every step's outputs, indexed so that "who writes what this input names?" costs a few
 * map lookups and a binary search instead of a scan of all outputs (graphs of 10,000 steps). */
class OutputIndex {
  private readonly literal = new Map<string, string[]>();
  private readonly sorted: string[];
  private readonly globs: { spec: string; step: string; base: string; match: (p: string) => boolean }[] = [];

  constructor(steps: Iterable<StepConfig>) {
    for (const s of steps) {
      for (const o of s.outputs) {
        if (isGlob(o)) this.globs.push({ spec: o, step: s.name, base: globBase(o), match: picomatch(o, { dot: true }) });
        else {
          const list = this.literal.get(o);
          if (list) list.push(s.name);
          else this.literal.set(o, [s.name]);
        }
      }
    }
    this.sorted = [...this.literal.keys()].sort();
  }

  /** Literal outputs equal to `p` or a folder above it. */
  private ancestorsOf(p: string, add: (step: string, spec: string) => void): void {
    let cur = p;
    for (;;) {
      for (const st of this.literal.get(cur) ?? []) add(st, cur);
      const i = cur.lastIndexOf('/');
      if (i <= 0) break;
      cur = cur.slice(0, i);
    }
  }

  /** Literal outputs a glob output also claims: files it matches, or a folder holding its
   * static base. (The step owning the glob deletes what it matches before each run.) */
  claimedBy(glob: string): Map<string, string> {
    const found = new Map<string, string>();
    const add = (step: string, out: string): void => {
      if (!found.has(step)) found.set(step, out);
    };
    const m = picomatch(glob, { dot: true });
    this.ancestorsOf(globBase(glob), add);
    this.descendantsOf(globBase(glob), add, (o) => m(o));
    return found;
  }

  /** Literal outputs strictly inside folder `p` (all of them for the root). */
  private descendantsOf(p: string, add: (step: string, spec: string) => void, keep: (o: string) => boolean = () => true): void {
    const prefix = p === '.' ? '' : `${p}/`;
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.sorted.length && this.sorted[i]!.startsWith(prefix); i++) {
      const o = this.sorted[i]!;
      if (keep(o)) for (const st of this.literal.get(o) ?? []) add(st, o);
    }
  }

  /** Steps whose outputs overlap `spec`: a literal path equal to, inside or containing an
   * output; a glob matching an output or reaching into an output folder. Two globs are
   * linked when one's static folder contains the other's (conservative; dependsOn is exact). */
  private readonly memo = new Map<string, Map<string, string>>();

  producers(spec: string): Map<string, string> {
    let found = this.memo.get(spec);
    if (!found) {
      found = this.compute(spec);
      this.memo.set(spec, found);
    }
    return found;
  }

  private compute(spec: string): Map<string, string> {
    const found = new Map<string, string>();
    const add = (step: string, out: string): void => {
      if (!found.has(step)) found.set(step, out);
    };
    if (!isGlob(spec)) {
      this.ancestorsOf(spec, add);
      this.descendantsOf(spec, add);
      for (const g of this.globs) {
        if (g.match(spec) || specMatcher(spec)(g.base) || specMatcher(g.base)(spec)) add(g.step, g.spec);
      }
      return found;
    }
    const base = globBase(spec);
    const m = picomatch(spec, { dot: true });
    const recursive = spec.includes('**');
    this.ancestorsOf(base, add);
    this.descendantsOf(base, add, (o) => recursive || m(o));
    for (const g of this.globs) if (specMatcher(base)(g.base) || specMatcher(g.base)(base)) add(g.step, g.spec);
    return found;
  }
}

/** Could one path be named by both specs? Exact for plain paths (equal, or a folder holding
 * the other); a glob against a plain path matches it or lives under it; two globs clash when
 * one matches the other's pattern text (a close, cheap approximation). */
function specsClash(a: string, b: string): boolean {
  const ag = isGlob(a);
  const bg = isGlob(b);
  if (!ag && !bg) return specMatcher(a)(b) || specMatcher(b)(a);
  if (ag && bg) return a === b || picomatch(a, { dot: true })(b) || picomatch(b, { dot: true })(a);
  const [glob, plain] = ag ? [a, b] : [b, a];
  return picomatch(glob, { dot: true })(plain) || specMatcher(plain)(globBase(glob));
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

/** Builds the step graph: edges from `dependsOn` and from outputs read as inputs. Refuses
 * two steps writing one output, and cycles (printed). */
export function buildGraph(config: PipelineConfig): Graph {
  const steps = config.steps;
  const names = [...steps.keys()];
  const deps = new Map<string, Set<string>>(names.map((n) => [n, new Set<string>()]));
  const edgeReason = new Map<string, string>();
  const file = config.file;

  // Two steps writing the same output (or one inside the other's output folder).
  const index = outputIndex(steps);
  for (const s of steps.values()) {
    for (const o of s.outputs) {
      if (isGlob(o)) continue;
      for (const [other, spec] of index.producers(o)) {
        if (other === s.name || isGlob(spec)) continue;
        throw new BatchError(`${file}: steps "${other}" and "${s.name}" both write "${spec === o ? o : `${spec}" / "${o}`}"; an output has one producer`, 2);
      }
    }
  }

  // A glob output may not claim another step's output either: each step would delete the
  // other's files before it runs, and the two would never settle. Two globs clash when one
  // matches the other's pattern text (e.g. "build/*" and "build/*.txt"), a close, cheap
  // approximation of "some path matches both".
  const globs = [...steps.values()].flatMap((s) => s.outputs.filter((o) => isGlob(o)).map((spec) => ({ step: s.name, spec })));
  const clash = (a: string, b: string, aSpec: string, bSpec: string): BatchError =>
    new BatchError(`${file}: steps "${a}" and "${b}" both write "${aSpec === bSpec ? aSpec : `${aSpec}" / "${bSpec}`}"; an output has one producer`, 2);
  for (const [i, g] of globs.entries()) {
    for (const [other, spec] of index.claimedBy(g.spec)) if (other !== g.step) throw clash(other, g.step, spec, g.spec);
    for (const h of globs.slice(i + 1)) {
      if (h.step !== g.step && (h.spec === g.spec || picomatch(g.spec, { dot: true })(h.spec) || picomatch(h.spec, { dot: true })(g.spec))) {
        throw clash(g.step, h.step, g.spec, h.spec);
      }
    }
  }

  // A step's outputs are removed before it runs (so every run starts clean): one that also
  // reads them would lose its input, so updating a file in place is refused.
  for (const s of steps.values()) {
    for (const i of s.inputs) {
      const o = s.outputs.find((out) => specsClash(i, out));
      if (o !== undefined) {
        throw new BatchError(
          `${file}: step "${s.name}" reads and writes "${i === o ? i : `${i}" / "${o}`}"; its outputs are removed before it runs, so it cannot update a file in place: write a new file`,
          2,
        );
      }
    }
  }

  for (const s of steps.values()) {
    for (const d of s.dependsOn) {
      deps.get(s.name)!.add(d);
      edgeReason.set(`${d}->${s.name}`, 'dependsOn');
    }
    for (const input of s.inputs) {
      for (const producer of index.producers(input).keys()) {
        if (producer === s.name) continue;
        deps.get(s.name)!.add(producer);
        if (!edgeReason.has(`${producer}->${s.name}`)) edgeReason.set(`${producer}->${s.name}`, input);
      }
    }
  }

  const order = topoOrder(names, deps, file);
  const position = new Map(order.map((n, i) => [n, i]));
  const dependents = new Map<string, string[]>(names.map((n) => [n, []]));
  const depsSorted = new Map<string, string[]>();
  for (const n of order) {
    const ds = [...deps.get(n)!].sort((a, b) => position.get(a)! - position.get(b)!);
    depsSorted.set(n, ds);
    for (const d of ds) dependents.get(d)!.push(n);
  }
  return { steps, deps: depsSorted, dependents, order, edgeReason };
}

function topoOrder(names: string[], deps: Map<string, Set<string>>, file: string): string[] {
  const state = new Map<string, 0 | 1 | 2>();
  const order: string[] = [];
  const stack: string[] = [];
  const visit = (n: string): void => {
    const st = state.get(n) ?? 0;
    if (st === 2) return;
    if (st === 1) {
      const cycle = [...stack.slice(stack.indexOf(n)), n];
      throw new BatchError(`${file}: the steps form a cycle: ${cycle.join(' -> ')}`, 2);
    }
    state.set(n, 1);
    stack.push(n);
    for (const d of deps.get(n) ?? []) visit(d);
    stack.pop();
    state.set(n, 2);
    order.push(n);
  };
  for (const n of names) visit(n);
  return order;
}

/** Does some step other than `self` write what `spec` names? */
export function hasProducer(graph: Graph, spec: string, self: string): boolean {
  for (const step of outputIndex(graph.steps).producers(spec).keys()) if (step !== self) return true;
  return false;
}

/** The named steps and everything they need, in graph order. No names: every step. */
export function selectSteps(graph: Graph, targets: readonly string[]): string[] {
  if (targets.length === 0) return graph.order;
  const wanted = new Set<string>();
  const add = (n: string): void => {
    if (wanted.has(n)) return;
    wanted.add(n);
    for (const d of graph.deps.get(n) ?? []) add(d);
  };
  for (const t of targets) {
    if (!graph.steps.has(t)) {
      throw new BatchError(`Unknown step "${t}"${didYouMean(t, graph.steps.keys())}. Steps: ${[...graph.steps.keys()].join(', ')}`, 2);
    }
    add(t);
  }
  return graph.order.filter((n) => wanted.has(n));
}

/** Steps downstream of any of `names` (not including them). */
export function downstreamOf(graph: Graph, names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const visit = (n: string): void => {
    for (const d of graph.dependents.get(n) ?? []) {
      if (!out.has(d)) {
        out.add(d);
        visit(d);
      }
    }
  };
  for (const n of names) visit(n);
  return out;
}
