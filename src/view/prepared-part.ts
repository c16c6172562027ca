/**
 * The next part of a listing that a backing thread prepared (readdirplus.ts), in shared memory,
 * so that the serving thread can answer the kernel's request for it itself, without handing the
 * request to that thread: the hand-over (a message, the thread's wake-up) was most of a part's
 * round trip, and `ls` waits for each part before it asks for the next. One per backing thread.
 *
 * The thread writes the reply with node ids left 0 and marks it READY with what it is: which
 * listing (fh), from which entry, for which request size, how many entries (and how many names
 * gone since OPENDIR), when its attributes were read and the pool's count of changes then. Whoever
 * answers the request takes it (READY to TAKEN, atomically): the serving thread, or the backing
 * thread when the request was handed to it after all; then it is EMPTY until the next is built.
 */
import { DirentplusWriter, direntplusSize } from './fuse-wire.js';
import { MAX_WRITE } from './file-handles.js';

const EMPTY = 0;
const BUILDING = 1;
const READY = 2;
const TAKEN = 3;

/** Int32 fields. */
const STATE = 0;
const FROM = 1;
const COUNT = 2;
const SIZE = 3;
const LENGTH = 4;
const CHANGES = 5;
const GONE = 6;
/** Float64 at byte 32: when the attributes were read (ms since the epoch); BigInt64 at 40: the fh. */
const READ_AT_BYTE = 32;
const FH_BYTE = 40;
const HEADER_BYTES = 48;

/** The largest part (the kernel's READDIRPLUS size is at most max_pages, MAX_WRITE) and the most entries it can hold. */
const MAX_PART_BYTES = MAX_WRITE;
const MAX_ENTRIES = Math.ceil(MAX_PART_BYTES / direntplusSize(1));
const ENTRY_AT_BYTE = HEADER_BYTES;
const REPLY_BYTE = (ENTRY_AT_BYTE + MAX_ENTRIES * 4 + 7) & ~7;

/** How old prepared attributes may be: a reader that keeps up asks within a few milliseconds. */
const REUSE_MS = 100;

/** Now, comparable across threads (each thread's performance.now() counts from its own start). */
export const sharedNow = (): number => performance.timeOrigin + performance.now();

/** What a prepared part is: the request it answers, and what makes it still good to answer with. */
export interface PartLabel {
  fh: bigint;
  from: number;
  size: number;
}

export interface PartFacts extends PartLabel {
  /** Its entries, '.' and '..' included. */
  count: number;
  /** Its names gone since OPENDIR (their entries are not in the reply). */
  gone: number;
  /** The reply's length, header included. */
  length: number;
  changes: number;
  /** performance.timeOrigin + performance.now() when its attributes were read: comparable across threads. */
  readAt: number;
}

export class PreparedPart {
  private readonly ints: Int32Array;
  private readonly f64: Float64Array;
  private readonly fh: BigInt64Array;
  /** By entry: where it starts in the reply; -1 gone since OPENDIR, -2 '.' or '..'. */
  readonly entryAt: Int32Array;

  constructor(readonly shared: SharedArrayBuffer) {
    this.ints = new Int32Array(shared, 0, 8);
    this.f64 = new Float64Array(shared, READ_AT_BYTE, 1);
    this.fh = new BigInt64Array(shared, FH_BYTE, 1);
    this.entryAt = new Int32Array(shared, ENTRY_AT_BYTE, MAX_ENTRIES);
  }

  static create(): PreparedPart {
    return new PreparedPart(new SharedArrayBuffer(REPLY_BYTE + ((16 + MAX_PART_BYTES + 7) & ~7)));
  }

  /** Whether a part of `size` bytes fits here. */
  static fits(size: number): boolean {
    return size <= MAX_PART_BYTES;
  }

  /**
   * The writer for a new part of `size` bytes; the part is BUILDING (no one takes it) until
   * `ready`. Null while the serving thread is answering with the part there (TAKEN).
   */
  building(size: number): DirentplusWriter | null {
    if (Atomics.compareExchange(this.ints, STATE, EMPTY, BUILDING) !== EMPTY && Atomics.compareExchange(this.ints, STATE, READY, BUILDING) !== READY) return null;
    return new DirentplusWriter(size, { shared: this.shared, byteOffset: REPLY_BYTE });
  }

  ready(f: PartFacts): void {
    this.ints[FROM] = f.from;
    this.ints[COUNT] = f.count;
    this.ints[SIZE] = f.size;
    this.ints[LENGTH] = f.length;
    this.ints[CHANGES] = f.changes;
    this.ints[GONE] = f.gone;
    this.f64[0] = f.readAt;
    this.fh[0] = f.fh;
    Atomics.store(this.ints, STATE, READY);
  }

  /**
   * Takes the part if it is ready and is the one `label` asks for; then it is the caller's to
   * answer with (its facts are returned) and to `release`. A ready part for another request is
   * dropped: the listing went elsewhere.
   */
  take(label: PartLabel): PartFacts | null {
    if (Atomics.compareExchange(this.ints, STATE, READY, TAKEN) !== READY) return null;
    const f: PartFacts = {
      fh: this.fh[0]!, from: this.ints[FROM]!, size: this.ints[SIZE]!, count: this.ints[COUNT]!, gone: this.ints[GONE]!,
      length: this.ints[LENGTH]!, changes: this.ints[CHANGES]!, readAt: this.f64[0]!,
    };
    if (f.fh === label.fh && f.from === label.from && f.size === label.size) return f;
    this.release();
    return null;
  }

  /**
   * How old a taken part's attributes are (ms), when it is still good to answer a request of
   * `count` entries with: that many entries, read less than REUSE_MS ago, and no request with
   * effects done since (the pool's count is still `changes`). Null when it is not.
   */
  static age(f: PartFacts, count: number, changes: number | undefined): number | null {
    const age = sharedNow() - f.readAt;
    return f.count === count && age < REUSE_MS && f.changes === changes ? age : null;
  }

  /** Puts a taken part back for the backing thread, which will answer the request after all. */
  putBack(): void {
    Atomics.store(this.ints, STATE, READY);
  }

  release(): void {
    Atomics.store(this.ints, STATE, EMPTY);
  }

  /** The writer over a taken part's reply, to put node ids in and send. */
  writer(f: PartFacts): DirentplusWriter {
    const w = new DirentplusWriter(f.size, { shared: this.shared, byteOffset: REPLY_BYTE });
    w.at = f.length;
    return w;
  }
}
