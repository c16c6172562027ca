/**
 * A watch on one folder of a share (and, when recursive, everything below it): keeps
 * CHANGE_NOTIFY armed, turns what comes back into normalized events exactly once, recovers the
 * truth by listing after an overflow or a reconnect, and polls where the server has no notify.
 *
 * Recursive watches keep one handle per folder, each watching only its own entries: Samba reports
 * changes made on its own disk only for folders with a handle, even with WATCH_TREE
 * (docs/protocol.md, "How Samba reports changes"), and one handle per folder reports every change exactly once, with no
 * duplicates between a parent's WATCH_TREE and a child's handle. The cost is one open handle per
 * folder on the server (see README, "Limits").
 */
import { EventEmitter } from 'node:events';
import type { ShareConnection } from '../smb/share-connection.js';
import type { SmbTree } from '../smb/tree.js';
import { CompletionFilter } from '../smb/change-notify.js';
import { isMissing, isNotADirectory, isNotifyUnsupported, isRefused } from '../smb/status.js';
import { ChangeProcessor, type ChangeContext } from './change-processor.js';
import { EventFactory, type ChangeFields, type ChangeKind, type EventSource, type WatchEvent, type WatchState } from './events.js';
import { EventOutbox } from './outbox.js';
import { FolderWatch, type FolderWatchHandler } from './folder-watch.js';
import { normalizeSharePath, safeComponent } from './paths.js';
import { Poller } from './poller.js';
import { DEFAULT_SNAPSHOT_LIMIT, Snapshot } from './snapshot.js';
import { SerialQueue } from './serial-queue.js';

/**
 * Names, attributes, sizes, write times and streams. ATTRIBUTES cannot be left out: Samba maps a
 * write on its own disk (inotify IN_MODIFY) to an attribute change, not to LAST_WRITE.
 */
export const DEFAULT_FILTER =
  CompletionFilter.FILE_NAME | CompletionFilter.DIR_NAME | CompletionFilter.ATTRIBUTES | CompletionFilter.SIZE |
  CompletionFilter.LAST_WRITE | CompletionFilter.STREAM_NAME | CompletionFilter.STREAM_SIZE | CompletionFilter.STREAM_WRITE;

export interface WatcherOptions {
  /** Share-relative folder to watch; '' for the share root. */
  path: string;
  recursive?: boolean;
  /** CHANGE_NOTIFY output buffer; default: the server's MaxTransactSize, at most 1 MiB. */
  bufferSize?: number;
  completionFilter?: number;
  /** Requests kept outstanding per folder handle (default 2). */
  outstanding?: number;
  /** Polling interval where the server has no CHANGE_NOTIFY (default 2 s). */
  pollIntervalMs?: number;
  /** How long an unpaired rename or a removal waits for its other half (default 100 ms / 50 ms). */
  renameWindowMs?: number;
  moveWindowMs?: number;
  snapshotLimit?: number;
  /** How often a watched folder below the share root is looked for by name (default 5 s). */
  rootCheckMs?: number;
  /** Maps a share-relative path to a local path when the share is mounted here. */
  localPathOf?: (path: string) => string | undefined;
  /** The daemon's id of this watch, carried by every event. */
  watchId?: string;
}

export interface WatcherEvents {
  event: [WatchEvent];
}

export class Watcher extends EventEmitter<WatcherEvents> implements ChangeContext {
  readonly root: string;
  readonly snapshot: Snapshot;
  readonly events: EventFactory;
  private readonly folders = new Map<string, FolderWatch>();
  private readonly queue = new SerialQueue((err) => this.onInternalError(err));
  private readonly changes: ChangeProcessor;
  private readonly outbox: EventOutbox;
  private poller: Poller | null = null;
  private stateNow: WatchState = 'connecting';
  private stopped = false;
  private rootGone = false;
  private rootCheck: NodeJS.Timeout | null = null;
  /** Folders that overflowed and wait for their listing. */
  private readonly pendingRescans = new Map<string, { first: number; timer: NodeJS.Timeout | null }>();
  /** How long the last overflow listing took. */
  private lastListingMs = 0;
  /** Watches whose notifications were dropped while their folder was out of the snapshot. */
  private readonly missed = new Set<FolderWatch>();
  /** Bumped on every reconnect, so that folder watches of an old connection are ignored. */
  private generation = 0;
  eventsSeen = 0;
  lastEventTime: string | null = null;

