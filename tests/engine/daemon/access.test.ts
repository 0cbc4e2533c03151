// Who can reach the daemon. It runs steps with the environment a client sends (PATH,
// NODE_OPTIONS...), so whoever can connect can run code as the daemon's owner: only that user
// may. The gate is a folder only the owner can enter (.cache/daemon/, mode 0700) holding a
// socket made owner-only, whatever the umask. Proved with a second, real local user.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, TempProject, otherUser } from '../rig.js';
import { batchfile, cmd, table } from '../helpers.js';
import { Daemons } from './daemons.js';

let p: TempProject | undefined;
const daemons = new Daemons();

afterEach(async () => {
  await daemons.stopAll(p);
  p?.cleanup();
  p = undefined;
});

const ONE = batchfile(`
  a: { command: ${cmd('--in', 'data/a.txt', '--out', 'out/a.txt')}, inputs: ['data/a.txt'], outputs: ['out/a.txt'] },
`);

/** Connects to `sock` as the given user (setpriv drops root's uid, gid and groups) and
 * returns what happened: 'connected' or the error code. */
function connectAs(user: { uid: number; gid: number } | undefined, sock: string): string {
  const script = `require('net').connect(${JSON.stringify(sock)}).on('connect', function () { process.stdout.write('connected'); this.destroy(); }).on('error', (e) => process.stdout.write(e.code))`;
  const argv = [process.execPath, '-e', script];
  const r = user
    ? spawnSync('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', ...argv], { encoding: 'utf8', timeout: 20_000 })
    : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  return r.stdout.trim() || `no answer (exit ${r.status}): ${r.stderr}`;
}

/** `batch daemon start` under `umask 000`, from a shell. */
function startUnderUmask000(project: TempProject): number {
  const r = spawnSync('sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, BIN, '-C', project.dir, 'daemon', 'start'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 60_000,
  });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  return daemons.track(project);
}

describe('who can connect to the daemon', () => {
  it('under umask 000: its folder is 0700 and its socket owner-only, even over a world-open folder left there', () => {
    p = TempProject.create({ 'Batchfile.ts': ONE, 'data/a.txt': 'alpha' });
    fs.mkdirSync(p.path('.cache/daemon'), { recursive: true });
    fs.chmodSync(p.path('.cache/daemon'), 0o777);
    startUnderUmask000(p);
    expect(fs.statSync(p.path('.cache/daemon')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(p.path('.cache/daemon/daemon.sock')).mode & 0o077).toBe(0);
    expect(fs.statSync(p.path('.cache/daemon/daemon.json')).mode & 0o077).toBe(0);
    expect(fs.statSync(p.path('.cache/daemon/daemon.log')).mode & 0o077).toBe(0);
  });

  // Needs root to make the second user; this suite runs as root here and in CI.
  it.runIf(process.getuid?.() === 0)('refuses a second local user, even with every folder above it open to them', async () => {
    const other = otherUser();
    p = TempProject.create({ 'Batchfile.ts': ONE, 'data/a.txt': 'alpha' });
    startUnderUmask000(p);
    // Everything up to the daemon's folder open to all, as a careless umask would leave it.
    fs.chmodSync(p.dir, 0o777);
    fs.chmodSync(p.path('.cache'), 0o777);
    const sock = p.path('.cache/daemon/daemon.sock');
    expect(connectAs(undefined, sock)).toBe('connected'); // its owner gets in
    expect(connectAs(other, sock)).toBe('EACCES');
    // Even were the folder opened up, the socket itself admits only its owner.
    fs.chmodSync(p.path('.cache/daemon'), 0o755);
    expect(connectAs(other, sock)).toBe('EACCES');
    expect(connectAs(undefined, sock)).toBe('connected');
  });

  it('a client does not use a daemon whose folder others can enter: it runs the command itself', async () => {
    p = TempProject.create({ 'Batchfile.ts': ONE, 'data/a.txt': 'alpha' });
    await daemons.start(p);
    fs.chmodSync(p.path('.cache/daemon'), 0o750);
    const r = await p.run();
    expect(r.code, r.stderr).toBe(0);
    expect(table(r.steps)).toEqual({ a: 'PASS ran' });
    fs.chmodSync(p.path('.cache/daemon'), 0o700);
    const status = await p.batch(['daemon', 'status']);
    expect(status.stdout).toMatch(/0 runs served/);
  });

  it.runIf(process.getuid?.() === 0)('will not start in a daemon folder another user made', async () => {
    const other = otherUser();
    p = TempProject.create({ 'Batchfile.ts': ONE, 'data/a.txt': 'alpha' });
    fs.mkdirSync(p.path('.cache/daemon'), { recursive: true });
    fs.chownSync(p.path('.cache/daemon'), other.uid, other.gid);
    const r = await p.batch(['daemon', 'start']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/daemon.*another user \(uid \d+\)/);
    expect(p.exists('.cache/daemon/daemon.sock')).toBe(false);
  });
});
