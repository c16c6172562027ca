/**
 * The system calls on the backing folder, made on a backing thread (backing-worker.ts): each job
 * becomes its reply. Synchronous on purpose: a call that blocks (a FIFO without a writer, a
 * stalled cifs mount) blocks this thread only; the serving thread hands the next request to
 * another one. Nothing here ever touches the view's own mount point.
 */
import * as fs from 'node:fs';
import { E, Errno, attrOf, errnoOf, syntheticAttr } from './attrs.js';
import { fileHandle, type BackingJob, type BackingUpdate } from './backing-job.js';
import type { ViewAddon } from './addon.js';
import type { PreparedPart } from './prepared-part.js';
import type { PassthroughFiles } from './passthrough-files.js';
import { readdirplus } from './readdirplus.js';
import { opendir } from './opendir.js';
import {
  Fattr, OpenOut, OUT_HEADER, encodeAttr, encodeCreate, encodeEntry, encodeError, encodeLseek, encodeOpen,
  encodeReply, encodeStatfs, encodeWrite, writeOutHeader, type Attr, type Timeouts,
} from './fuse-wire.js';

const { O_NOFOLLOW, O_CREAT, O_EXCL } = fs.constants;

export interface BackingContext {
  /** The backing folder with a trailing slash. */
  root: Buffer;
  t: Timeouts;
  /** Writes a reply; false when the kernel no longer waits for it (the request was interrupted). */
  write(reply: Buffer, length?: number): boolean;
  /** Tells the serving thread about a change of its tables; always before the reply. */
  update(u: BackingUpdate): void;
  /** How many requests with effects the backing threads have done (pool-state.ts). */
  changes(): number;
  /** Counts a change done through the view (pool-state.ts), as the reply of a request with effects does. */
  changed(): void;
  /** Before the reply: this thread goes on preparing the next part of a listing (readdirplus.ts). */
  preparing(): void;
  /** /dev/fuse, for the passthrough ioctls. */
  fuseFd: number;
  /** The native addon, when it is built (addon.ts). */
  addon: ViewAddon | null;
  /** This thread's prepared part of a listing, shared with the serving thread (prepared-part.ts). */
  prepared: PreparedPart;
  /** Which of the view's files are registered for passthrough, shared by the backing threads. */
  passthroughFiles: PassthroughFiles;
}

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const lstat = (p: Uint8Array) => fs.lstatSync(buf(p), { bigint: true });
const fstat = (fd: number) => fs.fstatSync(fd, { bigint: true });

let owner: { uid: number; gid: number } | null = null;
let readReply = Buffer.alloc(0);

/** Runs one job and writes its reply (an error reply when a call fails). */
export function runJob(job: BackingJob, c: BackingContext): void {
  try {
    run(job, c);
  } catch (err) {
    const counted = job.op === 'lookup' || job.op === 'symlink' || job.op === 'mknod' || job.op === 'mkdir' || job.op === 'link' || job.op === 'create';
    if (counted || (job.op === 'replay-attr' && job.form !== 'attr')) {
      c.update({ kind: 'forget', node: job.node });
    }
    if ((job.op === 'open' || job.op === 'create') && job.writing) c.update({ kind: 'notOpened', u: job.u });
    c.write(encodeError(job.u, errnoOf(err)));
  }
}

function entry(c: BackingContext, u: bigint, node: bigint, path: Uint8Array): Buffer {
  return encodeEntry(u, node, attrOf(lstat(path), node), c.t);
}

