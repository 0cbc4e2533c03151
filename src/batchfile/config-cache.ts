// The validated Batchfile, cached by content (`.cache/batchfile/config.bin`): a direct run
// (CI, scripts, --no-daemon) whose Batchfile is unchanged neither imports nor validates it
// again, which for 1,000 steps was ~40 ms of a ~350 ms no-op (its 400 KB of compiled code
// parsed and run, 1,000 steps validated).
//
// A cached config is used only when it is what evaluating the Batchfile now would give:
// - the same compiled Batchfile (named by the hash of its code, which load.ts rebuilds when
//   the Batchfile or any local module it imports changes), the same project, Batchfile path
//   and engine build (validation is the engine's code);
// - an evaluation that depends on nothing else, or only on what is recorded with it and
//   checked again before each use: the files and folders it read (each one's stat, and the
//   content of a file or the names in a folder), and the environment variables it read
//   (their values). A Batchfile whose code could depend on anything else (the clock,
//   randomness, the network, a package, other modules of Node, process arguments) or that
//   writes files or prints while evaluated is never cached: it is evaluated on every run, as
//   before.
// forEach globs and params files are not part of it: they are listed and read at every run
// after it (app/materialize.ts). The file is checksummed; one that is damaged, unreadable or
// of another format is ignored (the Batchfile is evaluated and the file written again).
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { hashBytes } from '../fingerprint/hash.js';
import { RACY_WINDOW_MS } from '../fingerprint/stat-cache.js';
import { ENGINE_ENTRY, engineStamp, engineVersion } from '../util/engine.js';
import type { PipelineConfig } from './config.js';
import type { Accessed } from './reads.js';

/** Bump when what is stored changes. */
const FORMAT = 1;
const MAGIC = 'batchfile-config\n';
const SUM_LEN = 16;

/** What the cached config depends on besides its compiled code. */
export interface ConfigDeps {
  /** Absolute path → probe (see probe()). */
  files: [string, string][];
  /** Variable → value (null: unset); undefined when the evaluation read no variable. */
  env?: [string, string | null][];
  /** The whole environment counts (the evaluation listed it): its canonical text's hash. */
  allEnv?: string;
}

interface Stored {
  format: number;
  build: string;
  root: string;
  file: string;
  out: string;
  deps: ConfigDeps;
  config: PipelineConfig;
}

export function configCachePath(cacheDir: string): string {
  return path.join(cacheDir, 'batchfile', 'config.bin');
}

/** The engine build this process runs: validation is its code. bin/batch.js stamps the build
 * (path, build time, Node version); a process started otherwise (tests) uses this module's
 * own file and time. */
