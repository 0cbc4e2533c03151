import { buildGraph } from '../../graph/graph.js';
import { graphToDot, graphToMermaid, graphToText } from '../../report/graph-format.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import { loadProject, resolveProject } from '../../app/project.js';

/** `batch graph [--format mermaid|dot|text]`. */
export async function graphCommand(args: Args, io: Io): Promise<number> {
  const loaded = await loadProject(resolveProject(args));
  const graph = buildGraph(loaded.config);
  const format = args.format ?? 'mermaid';
  const render = { mermaid: graphToMermaid, dot: graphToDot, text: graphToText }[format];
  if (!render) throw new BatchError(`Unknown graph format "${format}"; use mermaid, dot or text`, 2);
  io.out.write(`${render(graph)}\n`);
  return 0;
}