function run(job: BackingJob, c: BackingContext): void {
  const u = job.u;
  switch (job.op) {
    case 'lookup':
      c.write(entry(c, u, job.node, job.path));
      return;
    case 'getattr': {
      const st = job.fd >= 0 ? fstat(job.fd) : lstat(job.path!);
      c.write(encodeAttr(u, attrOf(st, job.node), c.t));
      return;
    }
    case 'setattr':
      c.write(setattr(job, c));
      return;
    case 'readlink':
      c.write(encodeReply(u, fs.readlinkSync(buf(job.path), { encoding: 'buffer' })));
      return;
    case 'symlink':
      fs.symlinkSync(buf(job.target), buf(job.path));
      c.write(entry(c, u, job.node, job.path));
      return;
    case 'mknod':
      fs.closeSync(fs.openSync(buf(job.path), O_CREAT | O_EXCL | O_NOFOLLOW | fs.constants.O_WRONLY, job.mode));
      fs.chmodSync(buf(job.path), job.mode);
      c.write(entry(c, u, job.node, job.path));
      return;
    case 'mkdir':
      fs.mkdirSync(buf(job.path), job.mode);
      fs.chmodSync(buf(job.path), job.mode);
      c.write(entry(c, u, job.node, job.path));
      return;
    case 'link':
      fs.linkSync(buf(job.from), buf(job.path));
      c.write(entry(c, u, job.node, job.path));
      return;
    case 'remove':
      if (job.dir) fs.rmdirSync(buf(job.path));
      else fs.unlinkSync(buf(job.path));
      c.update({ kind: 'unlink', rel: job.rel });
      c.write(encodeReply(u));
      return;
    case 'rename':
      if (job.noReplace && fs.existsSync(buf(job.to))) throw new Errno(E.EEXIST);
      fs.renameSync(buf(job.from), buf(job.to));
      c.update({ kind: 'rename', from: job.fromRel, to: job.toRel });
      c.write(encodeReply(u));
      return;
    case 'open': {
      const fd = fs.openSync(buf(job.path), job.flags);
      let how: OpenedAs;
      try {
        how = openedAs(c, job.node, fd, fs.fstatSync(fd).isFile(), job);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      opened(c, u, job.node, fd, how, encodeOpen(u, how.fh, how.flags, how.backingId), job.writing);
      return;
    }
    case 'create': {
      const fd = fs.openSync(buf(job.path), job.flags, job.mode);
      let how: OpenedAs;
      let reply: Buffer;
      try {
        fs.fchmodSync(fd, job.mode);
        how = openedAs(c, job.node, fd, true, job);
        reply = encodeCreate(u, job.node, attrOf(fstat(fd), job.node), c.t, how.fh, how.flags, how.backingId);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      opened(c, u, job.node, fd, how, reply, job.writing);
      return;
    }
    case 'read': {
      if (readReply.length < OUT_HEADER + job.size) readReply = Buffer.alloc(OUT_HEADER + job.size);
      const n = fs.readSync(job.fd, readReply, OUT_HEADER, job.size, job.offset);
      writeOutHeader(readReply, u, n);
      c.write(readReply, OUT_HEADER + n);
      return;
    }
    case 'write': {
      const data = Buffer.from(job.slot);
      let done = 0;
      while (done < job.size) done += fs.writeSync(job.fd, data, job.at + done, job.size - done, job.offset + done);
      c.write(encodeWrite(u, done));
      return;
    }
    case 'release':
      if (job.passthrough) endPassthrough(c, job.node);
      if (job.fd >= 0) fs.closeSync(job.fd);
      c.write(encodeReply(u));
      return;
    case 'fsync':
      if (job.datasync) fs.fdatasyncSync(job.fd);
      else fs.fsyncSync(job.fd);
      c.write(encodeReply(u));
      return;
    case 'lseek': {
      // SEEK_DATA / SEEK_HOLE: the whole file is data (what the kernel assumes without us too).
      const size = fstat(job.fd).size;
      if (job.offset >= size) throw new Errno(E.ENXIO);
      c.write(encodeLseek(u, job.whence === 3 ? job.offset : size));
      return;
    }
    case 'statfs': {
      const s = fs.statfsSync(c.root, { bigint: true });
      c.write(encodeStatfs(u, { blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, bsize: Number(s.bsize), namelen: 255 }));
      return;
    }
    case 'access':
      fs.accessSync(buf(job.path), job.mask);
      c.write(encodeReply(u));
      return;
    case 'opendir':
      opendir(job, c);
      return;
    case 'readdirplus':
      readdirplus(job, c);
      return;
    case 'replay-attr': {
      const a = replayAttr(job.node, job.path, job.isDir, c, job.walk === true);
      c.write(job.form === 'attr' ? encodeAttr(u, a, c.t) : encodeEntry(u, job.node, a, c.t));
      return;
    }
  }
}

interface OpenedAs {
  fh: bigint;
  flags: number;
  /** The passthrough registration, or -1. */
  backingId: number;
}

/**
 * How an open descriptor is answered. Where the view may, a regular file is handed to the kernel
 * (FOPEN_PASSTHROUGH), which reads and writes it itself; the file handle then also carries the
 * backing id, which RELEASE ends (fileHandle). Otherwise a regular file keeps the kernel's page
 * cache of the view across opens (as a local file does): the kernel drops it when it sees the size
 * or mtime change (AUTO_INVAL_DATA, checked on read once the attributes are older than their
 * timeout), and the replaying thread drops it when the server reports the file modified. Anything
 * else (a device, a socket) is read afresh each time.
 */
function openedAs(c: BackingContext, node: bigint, fd: number, isFile: boolean, job: { direct: boolean; passthrough: boolean }): OpenedAs {
  const binding = c.addon;
  if (isFile && job.passthrough && binding) {
    const id = c.passthroughFiles.acquire(node, () => binding.backingOpen(c.fuseFd, fd));
    if (id >= 0) return { fh: fileHandle(fd, id), flags: OpenOut.PASSTHROUGH, backingId: id };
    // Not registered (the table is full, say): past the page cache, which passthrough opens of the
    // same file allow, where a cached open would be refused.
    return { fh: fileHandle(fd, -1), flags: OpenOut.DIRECT_IO, backingId: -1 };
  }
  return { fh: fileHandle(fd, -1), flags: (isFile ? OpenOut.KEEP_CACHE : 0) | (job.direct ? OpenOut.DIRECT_IO : 0), backingId: -1 };
}

/** One passthrough open of `node` ended: its registration ends with the last one. */
function endPassthrough(c: BackingContext, node: bigint): void {
  c.passthroughFiles.release(node, (id) => c.addon?.backingClose(c.fuseFd, id));
}

function opened(c: BackingContext, u: bigint, node: bigint, fd: number, how: OpenedAs, reply: Buffer, writing?: Uint8Array): void {
  c.update({ kind: 'opened', u, fh: how.fh, ...(writing && how.backingId >= 0 ? { writing: true as const } : {}) });
  // Opened for writing in passthrough: the kernel writes the backing file itself from now on, and
  // no WRITE will count as a change, so the open does. Attributes read before it (a listing's
  // prepared part) are not answered with any more. Its release counts too.
  if (writing && how.backingId >= 0) c.changed();
  if (c.write(reply)) return;
  // Too late (interrupted): nobody will ever release this descriptor.
  c.update({ kind: 'closed', fh: how.fh });
  if (how.backingId >= 0) endPassthrough(c, node);
  fs.closeSync(fd);
}

/**
 * Real attributes when the backing folder has the name with the expected type (any type for a
 * `walk`: the kernel must keep what it knows of a name that is still there), else made up.
 */
function replayAttr(ino: bigint, path: Uint8Array, isDir: boolean | undefined, c: BackingContext, walk: boolean): Attr {
  try {
    const st = lstat(path);
    if (walk || isDir === undefined || st.isDirectory() === isDir) return attrOf(st, ino);
  } catch {
    // gone already: made-up attributes are all the kernel needs to remove the name
  }
  if (!owner) {
    const st = fs.lstatSync(c.root);
    owner = { uid: st.uid, gid: st.gid };
  }
  return syntheticAttr(ino, isDir === true, owner);
}

function setattr(job: Extract<BackingJob, { op: 'setattr' }>, c: BackingContext): Buffer {
  const s = job.s;
  const path = buf(job.path);
  const fd = job.fd;
  const st0 = fd >= 0 ? fstat(fd) : lstat(path);
  const isLink = (Number(st0.mode) & 0o170000) === 0o120000;
  if (s.valid & Fattr.MODE && !isLink) {
    if (fd >= 0) fs.fchmodSync(fd, s.mode & 0o7777);
    else fs.chmodSync(path, s.mode & 0o7777);
  }
  if (s.valid & (Fattr.UID | Fattr.GID)) {
    const uid = s.valid & Fattr.UID ? s.uid : -1;
    const gid = s.valid & Fattr.GID ? s.gid : -1;
    if (fd >= 0) fs.fchownSync(fd, uid, gid);
    else fs.lchownSync(path, uid, gid);
  }
  if (s.valid & Fattr.SIZE) {
    if (isLink) throw new Errno(E.EINVAL);
    if (fd >= 0) fs.ftruncateSync(fd, Number(s.size));
    else fs.truncateSync(path, Number(s.size));
  }
  if (s.valid & (Fattr.ATIME | Fattr.MTIME | Fattr.ATIME_NOW | Fattr.MTIME_NOW)) {
    const now = Date.now() / 1000;
    const pick = (set: number, nowBit: number, ns: bigint, old: bigint): number =>
      s.valid & nowBit ? now : s.valid & set ? Number(ns) / 1e9 : Number(old) / 1e9;
    const atime = pick(Fattr.ATIME, Fattr.ATIME_NOW, s.atimeNs, st0.atimeNs);
    const mtime = pick(Fattr.MTIME, Fattr.MTIME_NOW, s.mtimeNs, st0.mtimeNs);
    if (fd >= 0) fs.futimesSync(fd, atime, mtime);
    else fs.lutimesSync(path, atime, mtime);
  }
  const st = fd >= 0 ? fstat(fd) : lstat(path);
  return encodeAttr(job.u, attrOf(st, job.node), c.t);
}
