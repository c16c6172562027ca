/**
 * The passthrough registrations of the view's open files, shared by the backing threads. The
 * kernel lets all the open descriptors of one of the view's files name one backing file only
 * (a second registration gets EBUSY: fs/fuse/iomode.c), and opens of one file may run on two
 * threads at once. So each file (node id) is registered once, by whichever thread opens it
 * first; later opens take the same backing id, and the last release ends it. Each open still
 * gets a backing descriptor of its own, with its own flags: the kernel opens the backing file
 * anew for every open of the view's file, using the registered one only to find it.
 *
 * A small open-addressing table in shared memory, under one lock: the ioctl done while holding it
 * takes no time, and the backing open(2), which may block on a stalled mount, is done before.
 */

/** Files open in passthrough at once; past that, a file is opened without it. */
const CAPACITY = 4096;
/** lock[LOCK]: 1 while a thread works on the table; lock[USED]: how many slots hold a file. */
const LOCK = 0;
const USED = 1;

export class PassthroughFiles {
  private readonly lock: Int32Array;
  private readonly nodes: BigInt64Array;
  private readonly ids: Int32Array;
  private readonly counts: Int32Array;

  constructor(readonly shared: SharedArrayBuffer) {
    this.lock = new Int32Array(shared, 0, 2);
    this.nodes = new BigInt64Array(shared, 8, CAPACITY);
    this.ids = new Int32Array(shared, 8 + CAPACITY * 8, CAPACITY);
    this.counts = new Int32Array(shared, 8 + CAPACITY * 12, CAPACITY);
  }

  static create(): PassthroughFiles {
    return new PassthroughFiles(new SharedArrayBuffer(8 + CAPACITY * 16));
  }

  /**
   * The backing id for one more open of `node`: the registered one, or a new one from `register`
   * (a negative errno when that fails, or when the table is full: -ENFILE).
   */
  acquire(node: bigint, register: () => number): number {
    return this.locked(() => {
      const at = this.find(node);
      if (this.nodes[at] === node) {
        this.counts[at]!++;
        return this.ids[at]!;
      }
      if (this.lock[USED]! >= CAPACITY - 1) return -23; // ENFILE: keep one slot empty, so a search ends
      const id = register();
      if (id < 0) return id;
      this.lock[USED]!++;
      this.nodes[at] = node;
      this.ids[at] = id;
      this.counts[at] = 1;
      return id;
    });
  }

  /**
   * One more open of `node` when it is registered already (its backing id), else -1: for an open
   * that has no backing descriptor of its own (the replay's), which the kernel must still be
   * answered in passthrough while others hold the file so.
   */
  join(node: bigint): number {
    return this.locked(() => {
      const at = this.find(node);
      if (this.nodes[at] !== node) return -1;
      this.counts[at]!++;
      return this.ids[at]!;
    });
  }

  /** One open of `node` ended; `unregister` ends the registration after its last one. */
  release(node: bigint, unregister: (id: number) => void): void {
    this.locked(() => {
      let at = this.find(node);
      if (this.nodes[at] !== node || --this.counts[at]! > 0) return;
      unregister(this.ids[at]!);
      // Backward-shift deletion keeps every remaining entry reachable from its home slot.
      for (let next = (at + 1) % CAPACITY; this.nodes[next] !== 0n; next = (next + 1) % CAPACITY) {
        const home = this.home(this.nodes[next]!);
        const between = at <= next ? home > at && home <= next : home > at || home <= next;
        if (between) continue;
        this.nodes[at] = this.nodes[next]!;
        this.ids[at] = this.ids[next]!;
        this.counts[at] = this.counts[next]!;
        at = next;
      }
      this.nodes[at] = 0n;
      this.lock[USED]!--;
    });
  }

  private home(node: bigint): number {
    return Number(node % BigInt(CAPACITY));
  }

  /** The slot holding `node`, or the empty slot where it would go. Node ids are never 0. */
  private find(node: bigint): number {
    let at = this.home(node);
    while (this.nodes[at] !== 0n && this.nodes[at] !== node) at = (at + 1) % CAPACITY;
    return at;
  }

  private locked<T>(fn: () => T): T {
    while (Atomics.compareExchange(this.lock, LOCK, 0, 1) !== 0) Atomics.wait(this.lock, LOCK, 1, 10);
    try {
      return fn();
    } finally {
      Atomics.store(this.lock, LOCK, 0);
      Atomics.notify(this.lock, LOCK, 1);
    }
  }
}
