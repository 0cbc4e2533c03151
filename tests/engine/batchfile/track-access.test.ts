// trackAccess (src/batchfile/reads.ts): what an evaluation read and whether it had effects, as
// the config cache keys on it: fs reads (inside the project or not), environment variables read
// however they are asked for, and writes (fs, or setting a variable) that forbid caching.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { trackAccess } from '../../../src/batchfile/reads.js';

let tmp: string | undefined;
afterEach(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
  delete process.env.TRACK_ACCESS_SET;
});

describe('trackAccess', () => {
  it('records files, folders and variables read, and nothing written', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'track-'));
    fs.writeFileSync(path.join(tmp, 'a.json'), '1');
    process.env.TRACK_ACCESS_B = 'b';
    try {
      const a = await trackAccess(tmp, async () => {
        fs.readFileSync(path.join(tmp!, 'a.json'));
        fs.readdirSync(tmp!);
        fs.existsSync(path.join(tmp!, 'nope'));
        const v = [process.env.TRACK_ACCESS_A, 'TRACK_ACCESS_B' in process.env, Object.prototype.hasOwnProperty.call(process.env, 'TRACK_ACCESS_C')];
        return v;
      });
      expect(a.value).toEqual([undefined, true, false]);
      expect(a.paths).toEqual([tmp, path.join(tmp, 'a.json'), path.join(tmp, 'nope')].sort());
      expect(Object.fromEntries(a.env.names)).toEqual({ TRACK_ACCESS_A: undefined, TRACK_ACCESS_B: 'b', TRACK_ACCESS_C: undefined });
      expect(a.env.all).toBe(false);
      expect(a.wrote).toBe(false);
      // Listing the environment makes every variable count.
      expect((await trackAccess(tmp, async () => Object.keys(process.env).length)).env.all).toBe(true);
    } finally {
      delete process.env.TRACK_ACCESS_B;
    }
  });

  it('notes writes: a file written, a variable set', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'track-'));
    expect((await trackAccess(tmp, async () => fs.writeFileSync(path.join(tmp!, 'x'), 'x'))).wrote).toBe(true);
    const set = await trackAccess(tmp, async () => {
      process.env.TRACK_ACCESS_SET = 'yes';
    });
    expect(set.wrote).toBe(true);
    expect(process.env.TRACK_ACCESS_SET).toBe('yes'); // the real environment, not a copy
  });
});
