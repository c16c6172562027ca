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

/**
 * A node, its path kept as the table's key (the bytes as latin1) and made a Buffer only when
 * asked for: a listing makes a node per entry, and most are never asked for their path.
 */
class TableNode implements Node {
  lookups = 0;
  linked = true;
  private bytes: Buffer | null;

  constructor(readonly id: bigint, public key: string, path: Buffer | null) {
    this.bytes = path;
  }

  get path(): Buffer {
    return (this.bytes ??= Buffer.from(this.key, 'latin1'));
  }

  set path(path: Buffer) {
    this.bytes = path;
    this.key = path.toString('latin1');
  }
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
  private readonly byId = new Map<bigint, TableNode>();
  private readonly byPath = new Map<string, TableNode>();
  private nextId = ROOT_ID + 1n;
  /**
   * Raised whenever a node leaves the table or changes path: nodes made ahead (`ahead`) are
   * still what they were made for only while it has not moved.
   */
  generation = 0;

  constructor() {
    const root = new TableNode(ROOT_ID, '', Buffer.alloc(0));
    root.lookups = 1;
    this.byId.set(ROOT_ID, root);
    this.byPath.set('', root);
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: bigint): Node | undefined {
    return this.byId.get(id);
  }

  /** The node the kernel holds for `path` (not one made `ahead` and not handed over yet). */
  byPathOf(path: Buffer): Node | undefined {
    const node = this.byPath.get(path.toString('latin1'));
    return node && node.lookups > 0 ? node : undefined;
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
    const node = this.ahead(key, path);
    node.lookups++;
    return node;
  }

  /**
   * The node for `key`, made if new, without counting a reference: for the next part of a
   * listing, made while the kernel's reader is busy with the current one. Its caller counts it
   * later (`counted`), or gives it up (`uncounted`).
   */
  ahead(key: string, path?: Buffer): Node {
    let node = this.byPath.get(key);
    if (!node) {
      node = new TableNode(this.nextId++, key, path ?? null);
      this.byId.set(node.id, node);
      this.byPath.set(key, node);
    }
    return node;
  }

  /** Nodes made `ahead` and not needed after all: those the kernel was never handed leave. */
  uncounted(nodes: readonly (Node | null)[]): void {
    for (const node of nodes) {
      if (node && node.lookups === 0 && node.id !== ROOT_ID) this.remove(node as TableNode);
    }
  }

  forget(id: bigint, count: bigint): void {
    if (id === ROOT_ID) return;
    const node = this.byId.get(id);
    if (!node) return;
    node.lookups -= Number(count);
    if (node.lookups > 0) return;
    this.remove(node);
  }

  private remove(node: TableNode): void {
    this.generation++;
    this.byId.delete(node.id);
    if (this.byPath.get(node.key) === node) this.byPath.delete(node.key);
  }

  /** The name at `path` is gone. */
  unlink(path: Buffer): void {
    const key = path.toString('latin1');
    const node = this.byPath.get(key);
    if (!node) return;
    this.generation++;
    node.linked = false;
    this.byPath.delete(key);
  }

  /** `from` is now `to`, with everything below it. */
  rename(from: Buffer, to: Buffer): void {
    this.unlink(to);
    this.generation++;
    const fromKey = from.toString('latin1');
    const prefix = `${fromKey}/`;
    const toKey = to.toString('latin1');
    const moved: TableNode[] = [];
    for (const [key, node] of this.byPath) {
      if (key === fromKey || key.startsWith(prefix)) moved.push(node);
    }
    for (const node of moved) {
      const key = node.key;
      this.byPath.delete(key);
      const newKey = toKey + key.slice(fromKey.length);
      node.path = Buffer.from(newKey, 'latin1');
      this.byPath.set(newKey, node);
    }
  }
}
