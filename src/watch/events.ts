/**
 * The normalized event (docs/architecture.md, "The normalized event"): one vocabulary for the CLI stream, the
 * journal and D-Bus, named after inotify so that scripts written for inotifywait read it naturally.
 */

export type ChangeKind = 'CREATE' | 'DELETE' | 'MODIFY' | 'MOVED_FROM' | 'MOVED_TO' | 'OVERFLOW' | 'DELETE_SELF';
export type EventKind = ChangeKind | 'STATE';
export type EventSource = 'notify' | 'poll' | 'rescan';

/** What a watch is doing; `STATE` events announce each transition. */
export type WatchState = 'connecting' | 'watching' | 'polling' | 'reconnecting' | 'stopped';

export interface WatchEvent {
  /** Increases by one per event of a watcher (STATE events included). */
  seq: number;
  /** ISO 8601 time the event was made here. */
  time: string;
  event: EventKind;
  server: string;
  share: string;
  /** Share-relative, `/`-separated, no leading slash; '' is the share root. */
  path: string;
  /** On MOVED_TO: where the item was before. */
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
}

export const CHANGE_KINDS: readonly ChangeKind[] = ['CREATE', 'DELETE', 'MODIFY', 'MOVED_FROM', 'MOVED_TO', 'OVERFLOW', 'DELETE_SELF'];

export function joinPath(dir: string, name: string): string {
  if (!dir) return name;
  if (!name) return dir;
  return `${dir}/${name}`;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** True when `path` is `dir` or lies below it. */
export function isWithin(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}
