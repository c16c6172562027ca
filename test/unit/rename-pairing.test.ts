// Rename pairing in the change processor when the server's two halves come far apart: the old
// name goes out alone after the window, and a late new name in the same folder still names it.
import { describe, expect, it } from 'vitest';
import { FileAction, type FileNotifyInformation } from '../../src/smb/change-notify.js';
import type { ChangeProcessor } from '../../src/watch/change-processor.js';
import type { WatchEvent } from '../../src/watch/events.js';
import { Snapshot } from '../../src/watch/snapshot.js';
import { standaloneProcessor } from '../support/change-processor.js';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A processor over folders `d` and `e` holding `d/a.txt`; events land in `out` as they go out. */
function processor(out: WatchEvent[], windowMs = 0): ChangeProcessor {
  const snapshot = new Snapshot();
  snapshot.replaceFolder('', [{ name: 'd', isDirectory: true, size: 0, lastWrite: 0 }, { name: 'e', isDirectory: true, size: 0, lastWrite: 0 }]);
  snapshot.replaceFolder('d', [{ name: 'a.txt', isDirectory: false, size: 1, lastWrite: 1 }]);
  snapshot.replaceFolder('e', []);
  return standaloneProcessor(snapshot, '', out, { renameWindowMs: 20, echoWindowMs: 0 }, windowMs);
}

const entry = (action: number, fileName: string): FileNotifyInformation => ({ action, fileName });
const brief = (e: WatchEvent) => `${e.event} ${e.path}${e.oldPath !== undefined ? ` <- ${e.oldPath}` : ''}`;

describe('rename pairing across a long gap', () => {
  it('both halves within the window: one pair', async () => {
    const out: WatchEvent[] = [];
    const cp = processor(out);
    cp.process('d', [entry(FileAction.RENAMED_OLD_NAME, 'a.txt')]);
    cp.process('d', [entry(FileAction.RENAMED_NEW_NAME, 'b.txt')]);
    await pause(50);
    expect(out.map(brief)).toEqual(['MOVED_FROM d/a.txt', 'MOVED_TO d/b.txt <- d/a.txt']);
  });

  it('the new name after the window: MOVED_FROM went out alone, MOVED_TO still names the old path', async () => {
    const out: WatchEvent[] = [];
    const cp = processor(out);
    cp.process('d', [entry(FileAction.RENAMED_OLD_NAME, 'a.txt')]);
    await pause(100);
    expect(out.map(brief)).toEqual(['MOVED_FROM d/a.txt']);
    cp.process('d', [entry(FileAction.RENAMED_NEW_NAME, 'b.txt')]);
    await pause(10);
    expect(out.map(brief)).toEqual(['MOVED_FROM d/a.txt', 'MOVED_TO d/b.txt <- d/a.txt']);
  });

  it('a new name in another folder, or with no old name before it, names no old path', async () => {
    const out: WatchEvent[] = [];
    const cp = processor(out);
    cp.process('d', [entry(FileAction.RENAMED_OLD_NAME, 'a.txt')]);
    await pause(100);
    cp.process('e', [entry(FileAction.RENAMED_NEW_NAME, 'b.txt')]);
    cp.process('e', [entry(FileAction.RENAMED_NEW_NAME, 'c.txt')]);
    await pause(10);
    expect(out.map(brief)).toEqual(['MOVED_FROM d/a.txt', 'MOVED_TO e/b.txt', 'MOVED_TO e/c.txt']);
  });
});

describe('the server repeating the old name of a rename', () => {
  it('an old name repeated at the start of the next responses (as Samba 4.17 sends them when three clients watch the folder) is one rename', async () => {
    const out: WatchEvent[] = [];
    const cp = processor(out);
    cp.process('d', [entry(FileAction.ADDED, 'b.txt'), entry(FileAction.RENAMED_OLD_NAME, 'a.txt')]);
    cp.process('d', [entry(FileAction.RENAMED_OLD_NAME, 'a.txt')]);
    cp.process('d', [entry(FileAction.RENAMED_OLD_NAME, 'a.txt'), entry(FileAction.RENAMED_NEW_NAME, 'c.txt')]);
    await pause(50);
    expect(out.map(brief)).toEqual(['CREATE d/b.txt', 'MOVED_FROM d/a.txt', 'MOVED_TO d/c.txt <- d/a.txt']);
  });

  it('an old name seen again after something brought it back is a second rename', async () => {
    const out: WatchEvent[] = [];
    const cp = processor(out);
    cp.process('d', [entry(FileAction.RENAMED_OLD_NAME, 'a.txt'), entry(FileAction.RENAMED_NEW_NAME, 'b.txt')]);
    cp.process('d', [entry(FileAction.ADDED, 'a.txt'), entry(FileAction.RENAMED_OLD_NAME, 'a.txt'), entry(FileAction.RENAMED_NEW_NAME, 'c.txt')]);
    await pause(50);
    expect(out.map(brief)).toEqual(['MOVED_FROM d/a.txt', 'MOVED_TO d/b.txt <- d/a.txt', 'CREATE d/a.txt', 'MOVED_FROM d/a.txt', 'MOVED_TO d/c.txt <- d/a.txt']);
  });
});

describe('a move between folders after changes to the old name', () => {
  it('what the server reported of the old name before its removal goes out before the move', async () => {
    const out: WatchEvent[] = [];
    const cp = processor(out, 30);
    // touch d/q.txt; mv d/q.txt e/q.txt: e's ADDED may come before d's MODIFIED and REMOVED.
    cp.process('d', [entry(FileAction.ADDED, 'q.txt')]);
    cp.process('e', [entry(FileAction.ADDED, 'q.txt')]);
    cp.process('d', [entry(FileAction.MODIFIED, 'q.txt'), entry(FileAction.REMOVED, 'q.txt')]);
    await pause(100);
    expect(out.map(brief)).toEqual(['CREATE d/q.txt', 'MODIFY d/q.txt', 'MOVED_FROM d/q.txt', 'MOVED_TO e/q.txt <- d/q.txt']);
  });

  it('and what the server reported of the new name since still follows the move', async () => {
    const out: WatchEvent[] = [];
    const cp = processor(out, 30);
    cp.process('d', [entry(FileAction.ADDED, 'q.txt')]);
    cp.process('e', [entry(FileAction.ADDED, 'q.txt'), entry(FileAction.MODIFIED, 'q.txt')]);
    cp.process('d', [entry(FileAction.MODIFIED, 'q.txt'), entry(FileAction.REMOVED, 'q.txt')]);
    await pause(100);
    expect(out.map(brief)).toEqual(['CREATE d/q.txt', 'MODIFY d/q.txt', 'MOVED_FROM d/q.txt', 'MOVED_TO e/q.txt <- d/q.txt', 'MODIFY e/q.txt']);
  });
});
