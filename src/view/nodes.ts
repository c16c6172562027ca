/**
 * The view's node table: FUSE node ids to paths relative to the backing folder, kept as raw bytes
 * so that any name the backing file system holds (not valid UTF-8, control characters) passes
 * through unchanged. Node ids are never reused (the generation is always 0), and a path keeps its
 * node id while the kernel remembers it, so that the kernel's caches stay coherent.
 *
 * Paths are made only by joining single names the kernel sent (which never contain '/' and are
 * never '.' or '..'): nothing outside the backing folder can be named.
 */

export const ROOT_ID = 1n;

export interface Node {
  id: bigint;
  /** Relative path bytes; empty for the root. */
  path: Buffer;
  /**
   * How many times the kernel was handed this node (LOOKUP, CREATE, READDIRPLUS...); FORGET
   * lowers it. A number (exact up to 2^53): a BigInt made a new one at each count.
   */
  lookups: number;
  /** False once the name was removed: the node lives on until the kernel forgets it. */
  linked: boolean;
}

const SLASH = Buffer.from('/');

export function joinName(dir: Buffer, name: Buffer): Buffer {
  return dir.length === 0 ? name : Buffer.concat([dir, SLASH, name]);
}

/** The folder part of a relative path (empty for a name in the root). */
export function parentOf(path: Buffer): Buffer {
  const slash = path.lastIndexOf(0x2f);
  return slash < 0 ? Buffer.alloc(0) : path.subarray(0, slash);
}

/** A name the kernel may legitimately send in a request: non-empty, no '/', not '.' or '..'. */
export function isPlainName(name: Buffer): boolean {
  if (name.length === 0 || name.includes(0x2f) || name.includes(0)) return false;
  return !(name.length === 1 && name[0] === 0x2e) && !(name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
}

export class NodeTable {
  private readonly byId = new Map<bigint, Node>();
  private readonly byPath = new Map<string, Node>();
  private nextId = ROOT_ID + 1n;

  constructor() {
    const root: Node = { id: ROOT_ID, path: Buffer.alloc(0), lookups: 1, linked: true };
    this.byId.set(ROOT_ID, root);
    this.byPath.set('', root);
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: bigint): Node | undefined {
    return this.byId.get(id);
  }

  byPathOf(path: Buffer): Node | undefined {
    return this.byPath.get(path.toString('latin1'));
  }

  /** The node for `path`, made if new; counts one more kernel reference. */
  remember(path: Buffer): Node {
    return this.rememberKey(path.toString('latin1'), path);
  }

  /**
   * The same for a path given as its key, the path's bytes as latin1 (one character per byte):
   * no Buffer is made for a node that exists (a listing counts one node per entry).
   */
  rememberKey(key: string, path?: Buffer): Node {
    let node = this.byPath.get(key);
    if (!node) {
      node = { id: this.nextId++, path: path ?? Buffer.from(key, 'latin1'), lookups: 0, linked: true };
      this.byId.set(node.id, node);
      this.byPath.set(key, node);
    }
    node.lookups++;
    return node;
  }

  forget(id: bigint, count: bigint): void {
    if (id === ROOT_ID) return;
    const node = this.byId.get(id);
    if (!node) return;
    node.lookups -= Number(count);
    if (node.lookups > 0) return;
    this.byId.delete(id);
    const key = node.path.toString('latin1');
    if (this.byPath.get(key) === node) this.byPath.delete(key);
  }

  /** The name at `path` is gone. */
  unlink(path: Buffer): void {
    const key = path.toString('latin1');
    const node = this.byPath.get(key);
    if (!node) return;
    node.linked = false;
    this.byPath.delete(key);
  }

  /** `from` is now `to`, with everything below it. */
  rename(from: Buffer, to: Buffer): void {
    this.unlink(to);
    const fromKey = from.toString('latin1');
    const prefix = `${fromKey}/`;
    const toKey = to.toString('latin1');
    const moved: Node[] = [];
    for (const [key, node] of this.byPath) {
      if (key === fromKey || key.startsWith(prefix)) moved.push(node);
    }
    for (const node of moved) {
      const key = node.path.toString('latin1');
      this.byPath.delete(key);
      const newKey = toKey + key.slice(fromKey.length);
      node.path = Buffer.from(newKey, 'latin1');
      this.byPath.set(newKey, node);
    }
  }
}
