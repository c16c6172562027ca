/**
 * What the serving thread hands a backing thread: one request, resolved to backing paths, and
 * everything the reply needs (node ids chosen by the serving thread, which alone owns the node
 * table). The backing thread makes the system calls, writes the reply itself, and tells the
 * serving thread what changed in the table (BackingUpdate) BEFORE writing the reply, so that any
 * request the kernel sends after seeing the reply is planned with the table already updated.
 *
 * Paths are raw bytes (Uint8Array after structured cloning): names need not be UTF-8.
 * File handles are backing descriptors plus one (0 stays the replay's "nothing to close").
 */
import type { SetattrIn } from './fuse-wire.js';

type U = { u: bigint };

export type BackingJob = U & (
  /** LOOKUP: lstat; on failure the node the serving thread counted for it is forgotten again. */
  | { op: 'lookup'; node: bigint; path: Uint8Array }
  | { op: 'getattr'; node: bigint; path: Uint8Array | null; fd: number }
  | { op: 'setattr'; node: bigint; path: Uint8Array; fd: number; s: SetattrIn }
  | { op: 'readlink'; path: Uint8Array }
  | { op: 'symlink'; node: bigint; path: Uint8Array; target: Uint8Array }
  | { op: 'mknod'; node: bigint; path: Uint8Array; mode: number }
  | { op: 'mkdir'; node: bigint; path: Uint8Array; mode: number }
  | { op: 'link'; node: bigint; from: Uint8Array; path: Uint8Array }
  /** UNLINK / RMDIR: on success the table marks `rel` removed. */
  | { op: 'remove'; dir: boolean; rel: Uint8Array; path: Uint8Array }
  | { op: 'rename'; fromRel: Uint8Array; toRel: Uint8Array; from: Uint8Array; to: Uint8Array; noReplace: boolean }
  /**
   * `direct`: answered FOPEN_DIRECT_IO (a write-only open on a kernel that keeps readers coherent).
   * `passthrough`: a regular file is handed to the kernel (passthrough.ts), which then does its I/O.
   * `writing`: the view-relative path, when opened for writing (reported back when handed over).
   */
  | { op: 'open'; node: bigint; path: Uint8Array; flags: number; direct: boolean; passthrough: boolean; writing?: Uint8Array }
  | { op: 'create'; node: bigint; path: Uint8Array; flags: number; mode: number; direct: boolean; passthrough: boolean; writing?: Uint8Array }
  | { op: 'read'; fd: number; offset: number; size: number }
  /** The data lies in a shared request buffer, which the backing thread frees when done. */
  | { op: 'write'; fd: number; offset: number; size: number; slot: SharedArrayBuffer; at: number }
  /**
   * `passthrough`: the file was opened in passthrough (its registration counts this open).
   * `fd` -1: the replay's open, which joined a registration and has no descriptor.
   */
  | { op: 'release'; node: bigint; fd: number; passthrough: boolean }
  | { op: 'fsync'; fd: number; datasync: boolean }
  | { op: 'lseek'; fd: number; offset: bigint; whence: number }
  | { op: 'statfs' }
  /** ACCESS (without default_permissions): access(2) on the backing path, as the caller's own uid. */
  | { op: 'access'; path: Uint8Array; mask: number }
  /** OPENDIR: the listing goes to the serving thread as an update, then the reply. */
  | { op: 'opendir'; fh: bigint; path: Uint8Array }
  /**
   * READDIRPLUS: attributes of the entries from index `from` (0 is '.', 1 is '..', 2 on the
   * listing's names), whose nodes the serving thread counted already (`nodes`, 0n for '.' and
   * '..'). `names` is the listing read at OPENDIR (shared memory, not copied), `at` the offset of
   * the first name of the part in it; `dirIno` the folder's own node id. The thread that answers
   * a part prepares the next one (readdirplus.ts), which the serving thread then hands it.
   */
  | { op: 'readdirplus'; fh: bigint; size: number; dir: Uint8Array; dirIno: bigint; names: Uint8Array; from: number; at: number; nodes: BigUint64Array; types: Uint8Array }
  /** A replayed operation's answer that shows real attributes when the backing folder has them. */
  | {
    op: 'replay-attr'; form: 'entry' | 'attr'; node: bigint; path: Uint8Array; isDir: boolean | undefined;
    /** A folder a replay walks through: its real attributes whatever its type (a symbolic link), made up as a folder only when gone. */
    walk?: true;
  }
);

export type BackingUpdate =
  | { kind: 'forget'; node: bigint }
  /** A file handle handed to the kernel: only those are accepted in later requests. */
  /** `u`: its request; `writing`: opened for writing in passthrough (its writes never reach the view). */
  | { kind: 'opened'; u: bigint; fh: bigint; writing?: true }
  /** An open for writing where the view may pass it through failed (`u`: its request). */
  | { kind: 'notOpened'; u: bigint }
  | { kind: 'closed'; fh: bigint }
  | { kind: 'unlink'; rel: Uint8Array }
  | { kind: 'rename'; from: Uint8Array; to: Uint8Array }
  /**
   * Names joined by NUL (a name never holds one) in shared memory, the same as a latin1 string
   * (the serving thread's node keys are made from it), and their DT_* types.
   */
  | { kind: 'listing'; fh: bigint; names: Uint8Array; text: string; types: Uint8Array }
  /** An OPENDIR whose reply came too late (interrupted): its listing is not needed. */
  | { kind: 'closedir'; fh: bigint };

/** Requests that may be abandoned when interrupted: redoing or dropping them changes nothing. */
export function abandonable(job: BackingJob): boolean {
  switch (job.op) {
    case 'lookup': case 'getattr': case 'readlink': case 'open': case 'read': case 'statfs': case 'access':
    case 'opendir': case 'readdirplus': case 'replay-attr': case 'lseek': case 'fsync':
      return true;
    default:
      return false;
  }
}

/**
 * The file handle of an open backing file: the descriptor plus one in the low 32 bits (0 is the
 * replay's handle, with nothing to close), and the passthrough backing id plus one above them.
 */
export function fileHandle(fd: number, backingId: number): bigint {
  return (BigInt(backingId + 1) << 32n) | BigInt(fd + 1);
}

export function fdOfHandle(fh: bigint): number {
  return Number(fh & 0xffffffffn) - 1;
}

/** The passthrough backing id in a file handle, or -1. */
export function backingIdOfHandle(fh: bigint): number {
  return Number(fh >> 32n) - 1;
}
