/**
 * The Linux FUSE kernel protocol (include/uapi/linux/fuse.h, protocol 7.x): decoding the
 * requests the kernel writes to /dev/fuse and encoding the replies and notifications we write
 * back. Pure: no I/O, no timers; every decoder checks bounds and throws FuseWireError on a short
 * or malformed message. Layouts are those of the kernel structs at protocol minor >= 23 (the only
 * ones a kernel of the last decade sends once we answer INIT with MINOR below).
 */

export const MAJOR = 7;
/** The minor we speak. Newer kernels accept it and fall back (STATX still arrives: ENOSYS). */
export const MINOR = 38;

export const Op = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9,
  UNLINK: 10, RMDIR: 11, RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17,
  RELEASE: 18, FSYNC: 20, SETXATTR: 21, GETXATTR: 22, LISTXATTR: 23, REMOVEXATTR: 24, FLUSH: 25,
  INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29, FSYNCDIR: 30, GETLK: 31, SETLK: 32, SETLKW: 33,
  ACCESS: 34, CREATE: 35, INTERRUPT: 36, BMAP: 37, DESTROY: 38, IOCTL: 39, POLL: 40,
  BATCH_FORGET: 42, FALLOCATE: 43, READDIRPLUS: 44, RENAME2: 45, LSEEK: 46, COPY_FILE_RANGE: 47,
  SYNCFS: 50, TMPFILE: 51, STATX: 52,
} as const;

/** INIT flags (fuse_init_in.flags / fuse_init_out.flags). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  ATOMIC_O_TRUNC: 1 << 3,
  BIG_WRITES: 1 << 5,
  DONT_MASK: 1 << 6,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
  /** fuse_init_in and fuse_init_out carry flags2, the upper 32 flag bits. */
  INIT_EXT: 1 << 30,
} as const;

/** flags2 bits (flags 32-63). PASSTHROUGH: OPEN may name a backing file for the kernel (7.40). */
export const InitFlag2 = { PASSTHROUGH: 1 << (37 - 32) } as const;

export const NotifyCode = { INVAL_INODE: 2, INVAL_ENTRY: 3 } as const;

/** setattr_in.valid bits. */
export const Fattr = {
  MODE: 1 << 0, UID: 1 << 1, GID: 1 << 2, SIZE: 1 << 3, ATIME: 1 << 4, MTIME: 1 << 5, FH: 1 << 6,
  ATIME_NOW: 1 << 7, MTIME_NOW: 1 << 8, CTIME: 1 << 10,
} as const;

export const OpenOut = { DIRECT_IO: 1 << 0, KEEP_CACHE: 1 << 1, NONSEEKABLE: 1 << 2, CACHE_DIR: 1 << 3, PASSTHROUGH: 1 << 7 } as const;

export const IN_HEADER = 40;
export const OUT_HEADER = 16;
export const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
export const INIT_OUT_SIZE = 64;

export class FuseWireError extends Error {
  override name = 'FuseWireError';
}

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  /** The calling THREAD's id (0 for RELEASE, FORGET and other requests the kernel makes itself). */
  pid: number;
}

/** Attributes as the view hands them to the kernel (times in nanoseconds since the epoch). */
export interface Attr {
  ino: bigint;
  size: bigint;
  blocks: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
}

export function decodeHeader(buf: Uint8Array, length: number): InHeader {
  if (length < IN_HEADER) throw new FuseWireError(`request of ${length} bytes is shorter than its header`);
  const v = view(buf);
  const len = v.getUint32(0, true);
  if (len !== length) throw new FuseWireError(`request says ${len} bytes, read ${length}`);
  return {
    len,
    opcode: v.getUint32(4, true),
    unique: v.getBigUint64(8, true),
    nodeid: v.getBigUint64(16, true),
    uid: v.getUint32(24, true),
    gid: v.getUint32(28, true),
    pid: v.getUint32(32, true),
  };
}

