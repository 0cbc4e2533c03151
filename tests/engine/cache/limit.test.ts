// The cache's size: identical files stored once, a limit kept by evicting the least recently
// used entries, `batch cache status` and `batch cache prune`.
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig.js';
import { actions, batchfile, blobs, entries, GEN_STEP } from './helpers.js';

let p: TempProject | undefined;
afterEach(() => p?.cleanup());

/** One step writing out/all.txt: 1000 bytes that depend on `v`. */
const gen = (v: number, pad = 998): string => batchfile(`  gen: { run: 'gen.ts', outputs: ['out/'], params: { text: 'v${v}', pad: ${pad} } },`);

/** Cached contents, by their first two characters ("v1", "v2", ...). */
function cachedVersions(project: TempProject): string[] {
  return [...blobs(project).values()].map((b) => b.toString('utf8', 0, 2)).sort();
}

function diskBytes(project: TempProject): number {
  let n = 0;
  for (const b of blobs(project).values()) n += b.length;
  return n;
}

interface StatusJson {
  entries: number;
  bytes: number;
  blobs: number;
  limitBytes: number;
  hits: number;
  recentRuns: { runId: string; restored: number; restoredSteps: string[] }[];
}

describe('output cache: size', () => {
  it('stays under its limit by evicting the least recently used entry', async () => {
    p = TempProject.create({ 'gen.ts': GEN_STEP, 'Batchfile.ts': gen(1) });
    const run = async (v: number): Promise<string> => {
      p!.write('Batchfile.ts', gen(v));
      const r = await p!.run(['--max-size', '2500']);
      expect(r.code, r.stderr).toBe(0);
      return actions(r.steps).gen!;
    };
    expect(await run(1)).toBe('ran');
    expect(await run(2)).toBe('ran');
    expect(cachedVersions(p)).toEqual(['v1', 'v2']);
    // Restoring v1 makes it the most recently used: v2 is now the oldest.
    expect(await run(1)).toBe('restored');
    expect(await run(3)).toBe('ran');
    expect(cachedVersions(p)).toEqual(['v1', 'v3']);
    expect(entries(p).size).toBe(2);
    expect(diskBytes(p)).toBeLessThanOrEqual(2500);
    expect(await run(1)).toBe('restored');
    expect(await run(2)).toBe('ran');
    expect(cachedVersions(p)).toEqual(['v1', 'v2']);
    expect(diskBytes(p)).toBeLessThanOrEqual(2500);

    const st = await p.batch(['cache', 'status', '--json']);
    expect(st.code, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout) as StatusJson;
    expect(status).toMatchObject({ entries: 2, bytes: 2000, blobs: 2, limitBytes: 2500, hits: 2 });
    expect(status.recentRuns).toHaveLength(6);
    expect(status.recentRuns.filter((r) => r.restored > 0).map((r) => r.restoredSteps)).toEqual([['gen'], ['gen']]);
    const human = await p.batch(['cache']);
    expect(human.stdout).toMatch(/2 entries, 2\.0 KiB of 2\.4 KiB \(2 distinct files\)/);
    expect(human.stdout).toMatch(/Hits in the last 6 runs: 2 steps restored, 4 ran/);

    // Pruning by hand to one entry's size keeps the most recently used one (v2).
    const pr = await p.batch(['cache', 'prune', '--max-size', '1000', '--json']);
    expect(pr.code, pr.stderr).toBe(0);
    expect(JSON.parse(pr.stdout)).toMatchObject({ limitBytes: 1000, evicted: { entries: 1, files: 1, bytes: 1000 }, entries: 1, bytes: 1000 });
    expect(cachedVersions(p)).toEqual(['v2']);
  });

  it('does not store outputs bigger than the whole limit, and says so', async () => {
    p = TempProject.create({ 'gen.ts': GEN_STEP, 'Batchfile.ts': gen(1) });
    const r = await p.run(['--max-size', '500']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/output cache: step "gen": outputs \(1000 B\) exceed the cache limit \(500 B\); not stored/);
    expect(entries(p).size).toBe(0);
    expect(blobs(p).size).toBe(0);
    const bad = await p.batch(['--max-size', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-size: "lots" is not a size/);
  });

  it('stores identical files once, whichever step wrote them; the Batchfile sets the limit prune uses', async () => {
    p = TempProject.create({
      'gen.ts': GEN_STEP,
      'Batchfile.ts': batchfile(
        `
  a: { run: 'gen.ts', outputs: ['a/'], params: { text: 'same', pad: 10 } },
  b: { run: 'gen.ts', outputs: ['b/'], params: { text: 'same', pad: 10 } },
`,
        `cache: { maxSize: '1KB' },`,
      ),
    });
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(entries(p).size).toBe(2);
    expect(blobs(p).size).toBe(1);
    const pr = await p.batch(['cache', 'prune', '--json']);
    expect(JSON.parse(pr.stdout)).toMatchObject({ limitBytes: 1024, limitFrom: 'the Batchfile', evicted: { entries: 0 }, entries: 2, bytes: 14 });
    const unknown = await p.batch(['cache', 'purge']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown `batch cache purge`/);
  });
});
