/**
 * Open folders: the listing is read once at OPENDIR by a backing thread (so offsets stay stable
 * while the folder changes behind us) into shared memory, and kept here, on the serving thread;
 * READDIR is answered from it directly, READDIRPLUS by a backing thread that adds each entry's
 * attributes, reading the names from the same memory (a job carries node ids, no names). The
 * offset of a request is the index of the next entry: 0 is '.', 1 is '..', then the names.
 */
import { DOT, DOTDOT, DT_DIR, OUT_HEADER, direntSize, direntplusSize, writeDirent, writeOutHeader } from './fuse-wire.js';
import { joinName, type Node } from './nodes.js';
import type { FuseServer } from './fuse-server.js';
import { E, Errno } from './attrs.js';
import { PreparedPart, type PartLabel } from './prepared-part.js';

interface Listing {
  node: Node;
  /** Null until the backing thread has read the folder (always before the kernel reads it). */
  names: Buffer | null;
  /** The same as a latin1 string: node keys are made from it without a Buffer a name. */
  text: string;
  /** Where each name starts in `names`, and one more: where the next would (past the last NUL). */
  starts: Uint32Array;
  types: Uint8Array;
  /** The backing thread that answered the last READDIRPLUS: it prepares the next part. */
  thread: number;
  /** Where that next part starts: only a request from there goes to `thread`. */
  preparedFrom: number;
  /** The next part's nodes, made while the kernel's reader was busy with the last one. */
  ahead: Ahead | null;
}

/** Nodes made ahead for the entries from..to-1 (null for '.' and '..'), not counted yet. */
interface Ahead {
  from: number;
  to: number;
  nodes: (Node | null)[];
  /** The node table's generation then: the nodes still stand for these names while it is unchanged. */
  generation: number;
}

/** Where a READDIRPLUS part of `size` bytes from entry `from` ends: the entries that fit (a size that depends on the name only). */
function partEnd(l: Listing, from: number, size: number): number {
  const count = l.types.length + 2;
  let to = from;
  for (let room = size; to < count; to++) {
    const length = to < 2 ? to + 1 : l.starts[to - 1]! - l.starts[to - 2]! - 1;
    if (direntplusSize(length) > room) break;
    room -= direntplusSize(length);
  }
  return to;
}

/** The node table's key of the listing's entry `i` (2 or more); `dirKey` is the folder's, with a '/' unless it is the root. */
function keyOf(dirKey: string, l: Listing, i: number): string {
  return dirKey + l.text.slice(l.starts[i - 2], l.starts[i - 1]! - 1);
}

/** d_ino for entries the kernel has no node for yet: informational only, never 0 (some readers skip 0). */
const UNKNOWN_INO = 0xffffffffn;

export class DirHandles {
  private readonly open_ = new Map<bigint, Listing>();
  private next = 1n;

  constructor(private readonly server: FuseServer) {}

  /** A handle for a folder whose listing a backing thread is about to read. */
  open(node: Node): bigint {
    const fh = this.next++;
    this.open_.set(fh, { node, names: null, text: '', starts: new Uint32Array(1), types: new Uint8Array(0), thread: -1, preparedFrom: -1, ahead: null });
    return fh;
  }

  /** The backing thread's listing: names joined by NUL (as bytes and as a latin1 string), and their types. */
  listed(fh: bigint, joined: Buffer, text: string, types: Uint8Array): void {
    const l = this.open_.get(fh);
    if (!l) return;
    const starts = new Uint32Array(types.length + 1);
    for (let k = 0, at = 0; k < types.length; k++) {
      at = text.indexOf('\0', at) + 1;
      starts[k + 1] = at;
    }
    l.names = joined;
    l.text = text;
    l.starts = starts;
    l.types = types;
  }

  release(fh: bigint): void {
    const l = this.open_.get(fh);
    if (l?.ahead) this.server.nodes.uncounted(l.ahead.nodes);
    this.open_.delete(fh);
  }

