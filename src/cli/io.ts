import { colourEnabled, makeStyle, type Style } from '../report/style.js';

/** Human output goes to stderr when stdout carries a machine document (--json, --csv). */
export interface Io {
  out: NodeJS.WriteStream;
  human: NodeJS.WriteStream;
  style: Style;
  say(line: string): void;
}

export function makeIo(machine: boolean): Io {
  const human = machine ? process.stderr : process.stdout;
  return {
    out: process.stdout,
    human,
    style: makeStyle(colourEnabled(human)),
    say: (line) => human.write(`${line}\n`),
  };
}
