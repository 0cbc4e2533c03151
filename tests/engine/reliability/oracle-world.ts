// The correctness oracle's world: a random pipeline (a DAG of `run` and `command` steps over
// data files, globs, folders, params and env) with the files that make it a project, the
// edits a user makes between runs, and fast-check arbitraries for both. Steps are tiny and
// deterministic (concatenations with headers), so two builds of one state agree byte for byte.
import fc from 'fast-check';
import { fake } from '../rig.js';

export type Kind = 'run' | 'run-lib' | 'tool' | 'tool-argv' | 'sh' | 'fake';
export const KINDS: readonly Kind[] = ['run', 'run-lib', 'tool', 'tool-argv', 'sh', 'fake'];
/** Kinds that can be held mid-step (they write a partial output, then wait to be killed). */
export const HOLDABLE: readonly Kind[] = ['run', 'run-lib', 'tool', 'tool-argv'];
export const ENV_NAMES = ['ORACLE_E0', 'ORACLE_E1', 'ORACLE_E2'] as const;
/** Data folders read through a glob (`data/gK/*.txt`) or as a whole folder (`data/dK`). */
export const GLOB_DIRS = ['data/g0', 'data/g1'];
export const DIRS = ['data/d0', 'data/d1'];
export const LITERALS = ['data/f0.txt', 'data/f1.txt', 'data/f2.txt'];

export type InputRef = { t: 'out'; step: number; second: boolean } | { t: 'file'; k: number } | { t: 'glob'; k: number } | { t: 'dir'; k: number };

export interface StepSpec {
  name: string;
  kind: Kind;
  inputs: InputRef[];
  dependsOn: number[];
  /** Writes a second output (whose content depends on the step's code, not its inputs). */
  two: boolean;
  env: string[];
  params: { n: number; tag: string };
  /** A word of the command (command kinds); edits to it are command edits. */
  variant: string;
  /** Version constant in the step's own module (run kinds). */
  version: number;
  cache: boolean;
}

export interface World {
  steps: StepSpec[];
  /** Project-relative data files and their bytes. */
  data: Map<string, Uint8Array>;
  tool: { version: number; comments: number };
  lib: { version: number; comments: number };
  env: Record<string, string | undefined>;
}

export type Mutation =
  | { m: 'write'; pick: number; bytes: Uint8Array }
  | { m: 'add'; folder: number; name: string; bytes: Uint8Array }
  | { m: 'delete'; pick: number }
  | { m: 'touch'; pick: number }
  | { m: 'module'; pick: number }
  | { m: 'lib'; comment: boolean }
  | { m: 'tool'; comment: boolean }
  | { m: 'params'; pick: number; n: number }
  | { m: 'variant'; pick: number; v: string }
  | { m: 'rmOut'; pick: number }
  | { m: 'corrupt'; pick: number; bytes: Uint8Array | null }
  | { m: 'env'; name: string; value: string | undefined };

export interface Round {
  muts: Mutation[];
  force: boolean;
  /** Hold this step (index modulo the holdable ones) and kill -9 batch once it started. */
  kill: number | null;
  jobs: number;
  noCache: boolean;
}

export interface Case {
  world: World;
  rounds: Round[];
}

export const outFile = (i: number, second = false): string => `out/s${i}${second ? '.2' : ''}.txt`;
export const outputsOf = (i: number, s: StepSpec): string[] => (s.two ? [outFile(i), outFile(i, true)] : [outFile(i)]);

