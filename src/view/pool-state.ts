/**
 * The backing threads' state in shared memory, so that the serving thread (which never runs its
 * event loop: it sits in a blocking read of /dev/fuse) and the main thread (which fails the
 * requests still waiting when the view stops) can see it: per thread, whether it is busy, the
 * request it is answering, whether that request may be abandoned and whether it has finished
 * starting; a counter bumped each time a thread becomes free, to wait on. A thread may also be
 * preparing the next part of a listing (readdirplus.ts): then it takes that request only. And a
 * count of the requests with effects done (and replays), which tells whether attributes read
 * ahead may still be used.
 *
 * Request buffers holding WRITE data are shared too (slots): the first 4 bytes say "in use", the
 * request starts at SLOT_DATA. The backing thread that writes the data frees the slot.
 */

export const MAX_THREADS = 16;
export const SLOT_DATA = 8;

const FREED = 0;
const BUSY = 1;
const ABANDONABLE = 1 + MAX_THREADS;
const READY = 1 + 2 * MAX_THREADS;
const CHANGES = 1 + 3 * MAX_THREADS;
const INTS = 2 + 3 * MAX_THREADS;
/** The requests' unique ids follow the ints, 8-aligned. */
const UNIQUES = Math.ceil((INTS * 4) / 8) * 8;

/** BUSY values: a thread preparing the next part of a listing takes that part's request only. */
const FREE = 0;
const TAKEN = 1;
const PREPARING = 2;

export class PoolState {
  private readonly ints: Int32Array;
  private readonly uniques: BigInt64Array;

  constructor(readonly shared: SharedArrayBuffer) {
    this.ints = new Int32Array(shared, 0, INTS);
    this.uniques = new BigInt64Array(shared, UNIQUES, MAX_THREADS);
  }

  static create(): PoolState {
    return new PoolState(new SharedArrayBuffer(UNIQUES + MAX_THREADS * 8));
  }

  /** A free thread among the first `count`, or -1. */
  idle(count: number): number {
    for (let i = 0; i < count; i++) if (Atomics.load(this.ints, BUSY + i) === FREE) return i;
    return -1;
  }

  /** Whether thread `i` may be handed a request it prepared for: free, or preparing it. */
  takeable(i: number): boolean {
    return Atomics.load(this.ints, BUSY + i) !== TAKEN;
  }

  /**
   * Called by backing thread `i` before the reply of a request after which it prepares the next
   * one: from then on the serving thread may hand it that request (it runs once prepared).
   */
  preparing(i: number): void {
    Atomics.store(this.ints, BUSY + i, PREPARING);
  }

  /**
   * Called by the serving thread to have free thread `i` prepare a listing's next part: true when
   * it was free (it is preparing now), false when it is busy.
   */
  startPreparing(i: number): boolean {
    return Atomics.compareExchange(this.ints, BUSY + i, FREE, PREPARING) === FREE;
  }

  /** Called by backing thread `i` when prepared: free, unless handed a request meanwhile. */
  prepared(i: number): void {
    if (Atomics.compareExchange(this.ints, BUSY + i, PREPARING, FREE) === PREPARING) this.freed();
  }

  /** Called by a backing thread when a request with effects is done, before its reply. */
  changed(): void {
    Atomics.add(this.ints, CHANGES, 1);
  }

  /** How many requests with effects were done: attributes read before a change are not reused. */
  changes(): number {
    return Atomics.load(this.ints, CHANGES);
  }

  take(i: number, unique: bigint, abandonable: boolean): void {
    Atomics.store(this.uniques, i, unique);
    Atomics.store(this.ints, ABANDONABLE + i, abandonable ? 1 : 0);
    Atomics.store(this.ints, BUSY + i, TAKEN);
  }

  /** Called by backing thread `i` once its code is loaded and it can take requests. */
  ready(i: number): void {
    Atomics.store(this.ints, READY + i, 1);
  }

  /** Whether any of the first `count` threads is still starting (loading its code). */
  starting(count: number): boolean {
    for (let i = 0; i < count; i++) if (Atomics.load(this.ints, READY + i) === 0) return true;
    return false;
  }

  /** Called by backing thread `i` when its request is answered. */
  done(i: number): void {
    Atomics.store(this.ints, BUSY + i, FREE);
    this.freed();
  }

  private freed(): void {
    Atomics.add(this.ints, FREED, 1);
    Atomics.notify(this.ints, FREED);
  }

  /** Waits until one of the first `count` threads may have become free (or `ms` passed). */
  waitForFree(ms: number, count: number): void {
    const seen = Atomics.load(this.ints, FREED);
    if (this.idle(count) >= 0) return;
    Atomics.wait(this.ints, FREED, seen, ms);
  }

  /** The requests being answered now: [unique, abandonable]. */
  inFlight(): [bigint, boolean][] {
    const out: [bigint, boolean][] = [];
    for (let i = 0; i < MAX_THREADS; i++) {
      if (Atomics.load(this.ints, BUSY + i) === TAKEN) out.push([Atomics.load(this.uniques, i), Atomics.load(this.ints, ABANDONABLE + i) === 1]);
    }
    return out;
  }

  /** The thread answering `unique`, if any. */
  holder(unique: bigint): number {
    for (let i = 0; i < MAX_THREADS; i++) {
      if (Atomics.load(this.ints, BUSY + i) === TAKEN && Atomics.load(this.uniques, i) === unique) return i;
    }
    return -1;
  }

  abandonable(i: number): boolean {
    return Atomics.load(this.ints, ABANDONABLE + i) === 1;
  }

  static freeSlot(slot: SharedArrayBuffer): void {
    Atomics.store(new Int32Array(slot, 0, 1), 0, 0);
  }

  static slotInUse(slot: SharedArrayBuffer): boolean {
    return Atomics.load(new Int32Array(slot, 0, 1), 0) === 1;
  }

  static useSlot(slot: SharedArrayBuffer): void {
    Atomics.store(new Int32Array(slot, 0, 1), 0, 1);
  }
}