  /**
   * Answers READDIRPLUS `unique` with the part thread `thread` prepared (prepared-part.ts), when
   * it is ready, is the one asked for and is fresh (PreparedPart.age), with no name gone since
   * OPENDIR: the entries' node ids (`nodes`, counted)
   * are put in and the reply written from here. False when the request must go to a backing thread.
   */
  private answerPrepared(thread: number, unique: bigint, label: PartLabel, nodes: BigUint64Array): boolean {
    const pool = this.server.opts.pool;
    const part = pool.preparedPart?.(thread);
    const facts = part?.take(label);
    if (!part || !facts) return false;
    const age = PreparedPart.age(facts, nodes.length, pool.changes?.());
    if (age === null || facts.gone > 0) {
      part.putBack();
      return false;
    }
    const out = part.writer(facts);
    out.claimAll(part.entryAt, facts.count, nodes, this.server.t.attrSeconds * 1e9 - Math.ceil(age * 1e6));
    try {
      this.server.opts.write(out.reply(unique));
    } finally {
      part.release();
    }
    return true;
  }

  /** READDIR: the reply; READDIRPLUS: null, a backing thread answers. */
  read(unique: bigint, fh: bigint, offset: bigint, size: number, plus: boolean): Buffer | null {
    const l = this.open_.get(fh);
    if (!l?.names) throw new Errno(E.EBADF);
    const count = l.types.length + 2;
    const name = (i: number): Buffer => i === 0 ? DOT : i === 1 ? DOTDOT : l.names!.subarray(l.starts[i - 2]!, l.starts[i - 1]! - 1);
    const from = Math.min(Number(offset), count);
    if (plus) {
      const to = partEnd(l, from, size);
      const nodes = new BigUint64Array(to - from);
      const types = new Uint8Array(to - from);
      const table = this.server.nodes;
      const dirKey = l.node.path.length === 0 ? '' : `${l.node.path.toString('latin1')}/`;
      const ahead = l.ahead;
      l.ahead = null;
      const made = ahead !== null && ahead.from === from && ahead.to === to && ahead.generation === table.generation ? ahead.nodes : null;
      if (ahead && !made) table.uncounted(ahead.nodes);
      for (let i = from; i < to; i++) {
        // '.' and '..' carry no entry: the kernel must not count a lookup for them.
        let node: Node | null = null;
        if (i >= 2) {
          node = made?.[i - from] ?? table.rememberKey(keyOf(dirKey, l, i));
          if (made) node.lookups++;
        }
        nodes[i - from] = node?.id ?? 0n;
        types[i - from] = i < 2 ? DT_DIR : l.types[i - 2]!;
      }
      const dir = this.server.backing(l.node.path);
      const prepared = from === l.preparedFrom && l.thread >= 0;
      if (prepared && this.answerPrepared(l.thread, unique, { fh, from, size }, nodes)) {
        // Answered here from the part that thread prepared: it prepares the next one now.
        if (to < count) this.server.opts.pool.prepare?.(l.thread, { fh, size, dir, dirIno: l.node.id, names: l.names, from: to, at: l.starts[to - 2]! });
      } else {
        const at = l.starts[Math.max(from, 2) - 2]!;
        // Any other part (a rewind, a seek) goes to a free thread: the preparing one may be stuck
        // on a stalled mount point further on, and would hold the request until it is back.
        l.thread = this.server.runOn({ op: 'readdirplus', u: unique, fh, size, dir, dirIno: l.node.id, names: l.names, from, at, nodes, types }, prepared ? l.thread : -1);
      }
      l.preparedFrom = to;
      // The next part's nodes now, while the kernel's reader takes this part in: when its request
      // comes, they need only be counted.
      const next = partEnd(l, to, size);
      if (next > to) {
        const nodesAhead: (Node | null)[] = [];
        for (let i = to; i < next; i++) nodesAhead.push(i < 2 ? null : table.ahead(keyOf(dirKey, l, i)));
        l.ahead = { from: to, to: next, nodes: nodesAhead, generation: table.generation };
      }
      return null;
    }
    const out = Buffer.alloc(OUT_HEADER + size);
    let at = OUT_HEADER;
    for (let i = from; i < count; i++) {
      const n = name(i);
      if (at + direntSize(n.length) > out.length) break;
      const known = i < 2 ? undefined : this.server.nodes.byPathOf(joinName(l.node.path, n));
      at = writeDirent(out, at, i < 2 ? l.node.id : (known?.id ?? UNKNOWN_INO), BigInt(i + 1), i < 2 ? DT_DIR : l.types[i - 2]!, n);
    }
    writeOutHeader(out, unique, at - OUT_HEADER);
    return out.subarray(0, at);
  }
}