  constructor(readonly share: ShareConnection, readonly opts: WatcherOptions) {
    super();
    this.root = normalizeSharePath(opts.path);
    this.snapshot = new Snapshot(opts.snapshotLimit ?? DEFAULT_SNAPSHOT_LIMIT);
    this.events = new EventFactory({
      server: share.opts.host,
      share: share.opts.share,
      watch: this.root,
      ...(opts.watchId !== undefined ? { watchId: opts.watchId } : {}),
      ...(opts.localPathOf ? { localPathOf: opts.localPathOf } : {}),
    });
    this.outbox = new EventOutbox(opts.recursive ? (opts.moveWindowMs ?? 50) : 0, (e) => this.emitChangeNow(e));
    this.changes = new ChangeProcessor(this, this.outbox, { renameWindowMs: opts.renameWindowMs ?? 100 });
    share.on('lost', this.onLost);
    share.on('connected', this.onConnected);
    share.on('retrying', this.onRetrying);
  }

  get state(): WatchState {
    return this.stateNow;
  }

  /** Nothing queued and nothing held back: every change seen so far has been reported. */
  get idle(): boolean {
    return this.queue.length === 0 && this.outbox.pending === 0 && this.pendingRescans.size === 0;
  }

  get recursive(): boolean {
    return this.opts.recursive === true;
  }

  get tree(): SmbTree | null {
    return this.share.tree;
  }

  /** Take the first snapshot and arm every folder. Errors (missing folder, ...) are the caller's. */
  async start(): Promise<void> {
    const tree = this.share.tree;
    if (!tree) throw new Error('share is not connected');
    await this.queue.run(() => this.establish(tree, 'initial'));
  }

  /** Open (or re-open) every folder and bring the snapshot up to date. */
  private async establish(tree: SmbTree, why: 'initial' | 'reconnect' | 'root-back'): Promise<void> {
    ++this.generation;
    const emit = why !== 'initial';
    try {
      await this.openFolder(tree, this.root);
    } catch (err) {
      if (!isNotifyUnsupported(err)) throw err;
      await this.startPolling(tree, `server has no CHANGE_NOTIFY here (${(err as { statusName: string }).statusName})`, false, emit);
      return;
    }
    await this.rescanFolder(this.root, 'rescan', emit, true);
    this.setState('watching', why === 'initial' ? `watching ${this.label(this.root)}` : why === 'reconnect' ? 'reconnected and resynchronised' : 'watched folder is back');
    this.startRootCheck();
  }

  label(path: string): string {
    return `${this.share.label}${path ? `/${path}` : ''}`;
  }

  private folderOptions(tree: SmbTree) {
    return {
      bufferSize: this.opts.bufferSize ?? Math.min(tree.client.session.maxTransactSize, 1024 * 1024),
      completionFilter: this.opts.completionFilter ?? DEFAULT_FILTER,
      outstanding: this.opts.outstanding ?? 2,
    };
  }

  /** Open a folder's handle and arm it (also for folders found later). */
  async openFolder(tree: SmbTree, path: string): Promise<void> {
    if (this.folders.has(path) || this.poller) return;
    const fw = new FolderWatch(tree, path, this.folderOptions(tree), this.handlerFor(this.generation));
    this.folders.set(path, fw);
    try {
      await fw.start();
    } catch (err) {
      if (this.folders.get(path) === fw) this.folders.delete(path);
      throw err;
    }
  }

