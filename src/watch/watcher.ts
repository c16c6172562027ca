/**
 * A watch on one folder of a share (and, when recursive, everything below it): keeps
 * CHANGE_NOTIFY armed, turns what comes back into normalized events exactly once, recovers the
 * truth by listing after an overflow or a reconnect, and polls where the server has no notify.
 *
 * Recursive watches keep one handle per folder, each watching only its own entries: Samba reports
 * changes made on its own disk only for folders with a handle, even with WATCH_TREE
 * (docs/protocol.md, "How Samba reports changes"), and one handle per folder reports every change
 * exactly once, with no duplicates between a parent's WATCH_TREE and a child's handle. The cost is
 * one open handle per folder on the server (see README, "Limits").
 *
 * This class ties the parts together and follows the connection (reconnect generations); each
 * part works through a narrow interface: FolderRegistry (the handles), FolderSync (listing and
 * probing), ChangeProcessor (notifications to events), EventOutbox (move pairing, order),
 * OverflowDebounce, RootGuard (the watched folder deleted and back), Poller (no CHANGE_NOTIFY).
 */
import { EventEmitter } from 'node:events';
import { CompletionFilter, type FileNotifyInformation } from '../smb/change-notify.js';
import type { ShareConnection } from '../smb/share-connection.js';
import { describeSmbFailure } from '../smb/describe.js';
import { isMissing, isNotifyUnsupported } from '../smb/status.js';
import type { SmbTree } from '../smb/tree.js';
import { ChangeProcessor } from './change-processor.js';
import { EventFactory, type ChangeFields, type ChangeKind, type WatchEvent, type WatchState } from './events.js';
import { FolderRegistry } from './folder-registry.js';
import { FolderSync } from './folder-sync.js';
import type { FolderWatch } from './folder-watch.js';
import { EventOutbox } from './outbox.js';
import { OverflowDebounce } from './overflow-debounce.js';
import { RepeatedFailure } from './repeated-failure.js';
import { normalizeSharePath } from './paths.js';
import { Poller } from './poller.js';
import { NameCheck } from './name-check.js';
import { RootGuard } from './root-guard.js';
import { SafetyNet } from './safety-net.js';
import { SerialQueue } from './serial-queue.js';
import { withLiveState, type WatchLiveState } from './live-state.js';
import { DEFAULT_SNAPSHOT_LIMIT, Snapshot } from './snapshot.js';

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
  /** Polling interval where the server has no CHANGE_NOTIFY (default DEFAULT_POLL_INTERVAL_MS). */
  pollIntervalMs?: number;
  /** How long an unpaired rename or a removal waits for its other half (default 500 ms / 50 ms). */
  renameWindowMs?: number;
  moveWindowMs?: number;
  snapshotLimit?: number;
  /** How often a watched folder below the share root is looked for by name (default 5 s). */
  rootCheckMs?: number;
  /** Maps a share-relative path to a local path when the share is mounted here. */
  localPathOf?: (path: string) => string | undefined;
  /** The daemon's id of this watch, carried by every event. */
  watchId?: string;
  /**
   * Base interval of the safety net that finds changes the server does not report (folder times
   * read through the open handles; safety-net.ts); default 2 s, 0 turns it off.
   */
  safetyNetMs?: number;
}

export interface WatcherEvents {
  event: [WatchEvent];
  /** A CHANGE_NOTIFY response with entries, as it arrived, before it becomes events (trace.ts). */
  notified: [folder: string, entries: FileNotifyInformation[]];
}

export const DEFAULT_POLL_INTERVAL_MS = 2000;

export class Watcher extends EventEmitter<WatcherEvents> {
  readonly root: string;
  private readonly snapshot: Snapshot;
  private readonly events: EventFactory;
  private readonly queue = new SerialQueue((err) => this.onInternalError(err));
  private readonly folders: FolderRegistry;
  private readonly sync: FolderSync;
  private readonly changes: ChangeProcessor;
  private readonly outbox: EventOutbox;
  private readonly overflows: OverflowDebounce;
  private readonly rootGuard: RootGuard;
  private readonly names: NameCheck;
  private readonly safetyNet: SafetyNet | null;
  private poller: Poller | null = null;
  private stateNow: WatchState = 'connecting';
  private stopped = false;
  private reauthFailing = false;
  /** Retries that fail the same way are said at growing intervals (repeated-failure.ts). */
  private readonly reconnectFailures = new RepeatedFailure();
  private readonly reauthFailures = new RepeatedFailure();
  eventsSeen = 0;
  lastEventTime: string | null = null;

