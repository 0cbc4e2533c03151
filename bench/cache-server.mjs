// A real turborepo-remote-cache server for the benchmarks that need one (remote-cache.mjs,
// distributed.mjs): local storage in a temp folder, loopback, a port the OS picks.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** Starts the server with `token`; resolves once it says where it listens. `stop()` ends it and
 * removes its storage. */
export async function startCacheServer(token, { parent = os.tmpdir() } = {}) {
  const main = path.join(path.dirname(require.resolve('turborepo-remote-cache/package.json')), 'dist', 'index.js');
  const dir = fs.mkdtempSync(path.join(parent, 'batch-cache-server-'));
  const env = {
    PATH: process.env.PATH, NODE_ENV: 'production', STORAGE_PROVIDER: 'local', STORAGE_PATH: path.join(dir, 'storage'),
    STORAGE_PATH_USE_TMP_FOLDER: 'false', TURBO_TOKEN: token, HOST: '127.0.0.1', PORT: '0',
    ENABLE_STATUS_LOG: 'false', BODY_LIMIT: String(2 ** 31 - 1),
    // The address is read from the one "listening" line, which is logged at info.
    LOG_LEVEL: 'info',
  };
  const child = spawn(process.execPath, [main], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`cache server did not start:\n${out}`)), 30_000);
    child.on('exit', (code) => reject(new Error(`cache server exited (${code}):\n${out}`)));
    const on = (d) => {
      out += d;
      const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
  });
  child.stdout.resume();
  child.stderr.resume();
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => (child.once('exit', r), child.kill('SIGTERM')));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { url: `http://127.0.0.1:${port}`, dir, stop };
}
