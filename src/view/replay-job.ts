/**
 * What the replaying thread is doing right now, shared with the serving thread through memory:
 * the serving thread reads it when a request comes from the replaying thread's id, and answers
 * that request from it instead of touching the backing folder. One job at a time: the replaying
 * thread makes its system calls one after another and waits for each.
 */

import type { Attr } from './fuse-wire.js';

/** A backing file's size and modification time (ns), as a save through the view left it. */
export interface BackingVersion {
  size: bigint;
  mtimeNs: bigint;
}

export type ReplayJob =
  /** `found`: the backing file's attributes (ino unset) when the replaying thread found it there. */
  | { kind: 'create'; path: string; isDir?: boolean; found?: Attr }
  | { kind: 'delete'; path: string; isDir?: boolean }
  | { kind: 'rename'; oldPath: string; path: string; isDir?: boolean }
  /** `unlessStill`: nothing to replay while the backing file is still that version. */
  | { kind: 'modify'; path: string; isDir?: boolean; unlessStill?: BackingVersion };

const HEADER = 12;
export const JOB_BUFFER_SIZE = 64 * 1024;

/** JSON has no 64-bit integers: a bigint travels as {"bigint": "decimal digits"}. */
function toJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? { bigint: value.toString() } : value;
}

function fromJson(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'bigint' in value && typeof value.bigint === 'string') return BigInt(value.bigint);
  return value;
}

/** Slot 0: the replaying thread's id; slot 1: length of the JSON job that follows (0: none); slot 2: job number. */
export class ReplayChannel {
  private readonly ints: Int32Array;
  private readonly bytes: Uint8Array;
  private cachedNumber = -1;
  private cached: ReplayJob | null = null;

  constructor(readonly shared: SharedArrayBuffer) {
    this.ints = new Int32Array(shared, 0, 3);
    this.bytes = new Uint8Array(shared, HEADER);
  }

  static create(): ReplayChannel {
    return new ReplayChannel(new SharedArrayBuffer(JOB_BUFFER_SIZE));
  }

  get replayThread(): number {
    return Atomics.load(this.ints, 0);
  }

  set replayThread(tid: number) {
    Atomics.store(this.ints, 0, tid);
  }

  set(job: ReplayJob | null): void {
    if (!job) {
      Atomics.store(this.ints, 1, 0);
      return;
    }
    const text = Buffer.from(JSON.stringify(job, toJson));
    if (text.length > this.bytes.length) throw new Error('replay job too long');
    this.bytes.set(text);
    Atomics.add(this.ints, 2, 1);
    Atomics.store(this.ints, 1, text.length);
  }

  /** The current job (parsed once per job). */
  get(): ReplayJob | null {
    const length = Atomics.load(this.ints, 1);
    if (length === 0) return null;
    const number = Atomics.load(this.ints, 2);
    if (number !== this.cachedNumber || !this.cached) {
      this.cached = JSON.parse(Buffer.from(this.bytes.subarray(0, length)).toString(), fromJson) as ReplayJob;
      this.cachedNumber = number;
    }
    return this.cached;
  }
}
