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
import type { DaemonEvent, EventSink } from './types.js';

type MessageBus = dbus.MessageBus;

const IFACE = 'org.kde.KDirNotify';
const PATH = '/';

// RFC 3986 path characters kept as they are: unreserved, '/', and the sub-delims plus ':' '@'
// (pchar). '#', '?', '%', space, controls and every non-ASCII byte are percent-encoded.
const KEEP = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/!$&'()*+,;=:@") {
  KEEP[c.charCodeAt(0)] = 1;
}
const HEX = '0123456789ABCDEF';

/**
 * The percent-encoded `file://` URL of an absolute local path, without a trailing slash (the
 * root is `file:///`). Non-ASCII is encoded as UTF-8 bytes; an unpaired UTF-16 surrogate (not
 * representable) becomes U+FFFD.
 */
export function fileUrl(localPath: string): string {
  if (!localPath.startsWith('/')) throw new Error(`not an absolute path: ${localPath}`);
  const path = localPath.replace(/\/+$/, '');
  if (path === '') return 'file:///';
  let out = 'file://';
  for (const b of Buffer.from(path, 'utf8')) {
    if (b < 128 && KEEP[b]) out += String.fromCharCode(b);
    else out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/** Decodes a run of bytes as UTF-8 where it is valid; invalid bytes stay as their `%XX` text. */
function decodeBytes(bytes: number[]): string {
  let out = '';
  let i = 0;
  const raw = (b: number) => `%${HEX[b >> 4]}${HEX[b & 15]}`;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    let len = 0;
    let min = 0;
    let cp = 0;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      len = 2;
      cp = b0 & 0x1f;
      min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      len = 3;
      cp = b0 & 0x0f;
      min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      len = 4;
      cp = b0 & 0x07;
      min = 0x10000;
    }
    let ok = len > 0 && i + len <= bytes.length;
    for (let k = 1; ok && k < len; k++) {
      const b = bytes[i + k]!;
      if ((b & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (b & 0x3f);
    }
    // No overlong forms, no surrogates, nothing past U+10FFFF.
    if (ok && len > 1 && (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)) ok = false;
    // A decoded NUL would end the path in every C API: keep it encoded.
    if (ok && cp === 0) ok = false;
    if (ok) {
      out += String.fromCodePoint(cp);
      i += len;
    } else {
      out += raw(b0);
      i += 1;
    }
  }
  return out;
}

/**
 * The local path of a `file:` URL, or null for any other URL (or a file URL naming another
 * host). KIO sends `enteredDirectory` URLs in QUrl's pretty form: spaces and non-ASCII raw
 * (`file:///mnt/share/My Dir ü`) but `%`, `#` and `?` still encoded (`%25`, `%23`, `%3F`); fully
 * encoded URLs arrive too. So `%XX` is always decoded, but only where the bytes form valid UTF-8
 * (anything else is kept literally); a raw `#` or `?` is taken as part of the name. A trailing
 * slash is dropped (except for `/`).
 */
export function parseFileUrl(url: string): string | null {
  const m = /^file:(\/\/([^/]*))?(\/.*)?$/is.exec(url);
  if (!m) return null;
  const host = m[2];
  if (host !== undefined && host !== '' && host.toLowerCase() !== 'localhost') return null;
  const rawPath = m[3] ?? '/';
  let path = '';
  for (let i = 0; i < rawPath.length; ) {
    if (rawPath[i] === '%' && /^%[0-9A-Fa-f]{2}/.test(rawPath.slice(i, i + 3))) {
      const bytes: number[] = [];
      while (i < rawPath.length && rawPath[i] === '%' && /^%[0-9A-Fa-f]{2}/.test(rawPath.slice(i, i + 3))) {
        bytes.push(parseInt(rawPath.slice(i + 1, i + 3), 16));
        i += 3;
      }
      path += decodeBytes(bytes);
    } else {
      path += rawPath[i];
      i += 1;
    }
  }
  path = path.replace(/\/+$/, '');
  return path === '' ? '/' : path;
}

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
  /** How long a MOVED_FROM waits for its MOVED_TO before it counts as a DELETE (default 100 ms). */
  renamePairMs?: number;
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

interface PendingMove {
  localPath: string;
  timer: NodeJS.Timeout;
}

/** Key of an item across events: its watch and share-relative path. */
const itemKey = (e: DaemonEvent, path: string) => `${e.watchId}\u0000${path}`;

export class KDirNotifySink implements EventSink {
  private readonly debounceMs: number;
  private readonly removeHoldMs: number;
  private readonly changedIntervalMs: number;
  private readonly secondRefreshMs: number;
  private readonly renamePairMs: number;

  private readonly folders = new Map<string, FolderState>();
  /** Removals waiting to go out, by item key: the local path. */
  private readonly removals = new Map<string, string>();
  private removalTimer: NodeJS.Timeout | null = null;
  /** MOVED_FROM waiting for its MOVED_TO, by item key. */
  private readonly moves = new Map<string, PendingMove>();
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
    this.renamePairMs = opts.renamePairMs ?? 100;
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
        this.movedFrom(e, local);
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
    for (const [key, move] of this.moves) {
      clearTimeout(move.timer);
      this.removals.set(key, move.localPath);
    }
    this.moves.clear();
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

  private movedFrom(e: DaemonEvent, local: string): void {
    const key = itemKey(e, e.path);
    // Windows may send REMOVED before a rename's OLD_NAME: the rename wins.
    this.dropRemoval(key);
    const previous = this.moves.get(key);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      this.moves.delete(key);
      this.addRemoval(key, local);
    }, this.renamePairMs);
    this.moves.set(key, { localPath: local, timer });
  }

  private movedTo(e: DaemonEvent, local: string): void {
    this.dropRemoval(itemKey(e, e.path));
    let oldLocal: string | undefined;
    if (e.oldPath !== undefined) {
      const key = itemKey(e, e.oldPath);
      const move = this.moves.get(key);
      if (move) {
        clearTimeout(move.timer);
        this.moves.delete(key);
        oldLocal = move.localPath;
      } else {
        // The MOVED_FROM already counted as a DELETE but has not gone out yet: take it back.
        oldLocal = this.dropRemoval(key);
      }
    }
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