/** Reads a request body: fixed fields at known offsets after the header, then NUL-ended names. */
export class Body {
  private readonly v: DataView;
  constructor(readonly buf: Uint8Array, readonly end: number) {
    this.v = view(buf);
  }
  private need(off: number, size: number): number {
    const at = IN_HEADER + off;
    if (at + size > this.end) throw new FuseWireError(`request body too short: need ${off + size} bytes`);
    return at;
  }
  u32(off: number): number {
    return this.v.getUint32(this.need(off, 4), true);
  }
  u64(off: number): bigint {
    return this.v.getBigUint64(this.need(off, 8), true);
  }
  /** Offset of the data that follows a fixed part of `off` bytes (WRITE). */
  dataAt(off: number, size: number): number {
    return this.need(off, size);
  }
  /** The NUL-ended names that follow a fixed part of `off` bytes, as raw bytes. */
  names(off: number, count: number): Buffer[] {
    const out: Buffer[] = [];
    let at = this.need(off, 0);
    for (let i = 0; i < count; i++) {
      const nul = this.buf.indexOf(0, at);
      if (nul < 0 || nul >= this.end) throw new FuseWireError('name is not NUL-terminated');
      out.push(Buffer.from(this.buf.subarray(at, nul)));
      at = nul + 1;
    }
    return out;
  }
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  /** 0 unless flags has INIT_EXT. */
  flags2: number;
}

export function decodeInit(b: Body): InitIn {
  const flags = b.u32(12);
  return { major: b.u32(0), minor: b.u32(4), maxReadahead: b.u32(8), flags, flags2: flags & InitFlag.INIT_EXT ? b.u32(16) : 0 };
}

export interface SetattrIn {
  valid: number;
  fh: bigint;
  size: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  mode: number;
  uid: number;
  gid: number;
}

export function decodeSetattr(b: Body): SetattrIn {
  return {
    valid: b.u32(0),
    fh: b.u64(8),
    size: b.u64(16),
    atimeNs: b.u64(32) * 1_000_000_000n + BigInt(b.u32(56)),
    mtimeNs: b.u64(40) * 1_000_000_000n + BigInt(b.u32(60)),
    mode: b.u32(68),
    uid: b.u32(76),
    gid: b.u32(80),
  };
}

/** READ and WRITE share their first fields: fh, offset, size. */
export interface IoIn {
  fh: bigint;
  offset: bigint;
  size: number;
}

export function decodeIo(b: Body): IoIn {
  return { fh: b.u64(0), offset: b.u64(8), size: b.u32(16) };
}

/** write_in is 40 bytes; the data follows. */
export const WRITE_IN_SIZE = 40;

// ---- replies ----

export function encodeError(unique: bigint, errno: number): Buffer {
  const out = Buffer.alloc(OUT_HEADER);
  out.writeUInt32LE(OUT_HEADER, 0);
  out.writeInt32LE(-Math.abs(errno), 4);
  out.writeBigUInt64LE(unique, 8);
  return out;
}

/** Writes the out header for a reply of `bodyLength` bytes at the start of `out`. */
export function writeOutHeader(out: Buffer, unique: bigint, bodyLength: number): void {
  out.writeUInt32LE(OUT_HEADER + bodyLength, 0);
  out.writeInt32LE(0, 4);
  out.writeBigUInt64LE(unique, 8);
}

export function encodeReply(unique: bigint, body: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.alloc(OUT_HEADER + body.length);
  writeOutHeader(out, unique, body.length);
  out.set(body, OUT_HEADER);
  return out;
}

const NS = 1_000_000_000n;

function writeAttr(out: Buffer, at: number, a: Attr): void {
  out.writeBigUInt64LE(a.ino, at);
  out.writeBigUInt64LE(a.size, at + 8);
  out.writeBigUInt64LE(a.blocks, at + 16);
  out.writeBigUInt64LE(a.atimeNs / NS, at + 24);
  out.writeBigUInt64LE(a.mtimeNs / NS, at + 32);
  out.writeBigUInt64LE(a.ctimeNs / NS, at + 40);
  out.writeUInt32LE(Number(a.atimeNs % NS), at + 48);
  out.writeUInt32LE(Number(a.mtimeNs % NS), at + 52);
  out.writeUInt32LE(Number(a.ctimeNs % NS), at + 56);
  out.writeUInt32LE(a.mode >>> 0, at + 60);
  out.writeUInt32LE(a.nlink, at + 64);
  out.writeUInt32LE(a.uid, at + 68);
  out.writeUInt32LE(a.gid, at + 72);
  out.writeUInt32LE(a.rdev, at + 76);
  out.writeUInt32LE(a.blksize, at + 80);
  out.writeUInt32LE(0, at + 84);
}

