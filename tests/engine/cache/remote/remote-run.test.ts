// The shared remote cache end to end: real `batch` processes and a real turborepo-remote-cache
// server on loopback. Two checkouts in different folders share results; read-only uploads
// nothing; a no-op makes no connection; tampered entries are refused; the token never lands
// in .cache/ or logs/.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TempProject } from '../../rig.js';
import { hasLegacyBlobDb, inlineBlobs } from '../helpers.js';
import { cacheServerForFile, PIPELINE, pipelineCheckouts } from './pipeline.js';
import { startCountingProxy } from './servers.js';

const TOKEN = 'tok-e2e-SECRET-7a1f93c4d2';
const cacheServer = cacheServerForFile(TOKEN);
const newCheckout = pipelineCheckouts();
/** A checkout of the pipeline; `team` names, at the call, whose cache it shares (each command
 * passes the team). */
const checkout = (_team: string, extra?: Record<string, string>): TempProject => newCheckout(extra);

const remoteArgs = (team: string, url = cacheServer().url): string[] => ['--no-tests', '--remote-cache', url, '--remote-cache-team', team];
const env = { BATCH_REMOTE_CACHE_TOKEN: TOKEN };

interface RemoteJson {
  remoteCache?: { hits: number; misses: number; refused: number; uploads: { step: string }[]; uploadsFailed: number; error?: string };
  steps: { name: string; action: string; source?: string }[];
}
const parse = (stdout: string): RemoteJson => JSON.parse(stdout) as RemoteJson;

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(abs));
    else if (e.isFile()) out.push(abs);
  }
  return out;
}

