// The regression rule and the sparkline, on plain numbers.
import { describe, expect, it } from 'vitest';
import { judge, mad, median, RULE, sparkline } from '../../../src/history/stats.js';

describe('median and MAD', () => {
  it('odd, even, empty', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
    expect(mad([1, 2, 3, 4, 100])).toBe(1);
  });
});

describe('the regression rule', () => {
  const steady = [1000, 1010, 990, 1000, 1005, 995];
  it('flags a clear slowdown', () => {
    const v = judge(1500, steady);
    expect(v).toMatchObject({ slower: true, median: 1000, samples: 6 });
    expect(v.ratio).toBe(1.5);
  });
  it('does not flag within the spread (k × 1.4826 × MAD)', () => {
    const noisy = [1000, 2000, 3000, 1000, 2000, 3000];
    expect(judge(3500, noisy)).toMatchObject({ slower: false, median: 2000, mad: 1000 });
    expect(judge(2000 + RULE.k * 1.4826 * 1000 + 1, noisy).slower).toBe(true);
  });
  it('does not flag under the absolute floor, however large the ratio', () => {
    expect(judge(10 + RULE.minAbsMs - 1, [10, 10, 10, 10, 10]).slower).toBe(false);
    expect(judge(10 + RULE.minAbsMs, [10, 10, 10, 10, 10]).slower).toBe(true);
  });
  it('does not flag under the relative floor on long steps', () => {
    const hour = [3_600_000, 3_600_100, 3_599_900, 3_600_000, 3_600_050];
    expect(judge(3_600_000 * 1.05, hour).slower).toBe(false);
    expect(judge(3_600_000 * 1.2, hour).slower).toBe(true);
  });
  it('needs enough earlier samples, and uses only the newest `window` of them', () => {
    expect(judge(5000, [1000, 1000, 1000, 1000]).slower).toBe(false);
    expect(judge(5000, [1000, 1000, 1000, 1000, 1000]).slower).toBe(true);
    const old = Array.from({ length: 100 }, () => 5000);
    expect(judge(5000, [...Array.from({ length: RULE.window }, () => 1000), ...old]).slower).toBe(true);
  });
  it('a faster run is never flagged', () => {
    expect(judge(100, steady).slower).toBe(false);
  });
});

describe('sparkline', () => {
  it('scales oldest → newest and marks gaps', () => {
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([5, undefined, 5])).toBe('▄·▄');
    expect(sparkline([])).toBe('');
  });
});
