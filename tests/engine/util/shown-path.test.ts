// How messages show paths: relative to the project inside it, absolute outside it; an errno
// text's paths inside the project shown the same way, and nothing else in it touched.
import { describe, expect, it } from 'vitest';
import { shownPath, shownPathsIn } from '../../../src/util/paths.js';

describe('shownPath', () => {
  it('is relative inside the project, "." for the project itself, absolute outside it', () => {
    expect(shownPath('/p/proj', '/p/proj/.cache/store')).toBe('.cache/store');
    expect(shownPath('/p/proj', '/p/proj')).toBe('.');
    expect(shownPath('/p/proj', '/p/proj-other/logs')).toBe('/p/proj-other/logs');
    expect(shownPath('/p/proj', '/var/cache/batch')).toBe('/var/cache/batch');
    expect(shownPath(undefined, '/p/proj/logs')).toBe('/p/proj/logs');
  });
});

describe('shownPathsIn', () => {
  it('shortens the project’s paths in a system message and leaves a sibling folder alone', () => {
    expect(shownPathsIn('/p/proj', "ENOTDIR: not a directory, mkdir '/p/proj/logs/runs'")).toBe("ENOTDIR: not a directory, mkdir 'logs/runs'");
    expect(shownPathsIn('/p/proj', "EEXIST: file already exists, mkdir '/p/proj'")).toBe("EEXIST: file already exists, mkdir '.'");
    expect(shownPathsIn('/p/proj', "EACCES: permission denied, open '/p/proj-other/x'")).toBe("EACCES: permission denied, open '/p/proj-other/x'");
    expect(shownPathsIn('/', "EACCES: permission denied, open '/x'")).toBe("EACCES: permission denied, open '/x'");
    expect(shownPathsIn(undefined, "open '/p/proj/x'")).toBe("open '/p/proj/x'");
  });
});
