import { buildGraph } from '../../graph/graph.js';
import { initHash } from '../../fingerprint/hash.js';
import { StatCache } from '../../fingerprint/stat-cache.js';
import { materialize } from '../../app/materialize.js';
import { graphToDot, graphToMermaid, graphToText } from '../../report/graph-format.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import { loadProject, resolveProject } from '../../app/project.js';

/** `batch graph [--format mermaid|dot|text]`. */
export async function graphCommand(args: Args, io: Io): Promise<number> {
  await initHash();
  const project = resolveProject(args);
  const loaded = await loadProject(project);
  // forEach steps drawn as the instances the files give now (no store: nothing recorded is read).
  const graph = buildGraph(await materialize(loaded.config, new StatCache(project.root, undefined)));
  const format = args.format ?? 'mermaid';
  const render = { mermaid: graphToMermaid, dot: graphToDot, text: graphToText }[format];
  if (!render) throw new BatchError(`Unknown graph format "${format}"; use mermaid, dot or text`, 2);
  io.out.write(`${render(graph)}\n`);
  return 0;
}
