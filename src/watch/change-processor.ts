/**
 * FILE_NOTIFY_INFORMATION (MS-FSCC 2.7.1) to normalized events, exactly once, against the
 * snapshot: a CREATE of a known name or a DELETE of an unknown one is a duplicate (a listing
 * already told us). Renames are paired, also across responses (DESIGN.md: Samba can split a
 * pair), and a removal from one folder followed by an addition of the same name in another
 * (which is how Samba reports a move between folders) becomes one MOVED_FROM / MOVED_TO pair.
 */
import { FileAction, type FileNotifyInformation } from '../smb/wire/notify.js';
import { baseName, parentOf, type EventSource } from './events.js';
import { notifyNameToPath } from './paths.js';
import { UNKNOWN_ENTRY, type Detached, type Difference, type EntryState } from './snapshot.js';
import type { Watcher } from './watcher.js';

interface Held {
  path: string;
  detached: Detached | undefined;
  action: number;
  timer: NodeJS.Timeout;
}

export interface ChangeProcessorOptions {
  renameWindowMs: number;
  /** 0: report removals at once, never as moves between folders. */
  moveWindowMs: number;
}

export class ChangeProcessor {
  /** A RENAMED_OLD_NAME waiting for its RENAMED_NEW_NAME. */
  private heldOld: Held | null = null;
  /** Removals waiting briefly for an addition of the same name elsewhere, by base name. */
  private readonly heldRemovals = new Map<string, Held>();

  constructor(private readonly w: Watcher, private readonly opts: ChangeProcessorOptions) {}

  process(folder: string, entries: FileNotifyInformation[]): void {
    let previous = '';
    for (const e of entries) {
      const path = notifyNameToPath(folder, e.fileName);
      // Writes arrive as runs of MODIFIED for the same name; one event per run is enough.
      const key = `${e.action}:${path}`;
      if (e.action === FileAction.MODIFIED && key === previous) continue;
      previous = key;
      if (e.action !== FileAction.RENAMED_NEW_NAME) this.flushOld();
      switch (e.action) {
        case FileAction.ADDED:
          this.added(path, e.action, 'CREATE');
          break;
        case FileAction.REMOVED:
        case FileAction.REMOVED_BY_DELETE:
          this.removed(path, e.action);
          break;
        case FileAction.MODIFIED:
          this.modified(path, e.action);
          break;
        case FileAction.RENAMED_OLD_NAME:
          this.heldOld = this.hold(path, e.action, this.opts.renameWindowMs, () => this.flushOld());
          break;
        case FileAction.RENAMED_NEW_NAME:
          this.renamedTo(path, e.action);
          break;
        case FileAction.ADDED_STREAM:
        case FileAction.REMOVED_STREAM:
        case FileAction.MODIFIED_STREAM:
          this.stream(path, e.action);
          break;
        default:
          // Unknown actions are kept and reported raw (action carries the code).
          this.w.emitChange('MODIFY', path, { source: 'notify', action: e.action });
      }
    }
  }

  private hold(path: string, action: number, windowMs: number, expire: () => void): Held {
    const detached = this.w.snapshot.detach(path);
    const timer = setTimeout(() => this.w.enqueue(expire), windowMs);
    return { path, detached, action, timer };
  }

  private added(path: string, action: number, kind: 'CREATE' | 'MOVED_TO'): void {
    const moved = this.heldRemovals.get(baseName(path));
    if (moved && parentOf(moved.path) !== parentOf(path)) {
      this.heldRemovals.delete(baseName(path));
      clearTimeout(moved.timer);
      this.completeMove(moved, path, action);
      return;
    }
    // Removed and re-created in the same folder: the removal must come out first.
    if (moved) this.flushRemoval(baseName(path));
    if (this.w.snapshot.get(path)) return; // already known from a listing: not news
    this.w.snapshot.add(path, { ...UNKNOWN_ENTRY });
    this.w.emitChange(kind, path, { source: 'notify', action });
    this.probe(path);
  }

  private removed(path: string, action: number): void {
    if (!this.w.snapshot.get(path)) return;
    if (this.opts.moveWindowMs > 0) {
      const name = baseName(path);
      this.flushRemoval(name);
      this.heldRemovals.set(name, this.hold(path, action, this.opts.moveWindowMs, () => this.flushRemoval(name)));
      return;
    }
    const entry = this.w.snapshot.remove(path)!;
    this.emitDelete(path, entry, action, 'notify');
  }

