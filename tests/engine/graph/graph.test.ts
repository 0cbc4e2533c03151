// The step graph built from an output index (a few lookups per input) against a brute-force
// reference that compares every input with every output, on random small pipelines whose
// edges come from files, folders and globs: the same edges, order, edge reasons and the same
// first error (duplicate outputs, glob overlaps, in-place updates, cycles). Plus graphs too
// deep for a recursive walk.
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import type { PipelineConfig, StepConfig } from '../../../src/batchfile/config.js';
import { globBase, isGlob, specMatcher } from '../../../src/fingerprint/files.js';
import { buildGraph, downstreamOf, hasProducer, selectSteps } from '../../../src/graph/graph.js';

const FILE_ABS = '/p/Batchfile.ts';
/** Errors name the Batchfile relative to the project, like every path batch prints. */
const FILE = 'Batchfile.ts';

function step(name: string, inputs: string[], outputs: string[], dependsOn: string[] = []): StepConfig {
  return { name, kind: 'command', spec: { command: 'true' }, inputs, outputs, dependsOn, params: {}, env: [], retries: 0, cache: true };
}

function pipeline(steps: StepConfig[]): PipelineConfig {
  return { root: '/p', file: FILE_ABS, steps: new Map(steps.map((s) => [s.name, s])), cache: { enabled: true, maxBytes: 0 } };
}

// ---------------------------------------------------------------- the reference
const under = (dir: string, p: string): boolean => dir === '.' || p.startsWith(`${dir}/`);
const atOrAbove = (o: string, p: string): boolean => o === p || under(o, p);
const compiled = new Map<string, (p: string) => boolean>();
const m = (glob: string): ((p: string) => boolean) => {
  let f = compiled.get(glob);
  if (!f) compiled.set(glob, (f = picomatch(glob, { dot: true })));
  return f;
};

/** Every (step, output spec) linked to `spec`, in the documented order: literal outputs at or
 * above it (deepest first), literal outputs inside it (sorted), glob outputs (declared order). */
function refProducers(steps: StepConfig[], spec: string): [string, string][] {
  const lits = steps.flatMap((s) => s.outputs.filter((o) => !isGlob(o)).map((o) => [s.name, o] as [string, string]));
  const globs = steps.flatMap((s) => s.outputs.filter((o) => isGlob(o)).map((o) => [s.name, o] as [string, string]));
  const glob = isGlob(spec);
  const base = glob ? globBase(spec) : spec;
  const depth = (p: string): number => p.split('/').length;
  const above = lits.filter(([, o]) => (base === '.' ? o === '.' : atOrAbove(o, base))).sort((a, b) => depth(b[1]) - depth(a[1]));
  const inside = lits
    .filter(([, o]) => o !== base && under(base, o) && (!glob || spec.includes('**') || m(spec)(o)))
    .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const gl = globs.filter(([, g]) => {
    const gb = globBase(g);
    return glob ? specMatcher(base)(gb) || specMatcher(gb)(base) : m(g)(spec) || specMatcher(spec)(gb) || (specMatcher(gb)(spec) && somethingInside(g, spec));
  });
  return [...above, ...inside, ...gl];
}

/** Brute force: does some path up to three names below folder `dir` match `glob`? The names
 * are the random pipelines' own (any match there is a match of the pattern's shape). */
const NAMES = ['a', 'b', 'c', 'a.txt', 'b.txt', 'a-1', 'x.txt', 'zz'];
const insideMemo = new Map<string, boolean>();
function somethingInside(glob: string, dir: string): boolean {
  const key = `${glob}\0${dir}`;
  let r = insideMemo.get(key);
  if (r === undefined) insideMemo.set(key, (r = searchInside(glob, dir)));
  return r;
}
function searchInside(glob: string, dir: string): boolean {
  const match = m(glob);
  let level = [dir];
  for (let depth = 0; depth < 3; depth++) {
    level = level.flatMap((d) => NAMES.map((n) => `${d}/${n}`));
    if (level.some((p) => match(p))) return true;
  }
  return false;
}

function clashes(a: string, b: string): boolean {
  const ag = isGlob(a);
  const bg = isGlob(b);
  if (!ag && !bg) return atOrAbove(a, b) || atOrAbove(b, a);
  if (ag && bg) return a === b || m(a)(b) || m(b)(a);
  const [g, p] = ag ? [a, b] : [b, a];
  return m(g)(p) || specMatcher(p)(globBase(g));
}

