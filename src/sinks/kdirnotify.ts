/**
 * KDirNotify: make Dolphin, KDE file dialogs and every KIO application refresh a cifs-mounted
 * folder that changed on the server (docs/desktop.md).
 *
 * Broadcast signals on object path `/`, interface `org.kde.KDirNotify`, no well-known name:
 * - `FilesAdded(s dirUrl)`: re-lists the folder. That one re-list also picks up deletions,
 *   renames and size changes, so it is the answer to anything we only know roughly (OVERFLOW,
 *   rescans, polling). Debounced per folder, plus a second one `secondRefreshMs` later: the cifs
 *   client caches directory listings briefly and can serve a stale one to an early re-list.
 * - `FilesRemoved(as urls)`: held about a second (as KDE's own smb notifier does) so that a
 *   following rename can take the item over; one signal per batch.
 * - `FileRenamedWithLocalPath(s old, s new, s "")` is what KDirLister listens to;
 *   `FileRenamed(s old, s new)` is sent too for older listeners.
 * - `FilesChanged(as urls)`: re-stats known items (size, mtime), rate-limited per file.
 * Only events with a `localPath` (the share is mounted here) produce signals.
 */
import dbus from 'dbus-next';
import { fileUrl } from './file-url.js';
import type { DaemonEvent, EventSink } from './types.js';

type MessageBus = dbus.MessageBus;

const IFACE = 'org.kde.KDirNotify';
const PATH = '/';

function parentDir(localPath: string): string {
  const trimmed = localPath.replace(/\/+$/, '');
  const i = trimmed.lastIndexOf('/');
  return i <= 0 ? '/' : trimmed.slice(0, i);
}

export interface KDirNotifyOptions {
  /** One FilesAdded per folder per window (default 300 ms). */
  debounceMs?: number;
  /** How long a DELETE is held for a rename to take it over (default 1000 ms). */
  removeHoldMs?: number;
  /** At most one FilesChanged per file per interval (default 1000 ms). */
  changedIntervalMs?: number;
  /** A second FilesAdded of the same folder this long after the first (default 1500 ms). */
  secondRefreshMs?: number;
}

interface FolderState {
  /** The debounce window: FilesAdded goes out when it ends. */
  window: NodeJS.Timeout | null;
  /** The second refresh after the last FilesAdded. */
  second: NodeJS.Timeout | null;
}

interface ChangedState {
  /** A change arrived inside the current window. */
  due: boolean;
  timer: NodeJS.Timeout | null;
}

/** Key of an item across events: its watch and share-relative path. */
const itemKey = (e: DaemonEvent, path: string) => `${e.watchId}\u0000${path}`;

export class KDirNotifySink implements EventSink {
  private readonly debounceMs: number;
  private readonly removeHoldMs: number;
  private readonly changedIntervalMs: number;
  private readonly secondRefreshMs: number;

  private readonly folders = new Map<string, FolderState>();
  /**
   * Removals (DELETE, MOVED_FROM) waiting to go out, by item key: the local path. A MOVED_TO takes
   * its old path's entry back out and turns it into a rename.
   */
  private readonly removals = new Map<string, string>();
  private removalTimer: NodeJS.Timeout | null = null;
  private readonly changed = new Map<string, ChangedState>();
  /** URLs due for FilesChanged, sent together on the next turn of the event loop. */
  private readonly changedDue = new Set<string>();
  private changedFlush: NodeJS.Immediate | null = null;
  private closed = false;
  /** Signals the bus refused (it went away); the sink keeps going. */
  sendErrors = 0;

  constructor(private readonly bus: MessageBus, opts: KDirNotifyOptions = {}) {
    this.debounceMs = opts.debounceMs ?? 300;
    this.removeHoldMs = opts.removeHoldMs ?? 1000;
    this.changedIntervalMs = opts.changedIntervalMs ?? 1000;
    this.secondRefreshMs = opts.secondRefreshMs ?? 1500;
  }

  publish(e: DaemonEvent): void {
    if (this.closed || e.event === 'STATE' || e.localPath === undefined || !e.localPath.startsWith('/')) return;
    const local = e.localPath;
    // What we only know roughly: the folder's re-list shows everything (adds, removals, renames).
    if (e.source === 'rescan' || e.source === 'poll') {
      this.dropRemoval(itemKey(e, e.path));
      this.folderAdded(e.event === 'OVERFLOW' ? local : parentDir(local));
      return;
    }
    switch (e.event) {
      case 'CREATE':
        this.dropRemoval(itemKey(e, e.path));
        this.folderAdded(parentDir(local));
        return;
      case 'OVERFLOW':
        this.folderAdded(local);
        return;
      case 'DELETE_SELF':
        this.folderAdded(parentDir(local));
        return;
      case 'DELETE':
        this.addRemoval(itemKey(e, e.path), local);
        return;
      case 'MOVED_FROM':
        // Held like a removal: its MOVED_TO (which names it in oldPath) makes it a rename;
        // otherwise the item left the watched tree. Windows may send REMOVED before a rename's
        // OLD_NAME: same key, the rename wins.
        this.addRemoval(itemKey(e, e.path), local);
        return;
      case 'MOVED_TO':
        this.movedTo(e, local);
        return;
      case 'MODIFY':
        this.fileChanged(fileUrl(local));
        return;
    }
  }

