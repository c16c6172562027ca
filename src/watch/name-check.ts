/**
 * The listing is the truth: a notified name goes into the stream only as a listing would show it
 * (docs/servers.md). Two checks do that.
 *
 * - `confirm`: a new name is opened once (CREATE sent at once, so the opens of a burst travel
 *   together) before its event leaves the outbox. The answer gives its type (the event's isDir)
 *   and tells whether the server serves that name at all: a vetoed name, an AppleDouble file
 *   hidden by vfs_fruit or a dangling symlink is notified but never listed. A new folder of a
 *   recursive watch is watched through the same handle, unless it is one of its own ancestors
 *   reached through a link.
 * - `verify`: a name that cannot be placed (listed under an 8.3 name, hidden, unknown) makes its
 *   folder be listed shortly, once for a burst; events waiting on that listing go out if it shows
 *   their name, and are taken back (with the listing's own DELETE of them) if it does not.
 */
import { isMissing, isRefused } from '../smb/status.js';
import type { OpenHandle } from '../smb/tree.js';
import { FILE_ATTRIBUTE_DIRECTORY } from '../smb/wire/create.js';
import type { FolderRegistry } from './folder-registry.js';
import { mayBeListedOtherwise } from './listed-names.js';
import type { EventOutbox, OutItem } from './outbox.js';
import { baseName, joinPath, parentOf } from './paths.js';
import type { EntryState, Snapshot } from './snapshot.js';
import type { WatchLiveState } from './live-state.js';

/** A name to check by listing waits this long, so that a burst of such names costs one listing. */
const VERIFY_DELAY_MS = 100;
/** A new name that could not be opened waits this long for its removal or rename to arrive. */
const GONE_GRACE_MS = 60;
/** Known names added again that are opened at once (recheck); past that, their folder is listed. */
const RECHECKS_AT_ONCE = 32;

export interface NameCheckContext extends WatchLiveState {
  readonly root: string;
  readonly recursive: boolean;
  readonly snapshot: Snapshot;
  readonly folders: FolderRegistry;
  readonly outbox: EventOutbox;
  enqueue(task: () => Promise<void> | void): void;
  /** List a folder and report its difference (FolderSync.rescan). */
  rescan(path: string): Promise<unknown>;
  /** A folder was just armed and listed: list it once more shortly (FolderSync.settleLater). */
  armed(path: string): void;
}

interface Waiting {
  path: string;
  item: OutItem;
}

export class NameCheck {
  private readonly verifying = new Map<string, NodeJS.Timeout>();
  private readonly graceTimers = new Set<NodeJS.Timeout>();
  private readonly verifyItems = new Map<string, Waiting[]>();
  /**
   * Whether this share lists names Windows forbids as they are (`mangled names = no`): learnt
   * from the first listing that shows such a name (whatever made the listing: a mangling server
   * never lists one), so that a name notified after that listing's events went out is never
   * taken for a mangled one. Until then they are checked by listing.
   */
  private servesForbiddenNames = false;
  /** Rechecks whose open has not been answered yet. */
  private rechecking = 0;

  constructor(private readonly w: NameCheckContext) {}

  /** Listings waiting to be made. */
  get pending(): number {
    return this.verifying.size + this.graceTimers.size;
  }

  /** A listing showed a name Windows forbids exactly as it is. */
  learnNamesServedAsIs(): void {
    this.servesForbiddenNames = true;
  }

  /** A notified name the listing may show under another name (listed-names.ts). */
  listedOtherwise(name: string): boolean {
    return !this.servesForbiddenNames && mayBeListedOtherwise(name);
  }

  /**
   * Open a notified name; `item` (when given) waits in the outbox until the answer, `companion`
   * (a rename's MOVED_FROM) goes out with it whatever the answer. `watch`: a new folder of a
   * recursive watch is watched through the same handle.
   */
  confirm(path: string, item: OutItem | null, watch: boolean, companion?: OutItem): void {
    const w = this.w;
    if (companion) {
      this.confirm(path, item, watch);
      w.enqueue(() => w.outbox.settle(companion));
      return;
    }
    const tree = w.tree;
    if (!tree || w.polling) {
      if (item) w.outbox.settle(item);
      return;
    }
    const opening = tree.open(path, null);
    opening.catch(() => undefined);
    const generation = w.folders.generation;
    w.enqueue(async () => {
      let handle: OpenHandle;
      try {
        handle = await opening;
      } catch (err) {
        const current = generation === w.folders.generation;
        if (item && w.outbox.holds(item) && current && (isMissing(err) || isRefused(err))) {
          this.notServed(path, item);
          return;
        }
        if (item) w.outbox.settle(item);
        if (isMissing(err) || isRefused(err) || !current) return;
        throw err;
      }
      const isDir = (handle.info.fileAttributes & FILE_ATTRIBUTE_DIRECTORY) !== 0;
      const entry = w.snapshot.get(path);
      if (entry && entry.isDir === undefined) entry.isDir = isDir;
      if (item) {
        if (item.event.isDir === undefined) item.event.isDir = isDir;
        w.outbox.settle(item);
      }
      const adopt = watch && isDir && w.recursive && entry !== undefined && !w.folders.has(path)
        && generation === w.folders.generation && !w.stopped && !w.polling;
      const id = adopt ? await tree.internalId(handle.fileId).catch(() => null) : null;
      if (!adopt || w.folders.loopsBack(path, id) || w.folders.has(path)) {
        if (!tree.client.closed) await tree.close(handle.fileId).catch(() => undefined);
        return;
      }
      w.snapshot.ensureFolder(path);
      w.folders.adopt(tree, path, handle.fileId, generation, handle.info, id);
      await w.rescan(path);
      w.armed(path);
    });
  }