function reference(steps: StepConfig[]): { order: string[]; deps: Record<string, string[]>; dependents: Record<string, string[]>; reasons: Record<string, string> } {
  const both = (a: string, b: string, as: string, bs: string): Error => new Error(`${FILE}: steps "${a}" and "${b}" both write "${as === bs ? as : `${as}" / "${bs}`}"; an output has one producer`);
  for (const s of steps) {
    for (const o of s.outputs) {
      if (isGlob(o)) continue;
      const hit = refProducers(steps, o).find(([other, spec]) => other !== s.name && !isGlob(spec));
      if (hit) throw both(hit[0], s.name, hit[1], o);
    }
  }
  const globs = steps.flatMap((s) => s.outputs.filter((o) => isGlob(o)).map((spec) => ({ step: s.name, spec })));
  const lits = steps.flatMap((s) => s.outputs.filter((o) => !isGlob(o)).map((o) => [s.name, o] as [string, string]));
  globs.forEach((g, i) => {
    const base = globBase(g.spec);
    const depth = (p: string): number => p.split('/').length;
    const claimed = [
      ...lits.filter(([, o]) => (base === '.' ? o === '.' : atOrAbove(o, base))).sort((a, b) => depth(b[1]) - depth(a[1])),
      ...lits.filter(([, o]) => o !== base && under(base, o) && m(g.spec)(o)).sort((a, b) => (a[1] < b[1] ? -1 : 1)),
    ];
    const hit = claimed.find(([other]) => other !== g.step);
    if (hit) throw both(hit[0], g.step, hit[1], g.spec);
    for (const h of globs.slice(i + 1)) if (h.step !== g.step && clashes(g.spec, h.spec)) throw both(g.step, h.step, g.spec, h.spec);
  });
  for (const s of steps) {
    for (const i of s.inputs) {
      const o = s.outputs.find((out) => clashes(i, out));
      if (o !== undefined) throw new Error(`${FILE}: step "${s.name}" reads and writes "${i === o ? i : `${i}" / "${o}`}"; its outputs are removed before it runs, so it cannot update a file in place: write a new file`);
    }
  }
  const deps = new Map<string, Set<string>>(steps.map((s) => [s.name, new Set()]));
  const reasons: Record<string, string> = {};
  for (const s of steps) {
    for (const d of s.dependsOn) {
      deps.get(s.name)!.add(d);
      reasons[`${d}->${s.name}`] = 'dependsOn';
    }
    for (const i of s.inputs) {
      for (const [p] of refProducers(steps, i)) {
        if (p === s.name) continue;
        deps.get(s.name)!.add(p);
        reasons[`${p}->${s.name}`] ??= i;
      }
    }
  }
  const order: string[] = [];
  const state = new Map<string, number>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    if (state.get(n) === 2) return;
    if (state.get(n) === 1) throw new Error(`${FILE}: the steps form a cycle: ${[...stack.slice(stack.indexOf(n)), n].join(' -> ')}`);
    state.set(n, 1);
    stack.push(n);
    for (const d of deps.get(n)!) visit(d);
    stack.pop();
    state.set(n, 2);
    order.push(n);
  };
  for (const s of steps) visit(s.name);
  const pos = new Map(order.map((n, i) => [n, i]));
  const sorted: Record<string, string[]> = {};
  const dependents: Record<string, string[]> = Object.fromEntries(steps.map((s) => [s.name, []]));
  for (const n of order) {
    sorted[n] = [...deps.get(n)!].sort((a, b) => pos.get(a)! - pos.get(b)!);
    for (const d of sorted[n]) dependents[d]!.push(n);
  }
  return { order, deps: sorted, dependents, reasons };
}

// ---------------------------------------------------------------- random pipelines
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const SEGMENTS = ['a', 'b', 'c', 'a.txt', 'b.txt', 'a-1'];
const GLOBS = ['*', '*.txt', '**', '**/*.txt', 'a*', '{a,b}'];

