/**
 * Answers to the replaying thread's requests about the name it replays. The kernel only emits an
 * inotify event when an operation on the view succeeds, so the view makes the replayed
 * operation succeed without doing it: the change already happened on the server.
 *
 *   create:  LOOKUP name -> ENOENT, CREATE/MKDIR -> a node (real attributes when the backing
 *            folder has it already), with the dummy file handle 0
 *   delete:  LOOKUP name -> a node, UNLINK/RMDIR -> ok
 *   rename:  LOOKUP old -> a node, LOOKUP new -> ENOENT, RENAME -> ok
 *   modify:  OPEN -> handle 0, SETATTR (ftruncate to the same size) -> current attributes
 *
 * Any other request from the replaying thread (walking the parent folders) is served normally.
 */
import * as fs from 'node:fs';
import { Body, Op, encodeAttr, encodeCreate, encodeEntry, encodeError, encodeOpen, encodeReply, type Attr, type InHeader } from './fuse-wire.js';
import { E, attrOf, syntheticAttr } from './attrs.js';
import type { FuseServer } from './fuse-server.js';
import { isPlainName, joinName, type Node } from './nodes.js';
import type { ReplayJob } from './replay-job.js';

export class ReplayAnswers {
  private owner: { uid: number; gid: number } | null = null;

  constructor(private readonly server: FuseServer) {}

  /** True when the request was about the job's names and has been answered. */
  answer(h: InHeader, b: Body): boolean {
    const job = this.server.opts.replay.get();
    if (!job) return false;
    const reply = this.reply(job, h, b);
    if (!reply) return false;
    this.server.opts.write(reply);
    return true;
  }

  private reply(job: ReplayJob, h: InHeader, b: Body): Buffer | null {
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
        if (!rel) return null;
        if ((job.kind === 'create' || job.kind === 'rename') && rel.equals(target)) return encodeError(u, E.ENOENT);
        if (job.kind === 'delete' && rel.equals(target)) return this.entry(u, rel, target, job.isDir);
        if (old && rel.equals(old)) return this.entry(u, rel, target, job.isDir);
        return null;
      }
      case Op.GETATTR: {
        const rel = nodePath();
        if (!rel || !((job.kind === 'delete' && rel.equals(target)) || (old && rel.equals(old)))) return null;
        return encodeAttr(u, this.attr(h.nodeid, target, job.isDir), s.t);
      }
      case Op.CREATE:
      case Op.MKDIR: {
        const rel = child(h.opcode === Op.CREATE ? 16 : 8);
        if (job.kind !== 'create' || !rel?.equals(target)) return null;
        const isDir = h.opcode === Op.MKDIR;
        const node = s.nodes.remember(rel);
        const a = this.attr(node.id, target, isDir);
        return isDir ? encodeEntry(u, node.id, a, s.t) : encodeCreate(u, node.id, a, s.t, 0n, 0);
      }
      case Op.UNLINK:
      case Op.RMDIR: {
        const rel = child(0);
        if (job.kind !== 'delete' || !rel?.equals(target)) return null;
        s.nodes.unlink(rel);
        return encodeReply(u);
      }
      case Op.RENAME:
      case Op.RENAME2: {
        if (!old) return null;
        const rename2 = h.opcode === Op.RENAME2;
        const [oldName, newName] = b.names(rename2 ? 16 : 8, 2);
        const fromDir = s.nodes.get(h.nodeid);
        const toDir = s.nodes.get(b.u64(0));
        if (!fromDir || !toDir) return null;
        const from = joinName(fromDir.path, oldName!);
        const to = joinName(toDir.path, newName!);
        if (!from.equals(old) || !to.equals(target)) return null;
        s.nodes.rename(from, to);
        return encodeReply(u);
      }
      case Op.OPEN: {
        const rel = nodePath();
        if (job.kind !== 'modify' || !rel?.equals(target)) return null;
        return encodeOpen(u, 0n, 0);
      }
      case Op.SETATTR: {
        const rel = nodePath();
        if (job.kind !== 'modify' || !rel?.equals(target)) return null;
        return encodeAttr(u, this.attr(h.nodeid, target, job.isDir), s.t);
      }
      case Op.FLUSH:
        return b.u64(0) === 0n ? encodeReply(u) : null;
      default:
        return null;
    }
  }

  private entry(u: bigint, rel: Buffer, attrsFrom: Buffer, isDir: boolean | undefined): Buffer {
    const node: Node = this.server.nodes.remember(rel);
    return encodeEntry(u, node.id, this.attr(node.id, attrsFrom, isDir), this.server.t);
  }

  /** Real attributes when the backing folder has the name with the expected type, else made up. */
  private attr(ino: bigint, rel: Buffer, isDir: boolean | undefined): Attr {
    try {
      const st = this.server.lstat(rel);
      if (isDir === undefined || st.isDirectory() === isDir) return attrOf(st, ino);
    } catch {
      // gone already: made-up attributes are all the kernel needs to remove the name
    }
    if (!this.owner) {
      const st = fs.lstatSync(this.server.backing(Buffer.alloc(0)));
      this.owner = { uid: st.uid, gid: st.gid };
    }
    return syntheticAttr(ino, isDir === true, this.owner);
  }
}
