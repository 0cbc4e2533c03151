// The remote-cache client and batchfile's payload format against a real turborepo-remote-cache
// server: round trips, signing, and refusal of every kind of tampered or unsafe entry.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteCacheClient, RemoteError } from '../../../../src/cache/remote/client.js';
import { checkManifest } from '../../../../src/cache/remote/manifest.js';
import { readPayload, writePayload, PayloadError, type Manifest } from '../../../../src/cache/remote/payload.js';
import { hashBytes } from '../../../../src/fingerprint/hash.js';
import { refusedUrl, startBodyServer, startCacheServer, startSilentServer, startStatusServer, stopAllCacheServers, type CacheServer } from './servers.js';

const TOKEN = 'tok-client-test-5f0c1e';
let server: CacheServer;
const tmp: string[] = [];
const mkTmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-rc-unit-'));
  tmp.push(d);
  return d;
};

beforeAll(async () => {
  server = await startCacheServer({ token: TOKEN });
});
afterAll(async () => {
  await stopAllCacheServers();
  for (const d of tmp) fs.rmSync(d, { recursive: true, force: true });
});

const client = (over: Partial<ConstructorParameters<typeof RemoteCacheClient>[0]> = {}): RemoteCacheClient =>
  new RemoteCacheClient({ url: server.url, team: 'team-a', token: TOKEN, timeoutMs: 5000, ...over });

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

/** A project folder with two outputs and the manifest describing them. */
function project(): { root: string; manifest: Manifest; big: Buffer } {
  const root = mkTmp();
  fs.mkdirSync(path.join(root, 'out/sub'), { recursive: true });
  // Bigger than one chunk, so streaming crosses chunk boundaries.
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  fs.writeFileSync(path.join(root, 'out/sub/big.bin'), big);
  fs.writeFileSync(path.join(root, 'out/a.txt'), 'alpha\n');
  fs.chmodSync(path.join(root, 'out/a.txt'), 0o750);
  const manifest: Manifest = {
    format: 'batchfile-remote-cache',
    version: 1,
    key: 'k0123456789abcdef',
    step: 'gen',
    runId: 'run-1',
    dirs: ['out'],
    files: [
      { path: 'out/a.txt', size: 6, mode: 0o100750, hash: hashBytes(Buffer.from('alpha\n')) },
      { path: 'out/sub/big.bin', size: big.length, mode: 0o100644, hash: hashBytes(big) },
    ],
  };
  return { root, manifest, big };
}

const check = (outputs: string[], key = 'k0123456789abcdef') => (m: unknown) => checkManifest(m, key, outputs);

describe('remote cache client', () => {
  it('puts, heads and gets an artifact by id; a missing one is a miss, not an error', async () => {
    const c = client();
    expect(await c.head('abc123')).toBe(false);
    expect(await c.get('abc123')).toBeUndefined();
    await c.put('abc123', once(Buffer.from('hello bytes')));
    expect(await c.head('abc123')).toBe(true);
    const body = await c.get('abc123');
    expect(body).toBeDefined();
    expect((await collect(body!.chunks)).toString()).toBe('hello bytes');
    // Another team does not see it.
    expect(await client({ team: 'team-b' }).get('abc123')).toBeUndefined();
    expect((await c.status()).ok).toBe(true);
  });

  it('a wrong token is an auth error that says to check the token, and never contains the token', async () => {
    const bad = 'wrong-token-9d8e7f';
    const err = await client({ token: bad })
      .get('abc123')
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).kind).toBe('auth');
    expect((err as RemoteError).message).toContain('check the token');
    expect((err as RemoteError).message).not.toContain(bad);
  });

  it('refused, DNS failure, HTTP 500, silence and a truncated body each give a RemoteError of the right kind, within the bound', async () => {
    const kinds: Record<string, string> = {};
    const t0 = performance.now();
    const failKind = async (c: RemoteCacheClient): Promise<string> => {
      try {
        const b = await c.get('abc123');
        if (b) await collect(b.chunks);
        return 'none';
      } catch (e) {
        return e instanceof RemoteError ? e.kind : `other: ${String(e)}`;
      }
    };
    kinds.refused = await failKind(client({ url: await refusedUrl() }));
    kinds.dns = await failKind(client({ url: 'http://batchfile-no-such-host.invalid' }));
    const s500 = await startStatusServer(500);
    kinds.http500 = await failKind(client({ url: s500.url }));
    await s500.close();
    const silent = await startSilentServer();
    const ts = performance.now();
    kinds.silent = await failKind(client({ url: silent.url, timeoutMs: 400 }));
    const silentMs = performance.now() - ts;
    await silent.close();
    const truncated = await startBodyServer((res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10));
      res.destroy();
    });
    kinds.truncated = await failKind(client({ url: truncated.url }));
    await truncated.close();
    expect(kinds).toEqual({ refused: 'unreachable', dns: 'unreachable', http500: 'http', silent: 'timeout', truncated: expect.stringMatching(/unreachable|protocol/) });
    expect(silentMs).toBeLessThan(5000);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});

