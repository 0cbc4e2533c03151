import path from 'node:path';

/** Project-relative POSIX path of an absolute path. */
export function toRel(root: string, abs: string): string {
  const rel = path.relative(root, abs);
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

/** A path as messages show it: relative to the project folder when inside it ('.' for the
 * folder itself), absolute otherwise (a cache or logs folder configured elsewhere). */
export function shownPath(root: string | undefined, abs: string): string {
  if (root === undefined) return abs;
  const rel = toRel(root, abs);
  if (rel === '') return '.';
  return isInside(rel) ? rel : abs;
}

/** A system message (an errno text names the absolute path) with paths inside the project
 * shown relative to it, like the rest of the CLI's messages. */
export function shownPathsIn(root: string | undefined, text: string): string {
  if (root === undefined || root === path.parse(root).root) return text;
  return text.split(`${root}${path.sep}`).join('').split(`'${root}'`).join("'.'");
}

export function toAbs(root: string, rel: string): string {
  return path.resolve(root, rel);
}

/** True when a project-relative path stays inside the project. */
export function isInside(rel: string): boolean {
  return rel !== '..' && !rel.startsWith('../') && !path.isAbsolute(rel);
}

/** Matches every spec that normalising could change: a `.` or `..` segment, `//`, a trailing
 * `/`, a backslash (Windows separators). */
export const NOT_NORMAL = /(?:^|\/)\.\.?(?:\/|$)|\/\/|\/$|\\/;

/** Normalises a user-written path spec: POSIX separators, no leading "./", no trailing "/".
 * A spec already in that form (nearly all of them) is returned as it is: a Batchfile of
 * 10,000 steps has ~100,000 specs, and building a new string for each cost measurable time
 * and garbage at every start. */
export function normaliseSpec(spec: string): string {
  if (spec !== '' && !NOT_NORMAL.test(spec)) return spec;
  let s = path.sep === '\\' ? spec.replace(/\\/g, '/') : spec;
  while (s.startsWith('./')) s = s.slice(2);
  if (s.length > 1 && s.endsWith('/')) s = s.replace(/\/+$/, '');
  return path.posix.normalize(s);
}
