/**
 * The serving thread's half of the view (docs/live-view.md, "Threads"): it decodes each request,
 * keeps the node table, folder listings and replay answers, and hands every call on the backing
 * folder to a backing thread (backing-pool.ts), which answers it. It never makes a call on the
 * backing folder itself, so a blocked one cannot stop it; it never waits for libuv's pool or the
 * main thread.
 *
 * Requests from the replaying thread about the name it is replaying are answered by ReplayAnswers
 * without touching the backing folder; everything else, the replaying thread's path walks
 * included, is served normally.
 */
import { E, Errno, errnoOf } from './attrs.js';
import { fdOfHandle, type BackingJob, type BackingUpdate } from './backing-job.js';
import type { PassthroughUse } from './passthrough.js';
import type { PreparedPart } from './prepared-part.js';
import type { Part } from './readdirplus.js';
import {
  Body, Fattr, InitFlag, Op, decodeHeader, decodeInit, decodeIo, decodeSetattr, encodeError, encodeInit, encodeReply,
  type InHeader, type Timeouts,
} from './fuse-wire.js';
import { NodeTable, ROOT_ID, isPlainName, joinName, type Node } from './nodes.js';
import { DirHandles } from './dir-listing.js';
import { ReplayAnswers } from './replay-answers.js';
import type { ReplayChannel } from './replay-job.js';
import type { OwnChange } from './replayer.js';
import { FileHandles, MAX_WRITE } from './file-handles.js';

export { MAX_WRITE };
/** A request is at most a WRITE header plus MAX_WRITE bytes; the kernel refuses smaller buffers. */
export const REQUEST_BUFFER_SIZE = MAX_WRITE + 8192;

export interface ServerOptions {
  /** The backing folder (for an over-mount: /proc/self/fd/N of the covered folder). */
  root: string;
  /** Writes a reply the serving thread makes itself (no backing call needed). */
  write: (reply: Buffer, length?: number) => void;
  /** Runs jobs on the backing threads (backing-pool.ts). */
  pool: JobRunner;
  replay: ReplayChannel;
  /** Paths (relative, UTF-8) the user changes through the view: the server will report them too. */
  /**
   * A change made through the view. `held`: a file is being opened for writing in passthrough,
   * whose writes the view never sees (own changes until `closed` names the same key, file-handles.ts);
   * `closed`: that key, or the handle of a file written through the view, was closed.
   */
  onLocalChange: (paths: string[], change: OwnChange, handle?: { held: bigint } | { closed: bigint }) => void;
  /** INIT has been answered: the kernel applied its settings while we wrote the reply. */
  onInitialized?: (passthrough: PassthroughUse) => void;
  /** false: never hand files to the kernel (FUSE passthrough), even where possible. */
  passthrough?: boolean;
  timeouts?: Timeouts;
}

export interface JobRunner {
  /** Runs `job` on a backing thread (`prefer` if it can take it); returns the thread's index. */
  run(job: BackingJob, prefer?: number): number;
  /** True when `unique` is being answered by a backing thread and may be abandoned. */
  abandonable(unique: bigint): boolean;
  /** Thread `i`'s prepared part of a listing (prepared-part.ts), where threads prepare parts. */
  preparedPart?(i: number): PreparedPart | undefined;
  /** Has thread `i` prepare a listing's next part; false when it cannot now. */
  prepare?(i: number, part: Part): boolean;
  /** One more open of a file registered for passthrough (its backing id), else -1 (passthrough-files.ts). */
  joinPassthrough?(node: bigint): number;
  /** The pool's count of requests with effects done (pool-state.ts). */
  changes?(): number;
}

export class FuseServer {
  readonly nodes = new NodeTable();
  private readonly root: Buffer;
  private readonly dirs: DirHandles;
  private readonly files: FileHandles;
  readonly t: Timeouts;
  private readonly answers: ReplayAnswers;
  destroyed = false;