describe('remote cache: sharing between checkouts', () => {
  it('a second checkout in another folder restores every step from the remote, byte-equal; a no-op makes no connection; the token is nowhere on disk', async () => {
    const team = 'share';
    const a = checkout(team);
    const first = await a.batch([...remoteArgs(team), '--json'], { env });
    expect(first.code, first.stderr).toBe(0);
    const j1 = parse(first.stdout);
    expect(j1.steps.map((s) => [s.name, s.action])).toEqual([['gen', 'ran'], ['cat', 'ran']]);
    expect(j1.remoteCache).toMatchObject({ hits: 0, misses: 2, uploadsFailed: 0 });
    expect(j1.remoteCache!.uploads.map((u) => u.step).sort()).toEqual(['cat', 'gen']);
    expect(cacheServer().artifacts(team)).toHaveLength(2);

    const b = checkout(team);
    expect(b.dir).not.toBe(a.dir);
    // --dry-run knows gen's entry is on the remote (cat depends on gen's new outputs: not asked).
    const dry = await b.batch([...remoteArgs(team), '--dry-run', '--json'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { steps: { name: string; decision: string; reasons: string[] }[] };
    expect(plan.steps.map((s) => [s.name, s.decision])).toEqual([['gen', 'restore'], ['cat', 'run']]);
    expect(plan.steps[0]!.reasons[0]).toMatch(/^restore from remote cache http:\/\/127\.0\.0\.1:\d+/);
    const second = await b.batch([...remoteArgs(team), '--json'], { env });
    expect(second.code, second.stderr).toBe(0);
    const j2 = parse(second.stdout);
    expect(j2.steps.map((s) => [s.name, s.action, s.source])).toEqual([['gen', 'restored', 'remote'], ['cat', 'restored', 'remote']]);
    expect(j2.remoteCache).toMatchObject({ hits: 2, misses: 0, refused: 0, uploads: [] });
    expect(b.marks()).toEqual([]);
    for (const f of ['out/x.txt', 'out/y.txt', 'final/cat.txt']) expect(fs.readFileSync(b.path(f)).equals(fs.readFileSync(a.path(f)))).toBe(true);
    // The local layer kept what the remote gave in the blob environment, not in the run store.
    const kept = [...inlineBlobs(b).values()];
    for (const f of ['out/x.txt', 'out/y.txt', 'final/cat.txt']) expect(kept.some((bytes) => bytes.equals(fs.readFileSync(b.path(f)))), f).toBe(true);
    expect(hasLegacyBlobDb(b)).toBe(false);
    // `batch cache status`: the remote the last run used, reachable now, and that run's numbers.
    const st = await b.batch(['cache', 'status', '--json'], { env });
    expect(st.code, st.stderr).toBe(0);
    const remote = (JSON.parse(st.stdout) as { remote?: { url: string; team: string; reachable: boolean; lastRun?: { hits: number; misses: number; uploads: unknown[] } } }).remote;
    expect(remote).toMatchObject({ url: cacheServer().url, team, reachable: true, lastRun: { hits: 2, misses: 0, uploads: [] } });
    const human = await b.batch(['cache', 'status'], { env });
    expect(human.stdout).toMatch(/Remote cache http:\/\/127\.0\.0\.1:\d+ \(team share, read-write\): reachable/);
    expect(human.stdout).toMatch(/last run \S+: 2 hits, 0 misses, 0 uploads/);

    // Restored locally too: with the remote gone, removing the outputs restores them locally.
    b.remove('out');
    b.remove('final');
    const proxy = await startCountingProxy(cacheServer().port);
    const local = await b.batch([...remoteArgs(team, proxy.url), '--json'], { env });
    expect(local.code, local.stderr).toBe(0);
    expect(parse(local.stdout).steps.map((s) => [s.action, s.source])).toEqual([['restored', 'local'], ['restored', 'local']]);
    // No-op runs (the first may re-hash fresh outputs; both are up to date): no connection.
    for (let i = 0; i < 2; i++) {
      const noop = await b.batch([...remoteArgs(team, proxy.url), '--json'], { env });
      expect(parse(noop.stdout).steps.map((s) => s.action)).toEqual(['up-to-date', 'up-to-date']);
    }
    expect(proxy.connections).toBe(0);
    await proxy.close();

    for (const p of [a, b]) {
      const files = [...filesUnder(p.path('.cache')), ...filesUnder(p.path('logs'))];
      expect(files.length).toBeGreaterThan(3);
      for (const f of files) expect(fs.readFileSync(f).includes(TOKEN), f).toBe(false);
    }
  });

  it('read-only uploads nothing; configured in the Batchfile with flags overriding it', async () => {
    const team = 'ro';
    const body = PIPELINE.replace('steps: {', `cache: { remote: { url: ${JSON.stringify(cacheServer().url)}, team: '${team}', readOnly: true } }, steps: {`);
    const p = checkout(team, { 'Batchfile.ts': body });
    const r = await p.batch(['--no-tests', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(parse(r.stdout).remoteCache).toMatchObject({ readOnly: true, misses: 2, uploads: [] });
    expect(cacheServer().artifacts(team)).toEqual([]);
    // The same with the flag on a writable configuration.
    const q = checkout(team);
    const r2 = await q.batch([...remoteArgs(team), '--remote-cache-read-only', '--json'], { env });
    expect(r2.code, r2.stderr).toBe(0);
    expect(parse(r2.stdout).remoteCache?.uploads).toEqual([]);
    expect(cacheServer().artifacts(team)).toEqual([]);
  });

  it('bad settings are clear errors (exit 2) naming the flag or field', async () => {
    const p = checkout('x');
    const noTeam = await p.batch(['--no-tests', '--remote-cache', cacheServer().url]);
    expect(noTeam.code).toBe(2);
    expect(noTeam.stderr).toMatch(/no team.*--remote-cache-team/);
    const creds = await p.batch(['--no-tests', '--remote-cache', `http://user:${TOKEN}@127.0.0.1:1`, '--remote-cache-team', 't']);
    expect(creds.code).toBe(2);
    expect(creds.stderr).toMatch(/--remote-cache: must not contain a user or password/);
    expect(creds.stderr + creds.stdout).not.toContain(TOKEN);
    p.write('Batchfile.ts', PIPELINE.replace('steps: {', `cache: { remote: { url: 'ftp://x', team: 't', timeoutMs: -1 } }, steps: {`));
    const field = await p.batch(['--no-tests']);
    expect(field.code).toBe(2);
    expect(field.stderr).toMatch(/Batchfile\.ts: cache\.remote\.url: "ftp:" is not http: or https:/);
  });
});
