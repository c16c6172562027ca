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
  /** Items in order from `head` on; the ones before it went out (cut away now and then). */
  private items: OutItem[] = [];
  private head = 0;
  /** Indexes, so that a burst of 100,000 waiting items costs no scan per notification. */
  private readonly present = new Set<OutItem>();
  private readonly halvesByName = new Map<string, Set<OutItem>>();
  private readonly movedTo = new Map<string, number>();
  /** Waiting items by their event's path (mostly one), so that a move finds those about a path. */
  private readonly byPath = new Map<string, OutItem | OutItem[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly windowMs: number,
    private readonly emit: (e: WatchEvent) => void,
  ) {}

  get pending(): number {
    return this.items.length - this.head;
  }

  push(item: OutItem): void {
    if (this.windowMs <= 0 && this.pending === 0 && !item.awaiting) {
      this.release(item);
      return;
    }
    item.releaseAt = Date.now() + (item.half ? this.windowMs : 0);
    this.items.push(item);
    this.track(item);
    this.schedule();
  }

  /** A pending half of the other kind, for the same name in another folder. */
  findOtherHalf(half: 'create' | 'delete', path: string): { item: OutItem; detached: Detached | undefined } | undefined {
    const parent = parentOf(path);
    for (const i of this.halvesByName.get(baseName(path)) ?? []) {
      if (i.half === half && parentOf(i.event.path) !== parent) return { item: i, detached: i.detached };
    }
    return undefined;
  }

  /**
   * A folder moved (from or to `dir`): pending halves below it stop waiting for a partner. The
   * same name under the old and the new path of one folder is not a move between two folders.
   */
  settleUnder(dir: string): void {
    for (const halves of this.halvesByName.values()) {
      for (const i of halves) if (i.half && i.event.path !== dir && isWithin(i.event.path, dir)) i.half = undefined;
    }
  }

  /** Put `replacement` where `item` stands, released with it. */
  replace(item: OutItem, replacement: OutItem[]): void {
    const i = this.indexOf(item);
    if (i >= 0) this.swap(item, i, i, replacement);
  }

  /**
   * Put a move's pair where its creation half `item` stands, unless items about the old path
   * `from` still wait behind it: what the server reported of the old name before removing it (a
   * MODIFY after the creation, say) came first and must go out first, so the pair goes after the
   * last of them, and the items about the new path `to` it passes there move behind it.
   */
  replaceMove(item: OutItem, pair: OutItem[], from: string, to: string): void {
    const i = this.indexOf(item);
    if (i < 0) return;
    let last = i;
    for (const o of this.about(from)) last = Math.max(last, this.indexOf(o));
    this.swap(item, i, last, pair, new Set(this.about(to)));
  }

  /**
   * Take out `item` (at `i`) and put `replacement`, released with it, after the items up to
   * `last`; of those, the ones in `behind` go after the replacement.
   */
  private swap(item: OutItem, i: number, last: number, replacement: OutItem[], behind = new Set<OutItem>()): void {
    const between = this.items.slice(i + 1, last + 1);
    for (const r of replacement) r.releaseAt = item.releaseAt ?? 0;
    this.items.splice(i, last - i + 1, ...between.filter((o) => !behind.has(o)), ...replacement, ...between.filter((o) => behind.has(o)));
    this.untrack(item);
    for (const r of replacement) this.track(r);
    this.drain(false);
  }

  /** An awaited item may go (with what was learnt meanwhile in its fields). */
  settle(item: OutItem): void {
    if (!item.awaiting) return;
    item.awaiting = false;
    if (this.present.has(item)) this.drain(false);
  }

  /** Take an item back before it went out (a name that turned out not to be listed). */
  cancel(item: OutItem): boolean {
    const i = this.indexOf(item);
    if (i < 0) return false;
    this.items.splice(i, 1);
    this.untrack(item);
    this.drain(false);
    return true;
  }

  /** Whether a MOVED_TO of `path` is still waiting here (what follows it may be its echo). */
  holdsMoveTo(path: string): boolean {
    return this.movedTo.has(path);
  }

  /** Whether an item is still waiting here. */
  holds(item: OutItem): boolean {
    return this.present.has(item);
  }

  /** A later pending item for `path` of one of `kinds` (a DELETE following a CREATE, say). */
  findAfter(item: OutItem, path: string, kinds: ChangeKind[]): OutItem | undefined {
    const i = this.indexOf(item);
    if (i < 0) return undefined;
    for (let j = i + 1; j < this.items.length; j++) {
      const x = this.items[j]!;
      if (x.event.path === path && kinds.includes(x.event.event as ChangeKind)) return x;
    }
    return undefined;
  }

  private indexOf(item: OutItem): number {
    return this.present.has(item) ? this.items.indexOf(item, this.head) : -1;
  }

  private track(item: OutItem): void {
    this.present.add(item);
    if (item.half) {
      const name = baseName(item.event.path);
      const halves = this.halvesByName.get(name) ?? new Set<OutItem>();
      halves.add(item);
      this.halvesByName.set(name, halves);
    }
    if (item.event.event === 'MOVED_TO') this.movedTo.set(item.event.path, (this.movedTo.get(item.event.path) ?? 0) + 1);
    const same = this.byPath.get(item.event.path);
    if (same === undefined) this.byPath.set(item.event.path, item);
    else if (Array.isArray(same)) same.push(item);
    else this.byPath.set(item.event.path, [same, item]);
  }

  private about(path: string): OutItem[] {
    const same = this.byPath.get(path);
    return same === undefined ? [] : Array.isArray(same) ? same : [same];
  }

  private untrack(item: OutItem): void {
    this.present.delete(item);
    const same = this.byPath.get(item.event.path);
    if (same === item) this.byPath.delete(item.event.path);
    else if (Array.isArray(same)) {
      const k = same.indexOf(item);
      if (k >= 0) same.splice(k, 1);
      if (same.length === 0) this.byPath.delete(item.event.path);
    }
    const name = baseName(item.event.path);
    const halves = this.halvesByName.get(name);
    if (halves?.delete(item) && halves.size === 0) this.halvesByName.delete(name);
    if (item.event.event === 'MOVED_TO') {
      const n = this.movedTo.get(item.event.path) ?? 0;
      if (n <= 1) this.movedTo.delete(item.event.path);
      else this.movedTo.set(item.event.path, n - 1);
    }
  }

  private get first(): OutItem | undefined {
    return this.items[this.head];
  }

  private schedule(): void {
    const first = this.first;
    if (this.timer || !first || first.awaiting) return;
    const wait = Math.max(0, (first.releaseAt ?? 0) - Date.now());
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
    for (let first = this.first; first && (all || (!first.awaiting && (first.half === undefined || (first.releaseAt ?? 0) <= now))); first = this.first) {
      this.head++;
      this.untrack(first);
      this.release(first);
    }
    // Cut what went out once it is most of the array (shifting one by one would be quadratic).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    } else if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
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
    this.items = [];
    this.head = 0;
    this.present.clear();
    this.halvesByName.clear();
    this.movedTo.clear();
    this.byPath.clear();
  }
}
