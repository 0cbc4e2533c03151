// The remote cache when things go wrong: a sick server costs one warning and the steps run
// locally, within the timeout; a tampered entry is refused and the step reruns, with nothing
// written outside its outputs.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TempProject, waitForFile } from '../../rig.js';
import { batchfile, cmd } from '../helpers.js';
import { refusedUrl, startCacheServer, startSilentServer, startStatusServer } from './servers.js';
import { cacheServerForFile, PIPELINE, pipelineCheckouts } from './pipeline.js';

const TOKEN = 'tok-faults-SECRET-51be0a';
const cacheServer = cacheServerForFile(TOKEN);
const project = pipelineCheckouts();
const args = (url: string, team: string): string[] => ['--no-tests', '--json', '--remote-cache', url, '--remote-cache-team', team];
const warnings = (stderr: string): string[] => stderr.split('\n').filter((l) => l.includes('remote cache:'));
const actions = (stdout: string): string[][] => (JSON.parse(stdout) as { steps: { name: string; action: string }[] }).steps.map((s) => [s.name, s.action]);
const expectCorrect = (p: TempProject): void => {
  expect(p.read('out/x.txt')).toBe('x!');
  expect(p.read('final/cat.txt')).toBe('x!y!');
};

describe('remote cache: a sick server costs one warning, never the pipeline', () => {
  it('HTTP 500, a silent server, a refused port, an unknown host, a wrong token: one warning each, steps run, correct result within the timeout', async () => {
    const s500 = await startStatusServer(500);
    const silent = await startSilentServer();
    const cases: [string, string, RegExp][] = [
      ['500', s500.url, /HTTP 500/],
      ['silent', silent.url, /no response within 1000 ms/],
      ['refused', await refusedUrl(), /ECONNREFUSED/],
      ['dns', 'http://batchfile-no-such-host.invalid', /host not found|ENOTFOUND|EAI_AGAIN/],
      ['token', cacheServer().url, /check the token/],
    ];
    for (const [name, url, re] of cases) {
      const p = project();
      // A short timeout in the Batchfile for the silent server (it should cost about one
      // second); the others keep the default, so that a loaded machine is not taken for silence.
      if (name === 'silent') p.write('Batchfile.ts', PIPELINE.replace('steps: {', `cache: { remote: { timeoutMs: 1000 } }, steps: {`));
      const t0 = performance.now();
      const r = await p.batch(args(url, 'sick'), { env: { BATCH_REMOTE_CACHE_TOKEN: name === 'token' ? 'not-the-token' : TOKEN } });
      const ms = performance.now() - t0;
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(actions(r.stdout), name).toEqual([['gen', 'ran'], ['cat', 'ran']]);
      const w = warnings(r.stderr);
      expect(w, name).toHaveLength(1);
      expect(w[0], name).toMatch(re);
      expect(r.stderr, name).not.toContain(TOKEN);
      expect(r.stderr, name).not.toContain('not-the-token');
      expectCorrect(p);
      // Without the bound a silent server would hold the run for undici's 300 s header
      // timeout; the wall-clock limit here only catches that (the machine may be loaded).
      // That the timeout is paid once is shown by the one warning and the one request below.
      expect(ms, name).toBeLessThan(60_000);
    }
    // One request: after the first failure nothing more is asked of the server this run.
    // At most one (on a loaded machine the 1 s bound may pass before the request is written).
    expect(silent.requests).toBeLessThanOrEqual(1);
    expect(s500.requests).toBe(1);
    await s500.close();
    await silent.close();
  });

  it('the server killed mid-run: one warning, the run passes with correct outputs', async () => {
    const victim = await startCacheServer({ token: TOKEN });
    const p = project();
    // gen runs and is uploaded; slow waits until the test has killed the server; last then
    // looks the remote up (refused) and runs; slow's upload is refused too: one warning.
    p.write(
      'Batchfile.ts',
      batchfile(`
  gen: { run: 'gen.ts', inputs: ['names.txt'], outputs: ['out/'], params: { text: '!' } },
  slow: { command: ${cmd('--in', 'out/x.txt', '--out', 'slow.txt', '--started', 'started.txt', '--wait-for', 'release.txt')}, inputs: ['out/'], outputs: ['slow.txt'] },
  last: { command: ${cmd('--in', 'slow.txt', '--out', 'final/cat.txt')}, inputs: ['slow.txt'], outputs: ['final/cat.txt'] },
`),
    );
    const run = p.start(args(victim.url, 'killed'), { env: { BATCH_REMOTE_CACHE_TOKEN: TOKEN } });
    await waitForFile(p.path('started.txt'));
    await victim.kill();
    p.write('release.txt', '');
    const exit = await run.exited;
    expect(exit.code, run.output).toBe(0);
    expect(warnings(run.output)).toHaveLength(1);
    expect(warnings(run.output)[0]).toMatch(/ECONNREFUSED|ECONNRESET|socket|other side closed/);
    expect(p.read('final/cat.txt')).toBe('x!');
  });
});

