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

/** Does an input spec read something an output spec writes? Globs against literal paths
 * are matched exactly; two globs are linked when one's static folder contains the other's
 * and a file under it could match both (a conservative check; use dependsOn to be explicit). */
function overlaps(input: string, output: string): boolean {
  const ig = isGlob(input);
  const og = isGlob(output);
  if (!ig && !og) return specMatcher(output)(input) || specMatcher(input)(output);
  if (ig && !og) {
    // The output is a file (matched by the glob) or a folder the glob reaches into.
    const base = globBase(input);
    return picomatch(input, { dot: true })(output) || specMatcher(output)(base) || (specMatcher(base)(output) && input.includes('**'));
  }
  if (!ig && og) return picomatch(output, { dot: true })(input) || specMatcher(input)(globBase(output));
  const a = globBase(input);
  const b = globBase(output);
  return specMatcher(a)(b) || specMatcher(b)(a);
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
  const outs: { step: string; spec: string }[] = [];
  for (const s of steps.values()) for (const o of s.outputs) outs.push({ step: s.name, spec: o });
  for (let i = 0; i < outs.length; i++) {
    for (let j = i + 1; j < outs.length; j++) {
      const a = outs[i]!;
      const b = outs[j]!;
      if (a.step === b.step) continue;
      if (!isGlob(a.spec) && !isGlob(b.spec) && (specMatcher(a.spec)(b.spec) || specMatcher(b.spec)(a.spec))) {
        throw new BatchError(`${file}: steps "${a.step}" and "${b.step}" both write "${a.spec === b.spec ? a.spec : `${a.spec}" / "${b.spec}`}"; an output has one producer`, 2);
      }
    }
  }

  for (const s of steps.values()) {
    for (const d of s.dependsOn) {
      deps.get(s.name)!.add(d);
      edgeReason.set(`${d}->${s.name}`, 'dependsOn');
    }
    for (const input of s.inputs) {
      for (const o of outs) {
        if (o.step === s.name) continue;
        if (overlaps(input, o.spec)) {
          deps.get(s.name)!.add(o.step);
          if (!edgeReason.has(`${o.step}->${s.name}`)) edgeReason.set(`${o.step}->${s.name}`, input);
        }
      }
    }
  }

  const order = topoOrder(names, deps, file);
  const dependents = new Map<string, string[]>(names.map((n) => [n, []]));
  const depsSorted = new Map<string, string[]>();
  for (const n of order) {
    const ds = [...deps.get(n)!].sort((a, b) => order.indexOf(a) - order.indexOf(b));
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
  for (const s of graph.steps.values()) {
    if (s.name !== self && s.outputs.some((o) => overlaps(spec, o))) return true;
  }
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
