// Names the command line and the Batchfile share, in a module that imports nothing: the daemon
// client (loaded on every `batch` start, without the engine) reads them too.

/** The Batchfile's names, looked for in this order. */
export const BATCHFILE_NAMES = ['Batchfile.ts', 'Batchfile.mts', 'Batchfile.js', 'Batchfile.mjs'];

/** batch's subcommands: no step may be named like one. */
export const RESERVED_NAMES = [
  'run', 'graph', 'explain', 'history', 'trends', 'compare', 'clean', 'init', 'cache', 'help', 'version', 'watch', 'daemon', 'worker',
] as const;
