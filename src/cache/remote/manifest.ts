/** Checks a downloaded manifest before anything is written: trust nothing from the server. */
import { isGlob, specMatcher } from '../../fingerprint/files.js';
import { isInside, NOT_NORMAL } from '../../util/paths.js';
import type { Manifest, ManifestFile } from './payload.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const TYPES: Record<number, string> = {
  0o140000: 'a socket',
  0o120000: 'a symlink',
  0o060000: 'a block device',
  0o040000: 'a folder',
  0o020000: 'a character device',
  0o010000: 'a FIFO',
};

export type Checked = { ok: true; manifest: Manifest } | { ok: false; error: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Why a path from the payload may not be written, or undefined when it is a plain
 * project-relative path (no `..`, not absolute, no `.` or empty segments, no backslash or NUL). */
export function unsafePath(p: unknown): string | undefined {
  if (typeof p !== 'string' || p === '') return 'an empty or non-text path';
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return `absolute path ${JSON.stringify(p)}`;
  if (p.includes('\0')) return 'a path with a NUL byte';
  if (NOT_NORMAL.test(p) || !isInside(p)) return `path ${JSON.stringify(p)} is not a plain relative path (.., ., //, \\)`;
  return undefined;
}

function checkFile(f: unknown, underOutputs: (p: string) => boolean): string | ManifestFile {
  if (!isObj(f)) return 'a file entry is not an object';
  const bad = unsafePath(f.path);
  if (bad) return bad;
  const p = f.path as string;
  if (!underOutputs(p)) return `${p} is not under the step's declared outputs`;
  if (!isCount(f.mode)) return `${p}: mode is not a number`;
  const type = f.mode & S_IFMT;
  if (type !== S_IFREG) return `${p} is ${TYPES[type] ?? 'not a regular file'}`;
  if ((f.mode & 0o7000) !== 0) return `${p} has setuid, setgid or sticky bits`;
  if (!isCount(f.size)) return `${p}: size is not a number`;
  if (typeof f.hash !== 'string' || !/^[0-9a-f]{16}$/.test(f.hash)) return `${p}: hash is not 16 hex digits`;
  return { path: p, size: f.size, mode: f.mode, hash: f.hash };
}

/** Validates a manifest for a step with these declared outputs and this key. Every file must
 * be a regular file under an output; folders must be declared output folders; no path twice,
 * none both a file and the folder of another. */
export function checkManifest(m: unknown, key: string, outputs: readonly string[]): Checked {
  const fail = (error: string): Checked => ({ ok: false, error });
  if (!isObj(m) || m.format !== 'batchfile-remote-cache' || m.version !== 1) return fail('manifest is not format batchfile-remote-cache 1');
  if (m.key !== key) return fail(`manifest is for key ${String(m.key)}, not ${key}`);
  if (typeof m.step !== 'string' || typeof m.runId !== 'string') return fail('manifest has no step or run');
  if (!Array.isArray(m.files) || !Array.isArray(m.dirs)) return fail('manifest has no file or folder list');
  const matchers = outputs.map(specMatcher);
  const underOutputs = (p: string): boolean => matchers.some((match) => match(p));
  const files: ManifestFile[] = [];
  const seen = new Set<string>();
  for (const raw of m.files) {
    const f = checkFile(raw, underOutputs);
    if (typeof f === 'string') return fail(f);
    if (seen.has(f.path)) return fail(`${f.path} is listed twice`);
    seen.add(f.path);
    files.push(f);
  }
  // A file may not also be a folder holding another file (a/b and a/b/c).
  for (const f of files) {
    for (let i = f.path.indexOf('/'); i > 0; i = f.path.indexOf('/', i + 1)) {
      if (seen.has(f.path.slice(0, i))) return fail(`${f.path.slice(0, i)} is both a file and a folder`);
    }
  }
  const literal = new Set(outputs.filter((o) => !isGlob(o)));
  const dirs: string[] = [];
  for (const d of m.dirs) {
    const bad = unsafePath(d);
    if (bad) return fail(bad);
    if (!literal.has(d as string)) return fail(`folder ${String(d)} is not a declared output`);
    if (seen.has(d as string)) return fail(`${String(d)} is both a file and a folder`);
    dirs.push(d as string);
  }
  return { ok: true, manifest: { format: 'batchfile-remote-cache', version: 1, key, step: m.step, runId: m.runId, dirs, files } };
}
