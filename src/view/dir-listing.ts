/**
 * Open folders: the listing is read once at OPENDIR (so offsets stay stable while the folder
 * changes behind us) and handed out in pieces by READDIR / READDIRPLUS, whose offset is the index
 * of the next entry.
 */
import * as fs from 'node:fs';
import {
  OUT_HEADER, direntSize, direntplusSize, writeDirent, writeDirentplus, writeOutHeader, type Attr,
} from './fuse-wire.js';
import { joinName, type Node } from './nodes.js';
import type { FuseServer } from './fuse-server.js';
import { E, Errno, attrOf } from './attrs.js';

interface Listing {
  node: Node;
  names: Buffer[];
  types: number[];
}

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
/** d_ino for entries the kernel has no node for yet: informational only, never 0 (some readers skip 0). */
const UNKNOWN_INO = 0xffffffffn;

function typeOf(d: fs.Dirent): number {
  if (d.isDirectory()) return 4;
  if (d.isFile()) return 8;
  if (d.isSymbolicLink()) return 10;
  if (d.isFIFO()) return 1;
  if (d.isCharacterDevice()) return 2;
  if (d.isBlockDevice()) return 6;
  if (d.isSocket()) return 12;
  return 0;
}

export class DirHandles {
  private readonly open_ = new Map<bigint, Listing>();
  private next = 1n;

  constructor(private readonly server: FuseServer) {}

  open(node: Node): bigint {
    const entries = fs.readdirSync(this.server.backing(node.path), { withFileTypes: true, encoding: 'buffer' });
    const names: Buffer[] = [DOT, DOTDOT];
    const types = [4, 4];
    for (const d of entries) {
      names.push(d.name as unknown as Buffer);
      types.push(typeOf(d as unknown as fs.Dirent));
    }
    const fh = this.next++;
    this.open_.set(fh, { node, names, types });
    return fh;
  }

  release(fh: bigint): void {
    this.open_.delete(fh);
  }

  read(unique: bigint, fh: bigint, offset: bigint, size: number, plus: boolean): Buffer {
    const l = this.open_.get(fh);
    if (!l) throw new Errno(E.EBADF);
    const out = Buffer.alloc(OUT_HEADER + size);
    let at = OUT_HEADER;
    for (let i = Number(offset); i < l.names.length; i++) {
      const name = l.names[i]!;
      const next = BigInt(i + 1);
      if (!plus) {
        if (at + direntSize(name.length) > out.length) break;
        const known = i < 2 ? undefined : this.server.nodes.byPathOf(joinName(l.node.path, name));
        at = writeDirent(out, at, i < 2 ? l.node.id : (known?.id ?? UNKNOWN_INO), next, l.types[i]!, name);
        continue;
      }
      if (at + direntplusSize(name.length) > out.length) break;
      if (i < 2) {
        // '.' and '..' carry no entry: the kernel must not count a lookup for them.
        const a: Attr = { ino: l.node.id, size: 0n, blocks: 0n, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n, mode: 0o40000, nlink: 2, uid: 0, gid: 0, rdev: 0, blksize: 4096 };
        at = writeDirentplus(out, at, 0n, a, this.server.t, next, name);
        continue;
      }
      const rel = joinName(l.node.path, name);
      let st: fs.BigIntStats;
      try {
        st = this.server.lstat(rel);
      } catch {
        continue; // gone since OPENDIR
      }
      const node = this.server.nodes.remember(rel);
      at = writeDirentplus(out, at, node.id, attrOf(st, node.id), this.server.t, next, name);
    }
    writeOutHeader(out, unique, at - OUT_HEADER);
    return out.subarray(0, at);
  }
}
