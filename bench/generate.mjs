#!/usr/bin/env node
// Writes one synthetic pipeline for batchfile and its peers (GNU Make, Ninja, Snakemake, doit),
// so every tool does the same work on the same files and only the tool's own cost differs.
//
//   node bench/generate.mjs --steps N --inputs K --out DIR [--kind command|run|cpu|hash]
//                           [--cpu-ms 200] [--size-mib 1024]
//
// Layout of DIR (all tools' files side by side; bench/run-all.mjs copies DIR once per tool so
// that one tool's outputs and mtimes never disturb another's state):
//   in/s{i}/f{k}.txt     K inputs of exactly 4 KiB per step, deterministic content
//   steps/s{i}.sh        per-step code for --kind command (the "change one step's code" target)
//   steps/s{i}.mjs       per-step code for --kind run|cpu (a batchfile `run` module)
//   steps/run.mjs        runs a step module as a process, for the peers (--kind run|cpu)
//   out/                 outputs out/s{i}.txt
//   Batchfile.ts Makefile build.ninja Snakefile dodo.py
//   .bench/              alternates used by the change scenarios (outside in/ and steps/)
//   bench.json           what was generated
//
// Kinds:
//   command  each step is `sh steps/s{i}.sh <inputs> > out/s{i}.txt` (the script cats its args)
//   run      batchfile runs steps/s{i}.mjs in its worker pool (concatenate, same work as `cat`);
//            the peers run the same module as a process: `node steps/run.mjs steps/s{i}.mjs ...`
//   cpu      like run, but each step also spends ~--cpu-ms of pure JS computation, to measure
//            the worker pool's speed-up and compare it with the peers' process-per-step
//   hash     one step whose single input is a --size-mib file (hash throughput scenario)
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export const INPUT_BYTES = 4096;

function parseArgs(argv) {
  const o = { steps: 1000, inputs: 10, out: '', kind: 'command', cpuMs: 200, sizeMib: 1024, iters: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--steps') o.steps = Number(v());
    else if (a === '--inputs') o.inputs = Number(v());
    else if (a === '--out') o.out = v();
    else if (a === '--kind') o.kind = v();
    else if (a === '--cpu-ms') o.cpuMs = Number(v());
    else if (a === '--cpu-iters') o.iters = Number(v());
    else if (a === '--size-mib') o.sizeMib = Number(v());
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.out) throw new Error('--out DIR is required');
  if (!['command', 'run', 'cpu', 'hash'].includes(o.kind)) throw new Error(`--kind must be command, run, cpu or hash`);
  if (o.kind === 'hash') {
    o.steps = 1;
    o.inputs = 1;
  }
  if (!(o.steps >= 1 && o.inputs >= 1)) throw new Error('--steps and --inputs must be >= 1');
  return o;
}

/** Deterministic bytes: xorshift32 seeded per file, printed as text lines so the files look like
 * data a pipeline would read (and so `cat` output is inspectable). Exactly INPUT_BYTES long. */
function inputContent(i, k, variant = 0) {
  let x = (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b) ^ variant) >>> 0 || 1;
  const lines = [];
  let len = 0;
  for (let j = 0; len < INPUT_BYTES; j++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const line = `s${i} f${k} row ${j} value ${x.toString(16).padStart(8, '0')}\n`;
    lines.push(line);
    len += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, INPUT_BYTES - 1).toString() + '\n';
}

const q = (s) => JSON.stringify(s); // for TS / Python string literals (ASCII paths only)

/** Iterations of the FNV loop below that take about `ms` on this machine (measured once here,
 * then written into every step so all tools do the same fixed amount of work). */
function calibrate(ms) {
  const data = Buffer.alloc(INPUT_BYTES * 10, 7);
  const run = (rounds) => {
    let h = 0x811c9dc5;
    for (let r = 0; r < rounds; r++) for (let j = 0; j < data.length; j++) h = Math.imul(h ^ data[j], 16777619);
    return h;
  };
  run(20); // warm the JIT
  let rounds = 20;
  for (;;) {
    const t = performance.now();
    run(rounds);
    const dt = performance.now() - t;
    if (dt > 50) return Math.max(1, Math.round((rounds * ms) / dt));
    rounds *= 2;
  }
}

function stepModule(kind, i, rounds) {
  if (kind === 'run') {
    return `// step s${i}: concatenate the inputs (the same work as \`cat\` in the command kind)
import fs from 'node:fs';
export default async (ctx) => {
  fs.writeFileSync(ctx.outputs[0], Buffer.concat(ctx.inputs.map((f) => fs.readFileSync(f))));
};
`;
  }
  return `// step s${i}: concatenate the inputs, then ~fixed CPU work (FNV-1a rounds, pure JS)
import fs from 'node:fs';
const ROUNDS = ${rounds};
export default async (ctx) => {
  const data = Buffer.concat(ctx.inputs.map((f) => fs.readFileSync(f)));
  let h = 0x811c9dc5 ^ ${i};
  for (let r = 0; r < ROUNDS; r++) for (let j = 0; j < data.length; j++) h = Math.imul(h ^ data[j], 16777619);
  fs.writeFileSync(ctx.outputs[0], Buffer.concat([data, Buffer.from(\`fnv \${(h >>> 0).toString(16)}\\n\`)]));
};
`;
}

