import fs from 'node:fs';

/** Bytes read from a log's end: enough for 20 long lines, never a whole big log. */
const TAIL_BYTES = 16 * 1024;

/** The last `lines` lines a failed step wrote to its log (its stdout and stderr, in order),
 * without batch's own "# batch:" / "# reason:" lines. Empty when the log cannot be read. */
export function logTail(file: string, lines = 20): string[] {
  let text: string;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    text = buf.toString('utf8');
    // A cut first line is partial: drop it.
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const own = /^# (batch|reason): /;
  return text.split('\n').filter((l) => l.trim() !== '' && !own.test(l)).slice(-lines);
}
