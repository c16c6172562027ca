/**
 * Listing folders into the snapshot: a listing's difference against what is known becomes events
 * (after an overflow, a reconnect, while polling), and in a recursive watch every subfolder found
 * is opened (armed first, then listed, so nothing slips between the two) and listed once more a
 * little later (see `settleLater`). A name that appears is opened by NameCheck, which watches and
 * lists it if it is a folder.
 */
import { SmbError } from '../smb/errors.js';
import type { FileId } from '../smb/change-notify.js';
import type { ListedEntry, SmbTree } from '../smb/tree.js';
import { isDfsLink, isMissing, isRefused, isServerLimit } from '../smb/status.js';
import type { ChangeKind, ChangeFields, EventSource } from './events.js';
import type { FolderRegistry } from './folder-registry.js';
import type { FolderWatch } from './folder-watch.js';
import { joinPath, safeComponent } from './paths.js';
import { provesNamesServedAsIs } from './listed-names.js';
import type { Difference, Snapshot } from './snapshot.js';
import type { WatchLiveState } from './live-state.js';

/** What listing needs of the watch. */
export interface SyncContext extends WatchLiveState {
  readonly root: string;
  readonly recursive: boolean;
  readonly snapshot: Snapshot;
  readonly folders: FolderRegistry;
  enqueue(task: () => Promise<void> | void): void;
  /** A difference found by listing, as events. */
  emitDifference(d: Difference, source: EventSource): void;
  emitChange(kind: ChangeKind, path: string, fields: ChangeFields): void;
  /** A STATE event in the current state (a folder that cannot be watched). */
  say(message: string): void;
  /** A listing showed a name Windows forbids as it is (NameCheck.learnNamesServedAsIs). */
  namesServedAsIs(): void;
  label(path: string): string;
}

/** Folders opened and listed at once while descending a tree. */
const DESCEND_WIDTH = 16;

/** A subfolder to open and list, with the server's id of it (wide-link loops). */
interface Subfolder {
  path: string;
  id: bigint | undefined;
}

/** How long after its handle is armed a folder is listed once more (see `settleLater`). */
export const SETTLE_MS = 1000;

export class FolderSync {
  /** The generation for which the server's open-file limit was reported already. */
  private limitSaidFor = -1;
  /**
   * Folders the server refused to open for this connection (said once each), and the generation
   * they belong to: a change of one's own attributes is a reason to try again (`refusedToUs`).
   */
  private readonly refusedFolders = new Set<string>();
  private refusedFor = -1;

