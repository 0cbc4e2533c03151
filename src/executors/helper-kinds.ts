// The two kinds of spawn helper batch can talk to, and each one's wire format: the native
// forkserver (forkserver.c, built into dist/forkserver when a C compiler was there; starts a
// step with posix_spawn, whose cost does not grow with the starting process's size) and the
// Node spawn helper (spawn-helper.ts; always there, the fallback).
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ChildEnd, ChildSpec } from './child-run.js';

/** What a helper says, one line each. */
export type HelperMessage = { t: 'ready' } | { t: 'start'; id: number; pid: number } | { t: 'end'; id: number; end: ChildEnd };

/** How to start one kind of helper and speak with it. */
export interface HelperKind {
  /** For messages: "the native spawn helper exited...". */
  readonly name: string;
  /** Program and arguments. */
  readonly file: string;
  readonly args: string[];
  /** The environment of every later request. Throws on a value it cannot carry. */
  encodeEnv(env: Record<string, string>): Buffer | string;
  /** One step. Throws on a value it cannot carry (the step then fails, unsent). */
  encodeRun(id: number, spec: Omit<ChildSpec, 'env'>): Buffer | string;
  /** One line of its output; undefined when it is not a message of this protocol. */
  parse(line: string): HelperMessage | undefined;
}

// dist/executors/ (tsc) and dist/bundle/ (the bundle) are both one folder below dist/.
const NODE_HELPER = fileURLToPath(new URL('./spawn-helper.js', import.meta.url));
export const FORKSERVER = fileURLToPath(new URL('../forkserver', import.meta.url));

/** The Node helper: one JSON object per line each way (see spawn-helper.ts). */
export function nodeHelper(helperPath = NODE_HELPER): HelperKind {
  return {
    name: 'spawn helper',
    file: process.execPath,
    // Not batch's execArgv (--cpu-prof, --inspect...): the helper is plain Node.
    args: [helperPath],
    encodeEnv: (env) => `${JSON.stringify({ t: 'env', env })}\n`,
    encodeRun: (id, spec) => `${JSON.stringify({ t: 'run', id, spec })}\n`,
    parse(line) {
      try {
        const m = JSON.parse(line) as Partial<{ t: string; id: number; pid: number; end: ChildEnd }>;
        if (m.t === 'ready') return { t: 'ready' };
        if (m.t === 'start' && typeof m.id === 'number' && typeof m.pid === 'number') return { t: 'start', id: m.id, pid: m.pid };
        if (m.t === 'end' && typeof m.id === 'number' && m.end && typeof m.end === 'object') return { t: 'end', id: m.id, end: m.end };
      } catch {
        // not JSON: garbage
      }
      return undefined;
    },
  };
}

/** The version of the native protocol this side speaks (the server's `ready N`). */
const NATIVE_PROTOCOL = 1;

/** Signal numbers to names; the first of two names for one number (SIGABRT, not SIGIOT), as
 * Node reports them. */
const SIGNAL_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(os.constants.signals)) if (!SIGNAL_NAMES.has(n)) SIGNAL_NAMES.set(n, name);

/** A field of a native request: NUL ends it, so it must not hold one. */
function text(value: string, what: string): string {
  if (value.includes('\0')) throw new Error(`${what} contains a NUL byte`);
  return value;
}

function variables(env: Record<string, string>, what: string): string[] {
  return Object.entries(env).map(([k, v]) => {
    if (k === '' || k.includes('=')) throw new Error(`${what} name ${JSON.stringify(k)} is empty or holds "="`);
    return text(`${k}=${v}`, `${what} ${k}`);
  });
}

/** A request: its 4-byte little-endian length, its type byte, NUL-terminated fields. */
function frame(type: string, fields: string[]): Buffer {
  const body = Buffer.from(`${type}${fields.map((f) => `${f}\0`).join('')}`, 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length);
  return Buffer.concat([head, body]);
}

const INT = /^-?\d+$/;

/** The native forkserver (see forkserver.c for its protocol). */
export function nativeHelper(binPath = FORKSERVER): HelperKind {
  return {
    name: 'native spawn helper',
    file: binPath,
    args: [],
    encodeEnv(env) {
      const vars = variables(env, 'environment variable');
      return frame('E', [String(vars.length), ...vars]);
    },
    encodeRun(id, spec) {
      const extra = variables(spec.extraEnv ?? {}, 'step variable');
      const args = spec.args.map((a, i) => text(a, `argument ${i + 1}`));
      return frame('R', [String(id), text(spec.file, 'the program'), text(spec.cwd, 'the folder'), text(spec.logFile, 'the log path'), text(spec.header ?? '', 'the log header'), String(args.length), ...args, String(extra.length), ...extra]);
    },
    parse(line) {
      const sp = line.indexOf(' ');
      const word = sp < 0 ? line : line.slice(0, sp);
      if (word === 'fail') {
        const rest = line.slice(sp + 1);
        const sp2 = rest.indexOf(' ');
        const id = rest.slice(0, sp2);
        if (sp2 < 0 || !INT.test(id)) return undefined;
        return { t: 'end', id: Number(id), end: { code: null, signal: null, leftBehind: false, error: rest.slice(sp2 + 1) } };
      }
      const f = line.split(' ');
      if (!f.slice(1).every((x) => INT.test(x))) return undefined;
      const n = f.slice(1).map(Number);
      if (word === 'ready' && n.length === 1) return n[0] === NATIVE_PROTOCOL ? { t: 'ready' } : undefined;
      if (word === 'start' && n.length === 2 && n[1]! > 0) return { t: 'start', id: n[0]!, pid: n[1]! };
      if (word === 'end' && n.length === 6) {
        const [id, code, sig, left, cpuUs, rssKb] = n as [number, number, number, number, number, number];
        const signal = sig > 0 ? (SIGNAL_NAMES.get(sig) ?? `signal ${sig}`) : null;
        // CPU is exact: the kernel's account of the command and every process it waited for.
        // Peak memory: the larger of the largest single one of them (ru_maxrss) and the
        // tree's summed RSS as sampled from 5 ms on.
        return { t: 'end', id, end: { code: code < 0 ? null : code, signal, leftBehind: left === 1, cpuMs: cpuUs / 1000, peakRssBytes: rssKb * 1024 } };
      }
      return undefined;
    },
  };
}

let built: boolean | undefined;

/** The helper kinds to try, best first: `native` (the default) is the forkserver when it was
 * built, then the Node helper should it not start; `node` the Node helper alone. */
export function helperKinds(mode: 'native' | 'node'): HelperKind[] {
  built ??= fs.existsSync(FORKSERVER);
  return mode === 'native' && built ? [nativeHelper(), nodeHelper()] : [nodeHelper()];
}
