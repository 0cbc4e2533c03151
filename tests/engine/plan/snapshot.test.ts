// The stat-snapshot fast path (src/plan/snapshot.ts): a no-op decided by stat alone, and every
// change that must defeat it. The racy window is lowered to 50 ms (BATCH_RACY_WINDOW_MS) so a
// file written moments ago can take the fast path on the next-but-one run, as an old one would.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StepConfig } from '../../../src/batchfile/config.js';
import { TempProject } from '../rig.js';
import { batchfile, cmd, table } from '../helpers.js';

const ENV = { BATCH_RACY_WINDOW_MS: '50', X: 'one' };
let p: TempProject | undefined;
afterEach(() => p?.cleanup());

interface Checks {
  bySnapshot: number;
  filesHashed: number;
  bytesHashed: number;
}

/** Runs batch; `ran` lists the steps that did not count as up to date (ran or restored from the output cache). */
async function run(args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const r = await p!.run(args, { env: { ...ENV, ...env } });
  expect(r.code, r.stderr).toBe(0);
  return { ...r, checks: (r as unknown as { checks: Checks }).checks, ran: r.steps.filter((s) => s.action !== 'up-to-date').map((s) => s.name).sort() };
}

/** Runs until every step is proven by snapshot (the run after a build re-hashes what the
 * build just wrote, then records snapshots), and checks that run read nothing. */
async function settle(steps: number): Promise<void> {
  await run();
  const r = await run();
  expect(r.ran).toEqual([]);
  expect(r.checks).toMatchObject({ bySnapshot: steps, filesHashed: 0, bytesHashed: 0 });
}

function project(): TempProject {
  return TempProject.create({
    'in.txt': 'aaaa',
    'data/a.csv': 'a',
    'data/b.csv': 'b',
    'tree/x/1.txt': '1',
    'lib/helper.mjs': `export const word = 'alpha';\n`,
    'steps/mod.mjs': `import fs from 'node:fs';\nimport { word } from '../lib/helper.mjs';\nexport default async (ctx) => fs.writeFileSync(ctx.outputs[0], word + fs.readFileSync(ctx.inputs[0], 'utf8'));\n`,
    'tools/gen.sh': `cat "$@"\n`,
    'Batchfile.ts': batchfile(`
  copy: { command: ${cmd('--in', 'in.txt', '--out', 'build/copy.txt')}, inputs: ['in.txt'], outputs: ['build/copy.txt'] },
  globbed: { command: ${cmd('--text', 'g', '--out', 'build/glob.txt')}, inputs: ['data/*.csv'], outputs: ['build/glob.txt'] },
  folder: { command: ${cmd('--text', 'f', '--out', 'build/folder.txt')}, inputs: ['tree'], outputs: ['build/folder.txt'] },
  withEnv: { command: ${cmd('--text', 'e', '--out', 'build/env.txt')}, inputs: ['in.txt'], outputs: ['build/env.txt'], env: ['X'] },
  script: { command: 'sh tools/gen.sh in.txt > build/gen.txt', inputs: ['in.txt'], outputs: ['build/gen.txt'] },
  later: { command: 'sh tools/gen.sh in.txt > build/later.txt; test ! -f tools/later.sh || sh tools/later.sh', inputs: ['in.txt'], outputs: ['build/later.txt'] },
  mod: { run: 'steps/mod.mjs', inputs: ['build/copy.txt'], outputs: ['build/mod.txt'] },
`),
  });
}

