// Helpers of the output-cache tests: Batchfile text, a `run` step module that writes what its
// input or params say, and read-only views of the cache's files and index.
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { StepConfig } from '../../../src/batchfile/config.js';
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

export { snapshot } from '../helpers.js';

/** A cached `command` step named `name` with these outputs, for tests that drive the cache's
 * classes directly (no Batchfile). */
export function cachedStep(name: string, outputs: string[] = [name]): StepConfig {
  return { name, kind: 'command', spec: { command: 'true' }, inputs: [], outputs, dependsOn: [], params: {}, env: [], retries: 0, cache: true };
}

/** Opens the project's store with `lmdb` directly (the options batch uses). Only while no
 * batch runs in the project. */
function withStore<T>(p: TempProject, readOnly: boolean, fn: (root: RootDatabase) => T): T | undefined {
  const dir = p.path('.cache/store');
  if (!fs.existsSync(dir)) return undefined;
  const root = open({ path: dir, maxDbs: 16, compression: false, readOnly, mapSize: 2 ** 34 });
  try {
    return fn(root);
  } finally {
    void root.close();
  }
}

/** Opens the output cache's blob environment (`.cache/outputs/inline/`) with `lmdb` directly. */
function withBlobEnv<T>(p: TempProject, readOnly: boolean, fn: (env: RootDatabase<Uint8Array, string>) => T): T | undefined {
  const dir = p.path('.cache/outputs/inline');
  if (!fs.existsSync(path.join(dir, 'data.mdb'))) return undefined;
  const env = open<Uint8Array, string>({ path: dir, compression: false, readOnly, mapSize: 2 ** 34, encoding: 'binary' });
  try {
    return fn(env);
  } finally {
    void env.close();
  }
}

/** The run store's own blob database, where versions before the blob environment kept them. */
function legacyBlobDb(root: RootDatabase): Database<Uint8Array, string> {
  return root.openDB<Uint8Array, string>({ name: 'blobs', encoding: 'binary' });
}

/** Blob files of the cache (outputs over the inline limit, or stores of earlier versions):
 * hash → absolute path. */
export function blobFiles(p: TempProject): Map<string, string> {
  const out = new Map<string, string>();
  const dir = p.path('.cache/outputs/blobs');
  if (!fs.existsSync(dir)) return out;
  for (const shard of fs.readdirSync(dir)) for (const h of fs.readdirSync(path.join(dir, shard))) out.set(h, path.join(dir, shard, h));
  return out;
}

/** Blobs kept in LMDB (the blob environment, and the store's old blob database): hash → bytes. */
export function inlineBlobs(p: TempProject): Map<string, Buffer> {
  const out = legacyInlineBlobs(p);
  withBlobEnv(p, true, (env) => {
    for (const { key, value } of env.getRange()) out.set(key, Buffer.from(value));
  });
  return out;
}

/** Blobs in the run store's own blob database (the layout before the blob environment). */
export function legacyInlineBlobs(p: TempProject): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  withStore(p, true, (root) => {
    try {
      for (const { key, value } of legacyBlobDb(root).getRange()) out.set(key, Buffer.from(value));
    } catch {
      // no blob database
    }
  });
  return out;
}

/** Whether the run store still has its old blob database. */
export function hasLegacyBlobDb(p: TempProject): boolean {
  return withStore(p, true, (root) => [...root.getKeys()].includes('blobs')) ?? false;
}

/** Moves every blob of the blob environment into the run store's own `blobs` database and
 * removes the environment: the layout a store written by the version before had. Returns
 * how many were moved. */
export function toLegacyInline(p: TempProject): number {
  const all = [...(withBlobEnv(p, true, (env) => [...env.getRange()].map(({ key, value }) => [key, Buffer.from(value)] as const)) ?? [])];
  withStore(p, false, (root) => {
    const db = legacyBlobDb(root);
    for (const [h, bytes] of all) db.putSync(h, bytes);
  });
  fs.rmSync(p.path('.cache/outputs/inline'), { recursive: true, force: true });
  return all.length;
}

/** Every blob of the cache, inline or file: hash → bytes. */
export function blobs(p: TempProject): Map<string, Buffer> {
  const out = inlineBlobs(p);
  for (const [h, abs] of blobFiles(p)) out.set(h, fs.readFileSync(abs));
  return out;
}

/** The hash of the blob holding `content`. */
export function blobOf(p: TempProject, content: string | Buffer): string {
  for (const [h, bytes] of blobs(p)) if (bytes.equals(Buffer.from(content))) return h;
  throw new Error(`no blob holds ${JSON.stringify(String(content).slice(0, 40))}`);
}

/** Overwrites a blob's bytes where it is stored (inline or file); `undefined` removes it. */
export function setBlob(p: TempProject, hash: string, bytes: string | Buffer | undefined): void {
  const file = blobFiles(p).get(hash);
  if (file) {
    if (bytes === undefined) fs.rmSync(file);
    else fs.writeFileSync(file, bytes);
    return;
  }
  const edit = (db: Database<Uint8Array, string> | RootDatabase<Uint8Array, string>): boolean => {
    if (!db.doesExist(hash)) return false;
    if (bytes === undefined) db.removeSync(hash);
    else db.putSync(hash, Buffer.from(bytes));
    return true;
  };
  const found = withBlobEnv(p, false, edit) || withStore(p, false, (root) => [...root.getKeys()].includes('blobs') && edit(legacyBlobDb(root)));
  if (!found) throw new Error(`no blob ${hash}`);
}

/** Puts a blob into the blob environment directly (what a kill between a blob's commit and
 * its entry's leaves, when `bytes` hash to `hash`). */
export function addInlineBlob(p: TempProject, hash: string, bytes: string | Buffer): void {
  withBlobEnv(p, false, (env) => env.putSync(hash, Buffer.from(bytes)));
}

/** Moves every inline blob to a blob file: the layout of a store written before small blobs
 * were kept inline. Returns how many were moved. */
export function toFileBlobs(p: TempProject): number {
  const all = [...inlineBlobs(p)];
  for (const [h, bytes] of all) p.write(`.cache/outputs/blobs/${h.slice(0, 2)}/${h}`, bytes);
  fs.rmSync(p.path('.cache/outputs/inline'), { recursive: true, force: true });
  withStore(p, false, (root) => {
    if ([...root.getKeys()].includes('blobs')) legacyBlobDb(root).dropSync();
  });
  return all.length;
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