function buildId(): string {
  const stamp = engineStamp();
  if (stamp !== 'unknown') return `${engineVersion()}|${stamp}`;
  const self = fileURLToPath(import.meta.url);
  let t = '-1';
  try {
    const st = fs.statSync(self);
    t = `${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    // no file: t stays -1
  }
  return `${engineVersion()}|${self}|${t}|${ENGINE_ENTRY}|${process.version}`;
}

/** What a path holds now, as a cached config's dependency: its stat (type, size, times,
 * inode, mode; or "missing"), plus the content hash of a file or the sorted entry names of a
 * folder. Any change a Batchfile could see through fs changes it. */
export function probe(abs: string): string {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    return `missing:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  }
  const lst = fs.lstatSync(abs, { throwIfNoEntry: false });
  const head = `${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${lst?.isSymbolicLink() ? fs.readlinkSync(abs) : ''}`;
  try {
    if (st.isFile()) return `${head}:${hashBytes(fs.readFileSync(abs))}`;
    if (st.isDirectory()) {
      const names = fs.readdirSync(abs, { withFileTypes: true }).map((d) => `${d.name}/${d.isDirectory() ? 'd' : d.isFile() ? 'f' : 'o'}`).sort();
      return `${head}:${names.join('\0')}`;
    }
  } catch (e) {
    return `${head}:unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  }
  return head;
}

function envText(env: NodeJS.ProcessEnv): string {
  return hashBytes(Buffer.from(JSON.stringify(Object.keys(env).sort().map((k) => [k, env[k]]))));
}


/** The dependencies of an evaluation that started at `since` (wall clock, ms) and touched
 * `a`, or undefined when it is not to be cached: it wrote files, or a path it read changed
 * within the racy window before the evaluation started, or since: it may have changed between
 * the evaluation's read and the probe taken after it, or within one timestamp tick (the same
 * rule as a file's hash, fingerprint/stat-cache.ts; BATCH_RACY_WINDOW_MS). */
export function depsOf(a: Omit<Accessed<unknown>, 'value'>, cacheDir: string, since: number): ConfigDeps | undefined {
  if (a.wrote) return undefined;
  // The engine's own state is not the Batchfile's input (the compiled file itself is read).
  const own = path.join(cacheDir, 'batchfile') + path.sep;
  const files: [string, string][] = [];
  for (const p of a.paths) {
    if (p.startsWith(own)) continue;
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st && Math.max(st.mtimeMs, st.ctimeMs) > since - RACY_WINDOW_MS) return undefined;
    files.push([p, probe(p)]);
  }
  return {
    files,
    ...(a.env.names.size > 0 ? { env: [...a.env.names].map(([k, v]): [string, string | null] => [k, v ?? null]) } : {}),
    ...(a.env.all ? { allEnv: envText(process.env) } : {}),
  };
}

function depsHold(deps: ConfigDeps, env: NodeJS.ProcessEnv): boolean {
  for (const [name, value] of deps.env ?? []) if ((env[name] ?? null) !== value) return false;
  if (deps.allEnv !== undefined && deps.allEnv !== envText(env)) return false;
  for (const [abs, was] of deps.files) if (probe(abs) !== was) return false;
  return true;
}

/** A cached config and its identity (the checksum of what is stored: the same id, the same
 * config and dependencies). */
export interface CachedConfig {
  config: PipelineConfig;
  id: string;
}

/** The cached config of the compiled Batchfile `out`, if there is one and it still holds
 * (see the file's comment); undefined otherwise, never an error. */
export function readCachedConfig(where: { root: string; file: string; cacheDir: string; out: string }): CachedConfig | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(configCachePath(where.cacheDir));
  } catch {
    return undefined;
  }
  const start = MAGIC.length + SUM_LEN;
  if (bytes.length <= start || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const body = bytes.subarray(start);
  const id = hashBytes(body);
  if (id !== bytes.toString('latin1', MAGIC.length, start)) return undefined;
  let s: Stored;
  try {
    s = v8.deserialize(body) as Stored;
  } catch {
    return undefined;
  }
  if (typeof s !== 'object' || s === null || s.format !== FORMAT || s.build !== buildId() || s.root !== where.root || s.file !== where.file || s.out !== where.out) return undefined;
  if (!(s.config?.steps instanceof Map) || !depsHold(s.deps, process.env)) return undefined;
  return { config: s.config, id };
}

/** Stores `config` as the validated form of `out`, depending on `deps`, and returns its id
 * (as readCachedConfig will). Best effort: a cache that cannot be written only costs the
 * next run an evaluation (the id is returned all the same). */
export function writeCachedConfig(where: { root: string; file: string; cacheDir: string; out: string }, deps: ConfigDeps, config: PipelineConfig): string {
  const stored: Stored = { format: FORMAT, build: buildId(), root: where.root, file: where.file, out: where.out, deps, config };
  const body = v8.serialize(stored);
  const id = hashBytes(body);
  try {
    const file = configCachePath(where.cacheDir);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(MAGIC + id, 'latin1'), body]));
    fs.renameSync(tmp, file);
  } catch {
    // see above
  }
  return id;
}
