// backingMismatch (src/view/backing-check.ts): a backing folder is refused only when it holds
// none of the share folder's names, of at least three; case and a few differing names (mangled
// 8.3 names, hidden files) are no reason.
import { describe, expect, it } from 'vitest';
import { backingMismatch } from '../../src/view/backing-check.js';

describe('backingMismatch', () => {
  it('none of three or more names: refused, naming three of them and how many more', () => {
    expect(backingMismatch(['a.txt', 'b.txt', 'c.txt', 'd.txt'], ['x'], '--backing /b')).toBe(
      '--backing /b does not show this folder of the share: none of its names (a.txt, b.txt, c.txt, and 1 more) is there; give the folder that shows its files',
    );
    expect(backingMismatch(['a', 'b', 'c'], [], 'D')).toMatch(/none of its names \(a, b, c\) is there/);
  });

  it('one name in common, in any case: taken', () => {
    expect(backingMismatch(['Report.ODT', 'MJXW7P~I.TXT', 'hidden'], ['report.odt', 'meeting 10:30.txt'], 'D')).toBeNull();
  });

  it('fewer than three names in the share: nothing to judge by', () => {
    expect(backingMismatch(['a', 'b'], ['x'], 'D')).toBeNull();
    expect(backingMismatch([], [], 'D')).toBeNull();
  });
});