function randomPipeline(seed: number): StepConfig[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const path = (): string => {
    const n = 1 + Math.floor(r() * 3);
    const parts = Array.from({ length: n }, () => pick(SEGMENTS));
    if (r() < 0.15) parts[parts.length - 1] = pick(GLOBS);
    return parts.join('/');
  };
  const n = 2 + Math.floor(r() * 6);
  const steps: StepConfig[] = [];
  for (let i = 0; i < n; i++) {
    const outputs = Array.from({ length: Math.floor(r() * 3) }, () => `o/${path()}`);
    // Inputs: mostly source files, sometimes an output area (folder, file or glob under o/).
    const inputs = Array.from({ length: Math.floor(r() * 4) }, () => (r() < 0.5 ? `src/${path()}` : `o/${path()}`));
    if (r() < 0.05) inputs.push(pick(['o', '.', '**/*.txt']));
    // Often an earlier step's output exactly, its folder, or a file inside it.
    const earlier = steps.flatMap((s) => s.outputs);
    if (earlier.length > 0 && r() < 0.6) {
      const o = pick(earlier);
      const k = r();
      inputs.push(k < 0.5 || isGlob(o) ? o : k < 0.75 ? o.slice(0, Math.max(1, o.lastIndexOf('/'))) : `${o}/part.txt`);
    }
    const dependsOn = i > 0 && r() < 0.2 ? [`s${Math.floor(r() * n)}`] : [];
    steps.push(step(`s${i}`, [...new Set(inputs)], [...new Set(outputs)], dependsOn.filter((d) => d !== `s${i}`)));
  }
  return steps;
}

function actual(steps: StepConfig[]): ReturnType<typeof reference> {
  const g = buildGraph(pipeline(steps));
  return { order: g.order, deps: Object.fromEntries(g.deps), dependents: Object.fromEntries(g.dependents), reasons: Object.fromEntries(g.edgeReason) };
}

const outcome = <T>(f: () => T): { ok: T } | { error: string } => {
  try {
    return { ok: f() };
  } catch (e) {
    // The first line: the cycle's links, one line each, are checked on their own below.
    return { error: (e as Error).message.split('\n')[0]! };
  }
};

