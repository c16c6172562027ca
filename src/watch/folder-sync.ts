/**
 * Listing folders into the snapshot: a listing's difference against what is known becomes events
 * (after an overflow, a reconnect, while polling), and in a recursive watch every subfolder found
 * is opened (armed first, then listed, so nothing slips between the two). A name that appears is
 * opened by NameCheck, which watches and lists it if it is a folder.
 */
import type { SmbTree } from '../smb/tree.js';
import { isMissing, isRefused } from '../smb/status.js';
import type { ChangeKind, ChangeFields, EventSource } from './events.js';
import type { FolderRegistry } from './folder-registry.js';
import { joinPath, safeComponent } from './paths.js';
import type { Difference, Snapshot } from './snapshot.js';

/** What listing needs of the watch. */
export interface SyncContext {
  readonly root: string;
  readonly recursive: boolean;
  readonly snapshot: Snapshot;
  readonly folders: FolderRegistry;
  /** The current tree, or null while disconnected. */
  readonly tree: SmbTree | null;
  readonly stopped: boolean;
  /** Polling: no handles are opened. */
  readonly polling: boolean;
  enqueue(task: () => Promise<void> | void): void;
  /** A difference found by listing, as events. */
  emitDifference(d: Difference, source: EventSource): void;
  emitChange(kind: ChangeKind, path: string, fields: ChangeFields): void;
  /** A STATE event in the current state (a folder that cannot be watched). */
  say(message: string): void;
  label(path: string): string;
}

export class FolderSync {
  constructor(private readonly w: SyncContext) {}

  /**
   * List a folder and turn the difference against the snapshot into events (when `emit`). When
   * recursive, descend into new subfolders (all of them when `deep`), opening their handles.
   */
  async rescan(path: string, source: EventSource, emit: boolean, deep: boolean): Promise<number> {
    const w = this.w;
    const tree = w.tree;
    if (!tree || w.stopped) return 0;
    if (w.snapshot.full && !w.snapshot.hasFolder(path)) {
      w.emitChange('OVERFLOW', path, { source, message: 'snapshot limit reached: no precise difference' });
      return 0;
    }
    let listing;
    try {
      // Names made safe exactly as notified names are (paths.ts): a listing from a hostile
      // server must not put `..` components or extra separators into paths either.
      listing = (await tree.list(path)).map((stat) => {
        const name = safeComponent(stat.name);
        return name === stat.name ? stat : { ...stat, name };
      });
    } catch (err) {
      // A folder below the root deleted or renamed since it was seen: its parent's notification
      // or listing reports that. Drop its watch, whose contents were never listed, so that a
      // rename re-opens and lists it at its new path (ChangeProcessor.placeMoved). Not a reason
      // to drop the connection.
      if (path === w.root || !(isMissing(err) || isRefused(err))) throw err;
      w.folders.closeUnder(path);
      return 0;
    }
    const diff = w.snapshot.replaceFolder(path, listing);
    for (const d of diff) {
      if (emit) w.emitDifference(d, source);
      else if (d.kind === 'DELETE' && d.entry.isDir !== false) w.folders.closeUnder(d.path);
    }
    if (!w.recursive) return diff.length;
    const created = new Set(diff.filter((d) => d.kind === 'CREATE').map((d) => d.path));
    for (const stat of listing) {
      if (!stat.isDirectory) continue;
      const sub = joinPath(path, stat.name);
      // One of its own ancestors, through a link (wide links): the entry is reported, its
      // contents are not walked or watched a second time.
      if (w.folders.loopsBack(sub, stat.fileId)) continue;
      if (deep || created.has(sub) || (!w.polling && !w.folders.has(sub))) await this.openSubfolder(tree, sub, source, emit, deep, stat.fileId);
    }
    return diff.length;
  }

  /** A folder below the root: arm it first, then list it, so nothing slips between the two. */
  private async openSubfolder(tree: SmbTree, path: string, source: EventSource, emit: boolean, deep: boolean, id?: bigint): Promise<void> {
    try {
      if (!this.w.polling) await this.w.folders.open(tree, path, id);
      await this.rescan(path, source, emit, deep);
    } catch (err) {
      // Gone already, or a file by now: the parent's next notification or listing tells.
      if (isMissing(err)) return;
      // A folder the server will not open for us: say so and go on without it (failing here
      // would fail the whole watch, and then every reconnect, for one folder).
      if (!isRefused(err)) throw err;
      this.w.say(`cannot watch ${this.w.label(path)} (${(err as { statusName: string }).statusName}): its changes are not reported`);
    }
  }
}