  /**
   * A known file's name added again (change-processor.ts): `replaced` (its MODIFY) when the file
   * served under the name now differs from `known` in size or write time, or when those are not
   * known (changed since the last listing); nothing when it is the same file (old news: a listing
   * made after the change showed it) or the name is gone or holds another entry by then (what
   * took it away is reported). Neither the stream nor the watch's queue waits for the answer.
   */
  recheck(path: string, known: EntryState, replaced: () => void): void {
    const w = this.w;
    const tree = w.tree;
    // Polling, the listings compare sizes and times themselves.
    if (!tree || w.polling) return;
    if (this.rechecking >= RECHECKS_AT_ONCE) {
      // A flood (after an overflow, the additions a listing already showed come by the thousand):
      // one listing of the folder compares them all.
      this.verify(parentOf(path));
      return;
    }
    this.rechecking++;
    // Not on the watch's queue while the answer is awaited (nothing waits for it); what it tells
    // is applied there, in turn. An open that fails (gone, refused, the connection lost: the
    // resync after a reconnect lists the folder) tells nothing.
    void tree.open(path, null)
      .then((handle) => {
        w.enqueue(() => {
          const same = known.size === Number(handle.info.endOfFile) && known.mtime === Number(handle.info.lastWriteTime);
          if (!same && w.snapshot.get(path) === known) replaced();
        });
        return tree.client.closed ? undefined : tree.close(handle.fileId);
      })
      .catch(() => undefined)
      .finally(() => this.rechecking--);
  }

  /**
   * The name could not be opened: gone already (its removal or rename is on its way: give it a
   * moment), or not served under this name. The listing decides; the event waits for it.
   */
  private notServed(path: string, item: OutItem): void {
    const w = this.w;
    const entry = w.snapshot.get(path);
    const timer = setTimeout(() => {
      this.graceTimers.delete(timer);
      w.enqueue(() => {
        if (!w.outbox.holds(item)) return;
        // Created and then removed or renamed (itself or a folder above it, which took it along
        // in the snapshot): the event goes out, and what followed tells the rest.
        if (w.outbox.findAfter(item, path, ['DELETE', 'MOVED_FROM']) || !entry || w.snapshot.get(path) !== entry) {
          w.outbox.settle(item);
          return;
        }
        this.verify(parentOf(path), { path, item });
      });
    }, GONE_GRACE_MS);
    this.graceTimers.add(timer);
  }

  /** List a folder shortly (once for a burst) and report what the listing shows. */
  verify(path: string, waiting?: Waiting): void {
    const w = this.w;
    if (waiting) {
      const items = this.verifyItems.get(path) ?? [];
      items.push(waiting);
      this.verifyItems.set(path, items);
    }
    if (this.verifying.has(path)) return;
    if (w.stopped || (path !== w.root && !w.snapshot.hasFolder(path))) {
      // The folder itself is gone: what waited on its listing goes out as it is.
      this.release(path, true);
      return;
    }
    // Its watch follows the folder if it is renamed meanwhile.
    const fw = w.folders.get(path);
    const timer = setTimeout(() => w.enqueue(async () => {
      this.verifying.delete(path);
      const tree = w.tree;
      if (!w.stopped && (!tree || tree.client.closed)) {
        // Disconnected: the listing waits for the connection.
        this.verifying.set(path, setTimeout(() => {
          this.verifying.delete(path);
          this.verify(path);
        }, VERIFY_DELAY_MS));
        return;
      }
      const now = fw && w.folders.isCurrent(fw) ? fw.path : path;
      if (now !== w.root && !w.snapshot.hasFolder(now)) {
        this.release(path, true);
        return;
      }
      // The folder went away since (the watched folder itself, whose removal RootGuard reports
      // and waits out; or a folder whose parent reports it): what waited goes out as it is. Not
      // an error of the watch: that would reset the connection and report the removal twice.
      let listed = false;
      try {
        await w.rescan(now);
        listed = true;
      } catch (err) {
        if (!isMissing(err)) throw err;
      } finally {
        this.release(path, !listed, now);
      }
    }), VERIFY_DELAY_MS);
    this.verifying.set(path, timer);
  }

  /**
   * After the listing: an event whose name the listing shows goes out; one whose name it does not
   * show is taken back, with what followed of it (its writes, the listing's DELETE of it).
   * `asIs`: no listing came, let them go.
   */
  private release(folder: string, asIs: boolean, listedAs = folder): void {
    const w = this.w;
    const waiting = this.verifyItems.get(folder);
    this.verifyItems.delete(folder);
    for (const { path, item } of waiting ?? []) {
      if (!w.outbox.holds(item)) continue;
      const listed = asIs ? undefined : w.snapshot.get(joinPath(listedAs, baseName(path)));
      if (asIs || listed) {
        if (listed?.isDir !== undefined && item.event.isDir === undefined) item.event.isDir = listed.isDir;
        w.outbox.settle(item);
        continue;
      }
      for (let next = w.outbox.findAfter(item, path, ['MODIFY', 'DELETE']); next; next = w.outbox.findAfter(item, path, ['MODIFY', 'DELETE'])) {
        if (next.event.event === 'DELETE' && next.event.source !== 'rescan') break;
        w.outbox.cancel(next);
      }
      w.outbox.cancel(item);
    }
  }

  dispose(): void {
    for (const t of this.verifying.values()) clearTimeout(t);
    for (const t of this.graceTimers) clearTimeout(t);
    this.verifying.clear();
    this.graceTimers.clear();
    this.verifyItems.clear();
  }
}
