// Servers for remote-cache tests: the real turborepo-remote-cache (npm package, local-disk
// storage) on a free loopback port in a temp folder, and small sick ones (HTTP 500, a socket
// that never answers, a refused port) plus a connection-counting proxy.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const SERVER_MAIN = path.join(path.dirname(require.resolve('turborepo-remote-cache/package.json')), 'dist', 'index.js');

export interface CacheServer {
  url: string;
  port: number;
  /** The server's storage folder (artifacts under <team>/<id>). */
  storage: string;
  /** Every artifact file stored for a team. */
  artifacts(team: string): string[];
  /** Kills the server at once (SIGKILL), as a crash or a pulled cable would. */
  kill(): Promise<void>;
}

const servers = new Set<ChildProcess>();

/** Starts the real server; resolves once it logged the address it listens on (bounded wait). */
export async function startCacheServer(opts: { token: string; bodyLimit?: number; timeoutMs?: number }): Promise<CacheServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-rc-server-'));
  const storage = path.join(dir, 'storage');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    STORAGE_PROVIDER: 'local',
    STORAGE_PATH: storage,
    STORAGE_PATH_USE_TMP_FOLDER: 'false',
    TURBO_TOKEN: opts.token,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    BODY_LIMIT: String(opts.bodyLimit ?? 1024 * 1024 * 1024),
  };
  const child = spawn(process.execPath, [SERVER_MAIN], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.add(child);
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`turborepo-remote-cache did not start in time:\n${log}`)), opts.timeoutMs ?? 30_000);
    const onData = (d: Buffer): void => {
      log += d.toString();
      const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`turborepo-remote-cache exited (${code}):\n${log}`));
    });
  });
  // Keep draining its log so a full pipe never stalls it.
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    storage,
    artifacts: (team) => {
      const d = path.join(storage, team);
      return fs.existsSync(d) ? fs.readdirSync(d).map((f) => path.join(d, f)) : [];
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      servers.delete(child);
    },
  };
}

/** Kills every server still running (afterAll). */
export async function stopAllCacheServers(): Promise<void> {
  for (const c of servers) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  servers.clear();
}

export interface Listening {
  url: string;
  /** Connections accepted so far. */
  connections: number;
  /** Connections on which a request arrived (undici may open a spare one that sends nothing). */
  requests: number;
  close(): Promise<void>;
}

/** An HTTP server that answers every request with `status` (after reading the request). */
export function startStatusServer(status: number, body = '{"error":"boom"}'): Promise<Listening> {
  const state = { connections: 0, requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    req.resume();
    req.on('end', () => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
  });
  server.on('connection', () => state.connections++);
  return listen(server, state);
}

/** Accepts connections and never answers. */
export function startSilentServer(): Promise<Listening> {
  const state = { connections: 0, requests: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('data', () => state.requests++);
    s.resume();
  });
  return listen(server, state, () => {
    for (const s of sockets) s.destroy();
  });
}

/** An HTTP server that answers GET with 200 and the given bytes (a garbage or truncated body). */
export function startBodyServer(respond: (res: http.ServerResponse) => void): Promise<Listening> {
  const state = { connections: 0, requests: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => respond(res));
  });
  server.on('connection', () => state.connections++);
  return listen(server, state);
}

/** A TCP proxy in front of `target` that counts connections (a no-op must make none). */
export function startCountingProxy(targetPort: number): Promise<Listening> {
  const state = { connections: 0, requests: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    state.connections++;
    s.once('data', () => state.requests++);
    const up = net.connect(targetPort, '127.0.0.1');
    sockets.add(s).add(up);
    s.pipe(up).pipe(s);
    s.on('error', () => up.destroy());
    up.on('error', () => s.destroy());
  });
  return listen(server, state, () => {
    for (const s of sockets) s.destroy();
  });
}

/** A loopback port nothing listens on (bound, then closed). */
export async function refusedUrl(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

function listen(server: net.Server, state: { connections: number; requests: number }, onClose?: () => void): Promise<Listening> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        get connections() {
          return state.connections;
        },
        get requests() {
          return state.requests;
        },
        close: () =>
          new Promise<void>((r) => {
            onClose?.();
            (server as http.Server).closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}
