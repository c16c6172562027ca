/** Shapes shared by the daemon and its sinks. */
import type { WatchEvent, WatchState } from '../watch/events.js';

/** An event as the daemon publishes it: the watcher's event plus the id of its watch. */
export interface DaemonEvent extends WatchEvent {
  /** The daemon's id of the watch that saw it (`w1`, `w2`, ...). */
  watchId: string;
}

/** Where a watch came from. */
export type WatchOrigin = 'config' | 'command-line' | 'dbus' | 'desktop' | 'mount';

export interface WatchStatus {
  id: string;
  /** The target as configured: smb:// URL, //HOST/SHARE/PATH, or a local path. */
  target: string;
  /** `//host[:port]/share/path`, never with credentials. */
  label: string;
  origin: WatchOrigin;
  recursive: boolean;
  state: WatchState;
  message: string;
  dialect: string | null;
  encryption: string | null;
  signing: string | null;
  eventsSeen: number;
  lastEventTime: string | null;
  /** Local folder of the watched path when the share is mounted here. */
  localPath: string | null;
  /** The watch's live view, when it has one: where it is mounted, what backs it, its state. */
  view?: string | null;
  viewBacking?: string | null;
  viewState?: string | null;
  viewMessage?: string | null;
}

export interface DaemonStatus {
  version: string;
  pid: number;
  startedAt: string;
  journal: string | null;
  watches: number;
  /** The MQTT broker (URL without user information), when the daemon publishes to one. */
  mqtt?: string;
  /** `connected`, `connecting` (not yet, since the start) or `disconnected` (lost, being retried). */
  mqttState?: 'connected' | 'connecting' | 'disconnected';
  /** Why it is not connected (the log's words), while it is not. */
  mqttMessage?: string;
  /** Bytes of events waiting in the disk queue for the broker. */
  mqttQueued?: number;
  /** Events dropped because the queue was full, not yet announced by an OVERFLOW. */
  mqttDropped?: number;
}

/** What a sink adds to the daemon's status (GetStatus, `smbnotify status`). */
export type SinkStatus = Partial<Pick<DaemonStatus, 'mqtt' | 'mqttState' | 'mqttMessage' | 'mqttQueued' | 'mqttDropped'>>;

/** Options of a watch added at run time (D-Bus AddWatch); never a password. */
export interface AddWatchOptions {
  recursive?: boolean;
  /** A credentials file (mode 0600), as for -A. */
  credentialsFile?: string;
  /** Log on as guest. */
  guest?: boolean;
  pollIntervalSeconds?: number;
  /**
   * The uid of the D-Bus caller (from the bus, never from the caller's options): a credentials
   * file is used only if this user could read it.
   */
  callerUid?: number;
  /** Kerberos, as --use-kerberos; a sec=krb5 mount implies 'required'. */
  kerberos?: 'required' | 'desired' | 'off';
  /** Kerberos credential cache, as --use-krb5-ccache. */
  krb5Ccache?: string;
  /** Connect to this address; the target's host still names the server (cifs/HOST). */
  ipAddress?: string;
}

/** What the D-Bus API calls into. */
export interface DaemonControl {
  addWatch(target: string, opts: AddWatchOptions): Promise<string>;
  removeWatch(id: string): Promise<void>;
  listWatches(): WatchStatus[];
  status(): DaemonStatus;
}

/** Something that publishes events: D-Bus signals, KDirNotify, the journal. */
export interface EventSink {
  publish(e: DaemonEvent): void;
  /** A watch changed state (also sent as a STATE event through publish). */
  close(): Promise<void>;
  /** Its own part of the daemon's status, for a sink that can be away (MQTT). */
  status?(): SinkStatus;
}