  constructor(readonly share: ShareConnection, readonly opts: WatcherOptions) {
    super();
    this.root = normalizeSharePath(opts.path);
    this.snapshot = new Snapshot(opts.snapshotLimit ?? DEFAULT_SNAPSHOT_LIMIT);
    this.events = new EventFactory({
      server: share.server,
      share: share.opts.share,
      watch: this.root,
      ...(opts.watchId !== undefined ? { watchId: opts.watchId } : {}),
      ...(opts.localPathOf ? { localPathOf: opts.localPathOf } : {}),
    });
    const enqueue = (task: () => Promise<void> | void) => this.queue.push(task);
    const watcher = this;
    const live: WatchLiveState = {
      get tree() {
        return watcher.share.tree;
      },
      get stopped() {
        return watcher.stopped;
      },
      get polling() {
        return watcher.poller !== null;
      },
    };
    this.folders = new FolderRegistry((tree) => this.folderOptions(tree), {
      entries: (fw, entries) => enqueue(() => this.onEntries(fw, entries)),
      overflow: (fw) => this.overflows.overflowed(fw),
      gone: (fw, statusName) => enqueue(() => this.onFolderGone(fw, statusName)),
      unsupported: (statusName) => {
        const tree = this.share.tree;
        if (tree) enqueue(() => this.startPolling(tree, `server has no CHANGE_NOTIFY here (${statusName})`, false, true));
      },
      failed: (fw, err) => {
        this.emitState(this.stateNow, `watch on ${this.label(fw.path)} failed: ${err.message}; reconnecting`);
        this.share.reset(err);
      },
      relist: (path) => enqueue(async () => {
        await this.sync.rescan(path, 'rescan', true, false);
      }),
      active: () => !this.stopped,
    });
    this.sync = new FolderSync(withLiveState(live, {
      root: this.root,
      recursive: opts.recursive === true,
      snapshot: this.snapshot,
      folders: this.folders,
      enqueue,
      emitDifference: (d, source) => this.changes.emitDifference(d, source),
      emitChange: (kind, path, fields) => this.emitChange(kind, path, fields),
      say: (message) => this.emitState(this.stateNow, message),
      label: (path) => this.label(path),
      namesServedAsIs: () => this.names.learnNamesServedAsIs(),
    }));
    this.outbox = new EventOutbox(opts.recursive ? (opts.moveWindowMs ?? 50) : 0, (e) => this.emitChangeNow(e));
    this.changes = new ChangeProcessor({
      snapshot: this.snapshot,
      events: this.events,
      enqueue,
      closeFolders: (path) => this.folders.closeUnder(path),
      moveFolders: (from, to) => this.folders.move(from, to),
      isWatched: (path) => this.folders.has(path),
      refusedToUs: (path) => this.sync.refusedToUs(path),
      confirmName: (path, item, watch, companion) => this.names.confirm(path, item, watch, companion),
      verifyFolder: (path) => this.names.verify(path),
      recheckName: (path, known, replaced) => this.names.recheck(path, known, replaced),
      listedOtherwise: (name) => this.names.listedOtherwise(name),
    }, this.outbox, { renameWindowMs: opts.renameWindowMs ?? 500, echoWindowMs: 100 });
    this.names = new NameCheck(withLiveState(live, {
      root: this.root,
      recursive: opts.recursive === true,
      snapshot: this.snapshot,
      folders: this.folders,
      outbox: this.outbox,
      enqueue,
      rescan: (path) => this.sync.rescan(path, 'rescan', true, false),
      armed: (path) => this.sync.settleLater(path),
    }));
    const netMs = opts.safetyNetMs ?? 2000;
    this.safetyNet = netMs > 0 ? new SafetyNet(withLiveState(live, {
      netFolders: () => this.folders.all().map((fw) => ({ path: fw.path, handle: fw.fileId, notifications: fw.notifications, baseline: fw.baseline })),
      rescan: (path) => this.queue.run(() => this.sync.rescan(path, 'rescan', true, false)),
      warn: (message) => this.emitState(this.stateNow, message),
    }), netMs) : null;
    this.overflows = new OverflowDebounce({
      enqueue,
      announce: (path) => this.emitChange('OVERFLOW', path, { source: 'notify', message: 'the server lost changes; listing' }),
      list: async (fw) => {
        if (!this.folders.isCurrent(fw)) return false;
        await this.sync.rescan(fw.path, 'rescan', true, false);
        return true;
      },
    });
    this.rootGuard = new RootGuard(withLiveState(live, {
      root: this.root,
      enqueue,
      emitChange: (kind, path, fields) => this.emitChange(kind, path, fields),
      forgetTree: () => {
        this.folders.closeUnder(this.root);
        this.snapshot.replaceFolder(this.root, []);
      },
      waitForReturn: (tree) => void this.startPolling(tree, 'watched folder deleted', true, false),
    }), opts.rootCheckMs ?? 5000);
    share.on('lost', this.onLost);
    share.on('connected', this.onConnected);
    share.on('retrying', this.onRetrying);
    share.on('reauthFailed', this.onReauthFailed);
    share.on('reauthenticated', this.onReauthenticated);
  }

