/**
 * Open files, on the serving thread: which handles the kernel holds, how each open is answered
 * (through the page cache, past it, or handed to the kernel: FUSE passthrough), and the user's own
 * changes their writes make. The data itself is read and written by the backing threads
 * (backing-ops.ts); a handle is the backing descriptor plus one, with the passthrough backing id
 * above it (backing-job.ts).
 */
import * as fs from 'node:fs';
import { E, Errno } from './attrs.js';
import { backingIdOfHandle, fdOfHandle, type BackingJob } from './backing-job.js';
import { Body, InitFlag2, WRITE_IN_SIZE, decodeIo, encodeReply, type InHeader, type InitIn } from './fuse-wire.js';
import type { FuseServer } from './fuse-server.js';
import { PoolState, SLOT_DATA } from './pool-state.js';
import { passthroughUse, type PassthroughUse } from './passthrough.js';

/** The largest READ or WRITE the view takes (INIT's max_write; MAX_PAGES allows it). */
export const MAX_WRITE = 1024 * 1024;

const { O_NOFOLLOW, O_CREAT, O_EXCL, O_WRONLY } = fs.constants;
/** open(2)'s access mode bits (Node's fs.constants lacks it). */
const O_ACCMODE = 3;
const O_RDONLY = 0;

/**
 * The FUSE protocol minor version of Linux 6.9. Since 6.6 the kernel drops the cached pages of the
 * range before it sends a FOPEN_DIRECT_IO write (fs/fuse/file.c, fuse_direct_io); asking for 6.9
 * leaves a margin, and older kernels simply keep writing through the page cache.
 */
const DIRECT_WRITES_MINOR = 40;

export class FileHandles {
  /** The file handles the kernel holds (a backing thread reports each before answering). */
  private readonly held = new Set<bigint>();
  /**
   * Open files written through the view, and when their path was last reported: again at most
   * every second while writes go on (the server's reports of a long write must keep finding it
   * in the 3 s own-change window), and once more when closed.
   */
  private readonly written = new Map<bigint, number>();
  /**
   * Opens for writing in passthrough: the requests not answered yet, and the open files' hold keys
   * by handle. The kernel writes such a file itself, so the main thread marks it as the user's own
   * change for as long as it is open, from the request on: the backing thread's report of the
   * handle reaches this thread only with the next request, which may come seconds later (nothing
   * else happens while a program writes), after the server's report of the first writes.
   */
  private readonly holdAsked = new Set<bigint>();
  private readonly holds = new Map<bigint, bigint>();
  /** Whether files opened write-only bypass the page cache (set at INIT: DIRECT_WRITES_MINOR). */
  private directWrites = false;
  /** Whether regular files are handed to the kernel at OPEN, or why not (set at INIT; passthrough.ts). */
  passthroughUse: PassthroughUse = 'turned off';

  constructor(private readonly server: FuseServer) {}

  /** What INIT settles for files; returns INIT's passthrough fields when the view uses it. */
  init(init: InitIn, wanted: boolean): { flags2: number; maxStackDepth: number } | Record<string, never> {
    this.directWrites = init.major === 7 && init.minor >= DIRECT_WRITES_MINOR;
    this.passthroughUse = passthroughUse(wanted, (init.flags2 & InitFlag2.PASSTHROUGH) !== 0);
    // The backing file system is the one level below the view's files.
    return this.passthrough ? { flags2: InitFlag2.PASSTHROUGH, maxStackDepth: 1 } : {};
  }

  get passthrough(): boolean {
    return this.passthroughUse === 'yes';
  }

  has(fh: bigint): boolean {
    return this.held.has(fh);
  }

  /** A backing thread handed the kernel this handle (before answering); `writing`: held for writing in passthrough. */
  opened(fh: bigint, u: bigint, writing: boolean): void {
    this.held.add(fh);
    if (!this.holdAsked.delete(u)) return;
    if (writing) this.holds.set(fh, holdKey(u));
    else this.unhold(holdKey(u));
  }

  /** An open for writing in passthrough failed. */
  notOpened(u: bigint): void {
    if (this.holdAsked.delete(u)) this.unhold(holdKey(u));
  }

  closed(fh: bigint): void {
    this.held.delete(fh);
    const key = this.holds.get(fh);
    if (key === undefined) return;
    this.holds.delete(fh);
    this.unhold(key);
  }

  /** Marks `path` the user's own change until `unhold`, when the open is for writing in passthrough. */
  private hold(u: bigint, path: Buffer, how: { writing?: Uint8Array }): void {
    if (how.writing === undefined) return;
    this.holdAsked.add(u);
    this.server.opts.onLocalChange([path.toString()], 'changed', { held: holdKey(u) });
  }

  private unhold(key: bigint): void {
    this.server.opts.onLocalChange([], 'changed', { closed: key });
  }

