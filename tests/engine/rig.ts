// Test rig: temp projects with real files, the real `batch` binary as a child process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO, 'bin/batch.js');
export const FAKE = path.join(REPO, 'tests/engine/fixtures/fake-step.mjs');

/** For a test file that makes several projects per test: `create(files)` makes one, and every
 * project made is removed after each test. */
export function projectsRemovedAfterEach(): (files: Record<string, string>) => TempProject {
  let made: TempProject[] = [];
  afterEach(() => {
    for (const p of made) p.cleanup();
    made = [];
  });
  return (files) => {
    const p = TempProject.create(files);
    made.push(p);
    return p;
  };
}

const OTHER_USER = 'batchfile-other';

/** A second local user (made once, as root): uid and gid. */
export function otherUser(): { uid: number; gid: number } {
  const id = (flag: string): number => Number(spawnSync('id', [flag, OTHER_USER], { encoding: 'utf8' }).stdout.trim());
  if (spawnSync('id', [OTHER_USER]).status !== 0) {
    const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OTHER_USER], { encoding: 'utf8' });
    // Two test files making the user at once: the loser finds it made.
    if (r.status !== 0 && spawnSync('id', [OTHER_USER]).status !== 0) throw new Error(`useradd failed: ${r.stderr}`);
  }
  return { uid: id('-u'), gid: id('-g') };
}

/** In `dir`: a copy of the bin (bin/batch.js with its package.json) and of the real bundle
 * loader (dist/bundle/load.cjs), for a test to put fake builds beside. */
export function copyBinAndLoader(dir: string): void {
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.copyFileSync(BIN, path.join(dir, 'bin', 'batch.js'));
  fs.copyFileSync(path.join(path.dirname(BIN), 'package.json'), path.join(dir, 'bin', 'package.json'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  fs.mkdirSync(path.join(dir, 'dist', 'bundle'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'dist', 'bundle', 'load.cjs'), path.join(dir, 'dist', 'bundle', 'load.cjs'));
}

export interface BatchResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `batch` (bin/batch.js) from `cwd` with exactly `args`, to completion. */
export function batchIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<BatchResult> {
  return nodeIn(cwd, [BIN, ...args], env, timeoutMs);
}

/** Runs `node` with exactly `args` from `cwd` (as batchIn, for a script other than the bin). */
export function nodeIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<BatchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: '1', CI: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} in ${cwd} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface StepSummary {
  name: string;
  status: string;
  action: string;
  reason: string;
  durationMs: number;
  error?: string;
  attempts?: number;
}

export interface RunSummary {
  runId: string;
  status: string;
  steps: StepSummary[];
  tests?: { status: string; action: string; passed: number; failed: number; cases: { name: string; status: string; message?: string }[] };
}

/** A throwaway project folder. */
export class TempProject {
  private constructor(readonly dir: string) {}

  static create(files: Record<string, string> = {}): TempProject {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-test-'));
    const p = new TempProject(dir);
    for (const [rel, content] of Object.entries(files)) p.write(rel, content);
    return p;
  }

  path(rel: string): string {
    return path.join(this.dir, rel);
  }

  write(rel: string, content: string | Uint8Array): void {
    const abs = this.path(rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }

  read(rel: string): string {
    return fs.readFileSync(this.path(rel), 'utf8');
  }

  exists(rel: string): boolean {
    return fs.existsSync(this.path(rel));
  }

  remove(rel: string): void {
    fs.rmSync(this.path(rel), { recursive: true, force: true });
  }

  /** Sets mtime forward without changing content. */
  touch(rel: string): void {
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(this.path(rel), t, t);
  }

  /** Lines appended by fake steps' --mark. */
  marks(rel = 'marks.txt'): string[] {
    return this.exists(rel) ? this.read(rel).split('\n').filter(Boolean) : [];
  }

  /** Runs `batch` on this project to completion. */
  batch(args: string[] = [], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<BatchResult> {
    return batchIn(process.cwd(), ['-C', this.dir, ...args], opts.env, opts.timeoutMs);
  }

  /** Runs `batch --json` and parses the summary. */
  async run(args: string[] = [], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunSummary & { code: number | null; stderr: string }> {
    const r = await this.batch([...args, '--json'], opts);
    let summary: RunSummary;
    try {
      summary = JSON.parse(r.stdout) as RunSummary;
    } catch {
      throw new Error(`no JSON summary (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
    return { ...summary, code: r.code, stderr: r.stderr };
  }

  /** Starts `batch` and returns a handle to wait on its output. */
  start(args: string[] = [], opts: { env?: NodeJS.ProcessEnv } = {}): Running {
    const child = spawn(process.execPath, [BIN, '-C', this.dir, ...args], {
      env: { ...process.env, NO_COLOR: '1', CI: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Running(child);
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A running batch process whose output can be awaited. */
export class Running {
  output = '';
  private readonly waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    const onData = (d: Buffer): void => {
      this.output += d.toString();
      for (const w of [...this.waiters]) {
        const m = this.output.slice(w.from).match(w.re);
        if (m) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  }

  /** Waits until the output (after `from`, default: everything so far is searched) matches. */
  waitFor(re: RegExp, timeoutMs = 30_000, from = 0): Promise<RegExpMatchArray> {
    const m = this.output.slice(from).match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output so far:\n${this.output}`)), timeoutMs);
      this.waiters.push({ re, from, resolve: (mm) => (clearTimeout(timer), resolve(mm)) });
    });
  }

  kill(sig: NodeJS.Signals = 'SIGINT'): void {
    this.child.kill(sig);
  }
}

/** Waits for a file to exist (fs.watch on its folder), with a bounded timeout. */
export function waitForFile(file: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (fs.existsSync(file)) return resolve();
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true });
    const timer = setTimeout(() => {
      w.close();
      reject(new Error(`timed out waiting for ${file}`));
    }, timeoutMs);
    const w = fs.watch(dir, () => {
      if (fs.existsSync(file)) {
        clearTimeout(timer);
        w.close();
        resolve();
      }
    });
    if (fs.existsSync(file)) {
      clearTimeout(timer);
      w.close();
      resolve();
    }
  });
}

/** A shell-quoted fake-step command line. */
export function fake(...args: string[]): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [q(process.execPath), q(FAKE), ...args.map(q)].join(' ');
}
