#!/usr/bin/env node
// The engine ships compiled (dist/, built at install); nothing is compiled at start-up.
// `npm run build` writes tsc's per-file output and then a bundle of the CLI (dist/bundle/,
// scripts/bundle.mjs), which loads in a fraction of the time. The bundle is used unless
// tsc's output is newer (someone ran tsc alone after changing the source): the freshest
// build always runs.
import fs from 'node:fs';

const mtime = (rel) => fs.statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime('../dist/bundle/main.js') >= mtime('../dist/cli/main.js');
const { main } = await import(bundled ? '../dist/bundle/main.js' : '../dist/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`internal error: ${e?.stack ?? e}\n`);
    process.exitCode = 70;
  },
);