  /** Newly armed handles waiting for their second listing, and when it is due. */
  private readonly settling = new Map<FolderWatch, number>();
  private settleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly w: SyncContext) {}

  /** Second listings still to come. */
  get pendingSettles(): number {
    return this.settling.size;
  }

  /**
   * List a newly armed folder once more, SETTLE_MS from now. Samba answers CHANGE_NOTIFY before it
   * watches the folder's disk: smbd hands the request to its notify daemon (smbd-notifyd), which
   * adds the inotify watch only when it gets to that message. A change made on the server's disk
   * in that gap is in neither the listing made right after arming nor any notification, and on a
   * loaded server the gap lasts long enough for a file created just after its new folder to fall
   * into it. The second listing reports only what is still missing (snapshot difference). Done
   * for folders armed while watching (new folders, every folder after a reconnect), not at the
   * start, where a listing could overtake the notifications of changes made right after it.
   */
  settleLater(path: string): void {
    const fw = this.w.folders.get(path);
    if (!fw || this.w.polling || this.w.stopped) return;
    this.settling.set(fw, Date.now() + SETTLE_MS);
    if (!this.settleTimer) this.settleTimer = setTimeout(() => this.settleDue(), SETTLE_MS);
  }

  private settleDue(): void {
    this.settleTimer = null;
    const now = Date.now();
    let next = Infinity;
    for (const [fw, due] of this.settling) {
      if (due > now) {
        next = Math.min(next, due);
        continue;
      }
      this.settling.delete(fw);
      // A handle closed, replaced or dropped with its connection since: whoever did that lists.
      this.w.enqueue(async () => {
        if (this.w.folders.isCurrent(fw) && !this.w.polling) await this.rescan(fw.path, 'rescan', true, false);
      });
    }
    if (next !== Infinity) this.settleTimer = setTimeout(() => this.settleDue(), next - now);
  }

  /** Forget the second listings still to come (stopping). */
  dispose(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    this.settling.clear();
  }

  /**
   * List a folder and turn the difference against the snapshot into events (when `emit`). When
   * recursive, descend into new subfolders (all of them when `deep`), opening their handles;
   * up to DESCEND_WIDTH folders are opened and listed at once. Returns the number of differences
   * the folder's own listing found.
   */
  async rescan(path: string, source: EventSource, emit: boolean, deep: boolean): Promise<number> {
    const tree = this.w.tree;
    if (!tree || this.w.stopped) return 0;
    const { changes, subfolders } = await this.listOne(tree, path, source, emit, deep, this.setUpHandle(path, emit));
    if (subfolders.length > 0) await this.descend(tree, subfolders, source, emit, deep);
    return changes;
  }

  /**
   * The watch handle to list a folder through while a watch is set up (`emit` false: its first
   * listing, right after the handle was armed, with nothing else listing it): Samba's cost of
   * every open grows with the handles the connection holds, so opening each folder a second time
   * to list it made the set-up of a big tree quadratic (5,000 folders: 12.9 s of smbd CPU for the
   * listings' opens and queries against 6.2 s through the handles). Later listings (overflows,
   * reconnects, checks) open the folder as before: a listing through a handle on a folder under a
   * burst of changes lost names in an earlier attempt.
   */
  private setUpHandle(path: string, emit: boolean): FileId | undefined {
    return emit || this.w.polling ? undefined : this.w.folders.get(path)?.fileId ?? undefined;
  }

  /**
   * List one folder into the snapshot (through `handle`, an open handle on it, when given; by
   * opening it otherwise); returns its differences and the subfolders to list next.
   */
  private async listOne(tree: SmbTree, path: string, source: EventSource, emit: boolean, deep: boolean, handle?: FileId): Promise<{ changes: number; subfolders: Subfolder[] }> {
    const w = this.w;
    const none = { changes: 0, subfolders: [] };
    if (w.snapshot.full && !w.snapshot.hasFolder(path)) {
      w.emitChange('OVERFLOW', path, { source, message: 'snapshot limit reached: no precise difference' });
      return none;
    }
    // Applied to the snapshot entry by entry as the responses are decoded (Snapshot.listing): a
    // folder of 100,000 files is never held as one array, nor is its difference.
    const dirs: Array<{ name: string; id: bigint | undefined }> = [];
    const created = new Set<string>();
    const listing = w.snapshot.listing(path, (d) => {
      if (d.kind === 'CREATE' && d.entry.isDir) created.add(d.path);
      if (emit) w.emitDifference(d, source);
      else if (d.kind === 'DELETE' && d.entry.isDir !== false) w.folders.closeUnder(d.path);
    });
    let learnt = false;
    const visit = (entry: Readonly<ListedEntry>): void => {
      // Names made safe exactly as notified names are (paths.ts): a listing from a hostile
      // server must not put `..` components or extra separators into paths either.
      const name = safeComponent(entry.name);
      if (!learnt && provesNamesServedAsIs(entry.name)) {
        learnt = true;
        w.namesServedAsIs();
      }
      if (entry.isDirectory) dirs.push({ name, id: entry.fileId });
      listing.add(name === entry.name ? entry : { ...entry, name });
    };
    try {
      if (handle) await tree.listEachOpen(handle, visit);
      else await tree.listEach(path, visit);
    } catch (err) {
      listing.abandon();
      // Through the handle, any answer but a lost connection is settled by listing the usual way.
      if (handle && err instanceof SmbError) return this.listOne(tree, path, source, emit, deep);
      // A folder below the root deleted or renamed since it was seen: its parent's notification
      // or listing reports that. Drop its watch, whose contents were never listed, so that a
      // rename re-opens and lists it at its new path (ChangeProcessor.placeMoved). Not a reason
      // to drop the connection.
      if (path === w.root || !(isMissing(err) || isRefused(err))) throw err;
      w.folders.closeUnder(path);
      return none;
    }
    const changes = listing.finish();
    if (!w.recursive || w.stopped) return { changes, subfolders: [] };
    const subfolders: Subfolder[] = [];
    for (const { name, id } of dirs) {
      const sub = joinPath(path, name);
      // One of its own ancestors, through a link (wide links): the entry is reported, its
      // contents are not walked or watched a second time.
      if (w.folders.loopsBack(sub, id)) continue;
      if (deep || created.has(sub) || (!w.polling && !w.folders.has(sub))) subfolders.push({ path: sub, id });
    }
    return { changes, subfolders };
  }

  /**
   * Open and list `first` and, as they are found, their subfolders, DESCEND_WIDTH at a time: one
   * folder after another would wait a round trip per folder (thousands of them in a big tree).
   * The first failure fails the descent; folders still in flight finish on their own.
   */
  private descend(tree: SmbTree, first: Subfolder[], source: EventSource, emit: boolean, deep: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const todo = first;
      let next = 0;
      let active = 0;
      let failed = false;
      const pump = (): void => {
        while (!failed && !this.w.stopped && active < DESCEND_WIDTH && next < todo.length) {
          const sub = todo[next++]!;
          active++;
          this.openSubfolder(tree, sub, source, emit, deep).then(
            (more) => {
              active--;
              for (const m of more) todo.push(m);
              pump();
            },
            (err: unknown) => {
              active--;
              if (!failed) reject(err);
              failed = true;
            },
          );
        }
        if (!failed && active === 0 && (next === todo.length || this.w.stopped)) resolve();
      };
      pump();
    });
  }

  /** A folder below the root: arm it first, then list it, so nothing slips between the two. */
  private async openSubfolder(tree: SmbTree, sub: Subfolder, source: EventSource, emit: boolean, deep: boolean): Promise<Subfolder[]> {
    const path = sub.path;
    try {
      if (!this.w.polling) await this.w.folders.open(tree, path, sub.id);
      const { subfolders } = await this.listOne(tree, path, source, emit, deep, this.setUpHandle(path, emit));
      // Not on the watch's first listing: what happened before it was armed is not news.
      if (emit) this.settleLater(path);
      return subfolders;
    } catch (err) {
      // Gone already, or a file by now: the parent's next notification or listing tells.
      if (isMissing(err)) return [];
      // The server's limit of open files for one connection (Samba: two descriptors per watched
      // folder, `max open files` 16,424 by default, so about 8,200 folders): say so once, with
      // the limit's name, and go on watching the folders already open.
      if (isServerLimit(err)) {
        this.limitReached(err, path);
        return [];
      }
      // A folder the server will not open for us: say so and go on without it (failing here
      // would fail the whole watch, and then every reconnect, for one folder).
      if (!isRefused(err)) throw err;
      this.refused(err, path);
      return [];
    }
  }

  /** Whether the server refused to open this folder for us on this connection (and still does). */
  refusedToUs(path: string): boolean {
    return this.refusedFor === this.w.folders.generation && this.refusedFolders.has(path) && !this.w.folders.has(path);
  }

  /** Say once per connection (not at each listing of its parent) that a folder cannot be watched. */
  private refused(err: unknown, path: string): void {
    if (this.refusedFor !== this.w.folders.generation) {
      this.refusedFor = this.w.folders.generation;
      this.refusedFolders.clear();
    }
    if (this.refusedFolders.has(path)) return;
    this.refusedFolders.add(path);
    const status = (err as { statusName: string }).statusName;
    const why = isDfsLink(err) ? `a DFS link to another share (${status}), which smbnotify does not follow` : status;
    this.w.say(`cannot watch ${this.w.label(path)} (${why}): its changes are not reported`);
  }

  /** Say once per connection that the server opens no more folders, and which limit that is. */
  limitReached(err: unknown, path: string): void {
    if (this.limitSaidFor === this.w.folders.generation) return;
    this.limitSaidFor = this.w.folders.generation;
    this.w.say(`the server refuses to open more folders on this connection (${(err as { statusName: string }).statusName}) after ${this.w.folders.size} open folders: changes in ${this.w.label(path)} and any further folders are not reported; raise the server's open-file limit (Samba: \`max open files\`) or watch a smaller tree`);
  }
}