  /**
   * A name appeared in a recursive watch: try to open it as a folder (one CREATE, sent now, so
   * probes of a burst travel together). If it is one, watch it and report what it already holds.
   */
  probeFolder(path: string): void {
    const tree = this.tree;
    if (!tree || this.poller || this.folders.has(path)) return;
    const opening = tree.open(path, true);
    opening.catch(() => undefined);
    const generation = this.generation;
    this.queue.push(async () => {
      let fileId;
      try {
        ({ fileId } = await opening);
      } catch (err) {
        const entry = this.snapshot.get(path);
        if (isNotADirectory(err) && entry?.isDir === undefined) entry!.isDir = false;
        if (isMissing(err) || isRefused(err) || generation !== this.generation) return;
        throw err;
      }
      const entry = this.snapshot.get(path);
      if (!entry || this.folders.has(path) || generation !== this.generation || this.stopped || this.poller) {
        if (!tree.client.closed) await tree.close(fileId).catch(() => undefined);
        return;
      }
      entry.isDir = true;
      this.snapshot.ensureFolder(path);
      const fw = new FolderWatch(tree, path, this.folderOptions(tree), this.handlerFor(generation));
      this.folders.set(path, fw);
      fw.adopt(fileId);
      await this.rescanFolder(path, 'rescan', true, false);
    });
  }

  /**
   * List a folder and turn the difference against the snapshot into events (when `emit`). When
   * recursive, descend into new subfolders (all of them when `deep`), opening their handles.
   */
  async rescanFolder(path: string, source: EventSource, emit: boolean, deep: boolean): Promise<void> {
    const tree = this.tree;
    if (!tree || this.stopped) return;
    if (this.snapshot.full && !this.snapshot.hasFolder(path)) {
      this.emitChange('OVERFLOW', path, { source, message: 'snapshot limit reached: no precise difference' });
      return;
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
      if (path === this.root || !(isMissing(err) || isRefused(err))) throw err;
      this.closeFolders(path);
      return;
    }
    const diff = this.snapshot.replaceFolder(path, listing);
    for (const d of diff) {
      if (emit) this.changes.emitDifference(d, source);
      else if (d.kind === 'DELETE' && d.entry.isDir !== false) this.closeFolders(d.path);
    }
    if (!this.recursive) return;
    const created = new Set(diff.filter((d) => d.kind === 'CREATE').map((d) => d.path));
    for (const stat of listing) {
      if (!stat.isDirectory) continue;
      const sub = path ? `${path}/${stat.name}` : stat.name;
      if (deep || created.has(sub) || (!this.poller && !this.folders.has(sub))) await this.openSubfolder(tree, sub, source, emit, deep);
    }
  }

  /** A folder below the root: arm it first, then list it, so nothing slips between the two. */
  private async openSubfolder(tree: SmbTree, path: string, source: EventSource, emit: boolean, deep: boolean): Promise<void> {
    try {
      await this.openFolder(tree, path);
      await this.rescanFolder(path, source, emit, deep);
    } catch (err) {
      // Gone already, or a file by now: the parent's next notification or listing tells.
      if (isMissing(err)) return;
      // A folder the server will not open for us: say so and go on without it (failing here
      // would fail the whole watch, and then every reconnect, for one folder).
      if (!isRefused(err)) throw err;
      this.emitState(this.stateNow, `cannot watch ${this.label(path)} (${(err as { statusName: string }).statusName}): its changes are not reported`);
    }
  }

  isWatched(path: string): boolean {
    return this.folders.has(path);
  }

  probe(path: string): void {
    if (this.recursive) this.probeFolder(path);
  }

  /** Forget (and close) the watches at or below `path`. */
  closeFolders(path: string): void {
    for (const [f, fw] of [...this.folders]) {
      if (f === path || f.startsWith(`${path}/`)) {
        this.folders.delete(f);
        this.missed.delete(fw);
        void fw.close();
      }
    }
  }

  /** Re-key the watches below a renamed folder: their handles followed it on the server. */
  moveFolders(from: string, to: string): void {
    for (const [f, fw] of [...this.folders]) {
      if (f === from || f.startsWith(`${from}/`)) {
        this.folders.delete(f);
        fw.path = to + f.slice(from.length);
        // A probe may have opened the new path already; one handle per folder is enough.
        if (this.folders.has(fw.path)) {
          this.missed.delete(fw);
          void fw.close();
        } else {
          this.folders.set(fw.path, fw);
          if (this.missed.delete(fw)) {
            const moved = fw.path;
            this.queue.push(() => this.rescanFolder(moved, 'rescan', true, false));
          }
        }
      }
    }
  }

