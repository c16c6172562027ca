/**
 * Answers to the replaying thread's requests about the name it replays. The kernel only emits an
 * inotify event when an operation on the view succeeds, so the view makes the replayed
 * operation succeed without doing it: the change already happened on the server.
 *
 *   create:  LOOKUP name -> ENOENT, CREATE/MKDIR -> a node (the attributes the replaying thread
 *            read from the backing folder, given as expired; no backing call), with the
 *            dummy file handle 0
 *   delete:  LOOKUP name -> a node, UNLINK/RMDIR -> ok; LOOKUP of a folder it is in that the
 *            kernel holds -> that node (the server may have removed the folder too: rm -r)
 *   rename:  LOOKUP old -> a node, LOOKUP new -> ENOENT (its node when the kernel holds one: a
 *            rename over it), RENAME -> ok; LOOKUP of a folder old
 *            is in that the kernel holds -> that node (as for delete)
 *   modify:  OPEN -> handle 0 (or, when the file is open in passthrough, a handle joining its
 *            registration, with no descriptor), SETATTR (ftruncate to the same size) -> current attributes
 *
 *   any:     GETATTR of the folder it works in (only with default_permissions, mount.ts: the
 *            kernel's permission check) -> attributes made up and given as expired
 *
 * Any other request from the replaying thread (walking the parent folders) is served normally.
 */
import { Body, Op, OpenOut, type Attr, encodeAttr, encodeCreate, encodeEntry, encodeError, encodeOpen, encodeReply, type InHeader, type Timeouts } from './fuse-wire.js';
import { E, syntheticAttr } from './attrs.js';
import { fileHandle } from './backing-job.js';
import type { FuseServer } from './fuse-server.js';
import { isPlainName, joinName, parentOf } from './nodes.js';
import type { ReplayJob } from './replay-job.js';

/**
 * Owner of made-up attributes. They serve the replaying thread's own requests (the kernel's
 * permission checks with default_permissions included) and are given as expired, so no other
 * caller ever sees them.
 */
const OWNER = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };

/** True when `path` lies below the folder `dir`. */
function isInside(path: Buffer, dir: Buffer): boolean {
  return path.length > dir.length + 1 && path[dir.length] === 0x2f && path.subarray(0, dir.length).equals(dir);
}

export class ReplayAnswers {
  constructor(private readonly server: FuseServer) {}

  /** True when the request was about the job's names and has been answered. */
  answer(h: InHeader, b: Body): boolean {
    const job = this.server.opts.replay.get();
    if (!job) return false;
    const reply = this.reply(job, h, b);
    if (reply === false) return false;
    if (reply) this.server.opts.write(reply);
    return true;
  }

