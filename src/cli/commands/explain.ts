import { buildGraph, selectSteps } from '../../graph/graph.js';
import { initHash } from '../../fingerprint/hash.js';
import { StatCache } from '../../fingerprint/stat-cache.js';
import { planStep } from '../../plan/plan-step.js';
import type { Decision } from '../../plan/decide.js';
import { findOrphans, orphanLines, planOutcomes } from '../../plan/orphans.js';
import { preflight } from '../../app/pipeline.js';
import { expandTargets, materialize } from '../../app/materialize.js';
import { openStore } from '../../store/store.js';
import { openEntries } from '../../cache/local/entries.js';
import { clean } from '../../report/style.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';
import { loadProject, resolveProject } from '../../app/project.js';
import { RemoteProbe } from '../../cache/remote/probe.js';
import { resolveRemote } from '../../cache/remote/settings.js';

interface Explained {
  name: string;
  decision: 'run' | 'restore' | 'up-to-date' | 'pending';
  reasons: string[];
}

/** A step up to date by the files now, reading a file a run will remove first (an output of
 * a step no longer declared), will run: the decision says so, naming the file. */
function withOrphanInputs(decision: Decision, inputs: readonly string[], gone: ReadonlyMap<string, string>): Decision {
  if (gone.size === 0) return decision;
  const why = inputs.filter((f) => gone.has(f)).map((f) => `input removed: ${f} (written by "${gone.get(f)}", no longer in the Batchfile)`);
  return why.length === 0 ? decision : { run: true, reasons: [...decision.reasons, ...why] };
}

/** `batch explain STEP...` and `batch --dry-run`: the plan and every reason, executing nothing.
 * A step downstream of one that will run is "pending": it is decided against the bytes its
 * upstream writes, so it may still turn out up to date (early cutoff). */
export async function explainCommand(args: Args, io: Io): Promise<number> {
  if (args.command === 'explain' && !args.dryRun && args.positionals.length === 0) {
    throw new BatchError('batch explain needs at least one step name (or use `batch --dry-run` for every step)', 2);
  }
  await initHash();
  const project = resolveProject(args);
  const loaded = await loadProject(project);
  const store = openStore(project.cacheDir);
  try {
    const stats = new StatCache(project.root, store);
    const config = await materialize(loaded.config, stats);
    const graph = buildGraph(config);
    const selected = selectSteps(graph, expandTargets(config, args.positionals));
    const { code } = await preflight(config, graph, selected, project.root, project.cacheDir, store, stats);
    const entries = openEntries(store);
    const cacheOn = args.cache && config.cache.enabled;
    const remoteFlags = { readOnly: args.remoteCacheReadOnly, ...(args.remoteCache !== undefined ? { url: args.remoteCache } : {}), ...(args.remoteCacheTeam !== undefined ? { team: args.remoteCacheTeam } : {}) };
    const remote = cacheOn ? resolveRemote(config.cache.remote, remoteFlags, process.env, 'Batchfile') : undefined;
    const probe = remote ? new RemoteProbe(remote) : undefined;
    // Outputs of steps no longer declared: a run removes them first, so readers would rerun.
    const orphans = findOrphans(config, graph, store, stats);
    const gone = new Map((orphans?.remove ?? []).map((o) => [o.file, o.step]));
    const willRun = new Set<string>();
    const out: Explained[] = [];
    for (const name of selected) {
      const step = config.steps.get(name)!;
      const planned = planStep({ root: project.root, stats, env: process.env, code, store, force: args.force }, step);
      const { fp } = planned;
      const decision = withOrphanInputs(planned.decision, fp.inputFiles, gone);
      const upstream = (graph.deps.get(name) ?? []).filter((d) => willRun.has(d));
      // Its key once the orphans are gone is not known here: no cache entry is claimed for it.
      const cacheable = planned.decision.run && !args.force && cacheOn && step.cache;
      const cached = cacheable ? entries.get(fp.key) : undefined;
      // Asked only for a step that would run and is not cached here, and only while the
      // inputs are known (not for a step downstream of one that will run).
      const remoteHit = cacheable && !cached && upstream.length === 0 && probe ? await probe.has(fp.key) : undefined;
      if (cached) {
        willRun.add(name);
        out.push({ name, decision: 'restore', reasons: [`outputs of run ${cached.runId} are in the output cache (restored if intact, else run)`, ...decision.reasons] });
      } else if (remoteHit) {
        willRun.add(name);
        out.push({ name, decision: 'restore', reasons: [`restore from remote cache ${probe!.url} (if the entry is intact, else run)`, ...decision.reasons] });
      } else if (decision.run) {
        willRun.add(name);
        out.push({ name, decision: 'run', reasons: decision.reasons });
      } else if (upstream.length > 0) {
        willRun.add(name);
        out.push({ name, decision: 'pending', reasons: [`upstream will run: ${upstream.join(', ')}; decided against its new outputs (may stay up to date)`] });
      } else {
        out.push({ name, decision: 'up-to-date', reasons: [] });
      }
    }
    // Keep what was hashed, as a run does (the stat cache writes in batches).
    stats.flush();
    const orphanOutcomes = orphans ? planOutcomes(orphans) : [];
    const remoteNote = probe?.failure ? `remote cache not asked: ${probe.failure}` : undefined;
    if (args.json) {
      io.out.write(`${JSON.stringify({ steps: out, ...(orphanOutcomes.length > 0 ? { orphans: orphanOutcomes } : {}), ...(remoteNote ? { remoteWarning: remoteNote } : {}) }, null, 2)}\n`);
      return 0;
    }
    if (remoteNote) io.say(io.style.yellow(`warning: ${remoteNote}`));
    for (const l of orphanLines(orphanOutcomes, true)) io.say(io.style.yellow(clean(l)));
    const w = Math.min(40, Math.max(...out.map((o) => o.name.length)));
    for (const o of out) {
      const tag = o.decision === 'run' ? io.style.yellow('run       ') : o.decision === 'restore' ? io.style.yellow('restore   ') : o.decision === 'pending' ? io.style.dim('pending   ') : io.style.green('up-to-date');
      io.say(`${tag}  ${clean(o.name).padEnd(w)}  ${o.reasons[0] ? clean(o.reasons[0]) : ''}`);
      for (const r of o.reasons.slice(1)) io.say(`${' '.repeat(12 + w)}  ${clean(r)}`);
      const about = config.steps.get(o.name)?.description;
      if (about) io.say(io.style.dim(`${' '.repeat(12 + w)}  (${clean(about.replace(/\s+/g, ' ').trim())})`));
    }
    const n = out.filter((o) => o.decision !== 'up-to-date').length;
    io.say(io.style.dim(`${n} of ${out.length} step(s) would run or be re-checked; nothing was executed`));
    return 0;
  } finally {
    await store.close();
  }
}
