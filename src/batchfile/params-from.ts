// paramsFrom's pure part: a dotted key's value in a parsed document, and the step's params
// with those values nested in (`train.n_est` → { train: { n_est: 60 } }).
import type { JsonObject, JsonValue } from './types.js';

export type Picked = { found: true; value: JsonValue } | { found: false; missing: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at `key` (dots descend into objects). `missing`: the part of the key not found. */
export function pickKey(doc: JsonValue, key: string): Picked {
  let cur: JsonValue = doc;
  const parts = key.split('.');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!isObject(cur) || !Object.hasOwn(cur, p)) return { found: false, missing: parts.slice(0, i + 1).join('.') };
    cur = (cur as JsonObject)[p]!;
  }
  return { found: true, value: cur };
}

/** `literal` with each key's value set at its dotted path (a copy; `literal` is unchanged). */
export function nestParams(literal: JsonObject, values: ReadonlyArray<readonly [string, JsonValue]>): JsonObject {
  const out: JsonObject = structuredClone(literal);
  for (const [key, value] of values) {
    const parts = key.split('.');
    let cur = out;
    for (const p of parts.slice(0, -1)) {
      const next = cur[p];
      if (!isObject(next)) cur[p] = {};
      cur = cur[p] as JsonObject;
    }
    cur[parts[parts.length - 1]!] = value;
  }
  return out;
}

/** Every leaf of a params object as dotted key → value (arrays are leaves), in key order. */
export function flattenParams(params: JsonObject, prefix = '', out: Record<string, JsonValue> = {}): Record<string, JsonValue> {
  for (const k of Object.keys(params).sort()) {
    const v = params[k]!;
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (isObject(v) && Object.keys(v).length > 0) flattenParams(v as JsonObject, key, out);
    else out[key] = v;
  }
  return out;
}