describe('buildGraph', () => {
  it('matches the brute-force reference on 3,000 random pipelines (edges, order, reasons, first error)', () => {
    let built = 0;
    let failed = 0;
    let edges = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const steps = randomPipeline(seed);
      const want = outcome(() => reference(steps));
      const got = outcome(() => actual(steps));
      expect(got, `seed ${seed}: ${JSON.stringify(steps.map((s) => [s.name, s.inputs, s.outputs, s.dependsOn]))}`).toEqual(want);
      if ('ok' in want) {
        built++;
        edges += Object.keys(want.ok.reasons).length;
        // hasProducer agrees with the reference for every input and a few other specs.
        const g = buildGraph(pipeline(steps));
        for (const s of steps) {
          for (const spec of [...s.inputs, 'o', 'o/a', 'src/a', 'o/**', '.']) {
            expect(hasProducer(g, spec, s.name), `seed ${seed} ${s.name} ${spec}`).toBe(refProducers(steps, spec).some(([p]) => p !== s.name));
          }
        }
      } else failed++;
    }
    console.log(`random graphs: ${built} built (${edges} edges), ${failed} refused`);
    // Both outcomes are well represented, and many graphs have edges.
    expect(built).toBeGreaterThan(1000);
    expect(failed).toBeGreaterThan(300);
    expect(edges).toBeGreaterThan(800);
  });

  it('links folders, files inside output folders, globs and dependsOn', () => {
    const g = buildGraph(pipeline([
      step('gen', ['src/x.txt'], ['build/gen']),
      step('one', ['build/gen/part.txt'], ['build/one.txt']),
      step('all', ['build'], ['report/all.txt']),
      step('parts', ['src/y.txt'], ['parts/*.csv']),
      step('merge', ['parts/a.csv'], ['merged.csv']),
      step('globber', ['parts/**'], ['g.txt'], ['merge']),
    ]));
    expect(g.order).toEqual(['gen', 'one', 'all', 'parts', 'merge', 'globber']);
    expect(g.deps.get('one')).toEqual(['gen']);
    expect(g.deps.get('all')).toEqual(['gen', 'one']);
    expect(g.deps.get('merge')).toEqual(['parts']);
    expect(g.deps.get('globber')).toEqual(['parts', 'merge']);
    expect(g.edgeReason.get('gen->one')).toBe('build/gen/part.txt');
    expect(g.edgeReason.get('merge->globber')).toBe('dependsOn');
    expect(g.dependents.get('gen')).toEqual(['one', 'all']);
    expect(g.dependents.get('globber')).toEqual([]);
    expect(downstreamOf(g, ['gen'])).toEqual(new Set(['one', 'all']));
    expect(selectSteps(g, ['globber'])).toEqual(['parts', 'merge', 'globber']);
  });

  it('builds the graph of a config once (watch mode reruns one config), and selecting never changes it', () => {
    const cfg = pipeline([step('a', ['src/x.txt'], ['a.txt']), step('b', ['a.txt'], ['b.txt']), step('c', ['src/y.txt'], ['c.txt'])]);
    const g = buildGraph(cfg);
    const before = JSON.stringify([g.order, [...g.deps], [...g.dependents], [...g.edgeReason]]);
    expect(selectSteps(g, ['b'])).toEqual(['a', 'b']);
    expect(downstreamOf(g, ['a'])).toEqual(new Set(['b']));
    expect(buildGraph(cfg)).toBe(g);
    expect(JSON.stringify([g.order, [...g.deps], [...g.dependents], [...g.edgeReason]])).toBe(before);
    // Another config (a reloaded Batchfile) gets its own graph.
    const other = pipeline([step('a', ['src/x.txt'], ['a.txt'])]);
    expect(buildGraph(other)).not.toBe(g);
    expect(buildGraph(other).order).toEqual(['a']);
  });

  it('handles a chain of 30,000 steps (no recursion to overflow the stack) and selects or walks it whole', () => {
    const n = 30_000;
    const steps = Array.from({ length: n }, (_, i) => step(`s${i}`, i === 0 ? ['src/in.txt'] : [`out/s${i - 1}.txt`], [`out/s${i}.txt`]));
    // Declared last-first, so the walk from the first declared step goes down the whole chain.
    const g = buildGraph(pipeline(steps.reverse()));
    expect(g.order[0]).toBe('s0');
    expect(g.order[n - 1]).toBe(`s${n - 1}`);
    expect(selectSteps(g, [`s${n - 1}`])).toHaveLength(n);
    expect(downstreamOf(g, ['s0']).size).toBe(n - 1);
  });

  it('reports a cycle through a long chain', () => {
    const n = 20_000;
    const steps = Array.from({ length: n }, (_, i) => step(`s${i}`, [`out/s${(i + n - 1) % n}.txt`], [`out/s${i}.txt`]));
    expect(() => buildGraph(pipeline(steps))).toThrow(/the steps form a cycle: s0 -> s19999 -> s19998 -> .* -> s1 -> s0\n {2}"s0" reads "out\/s19999.txt", which "s19999" writes\n/);
    expect(() => buildGraph(pipeline(steps))).toThrow(/\n {2}… and 19988 more links$/);
  });

  it('links a glob output only to inputs it can match (no false cycle), and names the file linking each pair of a cycle', () => {
    // b writes build/*.json; a reads build/w.csv, which that glob cannot match.
    const g = buildGraph(pipeline([step('a', ['build/w.csv'], ['build/x.csv']), step('b', ['build/x.csv'], ['build/*.json'])]));
    expect(g.order).toEqual(['a', 'b']);
    expect(g.deps.get('a')).toEqual([]);
    // Inputs the glob does reach: a file it matches, the folder its files are in, a folder above.
    const reach = (input: string, out: string): string[] => buildGraph(pipeline([step('w', ['src/in'], [out]), step('r', [input], ['r.txt'])])).deps.get('r')!;
    expect(reach('build/y.json', 'build/*.json')).toEqual(['w']);
    expect(reach('build', 'build/*.json')).toEqual(['w']);
    expect(reach('build/raw', 'build/*/x.csv')).toEqual(['w']);
    expect(reach('build/raw/x.csv', 'build/*/x.csv')).toEqual(['w']);
    expect(reach('build/raw/y.csv', 'build/*/x.csv')).toEqual([]);
    expect(reach('build/deep/er/y.csv', 'build/**/*.csv')).toEqual(['w']);
    expect(reach('build/deep/er', 'build/**/*.csv')).toEqual(['w']);
    expect(reach('build/deep/y.txt', 'build/**/*.csv')).toEqual(['w']); // may be a folder of .csv files
    expect(reach('other/y.csv', 'build/**/*.csv')).toEqual([]);
    expect(reach('build/raw/y.csv/z', 'build/*/x.csv')).toEqual([]);
    expect(reach('build/raw/y.csv', 'build/{raw/y,other}.csv')).toEqual(['w']);
    // A real cycle: each link names the file that makes it, and the output spec when a glob.
    expect(() => buildGraph(pipeline([step('a', ['build/w.json'], ['build/x.csv']), step('b', ['build/x.csv'], ['build/*.json'])]))).toThrow(
      `${FILE}: the steps form a cycle: a -> b -> a\n  "a" reads "build/w.json", which "b" writes ("build/*.json")\n  "b" reads "build/x.csv", which "a" writes`,
    );
    expect(() => buildGraph(pipeline([step('a', ['x.txt'], ['y.txt'], ['b']), step('b', ['y.txt'], ['z.txt'])]))).toThrow(
      `${FILE}: the steps form a cycle: a -> b -> a\n  "a" lists "b" in dependsOn\n  "b" reads "y.txt", which "a" writes`,
    );
  });
});
