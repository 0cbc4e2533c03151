import fs from 'node:fs';
import path from 'node:path';
import { FileStat } from '../../fingerprint/stat-cache.js';
import { STATE_DIR } from '../../util/project-layout.js';
import type { FolderWatches } from './folder-watches.js';
import type { NotingStatCache } from './noting-stats.js';
import { VETTED } from './path-marks.js';

/** One judging of the paths a run stat'ed: what it did, for the log. */
export interface Round {
  t0: number;
  kept: number;
  again: number;
  dropped: number;
  /** Folders that could not be watched: their paths are not tried again this round. */
  failed: Set<string>;
}

/** What a judging reads of the tracker. */
export interface JudgeAt {
  watches: FolderWatches;
  /** Runs begun: a watch set while this was n predates every stat of run n + 1 on. */
  runs: number;
  /** The project root with a trailing separator. */
  prefix: string;
  /** False once events are not relied on: nothing is kept. */
  trustEvents: boolean;
}

/** Keeps or forgets one path a run stat'ed. Its stat is kept as it is only if its folder was
 * watched before that run began; if the folder is watched only now, the path is stat'ed
 * again (a change between the run's stat and the watch has no event). Never under a folder
 * reached through a symbolic link (FolderWatches.linked). */
export function judgeOne(rel: string, stats: NotingStatCache, round: Round, at: JudgeAt): void {
  if (stats.peekStat(rel) === undefined) return; // forgotten since, by an event
  if (at.trustEvents && inside(rel)) {
    const dir = path.posix.dirname(rel);
    const since = at.watches.since(dir);
    if (since !== undefined && since < at.runs) {
      if (!at.watches.linked(dir) && vet(rel, stats, at.prefix)) return void round.kept++;
    } else if (since !== undefined && stats.marks.has(rel, VETTED)) {
      return void round.kept++; // a duplicate: stat'ed again (below) earlier in this round
    } else if ((since !== undefined || at.watches.watchWithAncestors(dir, at.runs, round.failed)) && !at.watches.linked(dir) && restat(rel, stats, at.prefix)) {
      return void round.again++;
    }
  }
  round.dropped++;
  stats.forget(rel);
}

/** Whether events on the folder describe this path. Not for a symbolic link (its target
 * changes elsewhere), a file with other hard links (written through another folder), or a
 * folder (its entries change without an event on its parent): those are stat'ed every run.
 * Each path is vetted once, with one lstat. */
function vet(rel: string, stats: NotingStatCache, prefix: string): boolean {
  if (stats.marks.has(rel, VETTED)) return true;
  const st = stats.peekStat(rel);
  if (st === undefined || (st !== null && (!st.isFile() || st.nlink > 1))) return false;
  const l = lstat(prefix, rel);
  if (l === false || (l ? !l.isFile() || l.nlink > 1 : st !== null)) return false;
  stats.marks.set(rel, VETTED);
  return true;
}

/** Stats a path again, its folder now watched, and holds that stat if events on the folder
 * describe the path (as `vet`: a plain file with one link, or nothing). One lstat: for such
 * a path it is the stat. */
function restat(rel: string, stats: NotingStatCache, prefix: string): boolean {
  const l = lstat(prefix, rel);
  if (l === false || (l && (!l.isFile() || l.nlink > 1))) return false;
  stats.replaceStat(rel, l ? FileStat.of(l) : null);
  stats.marks.set(rel, VETTED);
  return true;
}

/** lstat of a path `inside` the project (a plain join: path.join showed in profiles at
 * 100,000 paths): undefined when nothing is there, false when it cannot be told (no access,
 * a file where a folder was). */
function lstat(prefix: string, rel: string): fs.Stats | undefined | false {
  try {
    return fs.lstatSync(prefix + rel, { throwIfNoEntry: false });
  } catch {
    return false;
  }
}

/** A normalised path inside the project and outside its state folder (the only kind kept). */
function inside(rel: string): boolean {
  return rel !== '' && rel !== '.' && !path.isAbsolute(rel) && !rel.startsWith('../') && rel !== '..' && !rel.includes('/../') && !rel.startsWith(`${STATE_DIR}/`);
}
