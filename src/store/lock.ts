import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BatchError } from '../util/errors.js';
import { lockGeneration, lockGenerationPath } from '../util/lock-generation.js';
import { shownPath, shownPathsIn } from '../util/paths.js';

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: number;
  command: string;
}

/** Whether the lock's holder still runs. A pid alone can mislead: once the holder is gone its
 * number can be reused by another process, or by a thread (kill(pid, 0) accepts thread ids),
 * which would keep a stale lock forever. Where /proc tells, the holder is alive only if that
 * pid is a process (not a thread of another, nor a zombie) that started no later than the lock
 * was taken. A zombie answers kill(pid, 0) as a live process does; a daemon killed in a
 * container whose init reaps no orphans stays one, and held its project's lock for good. */
export function lockHolderAlive(pid: number, lockedAt: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const started = processStart(pid);
  if (started === undefined) return true;
  if (started === null) return false;
  // btime has one-second resolution and start times tick at 10 ms.
  return started <= lockedAt + 2000;
}

let bootTimeMs: number | undefined;

/** When process `pid` started (ms since the epoch), null when `pid` is a thread of another
 * process or has exited (a zombie not yet reaped), undefined when /proc cannot tell (not
 * Linux, or no access). */
function processStart(pid: number): number | null | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const tgid = /^Tgid:\s*(\d+)/m.exec(status)?.[1];
    if (tgid !== undefined && Number(tgid) !== pid) return null;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses); starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // The state, field 3: Z (zombie) and X (dead) have exited.
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    const ticks = Number(fields[19]);
    bootTimeMs ??= Number(/^btime\s+(\d+)/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]) * 1000;
    // USER_HZ is 100 on every Linux architecture Node supports.
    const t = bootTimeMs + ticks * 10;
    return Number.isFinite(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

function readLock(file: string): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/** How long a lock file may stay empty or unparseable before it counts as stale. */
const UNREADABLE_LOCK_MS = 5000;

export interface Lock {
  release(): void;
  /** The lock's generation before this holder took it (util/lock-generation.ts): equal to
   * one read earlier only if nobody held the lock in between. */
  readonly generationBefore: string;
  /** The generation this holder wrote as it took the lock ('' when it could not): the next
   * holder's `generationBefore` equals it only if nobody held the lock in between. */
  readonly generation: string;
}

let generations = 0;

/** Moves the generation on (the lock just taken): what it was before, and what it is now
 * ('' when it cannot be written: then it is removed, and is '' for a reader, which no earlier
 * reading may match unless it was absent then too; the next holder writes it again). */
function nextGeneration(cacheDir: string, me: LockInfo): { before: string; now: string } {
  const before = lockGeneration(cacheDir);
  const file = lockGenerationPath(cacheDir);
  const now = `${me.pid} ${me.startedAt} ${++generations} ${Math.random()}`;
  try {
    fs.writeFileSync(file, now);
  } catch {
    fs.rmSync(file, { force: true });
    return { before, now: '' };
  }
  return { before, now };
}

/** The stale lock a contender judged: a dead holder's, or one left unreadable (by file). */
export type StaleLock = { holder: LockInfo } | { unreadable: FileIdentity };

/** A file told apart from one made since at the same path: an inode is reused at once after
 * an unlink, but not with the old file's change time. */
export interface FileIdentity {
  dev: number;
  ino: number;
  ctimeMs: number;
}

function identityOf(st: fs.Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, ctimeMs: st.ctimeMs };
}

function sameFile(st: fs.Stats | undefined, id: FileIdentity): boolean {
  return st !== undefined && st.dev === id.dev && st.ino === id.ino && st.ctimeMs === id.ctimeMs;
}

/** Whether the lock at `file` is still the stale one judged. */
function stillStale(file: string, judged: StaleLock): boolean {
  if ('holder' in judged) {
    const now = readLock(file);
    return now !== undefined && now.pid === judged.holder.pid && now.startedAt === judged.holder.startedAt && now.host === judged.holder.host;
  }
  return sameFile(fs.statSync(file, { throwIfNoEntry: false }), judged.unreadable) && readLock(file) === undefined;
}

/** Removes the stale lock judged, if it is still the one at `file`. Between the judging and
 * the removal other contenders may have removed it and made their own lock (possibly not yet
 * written), which must survive: removing it let two runs hold the lock. So removals are
 * serialised by a second lock (`lock.takeover`, O_EXCL): under it the stale lock is looked at
 * again and removed only if it is the same, and nobody else removes a lock meanwhile (its
 * owner is dead, and only takeover holders remove others' locks). Returns whether it was removed. */
