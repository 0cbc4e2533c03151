import { colourEnabled, makeStyle, type Style } from './style.js';
import type { TextOut } from '../util/text-out.js';

/** Human output goes to stderr when stdout carries a machine document (--json, --csv). */
export interface Io {
  out: TextOut;
  human: TextOut;
  style: Style;
  say(line: string): void;
}

/** `env` decides colour (NO_COLOR, FORCE_COLOR): a served run's is its client's. */
export function makeIo(machine: boolean, out: TextOut = process.stdout, err: TextOut = process.stderr, env: NodeJS.ProcessEnv = process.env): Io {
  const human = machine ? err : out;
  return {
    out,
    human,
    style: makeStyle(colourEnabled(human, env)),
    say: (line) => human.write(`${line}\n`),
  };
}
