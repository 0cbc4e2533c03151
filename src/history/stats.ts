// The statistics behind trends and regression flags. Pure functions over plain numbers, so
// the rule is tested on its own and stated in one place (docs/history-and-report.md).

/** The regression rule. A step's latest ran-and-passed duration is flagged as slower when
 * all of these hold:
 *  - there are at least MIN_SAMPLES earlier ran-and-passed durations (within WINDOW);
 *  - latest − median > K × 1.4826 × MAD (beyond the usual spread; 1.4826 × MAD estimates
 *    the standard deviation of normally distributed noise, and unlike it ignores outliers);
 *  - latest − median ≥ MIN_ABS_MS (so timer noise on tiny steps is never flagged);
 *  - latest ≥ (1 + MIN_REL) × median (so a 1 % drift on a steady hour-long step is not news).
 */
export const RULE = {
  window: 20,
  minSamples: 5,
  k: 3,
  minAbsMs: 100,
  minRel: 0.1,
} as const;

export type Rule = { [K in keyof typeof RULE]: number };

export const RULE_TEXT =
  `slower when latest − median > ${RULE.k} × 1.4826 × MAD, ≥ ${RULE.minAbsMs} ms and ≥ ${RULE.minRel * 100} % of the median, ` +
  `over the previous ${RULE.window} passed executions (at least ${RULE.minSamples})`;

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median absolute deviation from the median (unscaled). */
export function mad(xs: readonly number[], med = median(xs)): number | undefined {
  if (med === undefined) return undefined;
  return median(xs.map((x) => Math.abs(x - med)));
}

export interface Verdict {
  /** Median of the earlier samples; undefined without any. */
  median?: number;
  mad?: number;
  /** latest / median (undefined when the median is 0 or missing). */
  ratio?: number;
  /** The latest exceeds the rule's threshold. */
  slower: boolean;
  /** The smallest duration that would have been flagged (undefined with too few samples). */
  thresholdMs?: number;
  samples: number;
}

/** Applies the rule to a latest duration and the earlier ones (newest first or any order;
 * only the first `rule.window` are used, so pass them newest first). */
export function judge(latest: number, earlier: readonly number[], rule: Rule = RULE): Verdict {
  const prev = earlier.slice(0, rule.window);
  const med = median(prev);
  if (med === undefined) return { slower: false, samples: 0 };
  const m = mad(prev, med)!;
  const v: Verdict = { median: med, mad: m, slower: false, samples: prev.length };
  if (med > 0) v.ratio = latest / med;
  if (prev.length < rule.minSamples) return v;
  const threshold = Math.max(med + rule.k * 1.4826 * m, med + rule.minAbsMs, med * (1 + rule.minRel));
  v.thresholdMs = threshold;
  // Strictly beyond the spread; the two floors are inclusive.
  const beyondSpread = latest - med > rule.k * 1.4826 * m;
  v.slower = beyondSpread && latest - med >= rule.minAbsMs && latest >= med * (1 + rule.minRel);
  return v;
}

const BARS = '▁▂▃▄▅▆▇█';

/** A terminal sparkline, oldest → newest; `undefined` values (failed or not ran) print as a
 * space-like dot so the positions still line up with runs. */
export function sparkline(values: readonly (number | undefined)[]): string {
  const xs = values.filter((v): v is number => v !== undefined);
  if (xs.length === 0) return '';
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return values
    .map((v) => {
      if (v === undefined) return '·';
      if (hi === lo) return BARS[3]!;
      return BARS[Math.min(BARS.length - 1, Math.floor(((v - lo) / (hi - lo)) * BARS.length))]!;
    })
    .join('');
}