  constructor(readonly opts: ServerOptions) {
    // The trailing slash makes the root itself resolve through a /proc/self/fd/N magic link.
    this.root = Buffer.from(opts.root.replace(/\/*$/, '/'));
    this.t = opts.timeouts ?? { entrySeconds: 1, attrSeconds: 1 };
    this.dirs = new DirHandles(this);
    this.files = new FileHandles(this);
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

  childPath(parent: bigint, name: Buffer): Buffer {
    if (!isPlainName(name)) throw new Errno(E.EINVAL);
    return joinName(this.node(parent).path, name);
  }

  run(job: BackingJob): null {
    this.opts.pool.run(job);
    return null;
  }

  /** Runs `job` on thread `prefer` when it can take it (it may have prepared the answer); returns the thread. */
  runOn(job: BackingJob, prefer: number): number {
    return this.opts.pool.run(job, prefer);
  }

  /** Applies a change a backing thread made to the tables (before it answered the kernel). */
  apply(u: BackingUpdate): void {
    const b = (x: Uint8Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    if (u.kind === 'forget') this.nodes.forget(u.node, 1n);
    else if (u.kind === 'opened') this.files.opened(u.fh, u.u, u.writing === true);
    else if (u.kind === 'notOpened') this.files.notOpened(u.u);
    else if (u.kind === 'closed') this.files.closed(u.fh);
    else if (u.kind === 'unlink') this.nodes.unlink(b(u.rel));
    else if (u.kind === 'rename') this.nodes.rename(b(u.from), b(u.to));
    else if (u.kind === 'listing') this.dirs.listed(u.fh, b(u.names), u.text, u.types);
    else this.dirs.release(u.fh);
  }

  /** One request, `length` bytes at the start of `buf` (a view of `slot`). Errors become replies. */
  handle(buf: Buffer, length: number, slot: SharedArrayBuffer): void {
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
      const reply = this.dispatch(h, b, slot);
      if (reply) this.opts.write(reply);
      if (h.opcode === Op.INIT) this.opts.onInitialized?.(this.files.passthroughUse);
    } catch (err) {
      this.opts.write(encodeError(h.unique, errnoOf(err)));
    }
  }

  private local(change: OwnChange, ...paths: Buffer[]): void {
    this.opts.onLocalChange(paths.map((p) => p.toString()), change);
  }

  /** Whether regular files are handed to the kernel at OPEN (FUSE passthrough). */
  get passthrough(): boolean {
    return this.files.passthrough;
  }

  /** A new name: its node is counted now, and forgotten again if the backing call fails. */
  created(rel: Buffer): bigint {
    this.local('created', rel);
    return this.nodes.remember(rel).id;
  }

  /** Returns the reply, or null when there is none (FORGET, INTERRUPT) or a backing thread answers. */
  private dispatch(h: InHeader, b: Body, slot: SharedArrayBuffer): Buffer | null {
    const u = h.unique;
    switch (h.opcode) {
      case Op.INIT: {
        const init = decodeInit(b);
        const want = InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.MAX_PAGES | InitFlag.DO_READDIRPLUS | InitFlag.PARALLEL_DIROPS | InitFlag.AUTO_INVAL_DATA | InitFlag.INIT_EXT;
        const passthrough = this.files.init(init, this.opts.passthrough !== false);
        return encodeInit(u, { flags: init.flags & want, maxReadahead: init.maxReadahead, maxWrite: MAX_WRITE, maxPages: MAX_WRITE / 4096, maxBackground: 64, ...passthrough });
      }
      case Op.DESTROY:
        this.destroyed = true;
        return encodeReply(u);
      case Op.LOOKUP: {
        const path = this.childPath(h.nodeid, b.names(0, 1)[0]!);
        return this.run({ op: 'lookup', u, node: this.nodes.remember(path).id, path: this.backing(path) });
      }
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
        const fd = b.u32(0) & 1 && this.files.has(b.u64(8)) ? fdOfHandle(b.u64(8)) : -1;
        return this.run({ op: 'getattr', u, node: node.id, path: fd >= 0 ? null : this.backing(this.linked(node)), fd });
      }
      case Op.SETATTR: {
        const s = decodeSetattr(b);
        const node = this.node(h.nodeid);
        const fd = s.valid & Fattr.FH && this.files.has(s.fh) ? fdOfHandle(s.fh) : -1;
        if (s.valid & ~Fattr.FH) this.local('changed', node.path);
        return this.run({ op: 'setattr', u, node: node.id, path: this.backing(fd >= 0 ? node.path : this.linked(node)), fd, s });
      }
      case Op.READLINK:
        return this.run({ op: 'readlink', u, path: this.backing(this.node(h.nodeid).path) });
      case Op.SYMLINK: {
        const [name, target] = b.names(0, 2);
        const rel = this.childPath(h.nodeid, name!);
        return this.run({ op: 'symlink', u, node: this.created(rel), path: this.backing(rel), target: target! });
      }
      case Op.MKNOD: {
        const mode = b.u32(0);
        if ((mode & 0o170000) !== 0o100000) throw new Errno(E.EPERM);
        const rel = this.childPath(h.nodeid, b.names(16, 1)[0]!);
        return this.run({ op: 'mknod', u, node: this.created(rel), path: this.backing(rel), mode: mode & 0o7777 });
      }
      case Op.MKDIR: {
        const rel = this.childPath(h.nodeid, b.names(8, 1)[0]!);
        return this.run({ op: 'mkdir', u, node: this.created(rel), path: this.backing(rel), mode: b.u32(0) & 0o7777 });
      }
      case Op.UNLINK:
      case Op.RMDIR: {
        const rel = this.childPath(h.nodeid, b.names(0, 1)[0]!);
        this.local('removed', rel);
        return this.run({ op: 'remove', u, dir: h.opcode === Op.RMDIR, rel, path: this.backing(rel) });
      }
      case Op.RENAME:
      case Op.RENAME2:
        return this.rename(h, b);
      case Op.LINK: {
        const from = this.node(b.u64(0)).path;
        const rel = this.childPath(h.nodeid, b.names(8, 1)[0]!);
        return this.run({ op: 'link', u, node: this.created(rel), from: this.backing(from), path: this.backing(rel) });
      }
      case Op.OPEN:
        return this.files.open(h, b);
      case Op.CREATE:
        return this.files.create(h, b);
      case Op.READ:
        return this.files.read(h, b);
      case Op.WRITE:
        return this.files.write(h, b, slot);
      case Op.STATFS:
        return this.run({ op: 'statfs', u });
      case Op.RELEASE:
        return this.files.release(h, b);
      case Op.FLUSH:
        // Nothing to flush: writes reach the backing file before they are answered. ENOSYS tells
        // the kernel to send no FLUSH again, which saves a round trip on every close(2), and lets
        // a close complete while the view is busy or stopped (a kernel FLUSH wait is uninterruptible).
        throw new Errno(E.ENOSYS);
      case Op.FSYNC:
        return this.files.fsync(h, b);
      case Op.OPENDIR: {
        const node = this.node(h.nodeid);
        return this.run({ op: 'opendir', u, fh: this.dirs.open(node), path: this.backing(node.path) });
      }
      case Op.READDIR:
      case Op.READDIRPLUS: {
        const io = decodeIo(b);
        return this.dirs.read(u, io.fh, io.offset, io.size, h.opcode === Op.READDIRPLUS);
      }
      case Op.RELEASEDIR:
        this.dirs.release(b.u64(0));
        return encodeReply(u);
      case Op.FSYNCDIR:
        return encodeReply(u);
      case Op.ACCESS: {
        // Sent only without default_permissions (mount.ts), for access(2) and chdir. R_OK, W_OK
        // and X_OK have the values of the kernel's MAY_READ, MAY_WRITE and MAY_EXEC.
        const mask = b.u32(0) & 7;
        return this.run({ op: 'access', u, path: this.backing(this.linked(this.node(h.nodeid))), mask });
      }
      case Op.LSEEK:
        return this.files.lseek(h, b);
      case Op.INTERRUPT:
        this.interrupt(b.u64(0));
        return null;
      default:
        // STATX, xattrs, locks, ioctl, poll, fallocate, copy_file_range: the kernel falls back.
        throw new Errno(E.ENOSYS);
    }
  }

  /**
   * A caller got a signal while its request waits on a backing call: a request that changes
   * nothing (a lookup, an open, a read) is answered EINTR now, so that the caller can go (even a
   * SIGKILL waits for our answer once we have read the request); the late answer of the backing
   * thread is then refused by the kernel, and an open it made is closed. A request with effects
   * waits for its call, as on a local file system.
   */
  private interrupt(unique: bigint): void {
    if (this.opts.pool.abandonable(unique)) this.opts.write(encodeError(unique, E.EINTR));
  }

  /** The path of a node that still has its name: a removed one must not reach a newer file there. */
  linked(node: Node): Buffer {
    if (!node.linked) throw new Errno(E.ENOENT);
    return node.path;
  }

  private rename(h: InHeader, b: Body): null {
    const rename2 = h.opcode === Op.RENAME2;
    const flags = rename2 ? b.u32(8) : 0;
    const [oldName, newName] = b.names(rename2 ? 16 : 8, 2);
    const from = this.childPath(h.nodeid, oldName!);
    const to = this.childPath(b.u64(0), newName!);
    const RENAME_NOREPLACE = 1;
    if (flags & ~RENAME_NOREPLACE) throw new Errno(E.EINVAL);
    this.local('moved-away', from);
    this.local('moved-in', to);
    return this.run({ op: 'rename', u: h.unique, fromRel: from, toRel: to, from: this.backing(from), to: this.backing(to), noReplace: (flags & RENAME_NOREPLACE) !== 0 });
  }

  /** The root node id, for ReplayAnswers and listings. */
  get rootId(): bigint {
    return ROOT_ID;
  }
}