export interface Timeouts {
  entrySeconds: number;
  attrSeconds: number;
}

function writeEntry(out: Buffer, at: number, nodeid: bigint, a: Attr, t: Timeouts): void {
  out.writeBigUInt64LE(nodeid, at);
  out.writeBigUInt64LE(0n, at + 8); // generation: node ids are never reused
  out.writeBigUInt64LE(BigInt(t.entrySeconds), at + 16);
  out.writeBigUInt64LE(BigInt(t.attrSeconds), at + 24);
  out.writeUInt32LE(0, at + 32);
  out.writeUInt32LE(0, at + 36);
  writeAttr(out, at + 40, a);
}

export function encodeEntry(unique: bigint, nodeid: bigint, a: Attr, t: Timeouts): Buffer {
  const out = Buffer.alloc(OUT_HEADER + ENTRY_OUT_SIZE);
  writeOutHeader(out, unique, ENTRY_OUT_SIZE);
  writeEntry(out, OUT_HEADER, nodeid, a, t);
  return out;
}

export function encodeAttr(unique: bigint, a: Attr, t: Timeouts): Buffer {
  const out = Buffer.alloc(OUT_HEADER + ATTR_OUT_SIZE);
  writeOutHeader(out, unique, ATTR_OUT_SIZE);
  out.writeBigUInt64LE(BigInt(t.attrSeconds), OUT_HEADER);
  writeAttr(out, OUT_HEADER + 16, a);
  return out;
}

export function encodeOpen(unique: bigint, fh: bigint, openFlags: number, backingId = 0): Buffer {
  const out = Buffer.alloc(OUT_HEADER + 16);
  writeOutHeader(out, unique, 16);
  out.writeBigUInt64LE(fh, OUT_HEADER);
  out.writeUInt32LE(openFlags, OUT_HEADER + 8);
  out.writeInt32LE(backingId, OUT_HEADER + 12);
  return out;
}

/** CREATE answers an entry followed by an open. */
export function encodeCreate(unique: bigint, nodeid: bigint, a: Attr, t: Timeouts, fh: bigint, openFlags: number, backingId = 0): Buffer {
  const out = Buffer.alloc(OUT_HEADER + ENTRY_OUT_SIZE + 16);
  writeOutHeader(out, unique, ENTRY_OUT_SIZE + 16);
  writeEntry(out, OUT_HEADER, nodeid, a, t);
  out.writeBigUInt64LE(fh, OUT_HEADER + ENTRY_OUT_SIZE);
  out.writeUInt32LE(openFlags, OUT_HEADER + ENTRY_OUT_SIZE + 8);
  out.writeInt32LE(backingId, OUT_HEADER + ENTRY_OUT_SIZE + 12);
  return out;
}

export function encodeWrite(unique: bigint, size: number): Buffer {
  const out = Buffer.alloc(OUT_HEADER + 8);
  writeOutHeader(out, unique, 8);
  out.writeUInt32LE(size, OUT_HEADER);
  return out;
}

export function encodeLseek(unique: bigint, offset: bigint): Buffer {
  const out = Buffer.alloc(OUT_HEADER + 8);
  writeOutHeader(out, unique, 8);
  out.writeBigUInt64LE(offset, OUT_HEADER);
  return out;
}

export interface Statfs {
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
  bsize: number;
  namelen: number;
}

export function encodeStatfs(unique: bigint, s: Statfs): Buffer {
  const out = Buffer.alloc(OUT_HEADER + 80);
  writeOutHeader(out, unique, 80);
  const at = OUT_HEADER;
  out.writeBigUInt64LE(s.blocks, at);
  out.writeBigUInt64LE(s.bfree, at + 8);
  out.writeBigUInt64LE(s.bavail, at + 16);
  out.writeBigUInt64LE(s.files, at + 24);
  out.writeBigUInt64LE(s.ffree, at + 32);
  out.writeUInt32LE(s.bsize, at + 40);
  out.writeUInt32LE(s.namelen, at + 44);
  out.writeUInt32LE(s.bsize, at + 48); // frsize
  return out;
}

export interface InitOut {
  flags: number;
  maxReadahead: number;
  maxWrite: number;
  maxPages: number;
  maxBackground: number;
  flags2?: number;
  /** With PASSTHROUGH: how many file systems may stack below the view's files (1: the backing one). */
  maxStackDepth?: number;
}

