import path from 'node:path';
import { chooseCache, remoteSettings } from '../cache/choose.js';
import { RemoteProbe } from '../cache/remote/probe.js';
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

/** The plan, and why the remote cache could not be asked (after its first failure). */
export interface Explanation {
  steps: Explained[];
  remoteWarning?: string;
}

/** The verdict of every selected step, as the run would reach it, executing and recording
 * nothing (`batch explain`, `--dry-run`). The full check always (no stat snapshot), to give
 * every reason down to the file. */
export async function explainRun(project: Project, settings: Pick<RunSettings, 'targets' | 'force' | 'cache' | 'maxSize' | 'remoteCache'>): Promise<Explanation> {
  await initHash();
  const loaded = await loadProject(project);
  const store = openStore(project.cacheDir);
  try {
    const stats = new StatCache(project.root, store);
    const config = await materialize(loaded.config, stats);
    const graph = buildGraph(config);
    const selected = selectSteps(graph, expandTargets(config, settings.targets));
    const { code } = await preflight({ config, graph, selected }, { root: project.root, cacheDir: project.cacheDir, store, stats });
    const flags = { enabled: settings.cache, ...(settings.maxSize !== undefined ? { maxSize: settings.maxSize } : {}), ...(settings.remoteCache ? { remote: settings.remoteCache } : {}) };
    const place = { root: project.root, cacheDir: project.cacheDir, store, env: process.env, batchfileName: path.relative(project.root, config.file) || config.file };
    const cache = await chooseCache(config.cache, flags, place, 'read');
    const remote = remoteSettings(config.cache, flags, place);
    const probe = remote ? new RemoteProbe(remote) : undefined;
    const ctx = { root: project.root, stats, env: process.env, store, force: settings.force, ...(cache ? { cache } : {}) };
    const willRun = new Set<string>();
    const out: Explained[] = [];
    for (const name of selected) {
      const step = config.steps.get(name)!;
      const v = await verdictOf(ctx, step, code.get(name)!);
      const upstream = (graph.deps.get(name) ?? []).filter((d) => willRun.has(d));
      if (v.kind !== 'up-to-date') willRun.add(name);
      // The remote is asked (a HEAD) only for a step that would run and is not cached here,
      // and only while its inputs are known (not downstream of a step that will run).
      const remoteHit = v.kind === 'run' && probe && !settings.force && step.cache && upstream.length === 0 ? await probe.has(v.fp.key) : undefined;
      if (remoteHit) out.push({ name, decision: 'restore', reasons: [`restore from remote cache ${probe!.url} (if the entry is intact, else run)`, ...v.reasons] });
      // An input missing now may be what a step upstream is about to write: the run decides
      // this step after it, so it is not blocked yet.
      else if (v.kind === 'blocked' && v.fp.missing.length > 0 && upstream.length > 0) {
        out.push({ name, decision: 'run', reasons: [`upstream will run: ${upstream.join(', ')}; blocked unless it writes what is missing`, ...v.reasons] });
      } else if (v.kind === 'restore') out.push({ name, decision: 'restore', reasons: [restoreLine(v.fromRun), ...v.reasons] });
      else if (v.kind === 'up-to-date' && upstream.length > 0) {
        willRun.add(name);
        out.push({ name, decision: 'pending', reasons: [`upstream will run: ${upstream.join(', ')}; decided against its new outputs (may stay up to date)`] });
      } else out.push({ name, decision: v.kind, reasons: v.reasons });
    }
    // Keep what was hashed, as a run does (the stat cache writes in batches).
    stats.flush();
    return { steps: out, ...(probe?.failure ? { remoteWarning: `remote cache not asked: ${probe.failure}` } : {}) };
  } finally {
    await store.close();
  }
}
