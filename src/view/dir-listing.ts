/**
 * Open folders: the listing is read once at OPENDIR by a backing thread (so offsets stay stable
 * while the folder changes behind us) and kept here, on the serving thread; READDIR is answered
 * from it directly, READDIRPLUS by a backing thread that adds each entry's attributes. The offset
 * of a request is the index of the next entry.
 */
import {
  OUT_HEADER, direntSize, direntplusSize, writeDirent, writeOutHeader,
} from './fuse-wire.js';
import { joinName, type Node } from './nodes.js';
import type { FuseServer } from './fuse-server.js';
import type { PlusEntry } from './backing-job.js';
import { E, Errno } from './attrs.js';

interface Listing {
  node: Node;
  /** Null until the backing thread has read the folder (always before the kernel reads it). */
  names: Buffer[] | null;
  types: Uint8Array;
}

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
/** d_ino for entries the kernel has no node for yet: informational only, never 0 (some readers skip 0). */
const UNKNOWN_INO = 0xffffffffn;

export class DirHandles {
  private readonly open_ = new Map<bigint, Listing>();
  private next = 1n;

  constructor(private readonly server: FuseServer) {}

  /** A handle for a folder whose listing a backing thread is about to read. */
  open(node: Node): bigint {
    const fh = this.next++;
    this.open_.set(fh, { node, names: null, types: new Uint8Array(0) });
    return fh;
  }

  /** The backing thread's listing: names joined by NUL, and their types. */
  listed(fh: bigint, joined: Buffer, types: Uint8Array): void {
    const l = this.open_.get(fh);
    if (!l) return;
    const names: Buffer[] = [DOT, DOTDOT];
    for (let at = 0; at < joined.length; ) {
      const end = joined.indexOf(0, at);
      names.push(joined.subarray(at, end));
      at = end + 1;
    }
    l.names = names;
    l.types = Uint8Array.from([4, 4, ...types]);
  }

  release(fh: bigint): void {
    this.open_.delete(fh);
  }

  /** READDIR: the reply; READDIRPLUS: null, a backing thread answers. */
  read(unique: bigint, fh: bigint, offset: bigint, size: number, plus: boolean): Buffer | null {
    const l = this.open_.get(fh);
    if (!l?.names) throw new Errno(E.EBADF);
    const names = l.names;
    if (plus) {
      // Entries that fit (a size that depends on the name only), their nodes counted now.
      const entries: PlusEntry[] = [];
      let room = size;
      for (let i = Number(offset); i < names.length; i++) {
        const name = names[i]!;
        if (direntplusSize(name.length) > room) break;
        room -= direntplusSize(name.length);
        // '.' and '..' carry no entry: the kernel must not count a lookup for them.
        const node = i < 2 ? 0n : this.server.nodes.remember(joinName(l.node.path, name)).id;
        entries.push({ name, node, ino: i < 2 ? l.node.id : node, next: BigInt(i + 1), type: l.types[i]! });
      }
      return this.server.run({ op: 'readdirplus', u: unique, size, dir: this.server.backing(l.node.path), entries });
    }
    const out = Buffer.alloc(OUT_HEADER + size);
    let at = OUT_HEADER;
    for (let i = Number(offset); i < names.length; i++) {
      const name = names[i]!;
      if (at + direntSize(name.length) > out.length) break;
      const known = i < 2 ? undefined : this.server.nodes.byPathOf(joinName(l.node.path, name));
      at = writeDirent(out, at, i < 2 ? l.node.id : (known?.id ?? UNKNOWN_INO), BigInt(i + 1), l.types[i]!, name);
    }
    writeOutHeader(out, unique, at - OUT_HEADER);
    return out.subarray(0, at);
  }
}