export function encodeInit(unique: bigint, o: InitOut): Buffer {
  const out = Buffer.alloc(OUT_HEADER + INIT_OUT_SIZE);
  writeOutHeader(out, unique, INIT_OUT_SIZE);
  const at = OUT_HEADER;
  out.writeUInt32LE(MAJOR, at);
  out.writeUInt32LE(MINOR, at + 4);
  out.writeUInt32LE(o.maxReadahead, at + 8);
  out.writeUInt32LE(o.flags >>> 0, at + 12);
  out.writeUInt16LE(o.maxBackground, at + 16);
  out.writeUInt16LE(Math.floor((o.maxBackground * 3) / 4), at + 18);
  out.writeUInt32LE(o.maxWrite, at + 20);
  out.writeUInt32LE(1, at + 24); // time_gran: nanoseconds
  out.writeUInt16LE(o.maxPages, at + 28);
  out.writeUInt32LE(o.flags2 ?? 0, at + 32);
  out.writeUInt32LE(o.maxStackDepth ?? 0, at + 36);
  return out;
}

/** DT_DIR, the type of a folder's entry, '.' and '..' included. */
export const DT_DIR = 4;
/** The two entries every listing starts with (offsets 0 and 1 of a folder handle). */
export const DOT = Buffer.from('.');
export const DOTDOT = Buffer.from('..');

/** Directory entry types (the DT_* values): mode >> 12. */
export function direntType(mode: number): number {
  return (mode >>> 12) & 0xf;
}

/** Size of one fuse_dirent with its name, padded to 8 bytes. */
export function direntSize(nameLength: number): number {
  return (24 + nameLength + 7) & ~7;
}

/** Writes one fuse_dirent at `at`; returns the next offset. `off` is the cookie of the NEXT entry. */
export function writeDirent(out: Buffer, at: number, ino: bigint, off: bigint, type: number, name: Uint8Array): number {
  out.writeBigUInt64LE(ino, at);
  out.writeBigUInt64LE(off, at + 8);
  out.writeUInt32LE(name.length, at + 16);
  out.writeUInt32LE(type, at + 20);
  out.set(name, at + 24);
  const end = at + direntSize(name.length);
  out.fill(0, at + 24 + name.length, end);
  return end;
}

/** fuse_direntplus: an entry_out, then a dirent. */
export function direntplusSize(nameLength: number): number {
  return ENTRY_OUT_SIZE + direntSize(nameLength);
}


/** The fields of a `BigIntStats` (node:fs, `bigint: true`) that an entry's attributes need. */
export interface BigStat {
  size: bigint;
  blocks: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  mode: bigint;
  nlink: bigint;
  uid: bigint;
  gid: bigint;
  rdev: bigint;
  blksize: bigint;
}

/**
 * Host byte order: the FUSE protocol is in the host's order, and typed arrays write in it (the
 * rest of this file writes little-endian, the same thing on the hosts Node runs on for us).
 */
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE ? 0 : 1;
const HI = LITTLE ? 1 : 0;
const scratch = new BigInt64Array(1);
const scratch32 = new Uint32Array(scratch.buffer);

/**
 * A READDIRPLUS reply written in place through typed arrays: about 0.3 µs an entry instead of
 * 5 µs with Buffer's BigInt writers and BigInt divisions for the times (whose garbage also cost
 * the backing thread its collections). Entries start 8-aligned (the header is 16 bytes, each
 * entry a multiple of 8), so every 64-bit field is one element of a BigUint64Array view.
 */
export class DirentplusWriter {
  readonly buf: Buffer;
  /** Where the next entry goes. */
  at = OUT_HEADER;
  private readonly u64: BigUint64Array;
  private readonly s64: BigInt64Array;
  private readonly u32: Uint32Array;

  /**
   * `size`: the kernel's buffer size for the reply body. In memory of its own, or at the 8-aligned
   * `byteOffset` of `shared` (a part prepared for the serving thread: prepared-part.ts).
   */
  constructor(readonly size: number, memory?: { shared: SharedArrayBuffer; byteOffset: number }) {
    const words = (OUT_HEADER + size + 7) >>> 3;
    const ab = memory?.shared ?? new ArrayBuffer(words * 8);
    const at = memory?.byteOffset ?? 0;
    this.buf = Buffer.from(ab, at, OUT_HEADER + size);
    this.u64 = new BigUint64Array(ab, at, words);
    this.s64 = new BigInt64Array(ab, at, words);
    this.u32 = new Uint32Array(ab, at, words * 2);
  }

