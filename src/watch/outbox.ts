/**
 * Events wait here for a short window before they go out, in order. Samba reports a move between
 * two folders as REMOVED on one handle and ADDED on the other, in either order and in separate
 * responses; within the window the two are found here and become one MOVED_FROM / MOVED_TO pair.
 * With a window of 0 (non-recursive watches, where the other folder is not watched) events go out
 * at once.
 */
import type { ChangeKind, WatchEvent } from './events.js';
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
  /**
   * Held until `settle` (its type being found out, or a rename's other half): everything after it
   * waits too, so events leave in the server's order.
   */
  awaiting?: boolean;
  /** Checked when the item's time comes: true drops it (a MODIFY of what turned out a folder). */
  dropIf?: () => boolean;
  /** Events that go out just before this one (what a deleted folder held, deepest first). */
  preceding?: WatchEvent[];
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
    if (this.windowMs <= 0 && this.items.length === 0 && !item.awaiting) {
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

  /** An awaited item may go (with what was learnt meanwhile in its fields). */
  settle(item: OutItem): void {
    if (!item.awaiting) return;
    item.awaiting = false;
    if (this.items.includes(item)) this.drain(false);
  }

  /** Take an item back before it went out (a name that turned out not to be listed). */
  cancel(item: OutItem): boolean {
    const i = this.items.indexOf(item);
    if (i < 0) return false;
    this.items.splice(i, 1);
    this.drain(false);
    return true;
  }

  /** Whether a MOVED_TO of `path` is still waiting here (what follows it may be its echo). */
  holdsMoveTo(path: string): boolean {
    return this.items.some((i) => i.event.event === 'MOVED_TO' && i.event.path === path);
  }

  /** Whether an item is still waiting here. */
  holds(item: OutItem): boolean {
    return this.items.includes(item);
  }

  /** A later pending item for `path` of one of `kinds` (a DELETE following a CREATE, say). */
  findAfter(item: OutItem, path: string, kinds: ChangeKind[]): OutItem | undefined {
    const i = this.items.indexOf(item);
    return i < 0 ? undefined : this.items.slice(i + 1).find((x) => x.event.path === path && kinds.includes(x.event.event as ChangeKind));
  }

  private schedule(): void {
    if (this.timer || this.items.length === 0 || this.items[0]!.awaiting) return;
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
    while (this.items.length && (all || (!this.items[0]!.awaiting && (this.items[0]!.half === undefined || (this.items[0]!.releaseAt ?? 0) <= now)))) {
      this.release(this.items.shift()!);
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.schedule();
  }

  private release(item: OutItem): void {
    if (item.dropIf?.()) return;
    for (const e of item.preceding ?? []) this.emit(e);
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