describe('stat snapshots', () => {
  it('a no-op is proven by stat alone: no file hashed, every step up to date', async () => {
    p = project();
    const first = await run();
    expect(first.ran).toEqual(['copy', 'folder', 'globbed', 'later', 'mod', 'script', 'withEnv']);
    await settle(7);
    // --force never trusts a snapshot.
    expect((await run(['--force'])).ran).toHaveLength(7);
  });

  it('every change that matters defeats the snapshot, and only the affected steps rerun', async () => {
    p = project();
    // A whole-millisecond mtime, so the rewrite below can put it back exactly.
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(p.path('in.txt'), past, past);
    await run();
    await settle(7);
    const cases: { name: string; change: () => void; env?: NodeJS.ProcessEnv; expect: string[] }[] = [
      {
        name: 'same-size rewrite with the mtime put back (ctime and content differ)',
        change: () => {
          const abs = p!.path('in.txt');
          const { mtime, mtimeMs, ino, size } = fs.statSync(abs);
          fs.writeFileSync(abs, 'bbbb');
          fs.utimesSync(abs, mtime, mtime);
          expect(fs.statSync(abs)).toMatchObject({ mtimeMs, ino, size });
        },
        expect: ['copy', 'later', 'mod', 'script', 'withEnv'],
      },
      { name: 'a file added to a glob input', change: () => p!.write('data/c.csv', 'c'), expect: ['globbed'] },
      { name: 'a file removed from a folder input', change: () => p!.remove('tree/x/1.txt'), expect: ['folder'] },
      { name: 'an env value', change: () => {}, env: { X: 'two' }, expect: ['withEnv'] },
      { name: 'a script the command names', change: () => p!.write('tools/gen.sh', `cat "$@"  # edited\n`), expect: ['later', 'script'] },
      { name: 'a script the command names appears', change: () => p!.write('tools/later.sh', `true\n`), expect: ['later'] },
      { name: 'a module a run step imports', change: () => p!.write('lib/helper.mjs', `export const word = 'beta';\n`), expect: ['mod'] },
      { name: 'an output deleted', change: () => p!.remove('build/glob.txt'), expect: ['globbed'] },
      { name: 'an output edited by hand (same size)', change: () => p!.write('build/env.txt', 'E'), expect: ['withEnv'] },
    ];
    let env: NodeJS.ProcessEnv = {};
    for (const c of cases) {
      c.change();
      if (c.env) env = c.env;
      const r = await run([], env);
      expect(r.ran, c.name).toEqual(c.expect);
      // A full check of the same state agrees: nothing more to do.
      const again = await run([], env);
      expect(again.ran, `${c.name}: second run`).toEqual([]);
    }
    expect(p.read('build/mod.txt')).toBe('betabbbb');
    expect(p.read('build/gen.txt')).toBe('bbbb');
  });

  it('a Batchfile change to params or the command defeats the snapshot of that step only', async () => {
    p = project();
    await run();
    await settle(7);
    const bf = p.read('Batchfile.ts');
    p.write('Batchfile.ts', bf.replace(`inputs: ['in.txt'], outputs: ['build/env.txt'], env: ['X']`, `inputs: ['in.txt'], outputs: ['build/env.txt'], env: ['X'], params: { n: 1 }`));
    expect((await run()).ran).toEqual(['withEnv']);
    p.write('Batchfile.ts', p.read('Batchfile.ts').replace(`'--text' 'g'`, `'--text' 'h'`));
    const r = await run();
    expect(r.ran).toEqual(['globbed']);
    expect(p.read('build/glob.txt')).toBe('h');
  });

  it('an upstream rerun that writes identical bytes still cuts off downstream', async () => {
    p = project();
    await run();
    await settle(7);
    p.touch('in.txt');
    fs.writeFileSync(p.path('in.txt'), 'aaaa'); // same bytes, new mtime
    const r = await run(['--force', 'copy']);
    expect(table(r.steps)).toEqual({ copy: 'PASS ran' });
    const after = await run();
    expect(after.ran).toEqual([]);
  });
});

describe('takeSnapshot (src, real store)', () => {
  it('refuses a snapshot while a file was hashed within the racy window of its change', async () => {
    p = TempProject.create({ 'in.txt': 'x', 'out.txt': 'y' });
    const { openStore } = await import('../../../src/store/store.js');
    const { StatCache, RACY_WINDOW_MS } = await import('../../../src/fingerprint/stat-cache.js');
    const { initHash } = await import('../../../src/fingerprint/hash.js');
    const { takeSnapshot, statSignature, snapshotHolds } = await import('../../../src/plan/snapshot.js');
    expect(RACY_WINDOW_MS).toBe(2000); // this test process does not lower it
    await initHash();
    const store = openStore(p.path('.cache'));
    try {
      const step: StepConfig = { name: 's', kind: 'command', spec: { command: 'cp in.txt out.txt' }, inputs: ['in.txt'], outputs: ['out.txt'], env: [], params: {}, dependsOn: [], retries: 0, cache: true };
      const stats = new StatCache(p.dir, store);
      stats.get('in.txt');
      stats.get('out.txt');
      // Both files were just written: a same-tick rewrite could still go unseen.
      expect(takeSnapshot(p.dir, stats, step, 'def', [])).toBeUndefined();
      // Pretend the hashes were taken long after the last change: then it is trusted, and holds
      // exactly while the stats do.
      for (const f of ['in.txt', 'out.txt']) (stats.peek(f) as { hashedAt: number }).hashedAt = Date.now() + 10_000;
      const snap = takeSnapshot(p.dir, stats, step, 'def', []);
      expect(snap).toBeDefined();
      expect(snapshotHolds(snap, 'def', statSignature(p.dir, new StatCache(p.dir, store), step, []))).toBe(true);
      expect(snapshotHolds(snap, 'other', statSignature(p.dir, new StatCache(p.dir, store), step, []))).toBe(false);
      fs.writeFileSync(path.join(p.dir, 'out.txt'), 'z');
      expect(snapshotHolds(snap, 'def', statSignature(p.dir, new StatCache(p.dir, store), step, []))).toBe(false);
    } finally {
      await store.close();
    }
  });
});
