// The watcher's snapshot: listings become precise differences; moves carry subtrees.
import { describe, expect, it } from 'vitest';
import type { FileStat } from '../../src/smb/types.js';
import { Snapshot, UNKNOWN_ENTRY } from '../../src/watch/snapshot.js';

function stat(name: string, isDirectory = false, size = 0n, mtime = 1000): FileStat {
  const t = new Date(mtime);
  return { name, isDirectory, size, allocationSize: 0n, creationTime: t, lastAccessTime: t, lastWriteTime: t, changeTime: t, attributes: isDirectory ? 0x10 : 0x20 };
}

describe('snapshot', () => {
  it('turns a new listing into CREATE, DELETE and MODIFY, and drops a deleted folder\'s subtree', () => {
    const s = new Snapshot();
    s.replaceFolder('', [stat('a'), stat('b', false, 1n), stat('d', true)]);
    s.replaceFolder('d', [stat('x'), stat('y')]);
    expect(s.size).toBe(5);
    const diff = s.replaceFolder('', [stat('b', false, 2n), stat('c')]);
    expect(diff.map((d) => `${d.kind} ${d.path}`)).toEqual(['MODIFY b', 'CREATE c', 'DELETE a', 'DELETE d']);
    expect(s.hasFolder('d')).toBe(false);
    expect(s.size).toBe(2);
  });

  it('reports no MODIFY for entries known only from a notification (size unknown)', () => {
    const s = new Snapshot();
    s.replaceFolder('', []);
    s.add('n', { ...UNKNOWN_ENTRY });
    expect(s.replaceFolder('', [stat('n', false, 10n)])).toEqual([]);
  });

  it('moves a folder with its subtree', () => {
    const s = new Snapshot();
    s.replaceFolder('', [stat('src', true), stat('dst', true)]);
    s.replaceFolder('src', [stat('f', true)]);
    s.replaceFolder('src/f', [stat('deep.txt')]);
    s.ensureFolder('dst');
    s.move('src/f', 'dst/g');
    expect(s.get('dst/g')?.isDir).toBe(true);
    expect(s.entriesOf('dst/g')?.has('deep.txt')).toBe(true);
    expect(s.hasFolder('src/f')).toBe(false);
    expect(s.size).toBe(4);
  });
});
