/**
 * One watch of the daemon: its target, where it came from, its filters, and a life of its own. A
 * watch whose first connect fails for a reason time can fix (server down, network gone) retries
 * with backoff; one that fails for good (wrong password, no such share or folder) stops and says
 * why in its status.
 */
import { EventEmitter } from 'node:events';
import { stateWords, type ChangeKind, type WatchEvent, type WatchState } from '../watch/events.js';
import type { ShareConnection } from '../smb/share-connection.js';
import { isDfsLink, isMissing, isPermanent } from '../smb/status.js';
import { RepeatedFailure } from '../watch/repeated-failure.js';
import { Watcher } from '../watch/watcher.js';
import { notifyTraceLine, traceEnabled } from '../watch/trace.js';
import { escapeForTerminal } from '../watch/safe-text.js';
import type { DaemonEvent, WatchOrigin, WatchStatus } from '../sinks/types.js';
import { WatchView, type WatchViewSpec } from './watch-view.js';
import { describeSmbFailure, type ErrorContext } from '../smb/describe.js';
import type { CifsNameMap } from '../platform/cifs-names.js';

export interface WatchEntrySpec {
  id: string;
  target: string;
  origin: WatchOrigin;
  path: string;
  recursive: boolean;
  events?: ChangeKind[];
  include?: RegExp;
  exclude?: RegExp;
  pollIntervalSeconds?: number;
  /** Base interval of the safety net; 0 turns it off; default: the engine's. */
  safetyNetSeconds?: number;
  localPathOf: (sharePath: string) => string | undefined;
  /** How the cifs mount showing a share-relative path shows names Windows forbids (for the view). */
  namesOf?: (sharePath: string) => CifsNameMap | undefined;
  /** A live view of the watched folder (implies recursive). */
  view?: WatchViewSpec;
}

export class WatchEntry extends EventEmitter<{ event: [DaemonEvent] }> {
  readonly watcher: Watcher;
  private stateNow: WatchState = 'connecting';
  private messageNow = 'starting';
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  private attempt = 0;
  /** A first connect that keeps failing the same way is said at growing intervals. */
  private readonly connectFailures = new RepeatedFailure();
  /**
   * The watch's own numbering and counters, of the events that pass its filters (events=,
   * include=, exclude=): a script reading seq sees no gap for what it asked not to see, and
   * status counts what it was sent.
   */
  private seq = 0;
  private passed = 0;
  private lastPassedTime: string | null = null;
  private readonly view: WatchView | null;

  constructor(readonly spec: WatchEntrySpec, readonly share: ShareConnection, private readonly log: (line: string) => void) {
    super();
    this.watcher = new Watcher(share, {
      path: spec.path,
      recursive: spec.recursive,
      localPathOf: spec.localPathOf,
      watchId: spec.id,
      ...(spec.pollIntervalSeconds ? { pollIntervalMs: spec.pollIntervalSeconds * 1000 } : {}),
      ...(spec.safetyNetSeconds !== undefined ? { safetyNetMs: spec.safetyNetSeconds * 1000 } : {}),
    });
    this.watcher.on('event', (e) => this.onEvent(e));
    if (traceEnabled('notify')) this.watcher.on('notified', (folder, entries) => log(`${spec.id}: ${notifyTraceLine(folder, entries)}`));
    const view = spec.view && spec.pollIntervalSeconds ? { ...spec.view, pollIntervalMs: spec.pollIntervalSeconds * 1000 } : spec.view;
    this.view = view ? new WatchView(view, (line) => log(`${spec.id}: ${line}`)) : null;
  }

  get id(): string {
    return this.spec.id;
  }

  /**
   * Connect (or join the share's connection) and start watching; never throws. Resolves, after
   * the first attempt, with the error when it failed for good (wrong password, no such share or
   * folder, a DFS link: stopped), else undefined (watching, or retrying what may come back).
   */
  async start(): Promise<unknown> {
    if (this.stopped) return undefined;
    try {
      await this.share.connect();
      // The share's own reconnect may have started this watcher meanwhile.
      // 'reconnecting' here is this entry's own state after a failed first connect (set below),
      // not a started watcher: without this, a watch whose first connect failed never started.
      if (this.watcher.state === 'connecting' || (this.attempt > 0 && this.watcher.state === 'reconnecting')) await this.watcher.start();
      this.attempt = 0;
      this.connectFailures.reset();
      if (this.view?.state === 'starting') await this.startView(this.view);
      return undefined;
    } catch (err) {
      if (this.stopped) return undefined;
      const message = describeSmbFailure(err, this.context) ?? (err as Error).message;
      // A DFS link stays one until someone replaces it, as a missing folder stays missing.
      if (isPermanent(err) || isMissing(err) || isDfsLink(err)) {
        this.setState('stopped', `cannot watch: ${message}`);
        return err;
      }
      this.attempt++;
      const delay = Math.min(60_000, 1000 * 2 ** Math.min(this.attempt - 1, 6)) * (0.8 + Math.random() * 0.4);
      const repeated = this.connectFailures.next(message);
      // "cannot connect (cannot connect to HOST:PORT: connection refused)" would say it twice.
      const now = `${/^cannot connect\b/.test(message) ? message : `cannot connect (${message})`}; retrying in ${Math.round(delay / 1000)} s`;
      if (repeated !== null) this.setState('reconnecting', `${now}${repeated}`);
      else this.messageNow = now;
      this.retry = setTimeout(() => void this.start(), delay);
      return undefined;
    }
  }

