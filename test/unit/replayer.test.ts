// The view's Replayer: which of the watch engine's events become replay jobs, relative to the
// view's root; renames joined; changes made through the view itself left out, but for a change
// to a file after a save through the view, which goes to the replaying thread with the version
// the save left (it compares, having the backing folder at hand).
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EventKind, WatchEvent } from '../../src/watch/events.js';
import { OWN_CHANGE_WINDOW_MS, Replayer, viewPath, type ReplayWork } from '../../src/view/replayer.js';

let seq = 0;
function event(kind: EventKind, path: string, extra: Partial<WatchEvent> = {}): WatchEvent {
  return { seq: ++seq, time: new Date().toISOString(), event: kind, server: '127.0.0.1', share: 'data', path, source: 'notify', ...extra };
}

function replayer(root = 'projects'): { r: Replayer; sent: ReplayWork[] } {
  const sent: ReplayWork[] = [];
  return { r: new Replayer(root, (w) => sent.push(w)), sent };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('viewPath', () => {
  it('makes paths relative to the root and refuses what is outside or unsafe', () => {
    expect(viewPath('projects/a/b.txt', 'projects')).toBe('a/b.txt');
    expect(viewPath('projects', 'projects')).toBe('');
    expect(viewPath('projects-old/a', 'projects')).toBeNull();
    expect(viewPath('projects/../etc', 'projects')).toBeNull();
    expect(viewPath('projects/a//b', 'projects')).toBeNull();
    expect(viewPath('a/./b', '')).toBeNull();
    expect(viewPath('a/b', '')).toBe('a/b');
  });
});

describe('Replayer', () => {
  it('turns events under the root into jobs, joins a rename, and counts unsafe paths', () => {
    const { r, sent } = replayer();
    r.handle(event('CREATE', 'projects/new', { isDir: true }));
    r.handle(event('MODIFY', 'projects/f.txt', { isDir: false }));
    r.handle(event('MOVED_FROM', 'projects/old.txt'));
    r.handle(event('MOVED_TO', 'projects/new.txt', { oldPath: 'projects/old.txt' }));
    r.handle(event('DELETE', 'elsewhere/x'));
    r.handle(event('CREATE', 'projects/a/../../x'));
    r.handle(event('DELETE_SELF', 'projects'));
    expect(sent).toEqual([
      { kind: 'create', path: 'new', isDir: true },
      { kind: 'modify', path: 'f.txt', isDir: false },
      { kind: 'rename', oldPath: 'old.txt', path: 'new.txt' },
    ]);
    expect(r.stats).toEqual({ replayed: 3, ownSkipped: 0, unsafeSkipped: 1 });
    r.close();
  });

  it('a MOVED_FROM without its MOVED_TO is a removal; an OVERFLOW invalidates the whole view', () => {
    const { r, sent } = replayer();
    r.handle(event('MOVED_FROM', 'projects/gone.txt', { isDir: false }));
    r.handle(event('OVERFLOW', 'projects'));
    expect(sent).toEqual([{ kind: 'delete', path: 'gone.txt', isDir: false }, { kind: 'invalidate', path: '' }]);
    r.close();
  });

  it('leaves out changes made through the view within the window, and replays them after it', () => {
    vi.useFakeTimers();
    const { r, sent } = replayer();
    r.noteOwn(['mine.txt'], 'created');
    r.handle(event('CREATE', 'projects/mine.txt'));
    r.handle(event('MODIFY', 'projects/mine.txt'));
    expect(sent).toEqual([]);
    expect(r.stats.ownSkipped).toBe(2);
    vi.advanceTimersByTime(OWN_CHANGE_WINDOW_MS + 1);
    r.handle(event('MODIFY', 'projects/mine.txt'));
    expect(sent).toEqual([{ kind: 'modify', path: 'mine.txt' }]);
    r.close();
  });

  it('after a save through the view, a MODIFY goes to the replaying thread with the version the save left', () => {
    const { r, sent } = replayer();
    const version = { size: 5n, mtimeNs: 1_764_633_600_123_456_789n };
    r.noteOwn(['saved.txt'], 'changed');
    r.noteSaved('saved.txt', r.ownMark('saved.txt'), version);
    r.handle(event('MODIFY', 'projects/saved.txt', { isDir: false }));
    expect(sent).toEqual([{ kind: 'modify', path: 'saved.txt', isDir: false, unlessStill: version }]);
    // Another MODIFY (the save's own report finds the same version: the replaying thread skips it).
    r.handle(event('MODIFY', 'projects/saved.txt', { isDir: false }));
    expect(sent).toHaveLength(2);
    r.close();
  });

  it('forgets the saved version when the path is changed through the view again, or was since the close', () => {
    const { r, sent } = replayer();
    const version = { size: 5n, mtimeNs: 1n };
    r.noteOwn(['a.txt', 'b.txt'], 'changed');
    r.noteSaved('a.txt', r.ownMark('a.txt'), version);
    r.noteOwn(['a.txt'], 'changed'); // written again: the saved version is no longer the last own change
    const staleMark = r.ownMark('b.txt')! - 1;
    r.noteSaved('b.txt', staleMark, version); // read after a later own change: not kept
    r.noteSaved('c.txt', undefined, version); // never changed through the view
    r.handle(event('MODIFY', 'projects/a.txt'));
    r.handle(event('MODIFY', 'projects/b.txt'));
    r.handle(event('MODIFY', 'projects/c.txt'));
    expect(sent).toEqual([{ kind: 'modify', path: 'c.txt' }]);
    r.close();
  });

  it('an own change masks only the reports it makes: a colleague\'s change of another kind in the window is replayed', () => {
    const { r, sent } = replayer();
    r.noteOwn(['gone.txt'], 'removed');
    r.handle(event('DELETE', 'projects/gone.txt')); // the echo of the user's delete
    r.handle(event('CREATE', 'projects/gone.txt')); // a colleague made it again
    r.noteOwn(['made'], 'created');
    r.handle(event('CREATE', 'projects/made', { isDir: true })); // echo
    r.handle(event('DELETE', 'projects/made', { isDir: true })); // a colleague removed it
    expect(sent).toEqual([{ kind: 'create', path: 'gone.txt' }, { kind: 'delete', path: 'made', isDir: true }]);
    expect(r.stats.ownSkipped).toBe(2);
    r.close();
  });

  it('kinds add up in the window; a rename through the view masks its pair, or the removal and addition it may come as', () => {
    const { r, sent } = replayer();
    r.noteOwn(['tmp'], 'created');
    r.noteOwn(['tmp'], 'changed');
    r.noteOwn(['tmp'], 'moved-away');
    r.noteOwn(['doc.odt'], 'moved-in');
    r.handle(event('CREATE', 'projects/tmp'));
    r.handle(event('MODIFY', 'projects/tmp'));
    r.handle(event('MOVED_FROM', 'projects/tmp'));
    r.handle(event('MOVED_TO', 'projects/doc.odt', { oldPath: 'projects/tmp' }));
    r.handle(event('DELETE', 'projects/tmp'));
    r.handle(event('CREATE', 'projects/doc.odt'));
    r.handle(event('MODIFY', 'projects/doc.odt'));
    expect(sent).toEqual([]);
    expect(r.stats.ownSkipped).toBe(6);
    r.close();
  });

  it('a removal and an addition of one name through the view, paired by the watch into a move, stay masked', () => {
    const { r, sent } = replayer();
    r.noteOwn(['d2/f9'], 'removed');
    r.noteOwn(['d1/f9'], 'created');
    r.handle(event('MOVED_FROM', 'projects/d2/f9'));
    r.handle(event('MOVED_TO', 'projects/d1/f9', { oldPath: 'projects/d2/f9', isDir: true }));
    expect(sent).toEqual([]);
    expect(r.stats.ownSkipped).toBe(1);
    r.close();
  });
  it('own changes made while the watch reconnects stay masked until the resync after it is back, then for the window', () => {
    vi.useFakeTimers();
    const { r, sent } = replayer();
    r.noteOwn(['before.txt'], 'created');
    r.handle(event('STATE', 'projects', { state: 'reconnecting' }));
    r.noteOwn(['during.txt'], 'created');
    vi.advanceTimersByTime(60_000);
    r.handle(event('STATE', 'projects', { state: 'watching' }));
    // The resync's listing diff, long after the changes.
    r.handle(event('CREATE', 'projects/before.txt', { isDir: false }));
    r.handle(event('CREATE', 'projects/during.txt', { isDir: false }));
    r.handle(event('CREATE', 'projects/colleague.txt', { isDir: false }));
    expect(sent).toEqual([{ kind: 'create', path: 'colleague.txt', isDir: false }]);
    vi.advanceTimersByTime(OWN_CHANGE_WINDOW_MS + 1);
    r.handle(event('DELETE', 'projects/during.txt', { isDir: false }));
    r.handle(event('CREATE', 'projects/during.txt', { isDir: false }));
    expect(sent.slice(1)).toEqual([{ kind: 'delete', path: 'during.txt', isDir: false }, { kind: 'create', path: 'during.txt', isDir: false }]);
    r.close();
  });
  it('polling, an own change masks the report of it for the window plus the poll interval', () => {
    vi.useFakeTimers();
    const sent: ReplayWork[] = [];
    const r = new Replayer('projects', (w) => sent.push(w), 10_000);
    r.handle(event('STATE', 'projects', { state: 'polling' }));
    r.noteOwn(['mine.txt'], 'created');
    vi.advanceTimersByTime(OWN_CHANGE_WINDOW_MS + 9_000);
    r.handle(event('CREATE', 'projects/mine.txt', { isDir: false }));
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(2_000);
    r.handle(event('DELETE', 'projects/mine.txt', { isDir: false }));
    expect(sent).toEqual([{ kind: 'delete', path: 'mine.txt', isDir: false }]);
    // Back to notifications: the plain window.
    r.handle(event('STATE', 'projects', { state: 'watching' }));
    r.noteOwn(['two.txt'], 'created');
    vi.advanceTimersByTime(OWN_CHANGE_WINDOW_MS + 1);
    r.handle(event('CREATE', 'projects/two.txt', { isDir: false }));
    expect(sent.slice(1)).toEqual([{ kind: 'create', path: 'two.txt', isDir: false }]);
    r.close();
  });
});

