// Reads the parameter files that steps' `paramsFrom` name (YAML, JSON, TOML). Each run asks the
// stat cache for the file's content hash (a stat; the file is read only when it changed), and
// a file is parsed again only when its bytes changed: the daemon and watch mode keep the parse.
import fs from 'node:fs';
import path from 'node:path';
import type { JsonValue } from '../util/json.js';
import { BatchError } from '../util/errors.js';
import { isJsonValue } from '../util/json.js';
import { shownPathsIn } from '../util/paths.js';
import { hashBytes } from './hash.js';
import type { StatCache } from './stat-cache.js';
import { importEsm } from '../util/import-esm.js';

type Parser = (text: string) => unknown;

/** Parsers are imported only when a Batchfile reads a file of their format. */
async function parserFor(rel: string): Promise<{ format: string; parse: Parser }> {
  const ext = path.extname(rel).toLowerCase();
  if (ext === '.json') return { format: 'JSON', parse: (t) => JSON.parse(t) as unknown };
  if (ext === '.toml') {
    const toml = await importEsm<typeof import('smol-toml')>('smol-toml');
    return { format: 'TOML', parse: (t) => toml.parse(t) };
  }
  const yaml = await importEsm<typeof import('yaml')>('yaml');
  return { format: 'YAML', parse: (t) => yaml.parse(t) as unknown };
}

/** Parsed documents by path, each with the hash of the bytes it was parsed from. */
const parsed = new Map<string, { hash: string; doc: JsonValue }>();

/** TOML dates and other values JSON cannot hold become what JSON.stringify makes of them. */
function asJson(v: unknown): JsonValue {
  if (isJsonValue(v)) return v;
  return JSON.parse(JSON.stringify(v) ?? 'null') as JsonValue;
}

/** The parsed content of a project-relative params file. `who`: the step(s) reading it, for errors. */
export async function readParamsFile(root: string, rel: string, stats: StatCache, who: string): Promise<JsonValue> {
  const known = stats.get(rel);
  if (known === null) throw new BatchError(`step "${who}".paramsFrom: "${rel}" does not exist (or is not a file)`, 2);
  const hit = parsed.get(rel);
  if (hit && hit.hash === known.hash) return hit.doc;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path.resolve(root, rel));
  } catch (e) {
    throw new BatchError(`step "${who}".paramsFrom: cannot read "${rel}": ${shownPathsIn(root, (e as Error).message)}`, 2);
  }
  const { format, parse } = await parserFor(rel);
  let doc: JsonValue;
  try {
    doc = asJson(parse(bytes.toString('utf8')));
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new BatchError(`${rel}: not valid ${format} (read by step "${who}".paramsFrom): ${msg}`, 2);
  }
  // Keyed by the bytes parsed (they may be newer than the stat cache's hash).
  parsed.set(rel, { hash: hashBytes(bytes), doc });
  return doc;
}
