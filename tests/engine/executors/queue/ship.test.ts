// File mode `cache`, the coordinator's side against the real turborepo-remote-cache server:
// what a worker's answer names is fetched, checked and placed all or nothing. A reported hash
// that differs from the upload, bytes that differ from the manifest, an upload that is not
// there, and a server that is down each fail the step with a message naming the step and the
// file, and leave none of the step's outputs in the project.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepConfig } from '../../../../src/batchfile/config.js';
import { RemoteCacheClient } from '../../../../src/cache/remote/client.js';
import { writePayload } from '../../../../src/cache/remote/payload.js';
import { StatCache } from '../../../../src/fingerprint/stat-cache.js';
import { hashFileSync } from '../../../../src/fingerprint/hash.js';
import { Shipper } from '../../../../src/executors/queue/ship.js';
import { outputManifest, outputsId, type Transfer } from '../../../../src/executors/queue/transfer.js';
import type { ExecRequest } from '../../../../src/executors/types.js';
import type { StepJobResult } from '../../../../src/executors/queue/protocol.js';
import { startCacheServer, stopAllCacheServers, type CacheServer } from '../../cache/remote/servers.js';

const TOKEN = 'ship-token';
let cache: CacheServer;
let transfer: Transfer;
beforeAll(async () => {
  cache = await startCacheServer({ token: TOKEN });
  transfer = { client: new RemoteCacheClient({ url: cache.url, team: 'ship', token: TOKEN, timeoutMs: 5000 }), signingKey: undefined };
});
afterAll(async () => {
  await stopAllCacheServers();
});

const step = { name: 'make', kind: 'command', spec: { command: 'x' }, inputs: [], outputs: ['build/a.txt', 'build/b.txt'], dependsOn: [], params: {}, env: [], retries: 0, cache: true } as StepConfig;

/** A worker's folder with the step's outputs, uploaded as a worker does; the project folder. */
async function setUp(tamper?: (bytes: Buffer) => Buffer): Promise<{ project: string; key: string; id: string; files: Record<string, string> }> {
  const worker = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-ship-worker-'));
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-ship-project-'));
  fs.mkdirSync(path.join(worker, 'build'));
  fs.writeFileSync(path.join(worker, 'build/a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(worker, 'build/b.txt'), 'beta\n');
  const files = { 'build/a.txt': hashFileSync(path.join(worker, 'build/a.txt')), 'build/b.txt': hashFileSync(path.join(worker, 'build/b.txt')) };
  const key = `job-${path.basename(project)}`;
  const id = outputsId(key, 'nonce');
  const manifest = outputManifest(worker, key, step.name, 'run1', step.outputs, files);
  const chunks: Buffer[] = [];
  for await (const c of writePayload(worker, manifest, id, undefined)) chunks.push(Buffer.from(c));
  const body = tamper ? tamper(Buffer.concat(chunks)) : Buffer.concat(chunks);
  await transfer.client.put(id, (async function* () { yield body; })());
  fs.rmSync(worker, { recursive: true, force: true });
  return { project, key, id, files };
}

function receive(shipper: Shipper, project: string, key: string, r: StepJobResult): Promise<string | undefined> {
  const req = { step, root: project, logFile: path.join(project, 'logs/make.log'), signal: new AbortController().signal, ship: { inputs: {}, code: {}, stats: new StatCache(project, undefined) } } as unknown as ExecRequest;
  return shipper.receive(req, key, r);
}

const answer = (id: string, files: Record<string, string>): StepJobResult => ({ ok: true, worker: 'w:1', runMs: 1, outputs: { id, files } });

describe('file mode cache: bringing outputs back', () => {
  it('places what the worker uploaded', async () => {
    const { project, key, id, files } = await setUp();
    const shipper = new Shipper(transfer, path.join(project, '.cache'));
    expect(await receive(shipper, project, key, answer(id, files))).toBeUndefined();
    expect(fs.readFileSync(path.join(project, 'build/a.txt'), 'utf8')).toBe('alpha\n');
    expect(fs.readFileSync(path.join(project, 'build/b.txt'), 'utf8')).toBe('beta\n');
  });

  it('a hash the worker reported that differs from its upload: FAIL naming step and file, nothing placed', async () => {
    const { project, key, id, files } = await setUp();
    const shipper = new Shipper(transfer, path.join(project, '.cache'));
    const err = await receive(shipper, project, key, answer(id, { ...files, 'build/b.txt': '0123456789abcdef' }));
    expect(err).toMatch(/step "make": output build\/b\.txt: the uploaded file's hash .* is not the 0123456789abcdef/);
    expect(fs.existsSync(path.join(project, 'build'))).toBe(false);
  });

  it('bytes that differ from the manifest: FAIL naming step and file, nothing placed', async () => {
    const { project, key, id, files } = await setUp((b) => {
      const i = b.indexOf('beta\n');
      b[i] = 'B'.charCodeAt(0);
      return b;
    });
    const shipper = new Shipper(transfer, path.join(project, '.cache'));
    const err = await receive(shipper, project, key, answer(id, files));
    expect(err).toMatch(/step "make": could not bring its outputs back .*build\/b\.txt does not match its hash/);
    expect(fs.existsSync(path.join(project, 'build/a.txt'))).toBe(false);
    expect(fs.existsSync(path.join(project, 'build/b.txt'))).toBe(false);
    // The temp folder of the download is gone too.
    expect(fs.readdirSync(path.join(project, '.cache/remote/tmp'))).toEqual([]);
  });

  it('an upload that is not on the server, and a server that is down: FAIL naming the step', async () => {
    const { project, key, files } = await setUp();
    const shipper = new Shipper(transfer, path.join(project, '.cache'));
    expect(await receive(shipper, project, key, answer(outputsId(key, 'other'), files))).toMatch(/step "make": could not bring .*upload of its outputs is not on the cache server/);
    const down = new Shipper({ client: new RemoteCacheClient({ url: 'http://127.0.0.1:1', team: 'ship', timeoutMs: 2000 }), signingKey: undefined }, path.join(project, '.cache'));
    expect(await receive(down, project, key, answer(outputsId(key, 'nonce'), files))).toMatch(/step "make": could not bring its outputs back from the cache server http:\/\/127\.0\.0\.1:1/);
    expect(fs.existsSync(path.join(project, 'build'))).toBe(false);
    // And a file the coordinator cannot upload names itself.
    fs.mkdirSync(path.join(project, 'data'));
    fs.writeFileSync(path.join(project, 'data/in.txt'), 'x');
    const req = { step: { ...step, outputs: ['build/a.txt'] }, root: project, inputs: [path.join(project, 'data/in.txt')], logFile: path.join(project, 'logs/make.log'), signal: new AbortController().signal, ship: { inputs: { 'data/in.txt': hashFileSync(path.join(project, 'data/in.txt')) }, code: {}, stats: new StatCache(project, undefined) } } as unknown as ExecRequest;
    await expect(down.send(req, key)).rejects.toThrow(/data\/in\.txt: HEAD http:\/\/127\.0\.0\.1:1/);
  });
});
