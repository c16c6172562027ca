/**
 * STATUS_NOTIFY_ENUM_DIR: say OVERFLOW once, then list the folder when the storm has passed.
 * During a large burst the server keeps overflowing while it drains its backlog, and listing
 * after every overflow (seconds for a big folder) keeps it busy and overflowing; so the listing
 * waits until the folder has been quiet for the longer of 500 ms and the last listing's
 * duration, and never more than 10 s after the first overflow.
 */
import type { FolderWatch } from './folder-watch.js';

const QUIET_MS = 500;
const AT_MOST_MS = 10_000;

export interface OverflowActions {
  /** Say OVERFLOW for the folder (in stream order). */
  announce(path: string): void;
  /** List the folder when it is still watched by this handle; false when it is not. */
  list(fw: FolderWatch): Promise<boolean>;
  enqueue(task: () => Promise<void> | void): void;
}

export class OverflowDebounce {
  /** Folders that overflowed and wait for their listing. */
  private readonly pending = new Map<string, { first: number; timer: NodeJS.Timeout | null }>();
  /** How long the last overflow listing took. */
  private lastListingMs = 0;

  constructor(private readonly actions: OverflowActions) {}

  get waiting(): number {
    return this.pending.size;
  }

  overflowed(fw: FolderWatch): void {
    const now = Date.now();
    let pending = this.pending.get(fw.path);
    if (!pending) {
      pending = { first: now, timer: null };
      this.pending.set(fw.path, pending);
      const path = fw.path;
      this.actions.enqueue(() => this.actions.announce(path));
    }
    if (pending.timer) clearTimeout(pending.timer);
    const wait = Math.max(0, Math.min(Math.max(QUIET_MS, this.lastListingMs), pending.first + AT_MOST_MS - now));
    pending.timer = setTimeout(() => {
      this.pending.delete(fw.path);
      this.actions.enqueue(async () => {
        const started = Date.now();
        if (await this.actions.list(fw)) this.lastListingMs = Date.now() - started;
      });
    }, wait);
  }

  dispose(): void {
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    this.pending.clear();
  }
}