export function specOf(ref: InputRef): string {
  switch (ref.t) {
    case 'out':
      return outFile(ref.step, ref.second);
    case 'file':
      return LITERALS[ref.k]!;
    case 'glob':
      return `${GLOB_DIRS[ref.k]!}/*.txt`;
    case 'dir':
      return DIRS[ref.k]!;
  }
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The step's `command` (a shell string or an argv array), or undefined for run kinds. */
export function commandOf(i: number, s: StepSpec): string | string[] | undefined {
  const ins = s.inputs.map(specOf);
  const outs = outputsOf(i, s);
  switch (s.kind) {
    case 'run':
    case 'run-lib':
      return undefined;
    case 'tool':
    case 'tool-argv': {
      const argv = ['node', 'tools/cat.mjs', '--variant', s.variant, ...outs.flatMap((o) => ['--out', o]), ...s.env.flatMap((e) => ['--env', e]), ...ins.flatMap((f) => ['--in', f])];
      return s.kind === 'tool-argv' ? argv : argv.map((w) => (/^[A-Za-z0-9_./-]+$/.test(w) ? w : q(w))).join(' ');
    }
    case 'sh': {
      const [o0, o1] = outs;
      // Globs are expanded by the shell here (sorted, C locale: names are [a-z0-9]).
      const body = ins.length > 0 ? `cat ${ins.join(' ')} > ${o0}` : `: > ${o0}`;
      const env = s.env.map((e) => ` && printf '%s=%s\\n' ${e} "$${e}" >> ${o0}`).join('');
      return `mkdir -p out && ${body} && printf 'sh %s\\n' ${q(s.variant)} >> ${o0}${env}${o1 ? ` && printf 'second %s\\n' ${q(s.variant)} > ${o1}` : ''}`;
    }
    case 'fake':
      return fake(...ins.flatMap((f) => ['--in', f]), '--text', s.variant, ...outs.flatMap((o) => ['--out', o]));
  }
}

export function batchfileOf(w: World): string {
  const lines = w.steps.map((s, i) => {
    const fields: string[] = [];
    const cmd = commandOf(i, s);
    if (cmd === undefined) fields.push(`run: ${JSON.stringify(`steps/s${i}.ts`)}`);
    else fields.push(`command: ${JSON.stringify(cmd)}`);
    if (s.inputs.length > 0) fields.push(`inputs: ${JSON.stringify(s.inputs.map(specOf))}`);
    fields.push(`outputs: ${JSON.stringify(outputsOf(i, s))}`);
    if (s.dependsOn.length > 0) fields.push(`dependsOn: ${JSON.stringify(s.dependsOn.map((d) => w.steps[d]!.name))}`);
    if (s.env.length > 0) fields.push(`env: ${JSON.stringify(s.env)}`);
    fields.push(`params: ${JSON.stringify(s.params)}`);
    if (!s.cache) fields.push('cache: false');
    return `    ${JSON.stringify(s.name)}: { ${fields.join(', ')} },`;
  });
  return `import { defineBatch } from 'batchfile';\n\nexport default defineBatch({\n  steps: {\n${lines.join('\n')}\n  },\n});\n`;
}

/** The module of a run step: a header, each input (project-relative name, length, bytes), its
 * env values; the second output depends only on the module. Holds when ORACLE_HOLD names it. */
export function moduleOf(s: StepSpec): string {
  const lib = s.kind === 'run-lib';
  return `import fs from 'node:fs';
import path from 'node:path';
${lib ? "import { fmt } from './lib/fmt.ts';\n" : ''}
const VERSION = ${s.version};
const ENV: string[] = ${JSON.stringify(s.env)};

export default async (ctx: { step: string; root: string; inputs: string[]; outputs: string[]; params: unknown }): Promise<void> => {
  fs.mkdirSync(path.dirname(ctx.outputs[0]!), { recursive: true });
  if (process.env.ORACLE_HOLD === ctx.step) {
    fs.writeFileSync(ctx.outputs[0]!, 'PARTIAL');
    fs.mkdirSync(path.join(ctx.root, 'hold'), { recursive: true });
    fs.writeFileSync(path.join(ctx.root, 'hold', ctx.step + '.pid'), String(process.pid));
    await new Promise(() => {});
  }
  const parts: Buffer[] = [Buffer.from('# ' + ctx.step + ' run v' + VERSION + ' params=' + JSON.stringify(ctx.params) + '\\n')];
  for (const f of ctx.inputs) {
    const b = fs.readFileSync(f);
    parts.push(Buffer.from('== ' + path.relative(ctx.root, f) + ' (' + b.length + ')\\n'), b, Buffer.from('\\n'));
  }
  for (const e of ENV) parts.push(Buffer.from('env ' + e + '=' + (process.env[e] ?? '<unset>') + '\\n'));
  const out = Buffer.concat(parts);
  fs.writeFileSync(ctx.outputs[0]!, ${lib ? 'fmt(out)' : 'out'});
  if (ctx.outputs[1]) fs.writeFileSync(ctx.outputs[1], 'second of ' + ctx.step + ' v' + VERSION + '\\n');
};
`;
}

export function libOf(w: World): string {
  return `${'// a comment\n'.repeat(w.lib.comments)}export const LIB = ${w.lib.version};
export function fmt(b: Buffer): Buffer {
  return Buffer.concat([Buffer.from('[lib v' + LIB + ']\\n'), b]);
}
`;
}

/** tools/cat.mjs: the command steps' script (code of every tool step). Globs of the form
 * dir/*.ext and folders are expanded here, files only, sorted. */
export function toolOf(w: World): string {
  return `${'// a comment\n'.repeat(w.tool.comments)}import fs from 'node:fs';
import path from 'node:path';
const TOOL = ${w.tool.version};
const a = process.argv.slice(2);
const o = { in: [], out: [], env: [], variant: '' };
for (let i = 0; i < a.length; i += 2) {
  const k = a[i], v = a[i + 1];
  if (k === '--in') o.in.push(v); else if (k === '--out') o.out.push(v); else if (k === '--env') o.env.push(v); else if (k === '--variant') o.variant = v;
}
const step = process.env.BATCH_STEP;
fs.mkdirSync(path.dirname(o.out[0]), { recursive: true });
if (process.env.ORACLE_HOLD === step) {
  fs.writeFileSync(o.out[0], 'PARTIAL');
  fs.mkdirSync('hold', { recursive: true });
  fs.writeFileSync('hold/' + step + '.tmp', String(process.pid));
  fs.renameSync('hold/' + step + '.tmp', 'hold/' + step + '.pid');
  await new Promise(() => setInterval(() => {}, 1 << 30));
}
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(d + '/' + e.name) : e.isFile() ? [d + '/' + e.name] : []));
const files = [];
for (const spec of o.in) {
  const star = spec.indexOf('*');
  if (star >= 0) {
    const dir = spec.slice(0, spec.lastIndexOf('/', star));
    const ext = spec.slice(star + 1);
    files.push(...fs.readdirSync(dir).filter((f) => !f.startsWith('.') && f.endsWith(ext)).map((f) => dir + '/' + f).filter((f) => fs.statSync(f).isFile()).sort());
  } else if (fs.statSync(spec).isDirectory()) files.push(...walk(spec).sort());
  else files.push(spec);
}
const parts = [Buffer.from('# ' + step + ' tool v' + TOOL + ' variant=' + o.variant + '\\n')];
for (const f of files) {
  const b = fs.readFileSync(f);
  parts.push(Buffer.from('== ' + f + ' (' + b.length + ')\\n'), b, Buffer.from('\\n'));
}
for (const e of o.env) parts.push(Buffer.from('env ' + e + '=' + (process.env[e] ?? '<unset>') + '\\n'));
fs.writeFileSync(o.out[0], Buffer.concat(parts));
if (o.out[1]) fs.writeFileSync(o.out[1], 'second of ' + step + ' tool v' + TOOL + ' variant=' + o.variant + '\\n');
`;
}

/** Every source file of the project for a world (not outputs). */
export function projectFiles(w: World): Map<string, string | Uint8Array> {
  const files = new Map<string, string | Uint8Array>();
  files.set('Batchfile.ts', batchfileOf(w));
  files.set('tools/cat.mjs', toolOf(w));
  files.set('steps/lib/fmt.ts', libOf(w));
  w.steps.forEach((s, i) => {
    if (s.kind === 'run' || s.kind === 'run-lib') files.set(`steps/s${i}.ts`, moduleOf(s));
  });
  for (const [f, b] of w.data) files.set(f, b);
  return files;
}

/** Code files of a step as the engine should see them (the oracle's minimality model). */
export function codeFilesOf(i: number, s: StepSpec): string[] {
  if (s.kind === 'run') return [`steps/s${i}.ts`];
  if (s.kind === 'run-lib') return [`steps/s${i}.ts`, 'steps/lib/fmt.ts'];
  if (s.kind === 'tool' || s.kind === 'tool-argv') return ['tools/cat.mjs'];
  return [];
}

// ---- arbitraries -------------------------------------------------------------------------

const bytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 16 }).map((s) => new TextEncoder().encode(s)) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => new TextEncoder().encode(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
);
const nameArb = fc.string({ unit: fc.constantFrom(...'abcdefghij0123'), minLength: 1, maxLength: 3 });
const wordArb = fc.string({ unit: fc.constantFrom(...'abcxyz019'), minLength: 1, maxLength: 4 });
const envValueArb: fc.Arbitrary<string | undefined> = fc.oneof(fc.constant(undefined), fc.constant(''), fc.string({ maxLength: 6 }), fc.string({ unit: 'grapheme', maxLength: 3 }));
const SUFFIXES = ['', '', '', '.x', '-y', '_z', ':v', '@w', '+u'];
/** `arb` one time in `n`, null otherwise. */
const rarely = <T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> => fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
/** An array of `arb` whose length is uniform in [min, max] (fast-check's own arrays lean
 * to short ones, and every element here costs real batch runs, so the length is chosen). */