  private startView(view: WatchView): Promise<void> {
    const local = { path: this.spec.localPathOf(this.spec.path), names: this.spec.namesOf?.(this.spec.path) };
    return view.start(this.spec.path, local, `${this.share.label}${this.spec.path ? `/${this.spec.path}` : ''}`, () => this.watcher.state, this.watcher.namesIn(this.spec.path));
  }

  /** SIGHUP: a view that failed is tried again (at once when the watch runs, else once it does). */
  async retryView(): Promise<void> {
    if (this.stopped || !this.view || !(await this.view.reset())) return;
    if (this.watcher.state === 'watching' || this.watcher.state === 'polling') await this.startView(this.view);
  }

  /**
   * Mounts came or went: a view waiting for a local folder that shows its share starts once one
   * does (a cifs mount made at login, an automount), without waiting for a SIGHUP.
   */
  async mountsChanged(): Promise<void> {
    if (!this.view?.waitsForBacking || this.spec.localPathOf(this.spec.path) === undefined) return;
    await this.retryView();
  }

  /** Host, share and path, for messages in the words the command line uses. */
  get context(): ErrorContext {
    return { host: this.share.opts.host, port: this.share.opts.port ?? 445, share: this.share.opts.share, path: this.spec.path };
  }

  private onEvent(e: WatchEvent): void {
    // The view replays everything: its filters are those of the file manager looking at it.
    this.view?.handle(e);
    if (e.event === 'STATE') {
      this.stateNow = e.state ?? this.stateNow;
      this.messageNow = e.message ?? '';
      const label = `${this.share.label}${this.spec.path ? `/${this.spec.path}` : ''}`;
      // The path and the message may hold names from the server (or a D-Bus caller's target): escaped as the stream escapes them.
      this.log(`${this.spec.id} ${escapeForTerminal(label)}: ${escapeForTerminal(stateWords(this.stateNow, this.messageNow, label))}`);
    } else {
      if (this.spec.events && !this.spec.events.includes(e.event as ChangeKind)) return;
      if (this.spec.include && !this.spec.include.test(e.path)) return;
      if (this.spec.exclude && this.spec.exclude.test(e.path)) return;
      this.passed++;
      this.lastPassedTime = e.time;
    }
    // The watcher stamped our id on it; the number is ours (see seq above).
    this.emit('event', { ...e, seq: ++this.seq } as DaemonEvent);
  }

  /** A state of the watch's own (before its watcher runs), announced through the watcher's stream. */
  private setState(state: WatchState, message: string): void {
    this.stateNow = state;
    this.messageNow = message;
    this.watcher.setState(state, message);
  }

  status(): WatchStatus {
    const tree = this.share.tree;
    const session = tree?.client.session;
    // A share that requires encryption (SMB2_SHAREFLAG_ENCRYPT_DATA) has this watch's traffic
    // encrypted although the session does not encrypt everything: say so, as `info` does.
    const shareCipher = tree?.info.encrypted ? tree.client.connection.security?.cipher?.name ?? null : null;
    return {
      id: this.spec.id,
      target: this.spec.target,
      label: `${this.share.label}${this.spec.path ? `/${this.spec.path}` : ''}`,
      origin: this.spec.origin,
      recursive: this.spec.recursive,
      state: this.stopped ? 'stopped' : this.watcher.state === 'connecting' ? this.stateNow : this.watcher.state,
      message: this.messageNow,
      dialect: session?.dialect ?? null,
      encryption: session?.encryption ?? shareCipher,
      signing: session?.encryption || shareCipher ? null : session?.signing ?? null,
      eventsSeen: this.passed,
      lastEventTime: this.lastPassedTime,
      localPath: this.spec.localPathOf(this.spec.path) ?? null,
      ...(this.view
        ? { view: this.view.mountPoint, viewBacking: this.view.backing, viewState: this.view.state, viewMessage: this.view.message }
        : {}),
    };
  }

  /** Ends the watch; its last STATE says so (`why`), to the journal, D-Bus and MQTT alike. */
  async stop(why = 'watch removed'): Promise<void> {
    if (!this.stopped && this.stateNow !== 'stopped') this.setState('stopped', why);
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.view?.stop();
    await this.watcher.stop();
  }
}