  /** The reply; null when a backing thread answers (with real attributes); false: not ours. */
  private reply(job: ReplayJob, h: InHeader, b: Body): Buffer | null | false {
    const s = this.server;
    const u = h.unique;
    const target = Buffer.from(job.path);
    const old = job.kind === 'rename' ? Buffer.from(job.oldPath) : null;
    const child = (nameAt: number): Buffer | null => {
      const node = s.nodes.get(h.nodeid);
      const name = b.names(nameAt, 1)[0]!;
      return node && isPlainName(name) ? joinName(node.path, name) : null;
    };
    const nodePath = (): Buffer | null => s.nodes.get(h.nodeid)?.path ?? null;
    switch (h.opcode) {
      case Op.LOOKUP: {
        const rel = child(0);
        if (!rel) return false;
        // A rename over a name the kernel holds (a program watches or has open the file a
        // colleague's atomic save replaces): that node, so the kernel renames over it and its
        // watchers get IN_ATTRIB and IN_DELETE_SELF, as locally. Else the name is free.
        if (job.kind === 'rename' && rel.equals(target) && s.nodes.byPathOf(rel)) return this.entry(u, rel, target, job.isDir);
        if ((job.kind === 'create' || job.kind === 'rename') && rel.equals(target)) return encodeError(u, E.ENOENT);
        if (job.kind === 'delete' && rel.equals(target)) return this.entry(u, rel, target, job.isDir);
        if (old && rel.equals(old)) return this.entry(u, rel, target, job.isDir);
        // A folder the removed (or moved) name is in, which the server removed too (rm -r there
        // reports the files, then their folders; a file moved out of a folder, then the folder
        // removed): the backing folder no longer has it, yet while the kernel holds it (someone
        // looked, inotify may watch it) it is the same folder, so each removal inside is replayed
        // in turn, with IN_DELETE_SELF for each folder, as locally.
        const from = job.kind === 'delete' ? target : old;
        if (from && isInside(from, rel) && s.nodes.byPathOf(rel)) return this.attrs('entry', u, s.nodes.remember(rel).id, rel, true, true);
        return false;
      }
      case Op.GETATTR: {
        const rel = nodePath();
        if (!rel) return false;
        if ((job.kind === 'delete' && rel.equals(target)) || (old && rel.equals(old))) return this.attrs('attr', u, h.nodeid, target, job.isDir);
        // The folder the replay works in: the previous replay there made the kernel drop its
        // attributes, and it wants them back only to check the replaying thread's permission to
        // work in it. Made up and given as expired, so the replay does not wait for a backing
        // thread, and anyone else's next look gets the real ones.
        if (rel.equals(parentOf(target)) || (old && rel.equals(parentOf(old)))) {
          return encodeAttr(u, syntheticAttr(h.nodeid, true, OWNER), this.expired);
        }
        return false;
      }
      case Op.CREATE:
      case Op.MKDIR: {
        const rel = child(h.opcode === Op.CREATE ? 16 : 8);
        if (job.kind !== 'create' || !rel?.equals(target)) return false;
        const isDir = h.opcode === Op.MKDIR;
        return this.created(isDir, u, s.nodes.remember(rel).id, job.found);
      }
      case Op.UNLINK:
      case Op.RMDIR: {
        const rel = child(0);
        if (job.kind !== 'delete' || !rel?.equals(target)) return false;
        s.nodes.unlink(rel);
        return encodeReply(u);
      }
      case Op.RENAME:
      case Op.RENAME2: {
        if (!old) return false;
        const rename2 = h.opcode === Op.RENAME2;
        const [oldName, newName] = b.names(rename2 ? 16 : 8, 2);
        const fromDir = s.nodes.get(h.nodeid);
        const toDir = s.nodes.get(b.u64(0));
        if (!fromDir || !toDir) return false;
        const from = joinName(fromDir.path, oldName!);
        const to = joinName(toDir.path, newName!);
        if (!from.equals(old) || !to.equals(target)) return false;
        s.nodes.rename(from, to);
        return encodeReply(u);
      }
      case Op.OPEN: {
        const rel = nodePath();
        if (job.kind !== 'modify' || !rel?.equals(target)) return false;
        if (!s.passthrough) return encodeOpen(u, 0n, 0);
        // A file others hold in passthrough (a reader's tail -f) takes no other kind of open
        // (EIO, fs/fuse/iomode.c): the replay joins their registration, which its RELEASE ends
        // (a handle with no descriptor). Otherwise past the page cache, which a passthrough open
        // made meanwhile allows, where it would refuse a cached one.
        const id = s.opts.pool.joinPassthrough?.(h.nodeid) ?? -1;
        return id >= 0 ? encodeOpen(u, fileHandle(-1, id), OpenOut.PASSTHROUGH, id) : encodeOpen(u, 0n, OpenOut.DIRECT_IO);
      }
      case Op.SETATTR: {
        const rel = nodePath();
        if (job.kind !== 'modify' || !rel?.equals(target)) return false;
        return this.attrs('attr', u, h.nodeid, target, job.isDir);
      }
      default:
        return false;
    }
  }

  private entry(u: bigint, rel: Buffer, attrsFrom: Buffer, isDir: boolean | undefined): null {
    return this.attrs('entry', u, this.server.nodes.remember(rel).id, attrsFrom, isDir);
  }

  /**
   * A replayed creation, answered at once (the inotify event is emitted when this reply arrives)
   * with the attributes the replaying thread found in the backing folder just before, made up
   * when it found none. Given as already expired all the same, so the first look at the new
   * name (stat, open, a file manager's refresh) reads them afresh from the backing folder.
   */
  private created(isDir: boolean, u: bigint, node: bigint, found: Attr | undefined): Buffer {
    const a = found && (found.mode & 0o170000) === (isDir ? 0o040000 : 0o100000) ? { ...found, ino: node } : syntheticAttr(node, isDir, OWNER);
    return isDir ? encodeEntry(u, node, a, this.expired) : encodeCreate(u, node, a, this.expired, 0n, this.server.passthrough ? OpenOut.DIRECT_IO : 0);
  }

  /** Timeouts for made-up attributes: the entry as usual, the attributes already expired. */
  private get expired(): Timeouts {
    return { entrySeconds: this.server.t.entrySeconds, attrSeconds: 0 };
  }

  /** Real attributes when the backing folder has the name with the expected type, else made up. */
  private attrs(form: 'entry' | 'attr', u: bigint, node: bigint, rel: Buffer, isDir: boolean | undefined, walk = false): null {
    return this.server.run({ op: 'replay-attr', form, u, node, path: this.server.backing(rel), isDir, ...(walk ? { walk } : {}) });
  }
}
