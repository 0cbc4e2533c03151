import path from 'node:path';
import { chooseCache, remoteSettings } from '../cache/choose.js';
import { RemoteProbe } from '../cache/remote/probe.js';
import { initHash } from '../fingerprint/hash.js';
import { StatCache } from '../fingerprint/stat-cache.js';
import { buildGraph, selectSteps } from '../graph/graph.js';
import { findOrphans, planOutcomes } from '../plan/orphans.js';
import type { OrphanOutcome } from '../store/types.js';
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
  /** Outputs of steps no longer declared, which a run would remove first. */
  orphans: OrphanOutcome[];
  remoteWarning?: string;
  /** Steps' descriptions, by name (shown by the human output, not in --json). */
  about: Map<string, string>;
}

/** A verdict for a step that reads a file a run will remove first (an output of a step no
 * longer declared): it will run, and its reasons name the file. */
function withOrphanInputs(v: Verdict, gone: ReadonlyMap<string, string>): Verdict {
  if (gone.size === 0) return v;
  const why = v.fp.inputFiles.filter((f) => gone.has(f)).map((f) => `input removed: ${f} (written by "${gone.get(f)}", no longer in the Batchfile)`);
  if (why.length === 0) return v;
  return v.kind === 'up-to-date' ? { kind: 'run', reasons: why, fp: v.fp } : { ...v, reasons: [...v.reasons, ...why] };
}

/** The verdict of every selected step, as the run would reach it, executing and recording
 * nothing (`batch explain`, `--dry-run`). The full check always (no stat snapshot), to give
 * every reason down to the file. */
export async function explainRun(project: Project, settings: Pick<RunSettings, 'targets' | 'force' | 'cache' | 'maxSize' | 'remoteCache'>): Promise<Explanation> {
  await initHash();
  const loaded = await loadProject(project);
  const store = openStore(project.cacheDir, { root: project.root });
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
    // Outputs of steps no longer declared: a run removes them first, so readers would rerun.
    const orphans = findOrphans(config, graph, store, stats);
    const gone = new Map((orphans?.remove ?? []).map((o) => [o.file, o.step]));
    const willRun = new Set<string>();
    const out: Explained[] = [];
    for (const name of selected) {
      const step = config.steps.get(name)!;
      const declared = await verdictOf(ctx, step, code.get(name)!);
      const v = withOrphanInputs(declared, gone);
      const upstream = (graph.deps.get(name) ?? []).filter((d) => willRun.has(d));
      if (v.kind !== 'up-to-date') willRun.add(name);
      // The remote is asked (a HEAD) only for a step that would run and is not cached here,
      // and only while its inputs are known (not downstream of a step that will run).
      const remoteHit = declared.kind === 'run' && probe && !settings.force && step.cache && upstream.length === 0 ? await probe.has(v.fp.key) : undefined;
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
    const about = new Map(out.flatMap((o) => { const d = config.steps.get(o.name)?.description; return d ? [[o.name, d] as const] : []; }));
    return { steps: out, orphans: orphans ? planOutcomes(orphans) : [], about, ...(probe?.failure ? { remoteWarning: `remote cache not asked: ${probe.failure}` } : {}) };
  } finally {
    await store.close();
  }
}
