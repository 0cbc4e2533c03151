import { chooseCache } from '../cache/choose.js';
import { initHash } from '../fingerprint/hash.js';
import { StatCache } from '../fingerprint/stat-cache.js';
import { buildGraph, selectSteps } from '../graph/graph.js';
import { restoreLine, verdictOf, type Verdict } from '../plan/verdict.js';
import { openStore } from '../store/store.js';
import { preflight } from './preflight.js';
import { expandTargets, materialize } from './materialize.js';
import { loadProject, type Project } from './project.js';
import type { RunSettings } from './settings.js';

/** One step of a plan: its verdict, or `pending` for a step downstream of one that will run
 * (decided against the bytes its upstream writes, so it may still turn out up to date). */
export interface Explained {
  name: string;
  decision: Verdict['kind'] | 'pending';
  reasons: string[];
}

/** The verdict of every selected step, as the run would reach it, executing and recording
 * nothing (`batch explain`, `--dry-run`). The full check always (no stat snapshot), to give
 * every reason down to the file. */
export async function explainRun(project: Project, settings: Pick<RunSettings, 'targets' | 'force' | 'cache' | 'maxSize'>): Promise<Explained[]> {
  await initHash();
  const loaded = await loadProject(project);
  const store = openStore(project.cacheDir);
  try {
    const stats = new StatCache(project.root, store);
    const config = await materialize(loaded.config, stats);
    const graph = buildGraph(config);
    const selected = selectSteps(graph, expandTargets(config, settings.targets));
    const { code } = await preflight({ config, graph, selected }, { root: project.root, cacheDir: project.cacheDir, store, stats });
    const flags = { enabled: settings.cache, ...(settings.maxSize !== undefined ? { maxSize: settings.maxSize } : {}) };
    const cache = chooseCache(config.cache, flags, { root: project.root, cacheDir: project.cacheDir, store }, 'read');
    const ctx = { root: project.root, stats, env: process.env, store, force: settings.force, ...(cache ? { cache } : {}) };
    const willRun = new Set<string>();
    const out: Explained[] = [];
    for (const name of selected) {
      const v = await verdictOf(ctx, config.steps.get(name)!, code.get(name)!);
      const upstream = (graph.deps.get(name) ?? []).filter((d) => willRun.has(d));
      if (v.kind !== 'up-to-date') willRun.add(name);
      if (v.kind === 'restore') out.push({ name, decision: 'restore', reasons: [restoreLine(v.fromRun), ...v.reasons] });
      else if (v.kind === 'up-to-date' && upstream.length > 0) {
        willRun.add(name);
        out.push({ name, decision: 'pending', reasons: [`upstream will run: ${upstream.join(', ')}; decided against its new outputs (may stay up to date)`] });
      } else out.push({ name, decision: v.kind, reasons: v.reasons });
    }
    // Keep what was hashed, as a run does (the stat cache writes in batches).
    stats.flush();
    return out;
  } finally {
    await store.close();
  }
}
