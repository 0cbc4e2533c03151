import type { FileHashes } from '../store/types.js';

/** A step's code, as its kind found it (kinds/): what goes into its key besides its inputs. */
export interface StepCode {
  /** Hashes of every code file the step's result depends on. */
  files: FileHashes;
  /** Absolute path of the compiled module, for a kind whose steps run in the worker pool. */
  compiled?: string;
}