  open(h: InHeader, b: Body): null {
    const s = this.server;
    const flags = (b.u32(0) & ~(O_CREAT | O_EXCL)) | O_NOFOLLOW;
    const node = s.node(h.nodeid);
    const how = this.how(flags, node.path);
    this.hold(h.unique, node.path, how);
    return s.run({ op: 'open', u: h.unique, node: node.id, path: s.backing(s.linked(node)), flags, ...how });
  }

  create(h: InHeader, b: Body): null {
    const s = this.server;
    const rel = s.childPath(h.nodeid, b.names(16, 1)[0]!);
    const flags = b.u32(0) | O_CREAT | O_NOFOLLOW;
    const how = this.how(flags, rel);
    const node = s.created(rel);
    this.hold(h.unique, rel, how);
    return s.run({ op: 'create', u: h.unique, node, path: s.backing(rel), flags, mode: b.u32(4) & 0o7777, ...how });
  }

  read(h: InHeader, b: Body): null {
    const io = decodeIo(b);
    return this.server.run({ op: 'read', u: h.unique, fd: this.fd(io.fh), offset: Number(io.offset), size: Math.min(io.size, MAX_WRITE) });
  }

  write(h: InHeader, b: Body, slot: SharedArrayBuffer): null {
    const s = this.server;
    const io = decodeIo(b);
    const fd = this.fd(io.fh);
    const now = Date.now();
    if (now - (this.written.get(io.fh) ?? 0) >= 1000) {
      this.written.set(io.fh, now);
      s.opts.onLocalChange([s.node(h.nodeid).path.toString()], 'changed');
    }
    const at = SLOT_DATA + b.dataAt(WRITE_IN_SIZE, io.size);
    PoolState.useSlot(slot);
    return s.run({ op: 'write', u: h.unique, fd, offset: Number(io.offset), size: io.size, slot, at });
  }

  release(h: InHeader, b: Body): Buffer | null {
    const s = this.server;
    const fh = b.u64(0);
    if (fh === 0n) return encodeReply(h.unique);
    // The replay's open of a file held in passthrough (replay-answers.ts): no descriptor, no
    // change of the user's; only its share of the registration ends.
    if (fdOfHandle(fh) < 0) return s.run({ op: 'release', u: h.unique, node: h.nodeid, fd: -1, passthrough: true });
    const fd = this.fd(fh);
    this.held.delete(fh);
    const hold = this.holds.get(fh);
    this.holds.delete(fh);
    const passthrough = backingIdOfHandle(fh) >= 0;
    // A passthrough file's writes never come here: one opened for writing may have been written.
    const mayHaveWritten = passthrough && (b.u32(8) & O_ACCMODE) !== O_RDONLY;
    const wrote = this.written.delete(fh);
    if (wrote || mayHaveWritten || hold !== undefined) s.opts.onLocalChange([s.node(h.nodeid).path.toString()], 'changed', { closed: hold ?? fh });
    return s.run({ op: 'release', u: h.unique, node: h.nodeid, fd, passthrough });
  }

  fsync(h: InHeader, b: Body): null {
    return this.server.run({ op: 'fsync', u: h.unique, fd: this.fd(b.u64(0)), datasync: (b.u32(8) & 1) === 1 });
  }

  lseek(h: InHeader, b: Body): null {
    return this.server.run({ op: 'lseek', u: h.unique, fd: this.fd(b.u64(0)), offset: b.u64(8), whence: b.u32(16) });
  }

  /** The descriptor of a handle we gave the kernel (never any other descriptor of the process). */
  fd(fh: bigint): number {
    if (!this.held.has(fh)) throw new Errno(E.EBADF);
    return fdOfHandle(fh);
  }

  /**
   * How an open is answered: past the page cache when write-only (FOPEN_DIRECT_IO: nothing can
   * read or map through that descriptor, so caching what it writes only costs the kernel a copy of
   * every byte; the kernel drops other descriptors' cached pages of the written range before each
   * such write, so readers stay coherent: view-integrity, "a write-only descriptor"); handed to the
   * kernel where passthrough is on, with the path reported back when opened for writing.
   */
  private how(flags: number, path: Buffer): Pick<Extract<BackingJob, { op: 'open' }>, 'direct' | 'passthrough' | 'writing'> {
    const direct = this.directWrites && (flags & O_ACCMODE) === O_WRONLY;
    const writing = this.passthrough && (flags & O_ACCMODE) !== O_RDONLY;
    return { direct, passthrough: this.passthrough, ...(writing ? { writing: path } : {}) };
  }
}

/**
 * The main thread's key of a hold (HeldForWriting): the open's request id with the top bit set,
 * apart from the file handles (below 2^63) that `closed` names too.
 */
function holdKey(u: bigint): bigint {
  return u | (1n << 63n);
}
