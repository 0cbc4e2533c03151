// Helpers of the output-cache tests: Batchfile text, a `run` step module that writes what its
// input or params say, and read-only views of the cache's files and index.
import fs from 'node:fs';
import path from 'node:path';
import { open } from 'lmdb';
import { fake, type TempProject } from '../rig.js';

export function batchfile(body: string, top = ''): string {
  return `import { defineBatch } from 'batchfile';\nexport default defineBatch({ ${top} steps: {\n${body}\n}});\n`;
}

/** A fake-step command line as a TS string literal. */
export function cmd(...args: string[]): string {
  return JSON.stringify(fake(...args));
}

/** A `run` step module: for every line "name" of its first input writes `<outDir>/name.txt`
 * (content: the line and params.text), or one file `<outDir>/all.txt` with params.text when it
 * has no input; appends its step name to marks.txt each time it runs. */
export const GEN_STEP = `import fs from 'node:fs';
import path from 'node:path';
export default async (ctx) => {
  fs.appendFileSync(path.join(ctx.root, 'marks.txt'), ctx.step + '\\n');
  const outDir = ctx.outputs[0];
  fs.mkdirSync(outDir, { recursive: true });
  const text = String(ctx.params.text ?? '');
  const pad = 'x'.repeat(Number(ctx.params.pad ?? 0));
  if (ctx.inputs.length === 0) { fs.writeFileSync(path.join(outDir, 'all.txt'), text + pad); return; }
  for (const line of fs.readFileSync(ctx.inputs[0], 'utf8').split('\\n').filter(Boolean)) {
    fs.writeFileSync(path.join(outDir, line + '.txt'), line + text + pad);
  }
};
`;

export { snapshot } from '../core/util.js';

/** Blob files of the cache: hash → absolute path. */
export function blobs(p: TempProject): Map<string, string> {
  const out = new Map<string, string>();
  const dir = p.path('.cache/outputs/blobs');
  if (!fs.existsSync(dir)) return out;
  for (const shard of fs.readdirSync(dir)) for (const h of fs.readdirSync(path.join(dir, shard))) out.set(h, path.join(dir, shard, h));
  return out;
}

export interface EntryView {
  step: string;
  files: Record<string, { hash: string; size: number }>;
  runId: string;
  lastUsed: number;
}

/** The cache index, read with `lmdb` directly. Only while no batch runs in the project. */
export function entries(p: TempProject): Map<string, EntryView> {
  const out = new Map<string, EntryView>();
  const dir = p.path('.cache/store');
  if (!fs.existsSync(dir)) return out;
  const root = open({ path: dir, maxDbs: 16, compression: false, readOnly: true });
  try {
    const db = root.openDB<EntryView, string>({ name: 'output-cache' });
    for (const { key, value } of db.getRange()) out.set(key, value);
  } catch {
    // no index yet
  } finally {
    void root.close();
  }
  return out;
}

/** Action of each step, by name. */
export function actions(steps: { name: string; action: string; status: string }[]): Record<string, string> {
  return Object.fromEntries(steps.map((s) => [s.name, s.status === 'PASS' ? s.action : `${s.status} ${s.action}`]));
}