export function takeOverStale(file: string, judged: StaleLock): boolean {
  const guard = `${file}.takeover`;
  const me: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: Date.now(), command: 'takeover' };
  try {
    const fd = fs.openSync(guard, 'wx');
    try {
      fs.writeSync(fd, JSON.stringify(me));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    breakDeadGuard(guard);
    return false; // another contender is taking it over; the caller looks again
  }
  try {
    if (!stillStale(file, judged)) return false;
    fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

/** A takeover lock whose owner died inside its few microseconds (or left it unreadable for
 * longer than the grace period) would block every takeover: it is moved aside, and removed
 * only if what was moved is that same dead one; anything else is linked back. */
function breakDeadGuard(guard: string): void {
  const st = fs.statSync(guard, { throwIfNoEntry: false });
  if (!st) return;
  const owner = readLock(guard);
  const dead = owner ? owner.host === os.hostname() && !lockHolderAlive(owner.pid, owner.startedAt) : Date.now() - st.mtimeMs > UNREADABLE_LOCK_MS;
  if (!dead) return;
  const aside = `${guard}.stale.${process.pid}`;
  try {
    fs.renameSync(guard, aside);
  } catch {
    return;
  }
  // The move changed its change time; the judged one has the same owner, or is the same
  // inode and still unreadable.
  const moved = readLock(aside);
  const same = owner ? moved?.pid === owner.pid && moved.startedAt === owner.startedAt : moved === undefined && fs.statSync(aside, { throwIfNoEntry: false })?.ino === st.ino;
  try {
    if (!same) fs.linkSync(aside, guard);
  } catch {
    // a newer takeover lock is in place; the moved one is not needed
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/** One batch per project at a time: `.cache/lock`, created with O_EXCL so exactly one of
 * two processes started together wins. A lock left by a dead process is taken over. */
export async function acquireLock(cacheDir: string, opts: { wait: boolean; signal?: AbortSignal; onWait?: (message: string) => void; root?: string }): Promise<Lock> {
  const file = path.join(cacheDir, 'lock');
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
  } catch (e) {
    throw new BatchError(`Cannot create ${shownPath(opts.root, cacheDir)}: ${shownPathsIn(opts.root, (e as Error).message)}`, 3);
  }
  const me: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: Date.now(), command: process.argv.slice(2).join(' ') };
  let toldWaiting = false;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify(me));
      fs.closeSync(fd);
      const gen = nextGeneration(cacheDir, me);
      let released = false;
      return {
        generationBefore: gen.before,
        generation: gen.now,
        release: () => {
          if (released) return;
          released = true;
          if (readLock(file)?.pid === process.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        // Created but not written (a full disk): remove it, or the next batch would find an
        // unreadable lock and wait for it to go stale.
        if (fd !== undefined) fs.rmSync(file, { force: true });
        throw new BatchError(`Cannot create the lock ${shownPath(opts.root, file)}: ${shownPathsIn(opts.root, (e as Error).message)}`, 3);
      }
    }
    const holder = readLock(file);
    if (holder && holder.host === me.host && !lockHolderAlive(holder.pid, holder.startedAt)) {
      takeOverStale(file, { holder });
      continue;
    }
    if (holder === undefined) {
      // Being written by its creator right now; look again shortly. A lock that stays
      // unreadable was left by a process that died between creating and writing it.
      const st = fs.statSync(file, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > UNREADABLE_LOCK_MS) takeOverStale(file, { unreadable: identityOf(st) });
      else if (st) await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    const who = `pid ${holder.pid} on ${holder.host}, started ${new Date(holder.startedAt).toISOString()}${holder.command ? ` (\`batch ${holder.command}\`)` : ''}`;
    if (!opts.wait) throw new BatchError(`Another batch is running in this project: ${who}. Wait for it, or pass --wait.`, 2);
    if (!toldWaiting) {
      // Said once, so a user (or a script) knows why nothing happens yet.
      opts.onWait?.(`Waiting for the batch running in this project to finish: ${who}`);
      toldWaiting = true;
    }
    if (opts.signal?.aborted) throw new BatchError('Interrupted while waiting for the lock', 130);
    await new Promise((r) => setTimeout(r, 100));
  }
}
