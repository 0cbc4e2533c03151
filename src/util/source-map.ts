import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { STATE_DIR } from './project-layout.js';

const INLINE = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

/** The inline source map at the end of compiled code (esbuild's `sourcemap: 'inline'`). */
export function inlineSourceMap(code: string): SourceMap | undefined {
  const m = INLINE.exec(code);
  if (!m) return undefined;
  try {
    return new SourceMap(JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    return undefined;
  }
}

/** A stack frame's location: "(file:///x/y.mjs:16:31)" or "at /x/y.mjs:16:31". */
const FRAME = /(\(|at )((?:file:\/\/)?\/[^\s():]+):(\d+):(\d+)(\)?)/g;

/** Where a compiled file's line and column came from, as "rel/source.ts:line:col", or
 * undefined when the map does not cover it. `compiledAbs` locates the map's relative sources. */
export function originalPosition(map: SourceMap, compiledAbs: string, line: number, column: number, root: string): string | undefined {
  const e = map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
  if (!e || e.originalSource === undefined || e.originalLine === undefined) return undefined;
  const src = e.originalSource.startsWith('file://') ? fileURLToPath(e.originalSource) : path.resolve(path.dirname(compiledAbs), e.originalSource);
  const rel = path.relative(root, src).split(path.sep).join('/');
  return `${rel}:${e.originalLine + 1}:${(e.originalColumn ?? 0) + 1}`;
}

/**
 * Rewrites the frames of `stack` that point into compiled files to the user's sources
 * ("steps/stats.ts:7:3" for ".cache/modules/stats-….mjs:16:31"). `mapOf` gives the source map
 * of a compiled file (undefined: leave its frames alone). Done only when a stack is shown:
 * no map is parsed while steps run without failing.
 */
export function mapStack(stack: string, root: string, mapOf: (abs: string) => SourceMap | undefined): string {
  return stack.replace(FRAME, (whole, open: string, file: string, line: string, col: string, close: string) => {
    const abs = file.startsWith('file://') ? fileURLToPath(file) : file;
    const map = mapOf(abs);
    const pos = map && originalPosition(map, abs, Number(line), Number(col), root);
    return pos ? `${open}${pos}${close}` : whole;
  });
}

/** The source map of a compiled module under the project's `.cache/` (its inline map), read
 * once per file; other files (the engine, packages) are not mapped. */
export function cacheModuleMaps(root: string): (abs: string) => SourceMap | undefined {
  const cacheDir = path.join(root, STATE_DIR) + path.sep;
  const maps = new Map<string, SourceMap | undefined>();
  return (abs) => {
    if (!abs.startsWith(cacheDir)) return undefined;
    if (!maps.has(abs)) {
      let map: SourceMap | undefined;
      try {
        map = inlineSourceMap(fs.readFileSync(abs, 'utf8'));
      } catch {
        map = undefined;
      }
      maps.set(abs, map);
    }
    return maps.get(abs);
  };
}