  private handlerFor(generation: number): FolderWatchHandler {
    const current = () => generation === this.generation && !this.stopped;
    return {
      entries: (fw, entries) => {
        if (!current() || this.folders.get(fw.path) !== fw) return;
        this.queue.push(() => {
          // The folder's removal (or the first half of its move) is processed already: what its
          // handle says has no place in the stream. Should it have moved, it is listed again at
          // its new path (moveFolders).
          if (fw.path !== this.root && !this.snapshot.full && !this.snapshot.hasFolder(fw.path)) {
            this.missed.add(fw);
            return;
          }
          this.changes.process(fw.path, entries);
        });
      },
      overflow: (fw) => {
        if (!current() || this.folders.get(fw.path) !== fw) return;
        this.overflowed(fw);
      },
      gone: (fw, statusName) => {
        if (!current() || this.folders.get(fw.path) !== fw) return;
        this.queue.push(() => this.onFolderGone(fw, statusName));
      },
      unsupported: (_fw, statusName) => {
        if (!current()) return;
        const tree = this.tree;
        if (tree) this.queue.push(() => this.startPolling(tree, `server has no CHANGE_NOTIFY here (${statusName})`, false, true));
      },
      failed: (fw, err) => {
        if (!current()) return;
        this.emitState(this.stateNow, `watch on ${this.label(fw.path)} failed: ${err.message}; reconnecting`);
        this.share.reset(err);
      },
    };
  }

  /**
   * STATUS_NOTIFY_ENUM_DIR: say OVERFLOW once, then list the folder when the storm has passed.
   * During a large burst the server keeps overflowing while it drains its backlog, and listing
   * after every overflow (seconds for a big folder) keeps it busy and overflowing; so the listing
   * waits until the folder has been quiet for the longer of 500 ms and the last listing's
   * duration, and never more than 10 s after the first overflow.
   */
  private overflowed(fw: FolderWatch): void {
    const now = Date.now();
    let pending = this.pendingRescans.get(fw.path);
    if (!pending) {
      pending = { first: now, timer: null };
      this.pendingRescans.set(fw.path, pending);
      const path = fw.path;
      this.queue.push(() => this.emitChange('OVERFLOW', path, { source: 'notify', message: 'the server lost changes; listing' }));
    }
    if (pending.timer) clearTimeout(pending.timer);
    const wait = Math.max(0, Math.min(Math.max(500, this.lastListingMs), pending.first + 10_000 - now));
    const entry = pending;
    entry.timer = setTimeout(() => {
      this.pendingRescans.delete(fw.path);
      this.queue.push(async () => {
        if (this.folders.get(fw.path) !== fw) return;
        const started = Date.now();
        await this.rescanFolder(fw.path, 'rescan', true, false);
        this.lastListingMs = Date.now() - started;
      });
    }, wait);
  }

  private async onFolderGone(fw: FolderWatch, statusName: string): Promise<void> {
    this.folders.delete(fw.path);
    await fw.close();
    if (fw.path !== this.root) return; // its parent reports the removal
    this.markRootGone(`watched folder deleted (${statusName})`, 'notify');
  }

  private async startPolling(tree: SmbTree, why: string, untilRootReturns: boolean, emitFirst: boolean): Promise<void> {
    if (this.poller || this.stopped) return;
    for (const fw of this.folders.values()) void fw.close();
    this.folders.clear();
    const interval = this.opts.pollIntervalMs ?? 2000;
    const poller = new Poller(this, tree, interval, untilRootReturns, emitFirst);
    this.poller = poller;
    this.setState('polling', untilRootReturns ? `${why}: waiting for it to come back` : `${why}: polling every ${interval / 1000} s`);
    await poller.first();
    if (this.poller === poller) poller.start();
  }

  /** The poller found the root folder gone. */
  rootDeletedWhilePolling(): void {
    this.poller?.stop();
    this.poller = null;
    this.markRootGone('watched folder deleted', 'poll');
  }

