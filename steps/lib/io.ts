// File helpers shared by the example steps: atomic writes, simple CSV I/O, and
// finding a step's files in ctx.inputs / ctx.outputs.
//
// The CSVs passed between steps hold only codes, numbers and ISO dates, so they
// use the plain "split on comma" dialect; the writer refuses any value that would
// need quoting instead of silently producing a file the readers mis-parse.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
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
 * Writes CSV rows to a temp file; `close()` renames it into place. `write` is
 * synchronous (callable from a row callback): rows are batched and each full
 * batch is queued as one file write, the writes chained so they land in order.
 */
export class CsvWriter {
  private buf: string[] = [];
  private rows = 0;
  private chain: Promise<void> = Promise.resolve();
  private error: unknown = null;
  private constructor(
    private readonly fh: FileHandle,
    private readonly tmp: string,
    private readonly target: string,
    private readonly width: number,
  ) {}

  static async create(target: string, header: readonly string[]): Promise<CsvWriter> {
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = tempNameFor(target);
    const w = new CsvWriter(await open(tmp, 'w'), tmp, target, header.length);
    w.buf.push(`${header.join(',')}\n`);
    return w;
  }

  get rowCount(): number {
    return this.rows;
  }

  write(fields: readonly (string | number)[]): void {
    if (this.error) throw this.error;
    if (fields.length !== this.width) {
      throw new Error(`${this.target}: row has ${fields.length} fields, header has ${this.width}`);
    }
    for (const f of fields) {
      if (typeof f === 'string' && UNSAFE.test(f)) {
        throw new Error(`${this.target}: value ${JSON.stringify(f)} would need CSV quoting`);
      }
    }
    this.buf.push(`${fields.join(',')}\n`);
    this.rows += 1;
    if (this.buf.length >= 65536) this.queueFlush();
  }

  /**
   * Hot-path variant of `write` for a line the caller built from values that
   * cannot need quoting (numbers, checked codes): no per-field array or regex,
   * which matters at 3M rows (the garbage alone was a third of ingest's time).
   */
  writeLine(line: string): void {
    if (this.error) throw this.error;
    this.buf.push(line, '\n');
    this.rows += 1;
    if (this.buf.length >= 131072) this.queueFlush();
  }

  private queueFlush(): void {
    if (this.buf.length === 0) return;
    const data = this.buf.join('');
    this.buf = [];
    this.chain = this.chain
      .then(async () => {
        await this.fh.write(data);
      })
      .catch((err: unknown) => {
        this.error ??= err;
      });
  }

  /** Waits until queued rows are on disk (lets a long producer bound its memory). */
  async drain(): Promise<void> {
    this.queueFlush();
    await this.chain;
    if (this.error) throw this.error;
  }

  async close(): Promise<void> {
    try {
      await this.drain();
      await this.fh.close();
      await rename(this.tmp, this.target);
    } catch (err) {
      await this.fh.close().catch(() => undefined);
      await rm(this.tmp, { force: true });
      throw err;
    }
  }

  async abort(): Promise<void> {
    await this.chain;
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}

/**
 * Calls `onRow(fields, lineNo)` for each data row of a comma-split CSV whose
 * header must equal `header`. Reads the file whole: our partitions are one
 * month (~50 MB at most), and one big string is far faster than line events.
 */
export async function forEachCsvRow(
  file: string,
  header: readonly string[],
  onRow: (fields: string[], lineNo: number) => void,
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
    onRow(raw.split(','), line);
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
