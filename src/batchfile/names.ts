// batch's subcommands, in a module that imports nothing: the daemon client (loaded on every
// `batch` start, without the engine) reads them too.

/** batch's subcommands: no step may be named like one. */
export const RESERVED_NAMES = [
  'run', 'graph', 'explain', 'history', 'trends', 'compare', 'clean', 'init', 'cache', 'help', 'version', 'watch', 'daemon', 'worker', 'metrics',
] as const;
