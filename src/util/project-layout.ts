// The names of batch's own folders in a project, spelled once: every path to them is built
// from these (app/project.ts) or skips them by these names (globs, file watching).

/** Engine state: the run store, the stat cache, the compiled Batchfile, the output cache, the lock. */
export const STATE_DIR = '.cache';
/** The user's run logs: per-step logs, the CSV log, the reports. */
export const LOGS_DIR = 'logs';
/** Under STATE_DIR: the output cache (cache/local/): its blob files, temp files, and the LMDB
 * environment of its small blobs. */
export const OUTPUT_CACHE_DIR = 'outputs';
/** Under OUTPUT_CACHE_DIR: the LMDB environment of the output cache's small blobs, apart from
 * the run store (`store/`) so that the records every run reads stay dense in a small file. */
export const INLINE_BLOBS_DIR = 'inline';
