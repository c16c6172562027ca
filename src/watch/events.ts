/**
 * The normalized event (docs/architecture.md, "The normalized event"): one vocabulary for the CLI
 * stream, the journal and D-Bus, named after inotify so that scripts written for inotifywait read
 * it naturally. An event is built here, once (EventFactory), and this module also owns its record
 * form: the fields in the one order every output uses (JSON line, journal, D-Bus dictionary), each
 * with its D-Bus type.
 */
import { jsonLine } from './safe-text.js';

export type ChangeKind = 'CREATE' | 'DELETE' | 'MODIFY' | 'MOVED_FROM' | 'MOVED_TO' | 'OVERFLOW' | 'DELETE_SELF';
export type EventKind = ChangeKind | 'STATE';
export type EventSource = 'notify' | 'poll' | 'rescan';

/** What a watch is doing; `STATE` events announce each transition. */
export type WatchState = 'connecting' | 'watching' | 'polling' | 'reconnecting' | 'stopped';

/**
 * A state change for a log line, saying the state once: the message of a STATE event often names
 * it already (`watching //server/share/folder`, `connection lost (...); reconnecting`), which
 * `state: message` would say twice ("watching: watching //server/share/folder"). `label` is the
 * watch's own (`//server/share/folder`): a message that only names it says nothing more.
 */
export function stateWords(state: WatchState, message: string, label?: string): string {
  if (message === '' || (label !== undefined && message === `${state} ${label}`)) return state;
  if (message.startsWith(`${state} `) || message.endsWith(`; ${state}`)) return message;
  return `${state}: ${message}`;
}

export interface WatchEvent {
  /** Increases by one per event of a watcher (STATE events included). */
  seq: number;
  /** ISO 8601 time the event was made here. */
  time: string;
  event: EventKind;
  /** The host, `host:port` when the port is not 445 (ShareConnection.server). */
  server: string;
  share: string;
  /** Share-relative, `/`-separated, no leading slash; '' is the share root. */
  path: string;
  /** On MOVED_TO: where the item was before. Moves are paired once, in watch/: read this. */
  oldPath?: string;
  /** The same item's path on a local cifs/smb3 mount, when there is one. */
  localPath?: string;
  source?: EventSource;
  /** The raw FILE_ACTION code (MS-FSCC 2.7.1) the event came from, when it came from one. */
  action?: number;
  /** True when the item is a folder, when known. */
  isDir?: boolean;
  /** Alternate data stream name for stream actions (reported as MODIFY of the file). */
  stream?: string;
  /** STATE events: the new state and why. */
  state?: WatchState;
  message?: string;
  /** The watched folder (share-relative) this event belongs to. */
  watch?: string;
  /** The daemon's id of the watch that saw it (`w1`, `w2`, ...); unset outside the daemon. */
  watchId?: string;
}

export const CHANGE_KINDS: readonly ChangeKind[] = ['CREATE', 'DELETE', 'MODIFY', 'MOVED_FROM', 'MOVED_TO', 'OVERFLOW', 'DELETE_SELF'];

/** D-Bus type codes of the record's fields: string, uint64, uint32, boolean. */
export type FieldType = 's' | 't' | 'u' | 'b';

/** Every field of an event in record order, with its D-Bus type. */
export const EVENT_FIELDS: ReadonlyArray<readonly [keyof WatchEvent, FieldType]> = [
  ['seq', 't'],
  ['time', 's'],
  ['event', 's'],
  ['server', 's'],
  ['share', 's'],
  ['path', 's'],
  ['oldPath', 's'],
  ['localPath', 's'],
  ['source', 's'],
  ['action', 'u'],
  ['isDir', 'b'],
  ['stream', 's'],
  ['state', 's'],
  ['message', 's'],
  ['watch', 's'],
  ['watchId', 's'],
];

export type EventRecord = Record<string, string | number | boolean>;

/** An event's fields in record order, without the ones that are not set. */
export function eventRecord(e: WatchEvent): EventRecord {
  const out: EventRecord = {};
  for (const [key] of EVENT_FIELDS) {
    const v = e[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** The JSON line of an event (`watch --json`, the journal): its record, safe on a terminal. */
export function eventJson(e: WatchEvent): string {
  return jsonLine(eventRecord(e));
}

/** What a change carries besides its kind and path. */
export type ChangeFields = Pick<WatchEvent, 'oldPath' | 'source' | 'action' | 'isDir' | 'stream' | 'message'>;

/** Where a watcher's events come from: the same for all of them. */
export interface EventOrigin {
  server: string;
  share: string;
  /** The watched folder. */
  watch: string;
  watchId?: string;
  /** Maps a share-relative path to a local path when the share is mounted here. */
  localPathOf?: (path: string) => string | undefined;
}

/**
 * Builds a watcher's events: complete when made, but for `seq` and `time`, which `stamp` gives
 * them when they go out (a change may wait in the outbox for the other half of a move). Every
 * field is present from the start, in record order, so that every event has the same shape.
 */
export class EventFactory {
  private seq = 0;

  constructor(private readonly origin: EventOrigin) {}

  change(event: ChangeKind, path: string, f: ChangeFields = {}): WatchEvent {
    const o = this.origin;
    return {
      seq: 0,
      time: '',
      event,
      server: o.server,
      share: o.share,
      path,
      oldPath: f.oldPath,
      localPath: o.localPathOf?.(path),
      source: f.source,
      action: f.action,
      isDir: f.isDir,
      stream: f.stream,
      state: undefined,
      message: f.message,
      watch: o.watch,
      watchId: o.watchId,
    };
  }

  state(state: WatchState, message: string): WatchEvent {
    const o = this.origin;
    return {
      seq: 0,
      time: '',
      event: 'STATE',
      server: o.server,
      share: o.share,
      path: o.watch,
      oldPath: undefined,
      localPath: undefined,
      source: undefined,
      action: undefined,
      isDir: undefined,
      stream: undefined,
      state,
      message,
      watch: o.watch,
      watchId: o.watchId,
    };
  }

  /** Number and time the event as it goes out. */
  stamp(e: WatchEvent): WatchEvent {
    e.seq = ++this.seq;
    e.time = new Date().toISOString();
    return e;
  }
}
