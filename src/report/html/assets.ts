// The two libraries inlined into report.html, read from the installed packages (once per
// process). Inlining keeps the report one file that opens from disk with no network.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface Assets {
  dagreJs: string;
  uplotJs: string;
  uplotCss: string;
  /** name@version of each, for the page's credits. */
  credits: string[];
}

let cached: Assets | undefined;

function pkgDir(require: NodeJS.Require, name: string): { dir: string; version: string } {
  const pj = require.resolve(`${name}/package.json`);
  const version = (JSON.parse(fs.readFileSync(pj, 'utf8')) as { version: string }).version;
  return { dir: path.dirname(pj), version };
}

export function loadAssets(): Assets {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const dagre = pkgDir(require, '@dagrejs/dagre');
  const uplot = pkgDir(require, 'uplot');
  cached = {
    // dagre's browser build bundles graphlib and defines the global `dagre`.
    dagreJs: fs.readFileSync(path.join(dagre.dir, 'dist', 'dagre.min.js'), 'utf8'),
    uplotJs: fs.readFileSync(path.join(uplot.dir, 'dist', 'uPlot.iife.min.js'), 'utf8'),
    uplotCss: fs.readFileSync(path.join(uplot.dir, 'dist', 'uPlot.min.css'), 'utf8'),
    credits: [`@dagrejs/dagre ${dagre.version} (MIT)`, `uPlot ${uplot.version} (MIT)`],
  };
  return cached;
}