const arrayOf = <T>(arb: fc.Arbitrary<T>, min: number, max: number): fc.Arbitrary<T[]> =>
  fc.integer({ min, max }).chain((n) => fc.array(arb, { minLength: n, maxLength: n }));
/** true one time in `n`. */
const chance = (n: number): fc.Arbitrary<boolean> => fc.nat(n - 1).map((x) => x === 0);

const rawStepArb = fc.record({
  kind: fc.constantFrom(...KINDS),
  outPicks: fc.array(fc.record({ back: fc.nat(), second: fc.boolean() }), { maxLength: 3 }),
  dataPicks: fc.array(fc.record({ t: fc.constantFrom('file' as const, 'glob' as const, 'dir' as const), k: fc.nat() }), { maxLength: 2 }),
  dep: rarely(fc.nat(), 5),
  two: fc.boolean(),
  env: fc.subarray([...ENV_NAMES], { maxLength: 2 }),
  n: fc.nat(9),
  tag: wordArb,
  variant: wordArb,
  cache: chance(5).map((b) => !b),
  suffix: fc.constantFrom(...SUFFIXES),
});
type RawStep = typeof rawStepArb extends fc.Arbitrary<infer T> ? T : never;

function buildStep(i: number, r: RawStep, earlier: StepSpec[]): StepSpec {
  const inputs: InputRef[] = [];
  const key = (x: InputRef): string => specOf(x);
  const add = (x: InputRef): void => {
    if (!inputs.some((y) => key(y) === key(x))) inputs.push(x);
  };
  if (i > 0) {
    for (const p of r.outPicks) {
      const step = i - 1 - (p.back % Math.min(i, 4)); // mostly recent steps: deeper chains
      add({ t: 'out', step, second: p.second && earlier[step]!.two });
    }
  }
  for (const d of r.dataPicks) {
    // fake steps take literal files only; sh steps cannot walk a folder.
    const t = r.kind === 'fake' ? 'file' : r.kind === 'sh' && d.t === 'dir' ? 'glob' : d.t;
    add(t === 'file' ? { t, k: d.k % LITERALS.length } : { t, k: d.k % 2 });
  }
  const dependsOn: number[] = [];
  if (r.dep !== null && i > 0) {
    const d = r.dep % i;
    if (!inputs.some((x) => x.t === 'out' && x.step === d)) dependsOn.push(d);
  }
  return {
    name: `s${i}${r.suffix}`,
    kind: r.kind,
    inputs,
    dependsOn,
    two: r.two,
    env: r.kind === 'fake' ? r.env.slice(0, 1) : r.env,
    params: { n: r.n, tag: r.tag },
    variant: r.variant,
    version: 1,
    cache: r.cache,
  };
}

