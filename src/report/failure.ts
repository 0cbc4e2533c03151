import { colourEnabled, makeStyle } from './style.js';
import { BatchError } from '../util/errors.js';
import type { TextOut } from '../util/text-out.js';

/** Turns a failure that reached the CLI edge into its message and exit code: expected
 * failures (BatchError, a full or read-only disk) by message, anything else as an internal
 * error with its stack. Written to `err` whatever stdout carries, so `batch ... > file`
 * still shows them. */
export function reportFailure(e: unknown, err: TextOut): number {
  const red = makeStyle(colourEnabled(err)).red;
  if (e instanceof BatchError) {
    err.write(`${red('error:')} ${e.message}\n`);
    return e.exitCode;
  }
  const x = e as NodeJS.ErrnoException;
  if (x?.code === 'ENOSPC' || x?.code === 'EACCES' || x?.code === 'EROFS' || x?.code === 'EPERM') {
    err.write(`${red('error:')} ${x.message}\n`);
    return 3;
  }
  err.write(`${red('internal error:')} ${x?.stack ?? String(e)}\n`);
  return 70;
}
