// File helpers shared by the example steps: atomic writes, simple CSV I/O, and
// finding a step's files in ctx.inputs / ctx.outputs.
//
// The CSVs passed between steps hold only codes, numbers and ISO dates, so they
// use the plain "split on comma" dialect; the writer refuses any value that would
// need quoting instead of silently producing a file the readers mis-parse.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile, readFile } from 'node:fs/promises';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { StepContext } from 'batchfile';

/** A unique temp name next to `target`, so the final rename stays on one file system. */
function tempNameFor(target: string): string {
  return `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Write a whole file via temp file + rename: readers never see a half-written file. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = tempNameFor(target);
  try {
    await writeFile(tmp, data);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Stable JSON (keys sorted at every level, 2-space indent, trailing newline). */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, stableJson(value));
}

/**
 * Fill a whole output folder, then swap it in. The old folder's files are
 * replaced as a set, so a partition that no longer exists (say, after
 * FLIGHTS_SAMPLE changed) does not linger and get read by the next step.
 */
export async function replaceDir(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const target = dir.replace(/[\\/]+$/, '');
  const tmp = tempNameFor(target);
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

const UNSAFE = /[",\r\n]/;

/**
 * Writes CSV rows to a temp file; `close()` renames it into place.
 *
 * Synchronous on purpose: steps run on worker threads, where blocking I/O stalls
 * nobody else. Lines are copied at once into a reused 1 MB byte buffer, so each
 * line string dies young; buffering strings instead made them survive into the
 * old generation, and garbage collection took half of ingest's time at 3M rows.
 */
export class CsvWriter {
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  private rows = 0;
  private closed = false;
  private constructor(
    private readonly fd: number,
    private readonly tmp: string,
    private readonly target: string,
    private readonly width: number,
  ) {}

  static create(target: string, header: readonly string[]): CsvWriter {
    mkdirSync(path.dirname(target), { recursive: true });
    const tmp = tempNameFor(target);
    const w = new CsvWriter(openSync(tmp, 'w'), tmp, target, header.length);
    w.put(header.join(','));
    return w;
  }

  get rowCount(): number {
    return this.rows;
  }

  /** One row from values; strings are checked to need no quoting. */
  write(fields: readonly (string | number)[]): void {
    if (fields.length !== this.width) {
      throw new Error(`${this.target}: row has ${fields.length} fields, header has ${this.width}`);
    }
    for (const f of fields) {
      if (typeof f === 'string' && UNSAFE.test(f)) {
        throw new Error(`${this.target}: value ${JSON.stringify(f)} would need CSV quoting`);
      }
    }
    this.writeLine(fields.join(','));
  }

  /** Hot path: a line (no newline) the caller built from values that cannot need quoting. */
  writeLine(line: string): void {
    this.put(line);
    this.rows += 1;
  }

  private put(line: string): void {
    // A UTF-8 char is at most 3 bytes per UTF-16 unit; +1 for the newline.
    if (this.pos + line.length * 3 + 1 > this.buf.length) {
      this.flush();
      if (line.length * 3 + 1 > this.buf.length) {
        writeSync(this.fd, `${line}\n`);
        return;
      }
    }
    this.pos += this.buf.write(line, this.pos, 'utf8');
    this.buf[this.pos++] = 10;
  }

  private flush(): void {
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.pos = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.flush();
      closeSync(this.fd);
      renameSync(this.tmp, this.target);
    } catch (err) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      rmSync(this.tmp, { force: true });
      throw err;
    }
  }

  /** Drops the temp file; the target is left as it was. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.tmp, { force: true });
  }
}

/**
 * Calls `onRow(fields, lineNo, line)` for each data row of a comma-split CSV whose
 * header must equal `header`. Reads the file whole: our partitions are one
 * month (~50 MB at most), and one big string is far faster than line events.
 */
export async function forEachCsvRow(
  file: string,
  header: readonly string[],
  onRow: (fields: string[], lineNo: number, line: string) => void,
  /** Split off only the first `limit` fields (a hot loop that needs only a few saves the rest). */
  limit?: number,
): Promise<number> {
  const text = await readFile(file, 'utf8');
  let pos = text.indexOf('\n');
  const first = (pos === -1 ? text : text.slice(0, pos)).replace(/\r$/, '');
  if (first !== header.join(',')) {
    throw new Error(`${file}: header is "${first}", expected "${header.join(',')}"`);
  }
  let line = 1;
  let rows = 0;
  while (pos !== -1 && pos < text.length - 1) {
    const next = text.indexOf('\n', pos + 1);
    const raw = text.slice(pos + 1, next === -1 ? text.length : next);
    pos = next;
    line += 1;
    if (raw.length === 0) continue;
    onRow(raw.split(',', limit), line, raw);
    rows += 1;
  }
  return rows;
}

/** Root-relative path with forward slashes (for messages and matching). */
export function rel(ctx: Pick<StepContext, 'root'>, abs: string): string {
  return path.relative(ctx.root, abs).split(path.sep).join('/');
}

/** The declared output whose path ends with `suffix` (e.g. "ingest.json" or "raw/"). */
export function outputEndingWith(ctx: Pick<StepContext, 'outputs' | 'step'>, suffix: string): string {
  const want = suffix.replace(/[\\/]+$/, '');
  const hits = ctx.outputs.filter((o) => o.replace(/[\\/]+$/, '').endsWith(want));
  if (hits.length !== 1 || hits[0] === undefined) {
    throw new Error(`step ${ctx.step}: expected exactly one declared output ending with "${suffix}", found ${hits.length}`);
  }
  return hits[0];
}

/** The resolved input files whose root-relative path matches `re` (at least one required). */
export function inputsMatching(ctx: Pick<StepContext, 'inputs' | 'root' | 'step'>, re: RegExp, what: string): string[] {
  const hits = ctx.inputs.filter((f) => re.test(rel(ctx, f)));
  if (hits.length === 0) throw new Error(`step ${ctx.step}: no input matches ${what} (${re})`);
  return hits;
}

/** Exactly one resolved input whose root-relative path matches `re`. */
export function inputMatching(ctx: Pick<StepContext, 'inputs' | 'root' | 'step'>, re: RegExp, what: string): string {
  const hits = inputsMatching(ctx, re, what);
  if (hits.length !== 1 || hits[0] === undefined) {
    throw new Error(`step ${ctx.step}: expected one input for ${what}, found ${hits.length}: ${hits.map((h) => rel(ctx, h)).join(', ')}`);
  }
  return hits[0];
}

/** Throws the abort reason if the step was cancelled (checked between partitions and in hot loops). */
export function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('step aborted');
}
