'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const argv = process.argv.slice(2);
const file = path.join(__dirname, '../dist/bundle/cli.cjs');
const cacheFile = '/tmp/cold3/cli.cjs.cache';
(async () => {
  const { viaDaemon } = require('../dist/bundle/client.cjs');
  const served = await viaDaemon(argv, 'proto', __filename);
  if (served !== undefined) { process.exitCode = served; return; }
  const src = fs.readFileSync(file, 'utf8').replace(/(?<![\w$.])import\(/g, '__import(');
  let cachedData;
  if (process.env.NOCACHE !== '1') try { cachedData = fs.readFileSync(cacheFile); } catch {}
  const script = new vm.Script('(function (exports, require, module, __filename, __dirname, __import) {' + src + '\n})', { filename: file, cachedData });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, path.dirname(file), (s) => import(s));
  process.exitCode = await mod.exports.main(argv, 'proto');
  if (process.env.NOCACHE !== '1' && (cachedData === undefined || script.cachedDataRejected)) fs.writeFileSync(cacheFile, script.createCachedData());
  if (script.cachedDataRejected) process.stderr.write('rejected\n');
})().catch((e) => { process.stderr.write(`internal error: ${e?.stack ?? e}\n`); process.exitCode = 70; });