  private markRootGone(message: string, source: EventSource): void {
    this.rootGone = true;
    this.emitChange('DELETE_SELF', this.root, { source, message });
    this.closeFolders(this.root);
    this.snapshot.replaceFolder(this.root, []);
    void this.startPolling(this.tree!, 'watched folder deleted', true, false);
  }

  /**
   * A watched folder deleted or moved away on the server's own disk sends nothing to the handle
   * open on it (Samba maps no inotify event of the folder itself), so look for it by name now and
   * then. Over SMB a deletion arrives at once as STATUS_DELETE_PENDING.
   */
  private startRootCheck(): void {
    if (this.rootCheck || this.root === '' || this.stopped) return;
    this.rootCheck = setInterval(() => {
      this.queue.push(async () => {
        const tree = this.tree;
        if (!tree || this.poller || this.stopped || this.rootGone) return;
        try {
          await tree.stat(this.root);
        } catch (err) {
          if (isMissing(err) && !this.poller && !this.rootGone) this.markRootGone('watched folder deleted or moved away', 'poll');
        }
      });
    }, this.opts.rootCheckMs ?? 5000);
    this.rootCheck.unref();
  }

  /** Called by the poller when a deleted root folder exists again. */
  async rootReturned(tree: SmbTree): Promise<void> {
    this.poller?.stop();
    this.poller = null;
    this.rootGone = false;
    await this.establish(tree, 'root-back');
  }

  get isRootGone(): boolean {
    return this.rootGone;
  }

  enqueue(task: () => Promise<void> | void): void {
    this.queue.push(task);
  }

  private readonly onLost = (err: Error): void => {
    if (this.stopped) return;
    this.generation++;
    this.folders.clear(); // their handles died with the connection
    this.missed.clear();
    this.poller?.stop();
    this.poller = null;
    this.setState('reconnecting', `connection lost (${err.message}); reconnecting`);
  };

  private readonly onRetrying = (err: Error, attempt: number, delayMs: number): void => {
    if (!this.stopped) this.emitState('reconnecting', `reconnect attempt ${attempt} failed (${err.message}); next in ${Math.round(delayMs / 1000)} s`);
  };

  private readonly onConnected = (tree: SmbTree, reconnect: boolean): void => {
    if (!reconnect || this.stopped) return;
    this.queue.push(async () => {
      try {
        await this.establish(tree, 'reconnect');
      } catch (err) {
        if (!isMissing(err)) throw err;
        this.markRootGone('watched folder is gone after reconnect', 'rescan');
      }
    });
  };

  private onInternalError(err: Error): void {
    if (this.stopped) return;
    // A connection error surfaces through 'lost'; anything else is reported, then resynchronised.
    this.emitState(this.stateNow, `error: ${err.message}`);
    if (this.tree && !this.tree.client.closed) this.share.reset(err);
  }

  setState(state: WatchState, message: string): void {
    this.stateNow = state;
    this.emitState(state, message);
  }

  private emitState(state: WatchState, message: string): void {
    this.emit('event', this.events.stamp(this.events.state(state, message)));
  }

  /** Emit a change, in order behind those still in the outbox. */
  emitChange(kind: ChangeKind, path: string, fields: ChangeFields = {}): void {
    this.outbox.push({ event: this.events.change(kind, path, fields) });
  }

  private emitChangeNow(e: WatchEvent): void {
    this.events.stamp(e);
    this.eventsSeen++;
    this.lastEventTime = e.time;
    this.emit('event', e);
  }

  /** Stop: cancel requests, close handles, stop timers. The share connection is the caller's. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.rootCheck) clearInterval(this.rootCheck);
    for (const p of this.pendingRescans.values()) if (p.timer) clearTimeout(p.timer);
    this.pendingRescans.clear();
    this.changes.flush();
    this.stopped = true;
    this.share.off('lost', this.onLost);
    this.share.off('connected', this.onConnected);
    this.share.off('retrying', this.onRetrying);
    this.changes.dispose();
    this.poller?.stop();
    this.poller = null;
    const all = [...this.folders.values()];
    this.folders.clear();
    await Promise.all(all.map((fw) => fw.close()));
    await this.queue.idle();
    this.stateNow = 'stopped';
  }
}