  /** Whether an entry with a name of `nameLength` bytes still fits. */
  fits(nameLength: number): boolean {
    return this.at + direntplusSize(nameLength) <= this.buf.length;
  }

  /**
   * One fuse_direntplus: with an entry (node id and attributes) when `st` is given, else the
   * dirent only (nodeid 0: the kernel makes no entry, counts no lookup). `off` is the cookie of
   * the next entry; `type` is used when there is no `st`. `attrValidNs` is how long the kernel
   * may keep the attributes. The caller checked `fits`. Returns where the entry starts.
   */
  add(nodeid: bigint, ino: bigint, st: BigStat | null, t: Timeouts, attrValidNs: number, off: number, type: number, name: Buffer): number {
    const at = this.at;
    const q = at >>> 3;
    const w = at >>> 2;
    const u32 = this.u32;
    if (st) {
      this.u64[q] = nodeid;
      this.u64[q + 1] = 0n; // generation: node ids are never reused
      this.u64[q + 2] = BigInt(t.entrySeconds);
      this.u64[q + 3] = BigInt(Math.floor(attrValidNs / 1e9));
      u32[w + 8] = 0;
      u32[w + 9] = attrValidNs % 1e9;
      // fuse_attr at +40
      this.u64[q + 5] = ino;
      this.s64[q + 6] = st.size;
      this.s64[q + 7] = st.blocks;
      this.time(q + 8, w + 22, st.atimeNs);
      this.time(q + 9, w + 23, st.mtimeNs);
      this.time(q + 10, w + 24, st.ctimeNs);
      const mode = Number(st.mode);
      u32[w + 25] = mode;
      u32[w + 26] = Number(st.nlink);
      u32[w + 27] = Number(st.uid);
      u32[w + 28] = Number(st.gid);
      u32[w + 29] = Number(st.rdev);
      u32[w + 30] = Number(st.blksize);
      u32[w + 31] = 0;
      type = direntType(mode);
    } else {
      this.buf.fill(0, at, at + ENTRY_OUT_SIZE);
    }
    return this.dirent(at, ino, off, type, name, 0, name.length);
  }

  /**
   * As `add` with an entry and node id 0, its fuse_attr the ATTR_SIZE bytes at `attrAt` of
   * `attrs`, already in the wire's layout (the addon's statEntries), and its name `length` bytes
   * at `nameAt` of `names`: nothing is allocated for an entry. Returns where the entry starts.
   */
  addWire(attrs: Buffer, attrAt: number, entryValidSeconds: bigint, off: number, names: Buffer, nameAt: number, length: number): number {
    const at = this.at;
    const q = at >>> 3;
    this.u64[q] = 0n;
    this.u64[q + 1] = 0n;
    this.u64[q + 2] = entryValidSeconds;
    this.u64[q + 3] = 0n;
    this.u64[q + 4] = 0n;
    attrs.copy(this.buf, at + 40, attrAt, attrAt + ATTR_SIZE);
    return this.dirent(at, 0n, off, direntType(this.u32[(at >>> 2) + 25]!), names, nameAt, length);
  }

  /** The dirent of the entry at `at`, after its entry_out: its name `length` bytes at `nameAt` of `names`. */
  private dirent(at: number, ino: bigint, off: number, type: number, names: Buffer, nameAt: number, length: number): number {
    const u32 = this.u32;
    const d = (at >>> 3) + ENTRY_OUT_SIZE / 8;
    this.u64[d] = ino;
    u32[(d + 1) * 2 + LO] = off >>> 0;
    u32[(d + 1) * 2 + HI] = Math.floor(off / 4294967296);
    u32[(d + 2) * 2] = length;
    u32[(d + 2) * 2 + 1] = type;
    const nameStart = at + ENTRY_OUT_SIZE + 24;
    names.copy(this.buf, nameStart, nameAt, nameAt + length);
    this.at = at + direntplusSize(length);
    this.buf.fill(0, nameStart + length, this.at);
    return at;
  }

