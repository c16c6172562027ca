// The watcher's snapshot: listings become precise differences; moves carry subtrees.
import { describe, expect, it } from 'vitest';
import type { ListedEntry } from '../../src/smb/tree.js';
import { Snapshot, UNKNOWN_ENTRY } from '../../src/watch/snapshot.js';

function stat(name: string, isDirectory = false, size = 0, lastWrite = 1000): ListedEntry {
  return { name, isDirectory, size, lastWrite };
}

describe('snapshot', () => {
  it('turns a new listing into CREATE, DELETE and MODIFY, and drops a deleted folder\'s subtree', () => {
    const s = new Snapshot();
    s.replaceFolder('', [stat('a'), stat('b', false, 1), stat('d', true)]);
    s.replaceFolder('d', [stat('x'), stat('y')]);
    expect(s.size).toBe(5);
    const diff = s.replaceFolder('', [stat('b', false, 2), stat('c')]);
    expect(diff.map((d) => `${d.kind} ${d.path}`)).toEqual(['MODIFY b', 'CREATE c', 'DELETE a', 'DELETE d']);
    expect(s.hasFolder('d')).toBe(false);
    expect(s.size).toBe(2);
  });

  it('reports no MODIFY for entries known only from a notification (size unknown)', () => {
    const s = new Snapshot();
    s.replaceFolder('', []);
    s.add('n', { ...UNKNOWN_ENTRY });
    expect(s.replaceFolder('', [stat('n', false, 10)])).toEqual([]);
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

describe('deleted trees', () => {
  it('a listing that loses a folder lists what was below it, deepest first', () => {
    const s = new Snapshot();
    s.replaceFolder('', [stat('t', true), stat('keep')]);
    s.replaceFolder('t', [stat('a', true), stat('f')]);
    s.replaceFolder('t/a', [stat('deep', true), stat('g')]);
    s.replaceFolder('t/a/deep', [stat('h')]);
    const diff = s.replaceFolder('', [stat('keep')]);
    expect(diff).toHaveLength(1);
    const d = diff[0]!;
    expect(d.kind).toBe('DELETE');
    expect(d.kind === 'DELETE' ? d.below?.map((r) => `${r.path}${r.entry.isDir ? '/' : ''}`) : null)
      .toEqual(['t/a/deep/h', 't/a/deep/', 't/a/g', 't/a/', 't/f']);
    expect(s.size).toBe(1);
  });

  it('deletionOrder puts every entry before the folder that holds it', () => {
    const s = new Snapshot();
    s.replaceFolder('', [stat('x', true)]);
    s.replaceFolder('x', [stat('y', true), stat('z', true)]);
    s.replaceFolder('x/y', [stat('1'), stat('2', true)]);
    s.replaceFolder('x/y/2', [stat('3')]);
    s.replaceFolder('x/z', []);
    const order = s.below('x').map((r) => r.path);
    expect(order).toEqual(['x/y/2/3', 'x/y/1', 'x/y/2', 'x/y', 'x/z']);
    for (const p of order) for (const q of order) if (q.startsWith(`${p}/`)) expect(order.indexOf(q)).toBeLessThan(order.indexOf(p));
  });

  it('knows which names some folder holds, through listings, additions, removals and moves', () => {
    const s = new Snapshot();
    s.replaceFolder('', [stat('a'), stat('d', true), stat('e', true)]);
    s.replaceFolder('d', [stat('a'), stat('deep', true)]);
    s.replaceFolder('d/deep', [stat('x')]);
    s.replaceFolder('e', []);
    expect(['a', 'd', 'deep', 'x', 'y'].map((n) => s.holdsName(n))).toEqual([true, true, true, true, false]);
    s.remove('a');
    expect(s.holdsName('a')).toBe(true); // d/a is still there
    s.move('d/deep', 'e/deep');
    expect(s.holdsName('x')).toBe(true);
    s.add('e/y', { ...UNKNOWN_ENTRY });
    expect(s.holdsName('y')).toBe(true);
    // A folder's listing drops what vanished, with what its subfolders held.
    s.replaceFolder('e', []);
    expect(['deep', 'x', 'y'].map((n) => s.holdsName(n))).toEqual([false, false, false]);
    s.replaceFolder('', []);
    expect(['a', 'd', 'e'].map((n) => s.holdsName(n))).toEqual([false, false, false]);
    expect(s.size).toBe(0);
  });
});

describe('a listing applied as it arrives', () => {
  it('reports each change as its entry comes, deletions at the end, and keeps the entries still listed', () => {
    const s = new Snapshot();
    s.replaceFolder('', [stat('keep', false, 1), stat('grow', false, 1), stat('gone')]);
    const kept = s.get('keep');
    const seen: string[] = [];
    const listing = s.listing('', (d) => seen.push(`${d.kind} ${d.path}`));
    listing.add(stat('keep', false, 1));
    listing.add(stat('grow', false, 2));
    expect(seen).toEqual(['MODIFY grow']);
    listing.add(stat('new'));
    expect(listing.finish()).toBe(3);
    expect(seen).toEqual(['MODIFY grow', 'CREATE new', 'DELETE gone']);
    expect(s.get('keep')).toBe(kept); // updated in place, not replaced
    expect(s.size).toBe(3);
  });

  it('stops applying once another listing of the folder began or the folder left the snapshot', () => {
    const s = new Snapshot();
    s.replaceFolder('', [stat('d', true)]);
    s.replaceFolder('d', [stat('a'), stat('b')]);
    const first = s.listing('d', () => undefined);
    first.add(stat('a'));
    const second = s.listing('d', () => undefined);
    second.add(stat('a'));
    second.add(stat('b'));
    expect(first.finish()).toBe(0); // overtaken: deletes nothing
    expect(s.entriesOf('d')?.size).toBe(2);
    expect(second.finish()).toBe(0);

    const late = s.listing('d', () => undefined);
    s.remove('d');
    late.add(stat('c'));
    expect(late.finish()).toBe(0);
    expect(s.hasFolder('d')).toBe(false);
  });

  it('an abandoned listing keeps what it showed and deletes nothing', () => {
    const s = new Snapshot();
    s.replaceFolder('', [stat('a'), stat('b')]);
    const listing = s.listing('', () => undefined);
    listing.add(stat('c'));
    listing.abandon();
    expect([...(s.entriesOf('')?.keys() ?? [])].sort()).toEqual(['a', 'b', 'c']);
  });
});