describe('payload format', () => {
  it('round-trips through the real server: every file, hash and mode; signed with the key when set', async () => {
    const { root, manifest, big } = project();
    const c = client();
    await c.put('p1', writePayload(root, manifest, 'p1', 'sign-key'));
    const dest = mkTmp();
    const got = await readPayload((await c.get('p1'))!.chunks, { artifactId: 'p1', signingKey: 'sign-key', check: check(['out']), tmpDir: dest });
    expect(got.files.map((f) => f.path)).toEqual(['out/a.txt', 'out/sub/big.bin']);
    expect(fs.readFileSync(path.join(dest, '0'), 'utf8')).toBe('alpha\n');
    expect(fs.readFileSync(path.join(dest, '1')).equals(big)).toBe(true);
  });

  it('refuses a bad signature, an unsigned entry when a key is set, and a signed entry moved to another id', async () => {
    const { root, manifest } = project();
    const signed = await collect(writePayload(root, manifest, 'id-a', 'key-1'));
    const unsigned = await collect(writePayload(root, manifest, 'id-a', undefined));
    const read = (bytes: Buffer, id: string, key: string | undefined) =>
      readPayload(once(bytes), { artifactId: id, signingKey: key, check: check(['out']), tmpDir: mkTmp() }).then(
        () => 'accepted',
        (e: unknown) => (e instanceof PayloadError ? e.message : `other: ${String(e)}`),
      );
    expect(await read(signed, 'id-a', 'key-1')).toBe('accepted');
    expect(await read(signed, 'id-a', 'key-2')).toMatch(/bad signature/);
    expect(await read(signed, 'id-b', 'key-1')).toMatch(/bad signature/);
    expect(await read(unsigned, 'id-a', 'key-1')).toMatch(/not signed/);
    // Without a key, both are accepted (integrity is still checked by the hashes).
    expect(await read(unsigned, 'id-a', undefined)).toBe('accepted');
    // One changed byte of content: the hash check catches it even without a key.
    const flipped = Buffer.from(unsigned);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 40) ^ 1, flipped.length - 40);
    expect(await read(flipped, 'id-a', undefined)).toMatch(/does not match its hash/);
    // Truncated, garbage, extra bytes.
    expect(await read(unsigned.subarray(0, unsigned.length - 100), 'id-a', undefined)).toMatch(/truncated/);
    expect(await read(Buffer.from('<html>502 Bad Gateway</html>'), 'id-a', undefined)).toMatch(/bad magic|truncated/);
    expect(await read(Buffer.concat([unsigned, Buffer.from('x')]), 'id-a', undefined)).toMatch(/after the signature/);
  });

  it('refuses unsafe manifests before writing anything: .., absolute, symlink, device, setuid, not an output, duplicates', async () => {
    const base = project().manifest;
    const cases: [string, Partial<Manifest['files'][number]>, RegExp][] = [
      ['dotdot', { path: 'out/../../etc/passwd' }, /not a plain relative path/],
      ['leading dotdot', { path: '../outside.txt' }, /not a plain relative path/],
      ['absolute', { path: '/tmp/x' }, /absolute path/],
      ['symlink', { mode: 0o120777 }, /a symlink/],
      ['char device', { mode: 0o020666 }, /a character device/],
      ['block device', { mode: 0o060660 }, /a block device/],
      ['fifo', { mode: 0o010644 }, /a FIFO/],
      ['setuid', { mode: 0o104755 }, /setuid/],
      ['not an output', { path: 'src/main.ts' }, /not under the step's declared outputs/],
    ];
    for (const [name, change, re] of cases) {
      const m = { ...base, files: [{ ...base.files[0]!, ...change }] };
      const r = checkManifest(m, base.key, ['out']);
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.error, name).toMatch(re);
    }
    expect(checkManifest({ ...base, files: [base.files[0], base.files[0]] }, base.key, ['out']).ok).toBe(false);
    expect(checkManifest({ ...base, files: [{ ...base.files[0]!, path: 'out/a' }, { ...base.files[1]!, path: 'out/a/b' }] }, base.key, ['out']).ok).toBe(false);
    expect(checkManifest({ ...base, dirs: ['elsewhere'] }, base.key, ['out']).ok).toBe(false);
    expect(checkManifest(base, 'another-key', ['out']).ok).toBe(false);
    expect(checkManifest(base, base.key, ['out']).ok).toBe(true);
    // A refused manifest writes nothing at all.
    const { root } = project();
    const evil = { ...base, files: [{ ...base.files[0]!, path: '../evil.txt' }] };
    const dest = mkTmp();
    const bytes = await collect(writePayload(root, { ...base, files: [base.files[0]!] }, 'x', undefined));
    // Rewrite the manifest inside the bytes: same file, unsafe path.
    const mjson = Buffer.from(JSON.stringify(evil));
    const head = Buffer.from(bytes.subarray(0, 12));
    head.writeUInt32BE(mjson.length, 8);
    const mlen = bytes.readUInt32BE(8);
    const forged = Buffer.concat([head, mjson, bytes.subarray(12 + mlen)]);
    await expect(readPayload(once(forged), { artifactId: 'x', signingKey: undefined, check: check(['out']), tmpDir: dest })).rejects.toThrow(/not a plain relative path/);
    expect(fs.readdirSync(dest)).toEqual([]);
    expect(fs.existsSync(path.join(path.dirname(dest), 'evil.txt'))).toBe(false);
  });

  it('an upload whose file changed after the step finished is aborted: the server stores nothing', async () => {
    const { root, manifest } = project();
    fs.writeFileSync(path.join(root, 'out/a.txt'), 'ALPHA\n');
    const c = client();
    const err = await c.put('changed1', writePayload(root, manifest, 'changed1', undefined)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(RemoteError);
    expect(String(err)).toMatch(/changed after the step finished/);
    expect(await c.head('changed1')).toBe(false);
  });
});
