// `batch trends`: one line per step — latest passed duration, the median of the passed runs
// before it, the ratio, and a flag when the regression rule (history/stats.ts) says slower.
import { csv, iso, ms, ratio, table } from '../format.js';
import { outputMode, withReadStore } from '../read-store.js';
import { RULE, RULE_TEXT } from '../../history/stats.js';
import { computeTrends } from '../../history/trends.js';
import { sparkline } from '../../history/stats.js';
import { BatchError } from '../../util/errors.js';
import type { Args } from '../args.js';
import type { Io } from '../../report/io.js';

export default async function trendsCommand(args: Args, io: Io): Promise<number> {
  const mode = outputMode(args);
  if (args.positionals.length > 0) throw new BatchError('`batch trends` takes no arguments (one step: `batch history STEP`)', 2);
  if (args.limit !== undefined && args.limit < 1) throw new BatchError('--limit needs at least 1', 2);
  // --limit sets how many earlier passed runs the median is taken over.
  const rule = { ...RULE, window: args.limit ?? RULE.window };
  return withReadStore(args, (store) => {
    const { rows, runsScanned } = computeTrends(store, { rule });
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
    return 0;
  });
}
