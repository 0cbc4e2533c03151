import type { FileHashes, FingerprintParts, StepState } from '../store/types.js';

export interface Decision {
  run: boolean;
  /** Why it must run (empty when up to date), most telling first, down to the file. */
  reasons: string[];
}

function diffFiles(kind: string, before: FileHashes, now: FileHashes, out: string[]): void {
  for (const [f, h] of Object.entries(now)) {
    const old = before[f];
    if (old === undefined) out.push(`${kind} added: ${f}`);
    else if (old !== h) out.push(`${kind} changed: ${f}`);
  }
  for (const f of Object.keys(before)) if (!(f in now)) out.push(`${kind} removed: ${f}`);
}

const DEF_LABEL: Record<string, string> = { command: 'command changed', params: 'params changed', specs: 'declared inputs/outputs changed', runtime: 'Node.js major version or platform changed' };

/** A param value for a reason line: its JSON, cut short. */
function shown(json: string): string {
  return json.length <= 60 ? json : `${json.slice(0, 57)}…`;
}

/** One reason per param key whose value changed, was added or removed: "param changed:
 * resamples 1000 -> 2000". Params are the step's definition, never secrets (those go in env). */
export function diffParams(beforeRaw: Record<string, string>, nowRaw: Record<string, string>): string[] {
  // Nested values (a `paramsFrom` section, an object param) are compared key by key, so a
  // reason names `train.n_est 60 -> 70`, not the whole section.
  const before = flattenParams(beforeRaw);
  const now = flattenParams(nowRaw);
  const out: string[] = [];
  for (const [k, v] of Object.entries(now)) {
    const old = before[k];
    if (old === undefined) out.push(`param added: ${k} = ${shown(v)}`);
    else if (old !== v) out.push(`param changed: ${k} ${shown(old)} -> ${shown(v)}`);
  }
  for (const [k, v] of Object.entries(before)) if (!(k in now)) out.push(`param removed: ${k} (was ${shown(v)})`);
  return out;
}

/** Params as dotted key -> JSON text of each leaf: objects are opened, anything else
 * (arrays, numbers, strings, null, text that is not JSON) is a leaf. */
function flattenParams(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (key: string, v: unknown): void => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
      for (const [k, inner] of Object.entries(v)) walk(`${key}.${k}`, inner);
    } else out[key] = JSON.stringify(v) ?? 'undefined';
  };
  for (const [k, text] of Object.entries(params)) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      out[k] = text;
      continue;
    }
    walk(k, v);
  }
  return out;
}

/** One reason per env variable whose value changed, by name only: values (maybe secrets)
 * are never shown, and only their hashes are recorded. */
export function diffEnv(before: Record<string, string>, now: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [k, h] of Object.entries(now)) if (before[k] !== h) out.push(`env changed: ${k}`);
  for (const k of Object.keys(before)) if (!(k in now)) out.push(`env removed: ${k}`);
  return out;
}

/** Why a step's current fingerprint differs from the recorded one. */
export function diffParts(before: FingerprintParts, now: FingerprintParts): string[] {
  const out: string[] = [];
  for (const [k, h] of Object.entries(now.definition)) {
    if (before.definition[k] === h) continue;
    const params = k === 'params' && before.params && now.params ? diffParams(before.params, now.params) : [];
    if (params.length > 0) out.push(...params);
    else out.push(DEF_LABEL[k] ?? `${k} changed`);
  }
  out.push(...diffEnv(before.env, now.env));
  diffFiles('input', before.inputs, now.inputs, out);
  diffFiles('code', before.code, now.code, out);
  return out;
}

/** Outputs now versus what the step last wrote. */
export function diffOutputs(recorded: FileHashes, now: FileHashes): string[] {
  const out: string[] = [];
  for (const [f, h] of Object.entries(recorded)) {
    const cur = now[f];
    if (cur === undefined) out.push(`output missing: ${f}`);
    else if (cur !== h) out.push(`output changed: ${f}`);
  }
  for (const f of Object.keys(now)) if (!(f in recorded)) out.push(`output added by hand: ${f}`);
  return out;
}

/** The rebuilder's verdict, a pure function of the recorded state and what is on disk now:
 * run when forced, never ran, the fingerprint changed, or the outputs are not what it last wrote. */
export function decide(opts: {
  state: StepState | undefined;
  key: string;
  parts: FingerprintParts;
  outputs: FileHashes;
  force: boolean;
}): Decision {
  const { state, key, parts, outputs, force } = opts;
  if (force) return { run: true, reasons: ['forced (--force)'] };
  if (!state) return { run: true, reasons: ['no previous run recorded'] };
  const reasons: string[] = [];
  if (state.key !== key) {
    const why = diffParts(state.parts, parts);
    reasons.push(...(why.length > 0 ? why : ['fingerprint format changed']));
  }
  reasons.push(...diffOutputs(state.outputs, outputs));
  return { run: reasons.length > 0, reasons };
}