  /** Sends what is pending now (removals, changes, first refreshes), drops the timers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flushRemovals();
    for (const [url, st] of this.changed) {
      if (st.timer) clearTimeout(st.timer);
      if (st.due) this.changedDue.add(url);
    }
    this.changed.clear();
    this.flushChanged();
    for (const [dir, st] of this.folders) {
      if (st.window) this.send('FilesAdded', 's', [fileUrl(dir)]);
      if (st.window) clearTimeout(st.window);
      if (st.second) clearTimeout(st.second);
    }
    this.folders.clear();
  }

  // --- FilesAdded ---------------------------------------------------------------------------

  private folderAdded(dir: string): void {
    let st = this.folders.get(dir);
    if (!st) {
      st = { window: null, second: null };
      this.folders.set(dir, st);
    }
    if (st.window) return; // this window's FilesAdded is already due
    const state = st;
    state.window = setTimeout(() => {
      state.window = null;
      this.send('FilesAdded', 's', [fileUrl(dir)]);
      // The second refresh follows the latest FilesAdded of the folder.
      if (state.second) clearTimeout(state.second);
      state.second = setTimeout(() => {
        state.second = null;
        this.send('FilesAdded', 's', [fileUrl(dir)]);
        if (!state.window) this.folders.delete(dir);
      }, this.secondRefreshMs);
    }, this.debounceMs);
  }

  // --- FilesRemoved -------------------------------------------------------------------------

  private addRemoval(key: string, localPath: string): void {
    this.removals.set(key, localPath);
    this.removalTimer ??= setTimeout(() => {
      this.removalTimer = null;
      this.flushRemovals();
    }, this.removeHoldMs);
  }

  private dropRemoval(key: string): string | undefined {
    const local = this.removals.get(key);
    if (local !== undefined) {
      this.removals.delete(key);
      if (this.removals.size === 0 && this.removalTimer) {
        clearTimeout(this.removalTimer);
        this.removalTimer = null;
      }
    }
    return local;
  }

  private flushRemovals(): void {
    if (this.removalTimer) {
      clearTimeout(this.removalTimer);
      this.removalTimer = null;
    }
    if (this.removals.size === 0) return;
    const urls = [...new Set([...this.removals.values()].map(fileUrl))];
    this.removals.clear();
    this.send('FilesRemoved', 'as', [urls]);
  }

  // --- renames ------------------------------------------------------------------------------

  private movedTo(e: DaemonEvent, local: string): void {
    this.dropRemoval(itemKey(e, e.path));
    // The MOVED_FROM this MOVED_TO pairs with (watch/ paired them: oldPath) is still held.
    const oldLocal = e.oldPath !== undefined ? this.dropRemoval(itemKey(e, e.oldPath)) : undefined;
    if (oldLocal === undefined) {
      // No old name we can point at: let the folder's re-list show the new item (and, if the
      // old name is derivable and in another folder, the old folder's re-list drop the old one).
      this.folderAdded(parentDir(local));
      const guessed = e.oldPath !== undefined ? oldLocalPath(e, local) : undefined;
      if (guessed !== undefined && parentDir(guessed) !== parentDir(local)) this.folderAdded(parentDir(guessed));
      return;
    }
    const from = fileUrl(oldLocal);
    const to = fileUrl(local);
    this.send('FileRenamedWithLocalPath', 'sss', [from, to, '']);
    this.send('FileRenamed', 'ss', [from, to]);
  }

  // --- FilesChanged -------------------------------------------------------------------------

  private fileChanged(url: string): void {
    const st = this.changed.get(url);
    if (st) {
      st.due = true; // inside the window: sent when it ends, never dropped
      return;
    }
    this.changedNow(url);
    const state: ChangedState = { due: false, timer: null };
    this.changed.set(url, state);
    const windowEnd = (): void => {
      if (!state.due) {
        state.timer = null;
        this.changed.delete(url);
        return;
      }
      state.due = false;
      this.changedNow(url);
      state.timer = setTimeout(windowEnd, this.changedIntervalMs);
    };
    state.timer = setTimeout(windowEnd, this.changedIntervalMs);
  }

  private changedNow(url: string): void {
    this.changedDue.add(url);
    this.changedFlush ??= setImmediate(() => {
      this.changedFlush = null;
      this.flushChanged();
    });
  }

  private flushChanged(): void {
    if (this.changedFlush) {
      clearImmediate(this.changedFlush);
      this.changedFlush = null;
    }
    if (this.changedDue.size === 0) return;
    const urls = [...this.changedDue];
    this.changedDue.clear();
    this.send('FilesChanged', 'as', [urls]);
  }

  // --- the bus ------------------------------------------------------------------------------

  private send(member: string, signature: string, body: unknown[]): void {
    try {
      this.bus.send(dbus.Message.newSignal(PATH, IFACE, member, signature, body));
    } catch {
      // The bus is gone (dbus-next throws "stream is closed"); desktop refreshes are best effort.
      this.sendErrors++;
    }
  }
}

/** The old item's local path, from the new one's: same mount prefix, share-relative oldPath. */
function oldLocalPath(e: DaemonEvent, local: string): string | undefined {
  if (e.oldPath === undefined || e.path === '' || !local.endsWith(`/${e.path}`)) return undefined;
  const root = local.slice(0, local.length - e.path.length);
  return `${root}${e.oldPath}`;
}
