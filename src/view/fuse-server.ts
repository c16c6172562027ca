/**
 * Answers FUSE requests by passing them through to the backing folder with synchronous system
 * calls, on the one thread that reads /dev/fuse (see docs/live-view.md, "Threads"). Synchronous on
 * purpose: no request ever waits for libuv's thread pool, so nothing else in the process (the
 * replaying thread, a program's own fs.promises calls on the view) can starve it.
 *
 * Requests from the replaying thread about the name it is replaying are answered by ReplayAnswers
 * without touching the backing folder; everything else, the replaying thread's path walks
 * included, is served normally.
 */
import * as fs from 'node:fs';
import { E, Errno, attrOf, errnoOf } from './attrs.js';
import {
  Body, Fattr, InitFlag, Op, OUT_HEADER, WRITE_IN_SIZE, decodeHeader, decodeInit, decodeIo, decodeSetattr,
  encodeAttr, encodeCreate, encodeEntry, encodeError, encodeInit, encodeLseek, encodeOpen, encodeReply,
  encodeStatfs, encodeWrite, writeOutHeader, type InHeader, type Timeouts,
} from './fuse-wire.js';
import { NodeTable, ROOT_ID, isPlainName, joinName, type Node } from './nodes.js';
import { DirHandles } from './dir-listing.js';
import { ReplayAnswers } from './replay-answers.js';
import type { ReplayChannel } from './replay-job.js';

export const MAX_WRITE = 1024 * 1024;
/** A request is at most a WRITE header plus MAX_WRITE bytes; the kernel refuses smaller buffers. */
export const REQUEST_BUFFER_SIZE = MAX_WRITE + 8192;

export interface ServerOptions {
  /** The backing folder (for an over-mount: /proc/self/fd/N of the covered folder). */
  root: string;
  write: (reply: Buffer, length?: number) => void;
  replay: ReplayChannel;
  /** Paths (relative, UTF-8) the user changed through the view: the server will report them too. */
  onLocalChange: (paths: string[]) => void;
  timeouts?: Timeouts;
}

const { O_NOFOLLOW, O_CREAT, O_EXCL } = fs.constants;

interface FileHandle {
  fd: number;
  path: Buffer;
  written: boolean;
}

export class FuseServer {
  readonly nodes = new NodeTable();
  private readonly root: Buffer;
  private readonly files = new Map<bigint, FileHandle>();
  private readonly dirs: DirHandles;
  private nextFh = 1n;
  private readonly readReply = Buffer.alloc(OUT_HEADER + MAX_WRITE);
  readonly t: Timeouts;
  private readonly answers: ReplayAnswers;
  destroyed = false;