  get state(): WatchState {
    return this.stateNow;
  }

  /** The names the watch last listed in a watched folder (share-relative), or undefined. */
  namesIn(folder: string): string[] | undefined {
    const entries = this.snapshot.entriesOf(folder);
    return entries ? [...entries.keys()] : undefined;
  }

  /** Nothing queued and nothing held back: every change seen so far has been reported. */
  get idle(): boolean {
    return this.queue.length === 0 && this.outbox.pending === 0 && this.overflows.waiting === 0 && this.names.pending === 0 && this.sync.pendingSettles === 0;
  }

  /** Take the first snapshot and arm every folder. Errors (missing folder, ...) are the caller's. */
  async start(): Promise<void> {
    const tree = this.share.tree;
    if (!tree) throw new Error('share is not connected');
    await this.queue.run(() => this.establish(tree, 'initial'));
  }

  /** Open (or re-open) every folder and bring the snapshot up to date. */
  private async establish(tree: SmbTree, why: 'initial' | 'reconnect' | 'root-back'): Promise<void> {
    this.folders.newGeneration();
    const emit = why !== 'initial';
    try {
      await this.folders.open(tree, this.root);
    } catch (err) {
      if (!isNotifyUnsupported(err)) throw err;
      await this.startPolling(tree, `server has no CHANGE_NOTIFY here (${(err as { statusName: string }).statusName})`, false, emit);
      return;
    }
    // The root's own id, so that a link back to it (wide links) is not watched a second time.
    const rootWatch = this.folders.get(this.root);
    if (rootWatch?.fileId) this.folders.identify(rootWatch, await tree.internalId(rootWatch.fileId).catch(() => null));
    await this.sync.rescan(this.root, 'rescan', emit, true);
    if (emit) this.sync.settleLater(this.root);
    // The parent's watch is armed before we say "watching": a removal right after is heard.
    await this.rootGuard.startChecking();
    this.setState('watching', why === 'initial' ? `watching ${this.label(this.root)}` : why === 'reconnect' ? 'reconnected and resynchronised' : 'watched folder is back');
    this.safetyNet?.reset();
    this.safetyNet?.start();
  }

  private label(path: string): string {
    return `${this.share.label}${path ? `/${path}` : ''}`;
  }

  private folderOptions(tree: SmbTree) {
    return {
      // MS-SMB2 3.3.5.19: a server fails a CHANGE_NOTIFY whose OutputBufferLength is above its
      // MaxTransactSize (Samba: STATUS_INVALID_PARAMETER, on every re-arm): never ask for more.
      bufferSize: Math.min(this.opts.bufferSize ?? 1024 * 1024, tree.client.session.maxTransactSize),
      completionFilter: this.opts.completionFilter ?? DEFAULT_FILTER,
      outstanding: this.opts.outstanding ?? 2,
    };
  }

  private onEntries(fw: FolderWatch, entries: FileNotifyInformation[]): void {
    // The folder's removal (or the first half of its move) is processed already: what its handle
    // says has no place in the stream. Should it have moved, it is listed again at its new path
    // (FolderRegistry.move).
    if (fw.path !== this.root && !this.snapshot.full && !this.snapshot.hasFolder(fw.path)) {
      this.folders.missed(fw);
      return;
    }
    this.emit('notified', fw.path, entries);
    this.changes.process(fw.path, entries);
  }

  private async onFolderGone(fw: FolderWatch, statusName: string): Promise<void> {
    await this.folders.remove(fw);
    if (fw.path !== this.root) return; // its parent reports the removal
    this.rootGuard.markGone(`watched folder deleted (${statusName})`, 'notify');
  }

  private async startPolling(tree: SmbTree, why: string, untilRootReturns: boolean, emitFirst: boolean): Promise<void> {
    if (this.poller || this.stopped) return;
    this.safetyNet?.stop();
    void this.folders.closeAll();
    const interval = this.opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    const poller = new Poller({
      root: this.root,
      snapshot: this.snapshot,
      enqueue: (task) => this.queue.push(task),
      rescan: async (path, source, emit, deep) => {
        await this.sync.rescan(path, source, emit, deep);
      },
      rootDeleted: () => {
        this.stopPolling();
        this.rootGuard.markGone('watched folder deleted', 'poll');
      },
      rootReturned: async (t) => {
        this.stopPolling();
        this.rootGuard.returned();
        await this.establish(t, 'root-back');
      },
    }, tree, interval, untilRootReturns, emitFirst);
    this.poller = poller;
    this.setState('polling', untilRootReturns ? `${why}: waiting for it to come back` : `${why}: polling every ${interval / 1000} s`);
    await poller.first();
    if (this.poller === poller) poller.start();
  }

