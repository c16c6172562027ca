/**
 * Events wait here for a short window before they go out, in order. Samba reports a move between
 * two folders as REMOVED on one handle and ADDED on the other, in either order and in separate
 * responses; within the window the two are found here and become one MOVED_FROM / MOVED_TO pair.
 * With a window of 0 (non-recursive watches, where the other folder is not watched) events go out
 * at once.
 */
import type { WatchEvent } from './events.js';
import type { Detached } from './snapshot.js';
import { baseName, isWithin, parentOf } from './paths.js';

export interface OutItem {
  /** The event, built once; numbered and timed when it goes out. */
  event: WatchEvent;
  /** A notification that may still turn out to be half of a move. */
  half?: 'create' | 'delete';
  /** What a pending removal took out of the snapshot, for a move to put back. */
  detached?: Detached;
  /** Run when the item goes out (closing the handles of a deleted folder, say). */
  onRelease?: () => void;
  releaseAt?: number;
}

export class EventOutbox {
  private readonly items: OutItem[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly windowMs: number,
    private readonly emit: (e: WatchEvent) => void,
  ) {}

  get pending(): number {
    return this.items.length;
  }

  push(item: OutItem): void {
    if (this.windowMs <= 0 && this.items.length === 0) {
      this.release(item);
      return;
    }
    item.releaseAt = Date.now() + (item.half ? this.windowMs : 0);
    this.items.push(item);
    this.schedule();
  }

  /** A pending half of the other kind, for the same name in another folder. */
  findOtherHalf(half: 'create' | 'delete', path: string): { item: OutItem; detached: Detached | undefined } | undefined {
    const name = baseName(path);
    const parent = parentOf(path);
    const item = this.items.find((i) => i.half === half && baseName(i.event.path) === name && parentOf(i.event.path) !== parent);
    return item ? { item, detached: item.detached } : undefined;
  }

  /**
   * A folder moved (from or to `dir`): pending halves below it stop waiting for a partner. The
   * same name under the old and the new path of one folder is not a move between two folders.
   */
  settleUnder(dir: string): void {
    for (const i of this.items) if (i.half && i.event.path !== dir && isWithin(i.event.path, dir)) i.half = undefined;
  }

  /** Put `replacement` where `item` stands, released with it. */
  replace(item: OutItem, replacement: OutItem[]): void {
    const i = this.items.indexOf(item);
    if (i < 0) return;
    for (const r of replacement) r.releaseAt = item.releaseAt ?? 0;
    this.items.splice(i, 1, ...replacement);
    this.drain(false);
  }

  private schedule(): void {
    if (this.timer || this.items.length === 0) return;
    const wait = Math.max(0, (this.items[0]!.releaseAt ?? 0) - Date.now());
    if (wait === 0) {
      this.drain(false);
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.drain(false);
    }, wait);
  }

  /** Release, in order, every item whose time has come (all of them when `all`). */
  drain(all: boolean): void {
    const now = Date.now();
    while (this.items.length && (all || this.items[0]!.half === undefined || (this.items[0]!.releaseAt ?? 0) <= now)) {
      this.release(this.items.shift()!);
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.schedule();
  }

  private release(item: OutItem): void {
    item.onRelease?.();
    this.emit(item.event);
  }

  /** Everything out now (shutdown). */
  flush(): void {
    this.drain(true);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.items.length = 0;
  }
}
