// The metric bounds a Batchfile declares, for `batch trends` and `batch metrics`. Query commands
// work without a loadable Batchfile: then there are no bounds, and the note says why.
import type { MetricBound } from '../../batchfile/types.js';
import type { Args } from '../args.js';
import { loadProject, resolveProject } from '../../app/project.js';

export interface DeclaredBounds {
  bounds: Map<string, Record<string, MetricBound>>;
  /** Instance name (`tidy:x`) → declared step; others map to themselves. */
  declaredOf: (step: string) => string;
  note?: string;
}

export async function declaredBounds(args: Args): Promise<DeclaredBounds> {
  const bounds = new Map<string, Record<string, MetricBound>>();
  const forEach = new Set<string>();
  const declaredOf = (step: string): string => {
    const cut = step.lastIndexOf(':');
    return !bounds.has(step) && cut > 0 && forEach.has(step.slice(0, cut)) ? step.slice(0, cut) : step;
  };
  try {
    const loaded = await loadProject(resolveProject(args));
    for (const s of loaded.config.steps.values()) {
      if (s.metricBounds) bounds.set(s.name, s.metricBounds);
      if (s.forEach) forEach.add(s.name);
    }
    return { bounds, declaredOf };
  } catch (e) {
    return { bounds, declaredOf, note: `metric bounds not checked: the Batchfile does not load (${(e as Error).message.split('\n')[0]})` };
  }
}