const dataArb = fc.record({
  literals: fc.array(bytesArb, { minLength: 3, maxLength: 3 }),
  globs: fc.array(fc.array(fc.record({ name: nameArb, csv: chance(3), bytes: bytesArb }), { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 2 }),
  dirs: fc.array(fc.array(fc.record({ name: nameArb, sub: fc.boolean(), bytes: bytesArb }), { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 2 }),
});

export function worldArb(maxSteps: number): fc.Arbitrary<World> {
  return fc
    .record({
      raw: arrayOf(rawStepArb, 1, maxSteps),
      data: dataArb,
      env: fc.record({ ORACLE_E0: envValueArb, ORACLE_E1: envValueArb, ORACLE_E2: envValueArb }),
    })
    .map(({ raw, data, env }) => {
      const steps: StepSpec[] = [];
      raw.forEach((r, i) => steps.push(buildStep(i, r, steps)));
      // Names are unique (a suffix only decorates the index).
      const files = new Map<string, Uint8Array>();
      data.literals.forEach((b, k) => files.set(LITERALS[k]!, b));
      data.globs.forEach((list, k) => {
        list.forEach((f, j) => files.set(`${GLOB_DIRS[k]}/${f.name}${j}.${f.csv && j > 0 ? 'csv' : 'txt'}`, f.bytes));
      });
      data.dirs.forEach((list, k) => {
        list.forEach((f, j) => files.set(`${DIRS[k]}/${f.sub ? 'sub/' : ''}${f.name}${j}`, f.bytes));
      });
      return { steps, data: files, tool: { version: 1, comments: 0 }, lib: { version: 1, comments: 0 }, env };
    });
}

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ m: fc.constant('write' as const), pick: fc.nat(), bytes: bytesArb }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('add' as const), folder: fc.nat(), name: nameArb, bytes: bytesArb }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('touch' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('module' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ m: fc.constant('lib' as const), comment: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ m: fc.constant('tool' as const), comment: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('params' as const), pick: fc.nat(), n: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('variant' as const), pick: fc.nat(), v: wordArb }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('rmOut' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('corrupt' as const), pick: fc.nat(), bytes: fc.option(bytesArb) }) },
  { weight: 3, arbitrary: fc.record({ m: fc.constant('env' as const), name: fc.constantFrom(...ENV_NAMES), value: envValueArb }) },
);

export const roundArb: fc.Arbitrary<Round> = fc.record({
  muts: arrayOf(mutationArb, 1, 3),
  force: chance(10),
  kill: rarely(fc.nat(), 4),
  jobs: fc.constantFrom(1, 2, 3),
  noCache: chance(10),
});

export function caseArb(maxSteps: number, maxRounds: number): fc.Arbitrary<Case> {
  return fc.record({ world: worldArb(maxSteps), rounds: arrayOf(roundArb, 1, maxRounds) });
}
