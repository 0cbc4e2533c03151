// The step graph of a cached config, cached beside it (`.cache/batchfile/graph.bin`): a graph is
// a function of its config alone, and building it (an index of every output, every input
// looked up in it, the order) was ~10-15 ms of a 1,000-step direct no-op. Keyed by the config's
// id (batchfile/config-cache.ts: the checksum of the stored config, which changes with the
// Batchfile, what it read and the engine build), and checksummed; anything else, or a graph
// that does not fit the config, is built again (a Batchfile error such as a cycle is found by
// that build, so it is never cached).
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import type { PipelineConfig } from '../batchfile/config.js';
import { hashBytes } from '../fingerprint/hash.js';
import { adoptGraph, buildGraph, type Graph, type GraphParts } from '../graph/graph.js';

const FORMAT = 1;
const MAGIC = 'batchfile-graph\n';
const SUM_LEN = 16;

interface Stored {
  format: number;
  configId: string;
  parts: GraphParts;
}

export function graphCachePath(cacheDir: string): string {
  return path.join(cacheDir, 'batchfile', 'graph.bin');
}

function readStored(file: string): Stored | undefined {
  try {
    const bytes = fs.readFileSync(file);
    const start = MAGIC.length + SUM_LEN;
    if (bytes.length <= start || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
    const body = bytes.subarray(start);
    if (hashBytes(body) !== bytes.toString('latin1', MAGIC.length, start)) return undefined;
    return v8.deserialize(body) as Stored;
  } catch {
    return undefined;
  }
}

/** Does `parts` name exactly the steps of `config`? (A guard: the id already says so.) */
function fits(parts: GraphParts, config: PipelineConfig): boolean {
  return Array.isArray(parts.order) && parts.order.length === config.steps.size && parts.order.every((n) => config.steps.has(n)) && parts.deps instanceof Map && parts.dependents instanceof Map && parts.edgeReason instanceof Map;
}

/** The graph of `config`, whose id is `configId`: the stored one when it was built for that
 * id, else built now and stored. */
export function cachedGraph(config: PipelineConfig, cacheDir: string, configId: string): Graph {
  const file = graphCachePath(cacheDir);
  const s = readStored(file);
  if (s && s.format === FORMAT && s.configId === configId && fits(s.parts, config)) return adoptGraph(config, s.parts);
  const g = buildGraph(config);
  try {
    const stored: Stored = { format: FORMAT, configId, parts: { deps: g.deps, dependents: g.dependents, order: g.order, edgeReason: g.edgeReason } };
    const body = v8.serialize(stored);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(MAGIC + hashBytes(body), 'latin1'), body]));
    fs.renameSync(tmp, file);
  } catch {
    // best effort: the next run builds it again
  }
  return g;
}
