// The oracle's minimality model: what a step's fingerprint covers (definition, env values,
// input bytes, code bytes) and the bytes of its outputs, read from the files of a clean build
// of the same state. A step must run exactly when one of these differs from what it last
// recorded (or it never recorded, or --force); the model also names why, as the engine does.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { codeFilesOf, commandOf, outputsOf, specOf, type World } from './oracle-world.js';

/** File → sha1 of its bytes. */
export type Hashes = Map<string, string>;

export interface FpModel {
  command: string;
  params: string;
  specs: string;
  env: Map<string, string>;
  inputs: Hashes;
  code: Hashes;
}

/** What the engine recorded for a step after it last ran (as far as the oracle knows). */
export interface Recorded {
  fp: FpModel;
  outputs: Hashes;
}

const sha1 = (b: Buffer): string => crypto.createHash('sha1').update(b).digest('hex');

function fileHash(root: string, rel: string): string | undefined {
  try {
    const abs = path.join(root, rel);
    return fs.statSync(abs).isFile() ? sha1(fs.readFileSync(abs)) : undefined;
  } catch {
    return undefined;
  }
}

function walk(root: string, rel: string, out: string[]): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) walk(root, r, out);
    else if (e.isFile()) out.push(r);
  }
}

/** The files an input spec names in a tree (the three spec shapes the world generates). */
export function resolveSpec(root: string, spec: string): string[] {
  const star = spec.indexOf('*');
  if (star >= 0) {
    const dir = spec.slice(0, spec.lastIndexOf('/', star));
    const ext = spec.slice(star + 1);
    let names: string[] = [];
    try {
      names = fs.readdirSync(path.join(root, dir));
    } catch {
      return [];
    }
    return names.filter((n) => n.endsWith(ext)).map((n) => `${dir}/${n}`).filter((f) => fileHash(root, f) !== undefined);
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(path.join(root, spec));
  } catch {
    return [];
  }
  if (st.isDirectory()) {
    const out: string[] = [];
    walk(root, spec, out);
    return out;
  }
  return [spec];
}

/** Step i's fingerprint in the world `w`, its files read from `root` (a clean build). */
export function fingerprintOf(w: World, i: number, root: string): FpModel {
  const s = w.steps[i]!;
  const inputs: Hashes = new Map();
  for (const ref of s.inputs) for (const f of resolveSpec(root, specOf(ref))) inputs.set(f, fileHash(root, f)!);
  const code: Hashes = new Map();
  for (const f of codeFilesOf(i, s)) {
    const h = fileHash(root, f);
    if (h !== undefined) code.set(f, h);
  }
  const cmd = commandOf(i, s);
  return {
    command: JSON.stringify(cmd ?? { run: `steps/s${i}.ts` }),
    params: JSON.stringify(s.params),
    specs: JSON.stringify({ inputs: s.inputs.map(specOf).sort(), outputs: outputsOf(i, s).sort() }),
    env: new Map(s.env.map((e) => [e, w.env[e] === undefined ? 'unset' : `v:${w.env[e]}`])),
    inputs,
    code,
  };
}

/** Hashes of step i's declared outputs present in `root`. */
export function outputsIn(w: World, i: number, root: string): Hashes {
  const out: Hashes = new Map();
  for (const f of outputsOf(i, w.steps[i]!)) {
    const h = fileHash(root, f);
    if (h !== undefined) out.set(f, h);
  }
  return out;
}

function diffFiles(kind: string, before: Hashes, now: Hashes, out: string[]): void {
  for (const [f, h] of now) {
    const old = before.get(f);
    if (old === undefined) out.push(`${kind} added: ${f}`);
    else if (old !== h) out.push(`${kind} changed: ${f}`);
  }
  for (const f of before.keys()) if (!now.has(f)) out.push(`${kind} removed: ${f}`);
}

/** Each param key that changed, was added or removed, with its values (JSON). */
function paramReasons(before: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(now)) {
    if (!(k in before)) out.push(`param added: ${k} = ${JSON.stringify(v)}`);
    else if (JSON.stringify(before[k]) !== JSON.stringify(v)) out.push(`param changed: ${k} ${JSON.stringify(before[k])} -> ${JSON.stringify(v)}`);
  }
  for (const [k, v] of Object.entries(before)) if (!(k in now)) out.push(`param removed: ${k} (was ${JSON.stringify(v)})`);
  return out;
}

/** Why the step must run (empty: it must not), in the engine's words. */
export function reasonsToRun(rec: Recorded | undefined, fp: FpModel, outputsNow: Hashes, force: boolean): string[] {
  if (force) return ['forced (--force)'];
  if (!rec) return ['no previous run recorded'];
  const out: string[] = [];
  if (rec.fp.command !== fp.command) out.push('command changed');
  if (rec.fp.params !== fp.params) out.push(...paramReasons(JSON.parse(rec.fp.params) as Record<string, unknown>, JSON.parse(fp.params) as Record<string, unknown>));
  if (rec.fp.specs !== fp.specs) out.push('declared inputs/outputs changed');
  for (const [k, v] of fp.env) if (rec.fp.env.get(k) !== v) out.push(`env changed: ${k}`);
  for (const k of rec.fp.env.keys()) if (!fp.env.has(k)) out.push(`env removed: ${k}`);
  diffFiles('input', rec.fp.inputs, fp.inputs, out);
  diffFiles('code', rec.fp.code, fp.code, out);
  for (const [f, h] of rec.outputs) {
    const cur = outputsNow.get(f);
    if (cur === undefined) out.push(`output missing: ${f}`);
    else if (cur !== h) out.push(`output changed: ${f}`);
  }
  for (const f of outputsNow.keys()) if (!rec.outputs.has(f)) out.push(`output added by hand: ${f}`);
  return out;
}

/** The reasons a summary line lists, and how many there were in all (it shows the first
 * three, then "and N more"); a restore prefixes "restored from cache (…); ". */
export function parseReason(reason: string): { listed: string[]; total: number } {
  const body = reason.replace(/^restored from cache \(outputs of run [^)]+\); /, '');
  const parts = body.split('; ');
  const more = /^and (\d+) more$/.exec(parts[parts.length - 1] ?? '');
  if (more) {
    parts.pop();
    return { listed: parts, total: parts.length + Number(more[1]) };
  }
  return { listed: parts, total: parts.length };
}