  private emitDelete(path: string, entry: EntryState, action: number | undefined, source: EventSource): void {
    if (entry.isDir !== false) this.w.closeFolders(path);
    this.w.emitChange('DELETE', path, { source, ...(action !== undefined ? { action } : {}), ...isDir(entry) });
  }

  private flushRemoval(name: string): void {
    const held = this.heldRemovals.get(name);
    if (!held) return;
    this.heldRemovals.delete(name);
    clearTimeout(held.timer);
    this.emitDelete(held.path, held.detached?.entry ?? UNKNOWN_ENTRY, held.action, 'notify');
  }

  private modified(path: string, action: number): void {
    const entry = this.w.snapshot.get(path);
    // A folder's own time changes whenever its entries do; those entries are reported themselves.
    if (entry?.isDir) return;
    if (entry) {
      entry.size = undefined;
      entry.mtime = undefined;
    }
    this.w.emitChange('MODIFY', path, { source: 'notify', action, ...(entry ? isDir(entry) : {}) });
  }

  private stream(path: string, action: number): void {
    // MS-FSCC 2.7.1: stream actions name `file:stream`; they are a MODIFY of the file.
    const colon = baseName(path).indexOf(':');
    const file = colon < 0 ? path : path.slice(0, path.length - baseName(path).length + colon);
    const stream = colon < 0 ? undefined : baseName(path).slice(colon + 1);
    this.w.emitChange('MODIFY', file, { source: 'notify', action, ...(stream ? { stream } : {}) });
  }

  private renamedTo(path: string, action: number): void {
    const held = this.heldOld;
    if (!held) {
      this.added(path, action, 'MOVED_TO'); // moved in from outside the watch
      return;
    }
    this.heldOld = null;
    clearTimeout(held.timer);
    this.completeMove(held, path, action);
  }

  private completeMove(held: Held, to: string, action: number): void {
    const entry = held.detached?.entry ?? { ...UNKNOWN_ENTRY };
    // A new name that was already known (a rename over an existing file) replaces it.
    const replaced = this.w.snapshot.get(to);
    if (replaced) {
      this.w.snapshot.remove(to);
      if (replaced.isDir !== false) this.w.closeFolders(to);
    }
    if (held.detached) this.w.snapshot.attach(to, held.detached);
    else this.w.snapshot.add(to, entry);
    if (entry.isDir !== false) this.w.moveFolders(held.path, to);
    const kind = isDir(entry);
    this.w.emitChange('MOVED_FROM', held.path, { source: 'notify', action: held.action, ...kind });
    this.w.emitChange('MOVED_TO', to, { source: 'notify', action, oldPath: held.path, ...kind });
    if (entry.isDir === undefined) this.probe(to);
  }

  /** An unpaired old name: the item left the watched tree. */
  flushOld(): void {
    const held = this.heldOld;
    if (!held) return;
    this.heldOld = null;
    clearTimeout(held.timer);
    const entry = held.detached?.entry ?? UNKNOWN_ENTRY;
    if (entry.isDir !== false) this.w.closeFolders(held.path);
    this.w.emitChange('MOVED_FROM', held.path, { source: 'notify', action: held.action, ...isDir(entry) });
  }

  /** A name appeared: in a recursive watch, find out whether it is a folder to watch too. */
  private probe(path: string): void {
    if (this.w.recursive) this.w.probeFolder(path);
  }

  /** A difference found by listing (overflow, reconnect, polling). */
  emitDifference(d: Difference, source: EventSource): void {
    if (d.kind === 'DELETE') this.emitDelete(d.path, d.entry, undefined, source);
    else this.w.emitChange(d.kind, d.path, { source, ...isDir(d.entry) });
  }

  /** Emit everything held back, now (shutdown). */
  flush(): void {
    this.flushOld();
    for (const name of [...this.heldRemovals.keys()]) this.flushRemoval(name);
  }

  dispose(): void {
    if (this.heldOld) clearTimeout(this.heldOld.timer);
    for (const held of this.heldRemovals.values()) clearTimeout(held.timer);
    this.heldOld = null;
    this.heldRemovals.clear();
  }
}

function isDir(entry: EntryState): { isDir?: boolean } {
  return entry.isDir === undefined ? {} : { isDir: entry.isDir };
}