  private stopPolling(): void {
    this.poller?.stop();
    this.poller = null;
  }

  private readonly onLost = (err: Error): void => {
    if (this.stopped) return;
    this.folders.dropAll(); // their handles died with the connection
    this.safetyNet?.stop();
    this.stopPolling();
    this.setState('reconnecting', `connection lost (${err.message}); reconnecting`);
  };

  private readonly onRetrying = (err: Error, attempt: number, delayMs: number): void => {
    if (this.stopped) return;
    // In the words of the first attempt's error ('connection refused', not Node's ECONNREFUSED text).
    const why = describeSmbFailure(err, { host: this.share.opts.host, port: this.share.opts.port ?? 445 }) ?? err.message;
    const repeated = this.reconnectFailures.next(why);
    if (repeated !== null) this.emitState('reconnecting', `reconnect attempt ${attempt} failed (${why}); next in ${Math.round(delayMs / 1000)} s${repeated}`);
  };

  /** The session's ticket ended with no fresh one to take: the handles wait, nothing is lost. */
  private readonly onReauthFailed = (err: Error, delayMs: number): void => {
    if (this.stopped) return;
    this.reauthFailing = true;
    const repeated = this.reauthFailures.next(err.message);
    if (repeated !== null) this.emitState(this.stateNow, `${err.message}; changes are kept, next try in ${Math.max(1, Math.round(delayMs / 1000))} s${repeated}`);
  };

  /**
   * Said every time, so a renewal is never silent: 'ahead' is the normal case (once per ticket
   * life); 'expired' means a request met the expiry first (no fresher ticket was there in time).
   */
  private readonly onReauthenticated = (lifetime: number, when: 'ahead' | 'expired'): void => {
    if (this.stopped) return;
    const failing = this.reauthFailing;
    this.reauthFailing = false;
    this.reauthFailures.reset();
    const until = `new ticket valid until ${new Date(Date.now() + lifetime * 1000).toISOString().slice(0, 19)}Z`;
    if (when === 'ahead') this.emitState(this.stateNow, `Kerberos session renewed before its ticket ended (${until})`);
    else if (failing) this.emitState(this.stateNow, `Kerberos session renewed with a fresh ticket (${until})`);
    else this.emitState(this.stateNow, `Kerberos session expired with its ticket and was renewed with a fresh one (${until})`);
  };

  private readonly onConnected = (tree: SmbTree, reconnect: boolean): void => {
    if (!reconnect || this.stopped) return;
    this.reconnectFailures.reset();
    this.queue.push(async () => {
      try {
        await this.establish(tree, 'reconnect');
      } catch (err) {
        if (!isMissing(err)) throw err;
        this.rootGuard.markGone('watched folder is gone after reconnect', 'rescan');
      }
    });
  };

  private onInternalError(err: Error): void {
    if (this.stopped) return;
    // A connection error surfaces through 'lost'; anything else is reported, then resynchronised.
    this.emitState(this.stateNow, `error: ${err.message}`);
    const tree = this.share.tree;
    if (tree && !tree.client.closed) this.share.reset(err);
  }

  setState(state: WatchState, message: string): void {
    this.stateNow = state;
    this.emitState(state, message);
  }

  private emitState(state: WatchState, message: string): void {
    this.emit('event', this.events.stamp(this.events.state(state, message)));
  }

  /** Emit a change, in order behind those still in the outbox. */
  private emitChange(kind: ChangeKind, path: string, fields: ChangeFields = {}): void {
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
    const parentClosed = this.rootGuard.stop();
    this.overflows.dispose();
    this.safetyNet?.stop();
    this.names.dispose();
    this.sync.dispose();
    this.changes.flush();
    this.stopped = true;
    this.share.off('lost', this.onLost);
    this.share.off('connected', this.onConnected);
    this.share.off('retrying', this.onRetrying);
    this.share.off('reauthFailed', this.onReauthFailed);
    this.share.off('reauthenticated', this.onReauthenticated);
    this.changes.dispose();
    this.stopPolling();
    await Promise.all([this.folders.closeAll(), parentClosed]);
    await this.queue.idle();
    this.stateNow = 'stopped';
  }
}
