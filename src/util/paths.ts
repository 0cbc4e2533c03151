import path from 'node:path';

/** Project-relative POSIX path of an absolute path. */
export function toRel(root: string, abs: string): string {
  const rel = path.relative(root, abs);
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

export function toAbs(root: string, rel: string): string {
  return path.resolve(root, rel);
}

/** True when a project-relative path stays inside the project. */
export function isInside(rel: string): boolean {
  return rel !== '..' && !rel.startsWith('../') && !path.isAbsolute(rel);
}

/** Normalises a user-written path spec: POSIX separators, no leading "./", no trailing "/". */
export function normaliseSpec(spec: string): string {
  let s = path.sep === '\\' ? spec.replace(/\\/g, '/') : spec;
  while (s.startsWith('./')) s = s.slice(2);
  if (s.length > 1 && s.endsWith('/')) s = s.replace(/\/+$/, '');
  return path.posix.normalize(s);
}
