#!/usr/bin/env node
// The engine ships compiled (dist/, built at install); nothing is compiled at start-up.
// `npm run build` writes tsc's per-file output and then a bundle of the CLI (dist/bundle/,
// scripts/bundle.mjs), one CommonJS file run through a V8 code cache beside it
// (src/cli/cached-load.ts), which loads in a fraction of the time. The bundle is used unless
// tsc's output is newer (someone ran tsc alone after changing the source): the freshest
// build always runs.
//
// When the project has a daemon (docs/daemon.md), the small client hands it the command line
// first; the CLI loads only when no daemon serves the command. Outside CI, a run that finds
// none starts one in the background for the runs after it, and goes on here meanwhile.
// This file is CommonJS (bin/package.json) and the bundled client too: a served run then
// never starts Node's ESM loader, which cost ~20 ms of CPU per start here.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const stat = (rel) => fs.statSync(path.join(__dirname, rel), { throwIfNoEntry: false });
const bundleStat = stat('../dist/bundle/cli.cjs');
const tscStat = stat('../dist/cli/main.js');
const bundled = (bundleStat?.mtimeMs ?? -1) >= (tscStat?.mtimeMs ?? -1);
// Which build this is: a daemon serves only clients of its own build. With the change time:
// an install that keeps the tarball's file times (tar, `npm pack` sets them all to 1985) gives
// a rebuilt file the old one's mtime, and often its inode number.
const built = bundled ? bundleStat : tscStat;
const engine = `${fs.realpathSync(path.join(__dirname, '..'))}|${bundled ? 'bundle' : 'tsc'}|${built?.mtimeMs ?? -1}:${built?.ctimeMs ?? -1}|${process.version}`;
const argv = process.argv.slice(2);

// `batch trends | head -1`: the reader may close the pipe before batch is done. Output then ends
// quietly (later writes are dropped) and the command carries on: a run finishes and is
// recorded, a query exits 0. Any other write error is still thrown.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e && (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED')) {
      stream.write = () => true;
      return;
    }
    throw e;
  });
}

(async () => {
  const client = bundled ? require('../dist/bundle/client.cjs') : await import('../dist/daemon/client.js');
  // Before any code is compiled: the daemon's V8 flags as it will have them when it writes its
  // code caches (src/daemon/tuning.ts).
  client.settleDaemonFlags();
  const served = await client.viaDaemon(argv, engine, __filename);
  if (served !== undefined) {
    process.exitCode = served;
    return;
  }
  if (!bundled) {
    const { main } = await import('../dist/cli/main.js');
    process.exitCode = await main(argv, engine);
    return;
  }
  // The bundle's own dynamic imports are this module's (see src/util/import-esm.ts).
  const cli = require('../dist/bundle/load.cjs').loadCli(path.join(__dirname, '../dist/bundle/cli.cjs'), (specifier) => import(specifier));
  process.exitCode = await cli.exports.main(argv, engine, cli.use);
  cli.save();
})().catch((e) => {
  process.stderr.write(`internal error: ${e?.stack ?? e}\n`);
  process.exitCode = 70;
});
