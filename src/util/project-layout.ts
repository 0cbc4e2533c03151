// The names of batch's own folders in a project, spelled once: every path to them is built
// from these (app/project.ts) or skips them by these names (globs, file watching).

/** Engine state: the run store, the stat cache, the compiled Batchfile, the output cache, the lock. */
export const STATE_DIR = '.cache';
/** The user's run logs: per-step logs, the CSV log, the reports. */
export const LOGS_DIR = 'logs';