  /** Gives the entry `add` wrote at `entryAt` its node id (as d_ino too) and its attributes' timeout. */
  private claim(entryAt: number, nodeid: bigint, attrValidSeconds: bigint, attrValidNanoseconds: number): void {
    const q = entryAt >>> 3;
    this.u64[q] = nodeid;
    this.u64[q + 3] = attrValidSeconds;
    this.u32[(entryAt >>> 2) + 9] = attrValidNanoseconds;
    this.u64[q + 5] = nodeid;
    this.u64[q + ENTRY_OUT_SIZE / 8] = nodeid;
  }

  /**
   * Claims the first `count` entries of a part (`entryAt`: where each starts, negative for one
   * without an entry) with their node ids and the attributes' timeout.
   */
  claimAll(entryAt: ArrayLike<number>, count: number, nodes: BigUint64Array, attrValidNs: number): void {
    const seconds = BigInt(Math.floor(attrValidNs / 1e9));
    const nanoseconds = attrValidNs % 1e9;
    for (let k = 0; k < count; k++) {
      const at = entryAt[k]!;
      if (at >= 0) this.claim(at, nodes[k]!, seconds, nanoseconds);
    }
  }

  /** The finished reply to request `unique`. */
  reply(unique: bigint): Buffer {
    writeOutHeader(this.buf, unique, this.at - OUT_HEADER);
    return this.buf.subarray(0, this.at);
  }

  /**
   * `ns` since the epoch as seconds at u64 index `secAt` and nanoseconds at u32 index `nsecAt`,
   * without BigInt arithmetic: the quotient estimated in floating point is off by at most one
   * (the double's error is under 1.1 µs), and the remainder, exact modulo 2^32, tells which way
   * to correct it. Times before 1970 take the BigInt way (floored: nanoseconds are never negative).
   */
  private time(secAt: number, nsecAt: number, ns: bigint): void {
    const u32 = this.u32;
    if (ns < 0n) {
      let sec = ns / NS;
      let nsec = ns % NS;
      if (nsec < 0n) {
        sec -= 1n;
        nsec += NS;
      }
      this.s64[secAt] = sec;
      u32[nsecAt] = Number(nsec);
      return;
    }
    scratch[0] = ns;
    const lo = scratch32[LO]!;
    const hi = scratch32[HI]!;
    let sec = Math.floor((hi * 4294967296 + lo) / 1e9);
    let nsec = (lo - Math.imul(sec, 1e9)) >>> 0;
    if (nsec >= 1e9) {
      if (nsec > 3e9) {
        sec--;
        nsec = (nsec + 1e9) >>> 0;
      } else {
        sec++;
        nsec -= 1e9;
      }
    }
    u32[secAt * 2 + LO] = sec >>> 0;
    u32[secAt * 2 + HI] = Math.floor(sec / 4294967296);
    u32[nsecAt] = nsec;
  }
}

// ---- notifications (unique 0, error = the notify code) ----

function notifyHeader(out: Buffer, code: number): void {
  out.writeUInt32LE(out.length, 0);
  out.writeInt32LE(code, 4);
  out.writeBigUInt64LE(0n, 8);
}

/** Drops the kernel's cached attributes (and, from `offset` for `length` bytes, pages) of a node. */
export function encodeInvalInode(nodeid: bigint, offset = 0n, length = -1n): Buffer {
  const out = Buffer.alloc(OUT_HEADER + 24);
  notifyHeader(out, NotifyCode.INVAL_INODE);
  out.writeBigUInt64LE(nodeid, OUT_HEADER);
  out.writeBigInt64LE(offset, OUT_HEADER + 8);
  out.writeBigInt64LE(length, OUT_HEADER + 16);
  return out;
}

/** Drops the kernel's cached name `name` in folder `parent`. */
export function encodeInvalEntry(parent: bigint, name: Uint8Array): Buffer {
  const out = Buffer.alloc(OUT_HEADER + 16 + name.length + 1);
  notifyHeader(out, NotifyCode.INVAL_ENTRY);
  out.writeBigUInt64LE(parent, OUT_HEADER);
  out.writeUInt32LE(name.length, OUT_HEADER + 8);
  out.set(name, OUT_HEADER + 16);
  return out;
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}
