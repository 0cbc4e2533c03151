import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fg from 'fast-glob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GLOB_IGNORE, listOneFolder } from '../../../src/fingerprint/files.js';

// The one-folder listing must give exactly what fast-glob gives (the expansion every other
// glob still gets): same files, dotfiles included, folders and dangling links left out,
// links to files followed, the engine's state folders ignored.
let root: string;
const put = (rel: string, text = rel): void => {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
};

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-glob-listing-'));
  for (const f of ['data/raw/a.csv', 'data/raw/b.csv', 'data/raw/.hidden.csv', 'data/raw/c.txt', 'data/raw/report (1).csv', 'data/raw/x[1].csv', 'data/raw/deep/d.csv', 'top.csv', '.dot.csv', 'data/a/one.csv', 'data/b/two.csv', '.cache/state.csv', '.git/HEAD.csv', 'n/node_modules/.cache/z.csv']) put(f);
  fs.mkdirSync(path.join(root, 'data/raw/folder.csv'), { recursive: true });
  fs.symlinkSync(path.join(root, 'top.csv'), path.join(root, 'data/raw/link.csv'));
  fs.symlinkSync(path.join(root, 'data/a'), path.join(root, 'data/raw/dirlink.csv'));
  fs.symlinkSync(path.join(root, 'nowhere.csv'), path.join(root, 'data/raw/dangling.csv'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const viaFastGlob = (spec: string): string[] => fg.sync(spec, { cwd: root, dot: true, onlyFiles: true, ignore: GLOB_IGNORE, followSymbolicLinks: true }).sort();

describe('listOneFolder', () => {
  const oneFolder = ['data/raw/*.csv', 'data/raw/*', '*.csv', 'data/raw/{a,b}.csv', 'data/raw/[ab].csv', 'data/raw/?.csv', 'data/raw/!(a).csv', 'data/raw/*.{csv,txt}', 'missing/*.csv', '.cache/*.csv', '.git/*', 'n/node_modules/.cache/*.csv', 'data/raw/*.parquet'];
  it.each(oneFolder)('%s: one readdir, the same files as fast-glob', (spec) => {
    const mine = listOneFolder(root, spec);
    if (spec.startsWith('.cache/') || spec.startsWith('.git/') || spec.includes('node_modules/.cache')) {
      // Ignored folders go to fast-glob, whose ignore list decides.
      expect(mine).toBeUndefined();
      return;
    }
    expect(mine).toBeDefined();
    expect([...mine!].sort()).toEqual(viaFastGlob(spec));
  });

  it('found links to files, and left out folders, dangling links and names in subfolders', () => {
    expect([...listOneFolder(root, 'data/raw/*.csv')!].sort()).toEqual(['data/raw/.hidden.csv', 'data/raw/a.csv', 'data/raw/b.csv', 'data/raw/link.csv', 'data/raw/report (1).csv', 'data/raw/x[1].csv']);
  });

  it.each(['data/**/*.csv', 'data/*/one.csv', 'data/{a,b}/*.csv', './data/raw/*.csv', 'data/../top.csv', '!data/raw/a.csv'])('%s: left to fast-glob', (spec) => {
    expect(listOneFolder(root, spec)).toBeUndefined();
  });
});
