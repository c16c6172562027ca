/**
 * The open folder handles of one watch, by share-relative path, and the connection generation they
 * belong to: handles of an old connection (before a reconnect) and handles no longer registered
 * (closed, replaced, moved onto another) are not heard. Handles follow renames of their folders
 * (re-keyed, not reopened), as they do on the server.
 */
import type { FileNotifyInformation } from '../smb/change-notify.js';
import type { SmbTree } from '../smb/tree.js';
import type { FileId } from '../smb/change-notify.js';
import { FolderWatch, type FolderWatchHandler, type FolderWatchOptions } from './folder-watch.js';
import { isWithin } from './paths.js';

/** What the registry passes on from its current handles. */
export interface FolderEvents {
  entries(fw: FolderWatch, entries: FileNotifyInformation[]): void;
  overflow(fw: FolderWatch): void;
  gone(fw: FolderWatch, statusName: string): void;
  unsupported(statusName: string): void;
  failed(fw: FolderWatch, err: Error): void;
  /** A handle whose notifications were dropped (see `missed`) now has a folder again: list it. */
  relist(path: string): void;
  /** False once the watch stops: nothing is heard any more. */
  active(): boolean;
}

export class FolderRegistry {
  private readonly folders = new Map<string, FolderWatch>();
  /** Handles whose notifications were dropped while their folder was out of the snapshot. */
  private readonly missedBy = new Set<FolderWatch>();
  /** Bumped on every (re)establishment and connection loss. */
  private generationNow = 0;
  /** Watched folders by the server's file id (see loopsBack). */
  private readonly ids = new Map<bigint, FolderWatch>();

  constructor(
    private readonly optionsFor: (tree: SmbTree) => FolderWatchOptions,
    private readonly events: FolderEvents,
  ) {}

  get generation(): number {
    return this.generationNow;
  }

  /** Handles opened from now on belong to a new generation; older ones are not heard. */
  newGeneration(): void {
    this.generationNow++;
  }

  has(path: string): boolean {
    return this.folders.has(path);
  }

  isCurrent(fw: FolderWatch): boolean {
    return this.folders.get(fw.path) === fw;
  }

  get(path: string): FolderWatch | undefined {
    return this.folders.get(path);
  }

  /** The current handles (the safety net reads their folders' times through them). */
  all(): FolderWatch[] {
    return [...this.folders.values()];
  }

  /** Record a watched folder's file id. */
  identify(fw: FolderWatch, id: bigint | null | undefined): void {
    if (!id) return;
    fw.id = id;
    this.ids.set(id, fw);
  }

  /**
   * The folder at `path` is one of its own ancestors reached again through a link (wide links):
   * an ancestor's watch has the same file id. Only ancestors count: servers reuse the ids of
   * deleted folders (inode numbers), so an id seen elsewhere in the tree proves nothing.
   */
  loopsBack(path: string, id: bigint | null | undefined): boolean {
    const other = id ? this.ids.get(id) : undefined;
    return other !== undefined && this.isCurrent(other) && other.path !== path && isWithin(path, other.path);
  }

  get size(): number {
    return this.folders.size;
  }

  /** Open a folder's handle and arm it. */
  async open(tree: SmbTree, path: string, id?: bigint): Promise<void> {
    if (this.folders.has(path)) return;
    const fw = new FolderWatch(tree, path, this.optionsFor(tree), this.handlerFor(this.generationNow));
    this.folders.set(path, fw);
    this.identify(fw, id);
    try {
      await fw.start();
    } catch (err) {
      if (this.folders.get(path) === fw) this.folders.delete(path);
      throw err;
    }
  }

  /** Watch a folder through a handle opened by `generation`'s connection. */
  adopt(tree: SmbTree, path: string, fileId: FileId, generation: number, times?: { lastWriteTime: bigint; changeTime: bigint }, id?: bigint | null): void {
    const fw = new FolderWatch(tree, path, this.optionsFor(tree), this.handlerFor(generation));
    this.folders.set(path, fw);
    this.identify(fw, id);
    fw.adopt(fileId, times);
  }

  /** Notifications of this handle were dropped: list its folder should it reappear (a move). */
  missed(fw: FolderWatch): void {
    this.missedBy.add(fw);
  }

  /** Forget (and close) the handles at or below `path`. */
  closeUnder(path: string): void {
    for (const [f, fw] of [...this.folders]) {
      if (isWithin(f, path)) {
        this.folders.delete(f);
        this.missedBy.delete(fw);
        void fw.close();
      }
    }
  }

  /** Forget (and close) one handle that reported its folder gone. */
  async remove(fw: FolderWatch): Promise<void> {
    if (this.folders.get(fw.path) === fw) this.folders.delete(fw.path);
    this.missedBy.delete(fw);
    await fw.close();
  }

  /** Re-key the handles below a renamed folder: their handles followed it on the server. */
  move(from: string, to: string): void {
    for (const [f, fw] of [...this.folders]) {
      if (!isWithin(f, from)) continue;
      this.folders.delete(f);
      fw.path = to + f.slice(from.length);
      // A probe may have opened the new path already; one handle per folder is enough.
      if (this.folders.has(fw.path)) {
        this.missedBy.delete(fw);
        void fw.close();
      } else {
        this.folders.set(fw.path, fw);
        if (this.missedBy.delete(fw)) this.events.relist(fw.path);
      }
    }
  }

  /** The connection died and took every handle with it: forget them, hear none of them again. */
  dropAll(): void {
    this.generationNow++;
    this.folders.clear();
    this.ids.clear();
    this.missedBy.clear();
  }

  /** Close every handle (switching to polling, stopping); resolves when all are closed. */
  async closeAll(): Promise<void> {
    const all = [...this.folders.values()];
    this.folders.clear();
    this.ids.clear();
    this.missedBy.clear();
    await Promise.all(all.map((fw) => fw.close()));
  }

  private handlerFor(generation: number): FolderWatchHandler {
    const current = () => generation === this.generationNow && this.events.active();
    const registered = (fw: FolderWatch) => current() && this.folders.get(fw.path) === fw;
    return {
      entries: (fw, entries) => {
        if (registered(fw)) this.events.entries(fw, entries);
      },
      overflow: (fw) => {
        if (registered(fw)) this.events.overflow(fw);
      },
      gone: (fw, statusName) => {
        if (registered(fw)) this.events.gone(fw, statusName);
      },
      unsupported: (_fw, statusName) => {
        if (current()) this.events.unsupported(statusName);
      },
      failed: (fw, err) => {
        if (current()) this.events.failed(fw, err);
      },
    };
  }
}