  constructor(readonly opts: ServerOptions) {
    // The trailing slash makes the root itself resolve through a /proc/self/fd/N magic link.
    this.root = Buffer.from(opts.root.replace(/\/*$/, '/'));
    this.t = opts.timeouts ?? { entrySeconds: 1, attrSeconds: 1 };
    this.dirs = new DirHandles(this);
    this.answers = new ReplayAnswers(this);
  }

  /** The backing path of a relative path. */
  backing(rel: Buffer): Buffer {
    return rel.length === 0 ? this.root : Buffer.concat([this.root, rel]);
  }

  node(id: bigint): Node {
    const node = this.nodes.get(id);
    if (!node) throw new Errno(E.ESTALE);
    return node;
  }

  lstat(rel: Buffer): fs.BigIntStats {
    return fs.lstatSync(this.backing(rel), { bigint: true });
  }

  /** Looks `rel` up on the backing folder and hands the kernel a node for it. */
  entryFor(unique: bigint, rel: Buffer): Buffer {
    const st = this.lstat(rel);
    const node = this.nodes.remember(rel);
    return encodeEntry(unique, node.id, attrOf(st, node.id), this.t);
  }

  childPath(parent: bigint, name: Buffer): Buffer {
    if (!isPlainName(name)) throw new Errno(E.EINVAL);
    return joinName(this.node(parent).path, name);
  }

  /** One request, `length` bytes at the start of `buf`. Never throws: errors become replies. */
  handle(buf: Buffer, length: number): void {
    let h: InHeader;
    try {
      h = decodeHeader(buf, length);
    } catch {
      return; // the kernel never sends this; nothing to answer
    }
    try {
      const b = new Body(buf, length);
      const replaying = h.pid !== 0 && h.pid === this.opts.replay.replayThread;
      if (replaying && this.answers.answer(h, b)) return;
      const reply = this.dispatch(h, b, buf);
      if (reply) this.opts.write(reply);
    } catch (err) {
      this.opts.write(encodeError(h.unique, errnoOf(err)));
    }
  }

  private local(...paths: Buffer[]): void {
    this.opts.onLocalChange(paths.map((p) => p.toString()));
  }

  /** Returns the reply, or null when there is none (FORGET, INTERRUPT) or it was written already. */
  private dispatch(h: InHeader, b: Body, buf: Buffer): Buffer | null {
    const u = h.unique;
    switch (h.opcode) {
      case Op.INIT: {
        const init = decodeInit(b);
        const want = InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.MAX_PAGES | InitFlag.DO_READDIRPLUS | InitFlag.PARALLEL_DIROPS | InitFlag.AUTO_INVAL_DATA;
        return encodeInit(u, { flags: init.flags & want, maxReadahead: init.maxReadahead, maxWrite: MAX_WRITE, maxPages: MAX_WRITE / 4096, maxBackground: 64 });
      }
      case Op.DESTROY:
        this.destroyed = true;
        return encodeReply(u);
      case Op.LOOKUP:
        return this.entryFor(u, this.childPath(h.nodeid, b.names(0, 1)[0]!));
      case Op.FORGET:
        this.nodes.forget(h.nodeid, b.u64(0));
        return null;
      case Op.BATCH_FORGET: {
        const count = b.u32(0);
        for (let i = 0; i < count; i++) this.nodes.forget(b.u64(8 + i * 16), b.u64(16 + i * 16));
        return null;
      }
      case Op.GETATTR: {
        const node = this.node(h.nodeid);
        const fh = b.u32(0) & 1 ? this.files.get(b.u64(8)) : undefined;
        const st = fh ? fs.fstatSync(fh.fd, { bigint: true }) : this.lstat(this.linked(node));
        return encodeAttr(u, attrOf(st, node.id), this.t);
      }
      case Op.SETATTR:
        return this.setattr(h, b);
      case Op.READLINK:
        return encodeReply(u, fs.readlinkSync(this.backing(this.node(h.nodeid).path), { encoding: 'buffer' }));
      case Op.SYMLINK: {
        const [name, target] = b.names(0, 2);
        const rel = this.childPath(h.nodeid, name!);
        fs.symlinkSync(target!, this.backing(rel));
        this.local(rel);
        return this.entryFor(u, rel);
      }
      case Op.MKNOD: {
        const mode = b.u32(0);
        if ((mode & 0o170000) !== 0o100000) throw new Errno(E.EPERM);
        const rel = this.childPath(h.nodeid, b.names(16, 1)[0]!);
        fs.closeSync(fs.openSync(this.backing(rel), O_CREAT | O_EXCL | O_NOFOLLOW | fs.constants.O_WRONLY, mode & 0o7777));
        fs.chmodSync(this.backing(rel), mode & 0o7777);
        this.local(rel);
        return this.entryFor(u, rel);
      }
      case Op.MKDIR: {
        const mode = b.u32(0) & 0o7777;
        const rel = this.childPath(h.nodeid, b.names(8, 1)[0]!);
        fs.mkdirSync(this.backing(rel), mode);
        fs.chmodSync(this.backing(rel), mode);
        this.local(rel);
        return this.entryFor(u, rel);
      }
      case Op.UNLINK:
      case Op.RMDIR: {
        const rel = this.childPath(h.nodeid, b.names(0, 1)[0]!);
        if (h.opcode === Op.UNLINK) fs.unlinkSync(this.backing(rel));
        else fs.rmdirSync(this.backing(rel));
        this.nodes.unlink(rel);
        this.local(rel);
        return encodeReply(u);
      }
      case Op.RENAME:
      case Op.RENAME2:
        return this.rename(h, b);
      case Op.LINK: {
        const from = this.node(b.u64(0)).path;
        const rel = this.childPath(h.nodeid, b.names(8, 1)[0]!);
        fs.linkSync(this.backing(from), this.backing(rel));
        this.local(rel);
        return this.entryFor(u, rel);
      }
      case Op.OPEN: {
        const node = this.node(h.nodeid);
        const flags = (b.u32(0) & ~(O_CREAT | O_EXCL)) | O_NOFOLLOW;
        const fd = fs.openSync(this.backing(this.linked(node)), flags);
        return encodeOpen(u, this.addFile(fd, node.path), 0);
      }
      case Op.CREATE: {
        const flags = b.u32(0);
        const mode = b.u32(4) & 0o7777;
        const rel = this.childPath(h.nodeid, b.names(16, 1)[0]!);
        const fd = fs.openSync(this.backing(rel), flags | O_CREAT | O_NOFOLLOW, mode);
        try {
          fs.fchmodSync(fd, mode);
          const st = fs.fstatSync(fd, { bigint: true });
          const node = this.nodes.remember(rel);
          this.local(rel);
          return encodeCreate(u, node.id, attrOf(st, node.id), this.t, this.addFile(fd, rel), 0);
        } catch (err) {
          fs.closeSync(fd);
          throw err;
        }
      }
      case Op.READ: {
        const io = decodeIo(b);
        const f = this.file(io.fh);
        const size = Math.min(io.size, MAX_WRITE);
        const n = fs.readSync(f.fd, this.readReply, OUT_HEADER, size, Number(io.offset));
        writeOutHeader(this.readReply, u, n);
        this.opts.write(this.readReply, OUT_HEADER + n);
        return null;
      }
      case Op.WRITE: {
        const io = decodeIo(b);
        const f = this.file(io.fh);
        const at = b.dataAt(WRITE_IN_SIZE, io.size);
        let done = 0;
        while (done < io.size) done += fs.writeSync(f.fd, buf, at + done, io.size - done, Number(io.offset) + done);
        if (!f.written) {
          f.written = true;
          this.local(f.path);
        }
        return encodeWrite(u, done);
      }
      case Op.STATFS: {
        const s = fs.statfsSync(this.root, { bigint: true });
        return encodeStatfs(u, { blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, bsize: Number(s.bsize), namelen: 255 });
      }
      case Op.RELEASE: {
        const fh = b.u64(0);
        const f = this.files.get(fh);
        if (f) {
          this.files.delete(fh);
          fs.closeSync(f.fd);
          if (f.written) this.local(f.path);
        }
        return encodeReply(u);
      }
      case Op.FLUSH:
        return encodeReply(u);
      case Op.FSYNC: {
        const f = this.file(b.u64(0));
        if (b.u32(8) & 1) fs.fdatasyncSync(f.fd);
        else fs.fsyncSync(f.fd);
        return encodeReply(u);
      }
      case Op.OPENDIR:
        return encodeOpen(u, this.dirs.open(this.node(h.nodeid)), 0);
      case Op.READDIR:
      case Op.READDIRPLUS: {
        const io = decodeIo(b);
        return this.dirs.read(u, io.fh, io.offset, io.size, h.opcode === Op.READDIRPLUS);
      }
      case Op.RELEASEDIR:
        this.dirs.release(b.u64(0));
        return encodeReply(u);
      case Op.FSYNCDIR:
      case Op.ACCESS:
        return encodeReply(u);
      case Op.LSEEK: {
        // SEEK_DATA / SEEK_HOLE: the whole file is data (what the kernel assumes without us too).
        const f = this.file(b.u64(0));
        const offset = b.u64(8);
        const whence = b.u32(16);
        const size = fs.fstatSync(f.fd, { bigint: true }).size;
        if (offset >= size) throw new Errno(E.ENXIO);
        return encodeLseek(u, whence === 3 ? offset : size);
      }
      case Op.INTERRUPT:
        return null;
      default:
        // STATX, xattrs, locks, ioctl, poll, fallocate, copy_file_range: the kernel falls back.
        throw new Errno(E.ENOSYS);
    }
  }

  private addFile(fd: number, path: Buffer): bigint {
    const fh = this.nextFh++;
    this.files.set(fh, { fd, path, written: false });
    return fh;
  }

  private file(fh: bigint): FileHandle {
    const f = this.files.get(fh);
    if (!f) throw new Errno(E.EBADF);
    return f;
  }

  private setattr(h: InHeader, b: Body): Buffer {
    const s = decodeSetattr(b);
    const node = this.node(h.nodeid);
    const path = this.backing(node.path);
    const f = s.valid & Fattr.FH ? this.files.get(s.fh) : undefined;
    const st0 = f ? fs.fstatSync(f.fd, { bigint: true }) : this.lstat(this.linked(node));
    const isLink = (Number(st0.mode) & 0o170000) === 0o120000;
    if (s.valid & Fattr.MODE && !isLink) {
      if (f) fs.fchmodSync(f.fd, s.mode & 0o7777);
      else fs.chmodSync(path, s.mode & 0o7777);
    }
    if (s.valid & (Fattr.UID | Fattr.GID)) {
      const uid = s.valid & Fattr.UID ? s.uid : -1;
      const gid = s.valid & Fattr.GID ? s.gid : -1;
      if (f) fs.fchownSync(f.fd, uid, gid);
      else fs.lchownSync(path, uid, gid);
    }
    if (s.valid & Fattr.SIZE) {
      if (isLink) throw new Errno(E.EINVAL);
      if (f) fs.ftruncateSync(f.fd, Number(s.size));
      else fs.truncateSync(path, Number(s.size));
    }
    if (s.valid & (Fattr.ATIME | Fattr.MTIME | Fattr.ATIME_NOW | Fattr.MTIME_NOW)) {
      const now = Date.now() / 1000;
      const pick = (set: number, nowBit: number, ns: bigint, old: bigint): number =>
        s.valid & nowBit ? now : s.valid & set ? Number(ns) / 1e9 : Number(old) / 1e9;
      const atime = pick(Fattr.ATIME, Fattr.ATIME_NOW, s.atimeNs, st0.atimeNs);
      const mtime = pick(Fattr.MTIME, Fattr.MTIME_NOW, s.mtimeNs, st0.mtimeNs);
      if (f) fs.futimesSync(f.fd, atime, mtime);
      else fs.lutimesSync(path, atime, mtime);
    }
    if (s.valid & (Fattr.MODE | Fattr.UID | Fattr.GID | Fattr.SIZE | Fattr.ATIME | Fattr.MTIME | Fattr.ATIME_NOW | Fattr.MTIME_NOW)) {
      this.local(node.path);
    }
    const st = f ? fs.fstatSync(f.fd, { bigint: true }) : this.lstat(node.path);
    return encodeAttr(h.unique, attrOf(st, node.id), this.t);
  }

  /** The path of a node that still has its name: a removed one must not reach a newer file there. */
  linked(node: Node): Buffer {
    if (!node.linked) throw new Errno(E.ENOENT);
    return node.path;
  }

  private rename(h: InHeader, b: Body): Buffer {
    const rename2 = h.opcode === Op.RENAME2;
    const newDir = b.u64(0);
    const flags = rename2 ? b.u32(8) : 0;
    const [oldName, newName] = b.names(rename2 ? 16 : 8, 2);
    const from = this.childPath(h.nodeid, oldName!);
    const to = this.childPath(newDir, newName!);
    const RENAME_NOREPLACE = 1;
    if (flags & ~RENAME_NOREPLACE) throw new Errno(E.EINVAL);
    if (flags & RENAME_NOREPLACE && fs.existsSync(this.backing(to))) throw new Errno(E.EEXIST);
    fs.renameSync(this.backing(from), this.backing(to));
    this.nodes.rename(from, to);
    this.local(from, to);
    return encodeReply(h.unique);
  }

  /** The root node id, for ReplayAnswers and listings. */
  get rootId(): bigint {
    return ROOT_ID;
  }
}
