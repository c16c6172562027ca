/**
 * What the watch's parts ask of it as it runs: the current tree (null while disconnected),
 * whether it stopped, whether it polls. One object answers for all of them (watcher.ts).
 */
import type { SmbTree } from '../smb/tree.js';

export interface WatchLiveState {
  /** The current tree, or null while disconnected. */
  readonly tree: SmbTree | null;
  readonly stopped: boolean;
  /** Polling: no handles are opened. */
  readonly polling: boolean;
}

/** A part's context that reads tree, stopped and polling from `live`, when they are read. */
export function withLiveState<T extends Partial<WatchLiveState>>(live: WatchLiveState, context: Omit<T, keyof WatchLiveState>): T {
  return Object.assign(Object.create(live) as WatchLiveState, context) as unknown as T;
}
