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

/** Why a step's current fingerprint differs from the recorded one. */
export function diffParts(before: FingerprintParts, now: FingerprintParts): string[] {
  const out: string[] = [];
  for (const [k, h] of Object.entries(now.definition)) if (before.definition[k] !== h) out.push(DEF_LABEL[k] ?? `${k} changed`);
  for (const [k, h] of Object.entries(now.env)) if (before.env[k] !== h) out.push(`env changed: ${k}`);
  for (const k of Object.keys(before.env)) if (!(k in now.env)) out.push(`env removed: ${k}`);
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
