// `batch trends`: one line per step — latest passed duration, the median of the passed runs
// before it, the ratio, and a flag when the regression rule (history/stats.ts) says slower.
import { csv, iso, ms, ratio, table } from '../format.js';
import { outputMode, withReadStore } from '../read-store.js';
import { RULE, RULE_TEXT } from '../../history/stats.js';
import { computeTrends } from '../../history/trends.js';
import { sparkline } from '../../history/stats.js';
import { BatchError } from '../../util/errors.js';
import { fmtNum, metricRuns, metricTrends, type MetricTrendRow } from '../../history/metrics.js';
import { declaredBounds } from './metric-bounds.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';

export default async function trendsCommand(args: Args, io: Io): Promise<number> {
  const mode = outputMode(args);
  if (args.positionals.length > 0) throw new BatchError('`batch trends` takes no arguments (one step: `batch history STEP`)', 2);
  if (args.limit !== undefined && args.limit < 1) throw new BatchError('--limit needs at least 1', 2);
  // --limit sets how many earlier passed runs the median is taken over.
  const rule = { ...RULE, window: args.limit ?? RULE.window };
  const declared = await declaredBounds(args);
  return withReadStore(args, (store) => {
    const { rows, runsScanned } = computeTrends(store, { rule });
    // Metrics with a declared bound: the latest value against the bound and the run before.
    const metrics = metricTrends(metricRuns(store, { limit: rule.window + 1 }), declared.bounds, declared.declaredOf).filter((m) => m.bound);
    const ruleText = rule.window === RULE.window ? RULE_TEXT : RULE_TEXT.replace(`previous ${RULE.window}`, `previous ${rule.window}`);
    if (mode === 'json') {
      io.out.write(`${JSON.stringify({
        rule: { ...rule, text: ruleText },
        runsScanned,
        steps: rows.map((r) => ({
          step: r.step,
          latestMs: r.latest?.durationMs ?? null,
          latestRun: r.latest?.runId ?? null,
          latestAt: r.latest ? iso(r.latest.startedAt) : null,
          medianMs: r.medianMs ?? null,
          madMs: r.madMs ?? null,
          ratio: r.ratio ?? null,
          thresholdMs: r.thresholdMs ?? null,
          baseline: r.baseline,
          slower: r.slower,
          ...(r.latestFailed ? { latestFailed: r.latestFailed } : {}),
          series: r.series,
        })),
        metrics: metrics.map((m) => ({ step: m.step, metric: m.metric, latest: m.latest, latestRun: m.latestRun, previous: m.previous ?? null, change: m.change ?? null, bound: m.bound, outOfBounds: m.breach !== undefined, ...(m.breach ? { breach: m.breach } : {}), series: m.series })),
        ...(declared.note ? { note: declared.note } : {}),
      }, null, 2)}\n`);
      return 0;
    }
    if (mode === 'csv') {
      io.out.write(csv(
        ['step', 'latest_ms', 'latest_run', 'median_ms', 'mad_ms', 'ratio', 'threshold_ms', 'baseline_runs', 'slower', 'latest_failed_run'],
        rows.map((r) => [r.step, r.latest?.durationMs, r.latest?.runId, r.medianMs, r.madMs, r.ratio === undefined ? undefined : Number(r.ratio.toFixed(4)), r.thresholdMs === undefined ? undefined : Math.round(r.thresholdMs), r.baseline, r.slower, r.latestFailed?.runId]),
      ));
      return 0;
    }
    const s = io.style;
    if (rows.length === 0) {
      io.say('No runs recorded yet.');
      return 0;
    }
    io.say(table(
      [{ head: 'STEP' }, { head: 'LATEST', right: true }, { head: 'MEDIAN', right: true }, { head: 'MAD', right: true }, { head: 'RATIO', right: true }, { head: 'RUNS', right: true }, { head: 'TREND' }, { head: 'FLAG', paint: (c) => (c.startsWith('SLOWER') ? s.red(c) : c.trim() ? s.yellow(c) : c) }],
      rows.map((r) => [
        r.step, ms(r.latest?.durationMs), ms(r.medianMs), ms(r.madMs), ratio(r.ratio), String(r.baseline), sparkline(r.series),
        r.slower ? 'SLOWER' : r.latestFailed ? `last run ${r.latestFailed.status}` : !r.latest ? 'never ran' : r.baseline < rule.minSamples ? 'few runs' : '',
      ]),
      s,
    ));
    const slow = rows.filter((r) => r.slower);
    io.say(s.dim('LATEST = newest passed execution; MEDIAN, MAD = over the passed executions before it (RUNS of them).'));
    io.say(s.dim(`SLOWER: ${ruleText}.`));
    if (slow.length > 0) io.say(s.red(`${slow.length} step${slow.length === 1 ? '' : 's'} slower than usual: ${slow.map((r) => r.step).join(', ')}`));
    else io.say(s.green('No step is slower than usual.'));
    if (metrics.length > 0) sayMetrics(io, metrics);
    if (declared.note) io.say(s.yellow(declared.note));
    return 0;
  });
}

function boundText(m: MetricTrendRow): string {
  const b = m.bound ?? {};
  return (['min', 'max', 'maxDrop', 'maxRise'] as const).filter((k) => b[k] !== undefined).map((k) => `${k} ${b[k]}`).join(', ');
}

/** The bounded metrics: latest value, change, bound, and OUT OF BOUNDS with why. */
function sayMetrics(io: Io, metrics: MetricTrendRow[]): void {
  const s = io.style;
  io.say('');
  io.say(table(
    [{ head: 'STEP' }, { head: 'METRIC' }, { head: 'LATEST', right: true }, { head: 'CHANGE', right: true }, { head: 'BOUND' }, { head: 'TREND' }, { head: 'FLAG', paint: (c) => (c.trim() ? s.red(c) : c) }],
    metrics.map((m) => [m.step, m.metric, fmtNum(m.latest), m.change === undefined ? '' : `${m.change > 0 ? '+' : ''}${fmtNum(m.change)}`, boundText(m), sparkline(m.series), m.breach ? `OUT OF BOUNDS: ${m.breach}` : '']),
    s,
  ));
  const out = metrics.filter((m) => m.breach);
  if (out.length > 0) io.say(s.red(`${out.length} metric${out.length === 1 ? '' : 's'} out of bounds: ${out.map((m) => `${m.step} ${m.metric}`).join(', ')}`));
  else io.say(s.green('Every bounded metric is within its bounds.'));
}