describe('remote cache: tampered entries are refused and the step reruns', () => {
  /** Fills the server from one project, then lets `tamper` change gen's stored payload. */
  async function poisoned(team: string, tamper: (bytes: Buffer) => Buffer, env: NodeJS.ProcessEnv = {}): Promise<{ p: TempProject; stderr: string; stdout: string }> {
    const a = project();
    const r1 = await a.batch(args(cacheServer().url, team), { env: { BATCH_REMOTE_CACHE_TOKEN: TOKEN, ...env } });
    expect(r1.code, r1.stderr).toBe(0);
    const stored = cacheServer().artifacts(team).map((f) => ({ f, bytes: fs.readFileSync(f) }));
    const gen = stored.find((s) => manifestOf(s.bytes).step === 'gen');
    expect(gen).toBeDefined();
    fs.writeFileSync(gen!.f, tamper(gen!.bytes));
    const b = project();
    const r2 = await b.batch(args(cacheServer().url, team), { env: { BATCH_REMOTE_CACHE_TOKEN: TOKEN, ...env } });
    expect(r2.code, r2.stderr).toBe(0);
    return { p: b, stderr: r2.stderr, stdout: r2.stdout };
  }

  const manifestOf = (bytes: Buffer): { step: string; files: { path: string; mode: number }[] } => JSON.parse(bytes.subarray(12, 12 + bytes.readUInt32BE(8)).toString('utf8'));
  /** The payload with its manifest edited (the files and trailer kept). */
  const editManifest = (bytes: Buffer, edit: (m: { files: { path: string; mode: number }[] }) => void): Buffer => {
    const len = bytes.readUInt32BE(8);
    const m = manifestOf(bytes);
    edit(m);
    const json = Buffer.from(JSON.stringify(m));
    const head = Buffer.from(bytes.subarray(0, 12));
    head.writeUInt32BE(json.length, 8);
    return Buffer.concat([head, json, bytes.subarray(12 + len)]);
  };

  const cases: [string, (b: Buffer) => Buffer, RegExp, NodeJS.ProcessEnv?][] = [
    ['changed bytes', (b) => {
      const c = Buffer.from(b);
      c.writeUInt8(c.readUInt8(c.length - 33) ^ 0x20, c.length - 33);
      return c;
    }, /does not match its hash/],
    ['bad signature', (b) => {
      const c = Buffer.from(b);
      c.writeUInt8(c.readUInt8(c.length - 1) ^ 1, c.length - 1);
      return c;
    }, /bad signature/, { BATCH_REMOTE_CACHE_SIGNING_KEY: 'sign-me' }],
    ['../ path', (b) => editManifest(b, (m) => void (m.files[0]!.path = 'out/../../escaped.txt')), /not a plain relative path/],
    ['symlink', (b) => editManifest(b, (m) => void (m.files[0]!.mode = 0o120777)), /is a symlink/],
    ['not an output', (b) => editManifest(b, (m) => void (m.files[0]!.path = 'names.txt')), /not under the step's declared outputs/],
  ];
  for (const [name, tamper, re, env] of cases) {
    it(`${name}: refused with a warning; the step reruns; nothing outside its outputs`, async () => {
      const { p, stderr, stdout } = await poisoned(`tamper-${name.replace(/[^a-z]/g, '')}`, tamper, env);
      const w = warnings(stderr);
      expect(w).toHaveLength(1);
      expect(w[0]).toMatch(/step "gen": entry refused/);
      expect(w[0]).toMatch(re);
      // gen reran; cat's entry was sound, and gen wrote the same bytes, so cat is restored.
      expect(actions(stdout)).toEqual([['gen', 'ran'], ['cat', 'restored']]);
      expect(p.marks()).toEqual(['gen']);
      expectCorrect(p);
      expect(p.read('names.txt')).toBe('x\ny\n');
      expect(fs.existsSync(path.join(path.dirname(p.dir), 'escaped.txt'))).toBe(false);
      expect(fs.existsSync(p.path('escaped.txt'))).toBe(false);
      // No temp folder left behind.
      expect(fs.readdirSync(p.path('.cache/remote/tmp'))).toEqual([]);
    });
  }

  it('an unsigned entry is refused when a signing key is set', async () => {
    const team = 'unsigned';
    const a = project();
    expect((await a.batch(args(cacheServer().url, team), { env: { BATCH_REMOTE_CACHE_TOKEN: TOKEN } })).code).toBe(0);
    const b = project();
    const r = await b.batch(args(cacheServer().url, team), { env: { BATCH_REMOTE_CACHE_TOKEN: TOKEN, BATCH_REMOTE_CACHE_SIGNING_KEY: 'k' } });
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toHaveLength(2);
    for (const w of warnings(r.stderr)) expect(w).toMatch(/entry refused \(entry is not signed/);
    expect(actions(r.stdout)).toEqual([['gen', 'ran'], ['cat', 'ran']]);
    expectCorrect(b);
  });
});