// The peers run a step module as one process per step: this is what "the same work as
// processes" means in the issue. It passes the same ctx fields the modules use.
const PROCESS_RUNNER = `// Runs a batchfile step module as a process (for Make, Ninja, Snakemake and doit):
//   node steps/run.mjs steps/sN.mjs OUTPUT INPUT...
import path from 'node:path';
import { pathToFileURL } from 'node:url';
const [mod, out, ...ins] = process.argv.slice(2);
const fn = (await import(pathToFileURL(path.resolve(mod)).href)).default;
await fn({
  step: path.basename(mod, '.mjs'), params: {}, root: process.cwd(), runId: 'process',
  inputs: ins.map((f) => path.resolve(f)).sort(), outputs: [path.resolve(out)],
  log: (m) => process.stderr.write(m + '\\n'), signal: new AbortController().signal,
});
`;

function writeFile(root, rel, content) {
  fs.writeFileSync(path.join(root, rel), content);
}

export function generate(opts) {
  const kind = opts.kind;
  // The hash kind is always one step with one (big) input.
  const N = kind === 'hash' ? 1 : opts.steps;
  const K = kind === 'hash' ? 1 : opts.inputs;
  const root = path.resolve(opts.out);
  fs.rmSync(root, { recursive: true, force: true });
  for (const d of ['in', 'steps', 'out', '.bench']) fs.mkdirSync(path.join(root, d), { recursive: true });

  const rounds = kind === 'cpu' ? opts.iters || calibrate(opts.cpuMs) : 0;
  const script = (i) => (kind === 'command' || kind === 'hash' ? `steps/s${i}.sh` : `steps/s${i}.mjs`);
  const ins = (i) => (kind === 'hash' ? ['in/big.bin'] : Array.from({ length: K }, (_, k) => `in/s${i}/f${k}.txt`));
  const out = (i) => `out/s${i}.txt`;
  // The command each peer runs for step i (identical text for Make, Ninja, Snakemake, doit).
  const cmd = (i) =>
    kind === 'command' || kind === 'hash'
      ? `sh ${script(i)} ${ins(i).join(' ')} > ${out(i)}`
      : `node steps/run.mjs ${script(i)} ${out(i)} ${ins(i).join(' ')}`;

  // Inputs and code.
  if (kind === 'hash') {
    // One big file of pseudo-random bytes: 1 MiB blocks, each one different.
    const words = new Uint32Array(1 << 18);
    const block = Buffer.from(words.buffer);
    let x = 0x12345678;
    const fd = fs.openSync(path.join(root, 'in/big.bin'), 'w');
    for (let b = 0; b < opts.sizeMib; b++) {
      for (let j = 0; j < words.length; j++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        words[j] = x;
      }
      fs.writeSync(fd, block);
    }
    fs.closeSync(fd);
  } else {
    for (let i = 0; i < N; i++) {
      fs.mkdirSync(path.join(root, `in/s${i}`));
      for (let k = 0; k < K; k++) writeFile(root, `in/s${i}/f${k}.txt`, inputContent(i, k));
    }
  }
  for (let i = 0; i < N; i++) {
    if (kind === 'command') writeFile(root, script(i), `# step s${i}\ncat "$@"\n`);
    else if (kind === 'hash') writeFile(root, script(i), `# step s${i}: size of the input\nwc -c < "$1"\n`);
    else writeFile(root, script(i), stepModule(kind, i, rounds));
  }
  if (kind === 'run' || kind === 'cpu') writeFile(root, 'steps/run.mjs', PROCESS_RUNNER);

  // Alternates for the change scenarios, on the middle step: same size, different content.
  const m = Math.floor(N / 2);
  if (kind !== 'hash') {
    writeFile(root, '.bench/input.a', inputContent(m, 0));
    writeFile(root, '.bench/input.b', inputContent(m, 0, 0x5a5a5a5a));
  }
  const code = fs.readFileSync(path.join(root, script(m)), 'utf8');
  const comment = kind === 'command' || kind === 'hash' ? '#' : '//';
  writeFile(root, '.bench/code.a', code);
  writeFile(root, '.bench/code.b', code + `${comment} edited\n`);

  // batchfile: an explicit object literal (as a user would write it, and as Make/Ninja list it).
  const bf = ['// Generated by bench/generate.mjs', "import { defineBatch } from 'batchfile';", '', 'export default defineBatch({', '  steps: {'];
  for (let i = 0; i < N; i++) {
    const io = `inputs: [${ins(i).map(q).join(', ')}], outputs: [${q(out(i))}]`;
    bf.push(kind === 'command' || kind === 'hash' ? `    s${i}: { command: ${q(cmd(i))}, ${io} },` : `    s${i}: { run: ${q(script(i))}, ${io} },`);
  }
  bf.push('  },', '});', '');
  writeFile(root, 'Batchfile.ts', bf.join('\n'));

  // GNU Make (run as `make -r`): explicit rules, the script is a prerequisite.
  const runner = kind === 'run' || kind === 'cpu' ? ' steps/run.mjs' : '';
  const mk = ['# Generated by bench/generate.mjs; run with `make -r`', '.PHONY: all', `all: ${Array.from({ length: N }, (_, i) => out(i)).join(' ')}`, ''];
  for (let i = 0; i < N; i++) mk.push(`${out(i)}: ${script(i)}${runner} ${ins(i).join(' ')}`, `\t${cmd(i)}`, '');
  writeFile(root, 'Makefile', mk.join('\n'));

  // Ninja: plain rules, the script as an implicit dependency.
  const nj = ['# Generated by bench/generate.mjs', 'rule step'];
  nj.push(kind === 'command' || kind === 'hash' ? '  command = sh $script $in > $out' : '  command = node steps/run.mjs $script $out $in', '');
  for (let i = 0; i < N; i++) nj.push(`build ${out(i)}: step ${ins(i).join(' ')} | ${script(i)}${runner}`, `  script = ${script(i)}`);
  nj.push('', `build all: phony ${Array.from({ length: N }, (_, i) => out(i)).join(' ')}`, 'default all', '');
  writeFile(root, 'build.ninja', nj.join('\n'));

  // Snakemake: one wildcard rule (a rule per step would make Snakemake itself much slower).
  const smIns = kind === 'hash' ? `["in/big.bin"]` : `[f"in/s{w.i}/f{k}.txt" for k in range(K)]`;
  const smShell =
    kind === 'command' || kind === 'hash' ? 'sh {input.script} {input.data} > {output}' : 'node steps/run.mjs {input.script} {output} {input.data}';
  const smScript = kind === 'command' || kind === 'hash' ? 'steps/s{i}.sh' : 'steps/s{i}.mjs';
  writeFile(
    root,
    'Snakefile',
    `# Generated by bench/generate.mjs
N = ${N}
K = ${K}
wildcard_constraints:
    i = r"\\d+"

rule all:
    input: expand("out/s{i}.txt", i=range(N))

rule step:
    input:
        script = "${smScript}",${runner ? '\n        runner = "steps/run.mjs",' : ''}
        data = lambda w: ${smIns}
    output: "out/s{i}.txt"
    shell: "${smShell}"
`,
  );

  // doit: file_dep/targets; the default checker ('md5') compares content when the mtime moved.
  const dodoIns = kind === 'hash' ? `["in/big.bin"]` : `[f"in/s{i}/f{k}.txt" for k in range(K)]`;
  const dodoScript = kind === 'command' || kind === 'hash' ? 'f"steps/s{i}.sh"' : 'f"steps/s{i}.mjs"';
  const dodoCmd =
    kind === 'command' || kind === 'hash'
      ? `f"sh steps/s{i}.sh {' '.join(ins)} > out/s{i}.txt"`
      : `f"node steps/run.mjs steps/s{i}.mjs out/s{i}.txt {' '.join(ins)}"`;
  writeFile(
    root,
    'dodo.py',
    `# Generated by bench/generate.mjs
N = ${N}
K = ${K}
DOIT_CONFIG = {"default_tasks": ["s"], "verbosity": 0, "check_file_uptodate": "md5"}

def task_s():
    for i in range(N):
        ins = ${dodoIns}
        yield {
            "name": str(i),
            "file_dep": [${dodoScript}${runner ? ', "steps/run.mjs"' : ''}] + ins,
            "targets": [f"out/s{i}.txt"],
            "actions": [${dodoCmd}],
        }
`,
  );

  const meta = {
    generator: 'bench/generate.mjs',
    kind,
    steps: N,
    inputs: K,
    inputBytes: kind === 'hash' ? opts.sizeMib * 1024 * 1024 : INPUT_BYTES,
    files: kind === 'hash' ? 1 : N * K,
    cpuRounds: rounds || undefined,
    cpuMs: kind === 'cpu' ? opts.cpuMs : undefined,
    changeStep: `s${m}`,
    changeInput: ins(m)[0],
    changeCode: script(m),
  };
  writeFile(root, 'bench.json', JSON.stringify(meta, null, 2) + '\n');
  return meta;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('generate.mjs')) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    const t = performance.now();
    const meta = generate(opts);
    console.log(`${path.resolve(opts.out)}: ${JSON.stringify(meta)} (${Math.round(performance.now() - t)} ms)`);
  } catch (e) {
    console.error(`generate: ${e.message}`);
    process.exit(2);
  }
}
