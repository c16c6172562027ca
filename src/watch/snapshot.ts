/**
 * What the watcher believes the watched tree holds: one map of entries per folder. It turns
 * notifications into events exactly once (a CREATE for a name already known is a duplicate, a
 * DELETE of an unknown name too) and, after an overflow or a reconnect, turns a fresh listing
 * into the precise difference.
 *
 * Memory: an entry is its name, the map slot and four plain fields (no BigInt, no Date). A
 * listing is applied as it arrives, one QUERY_DIRECTORY response at a time (`listing`): entries
 * still listed are updated in place, and neither the whole listing nor its whole difference ever
 * exists as an array (an overflow in a folder of 100,000 files would otherwise make both, every
 * time). Past `limit` entries the snapshot stops growing and the watcher reports only OVERFLOW for
 * folders it can no longer diff.
 */
import type { ListedEntry } from '../smb/tree.js';
import { baseName, isWithin, joinPath, parentOf } from './paths.js';

export interface EntryState {
  /** Undefined until known: a notification says a name appeared, not what it is. */
  isDir: boolean | undefined;
  /** Undefined until a listing tells. */
  size: number | undefined;
  /** Last write time (a FILETIME in a double); undefined until a listing tells. */
  mtime: number | undefined;
  /** The listing that last showed the entry (see `Snapshot.listing`); 0 for none. */
  listed: number;
}

/** An entry taken out of the snapshot with everything below it, to be put back elsewhere (a move). */
export interface Detached {
  from: string;
  entry: EntryState;
  folders: Array<[string, Map<string, EntryState>]>;
}

export const UNKNOWN_ENTRY: Readonly<EntryState> = { isDir: undefined, size: undefined, mtime: undefined, listed: 0 };

export type Difference =
  | { kind: 'CREATE'; path: string; entry: EntryState }
  /** `below`: what was known under a deleted folder, deepest first (see deletionOrder). */
  | { kind: 'DELETE'; path: string; entry: EntryState; below?: Removed[] }
  | { kind: 'MODIFY'; path: string; entry: EntryState };

export interface Removed {
  path: string;
  entry: EntryState;
}

/** One folder's listing, applied to the snapshot as its responses arrive (`Snapshot.listing`). */
export interface FolderListing {
  /** The next entry of the listing, in the server's order (name already made safe); not kept. */
  add(entry: Readonly<ListedEntry>): void;
  /** The listing is complete: what it did not show is deleted. Returns the differences found. */
  finish(): number;
  /** The listing failed: what it showed so far stays, nothing is deleted. */
  abandon(): void;
}

/**
 * Everything known below a removed folder, in the order `rm -rf` removes it and inotifywait
 * reports it: deepest first, so each entry comes before the folder that held it.
 */
export function deletionOrder(folders: ReadonlyArray<readonly [string, ReadonlyMap<string, EntryState>]>): Removed[] {
  const out: Removed[] = [];
  for (const [folder, entries] of folders) for (const [name, entry] of entries) out.push({ path: joinPath(folder, name), entry });
  const depth = (p: string) => p.split('/').length;
  return out.sort((a, b) => depth(b.path) - depth(a.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export const DEFAULT_SNAPSHOT_LIMIT = 1_000_000;

export function entryOf(listed: Readonly<ListedEntry>, pass = 0): EntryState {
  return { isDir: listed.isDirectory, size: listed.size, mtime: listed.lastWrite, listed: pass };
}

export class Snapshot {
  private readonly folders = new Map<string, Map<string, EntryState>>();
  private count = 0;
  /**
   * How many folders hold each name. A new name that no folder holds cannot be the second half of
   * a move between folders, so it need not wait for one (change-processor.ts).
   */
  private readonly names = new Map<string, number>();
  /** Listings made so far; each stamps the entries it shows with its number. */
  private passes = 0;
  /** The listing in progress of each folder being listed. */
  private readonly listingOf = new Map<string, number>();

  constructor(readonly limit = DEFAULT_SNAPSHOT_LIMIT) {}

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.limit;
  }

  hasFolder(path: string): boolean {
    return this.folders.has(path);
  }

  /** Known folders at or below `root`, parents before children. */
  foldersUnder(root: string): string[] {
    return [...this.folders.keys()].filter((f) => isWithin(f, root)).sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  }

  /** Whether any folder holds an entry of this name. */
  holdsName(name: string): boolean {
    return this.names.has(name);
  }

  get(path: string): EntryState | undefined {
    return this.folders.get(parentOf(path))?.get(baseName(path));
  }

  entriesOf(folder: string): ReadonlyMap<string, EntryState> | undefined {
    return this.folders.get(folder);
  }

  /** Replace a folder's entries with a complete listing and return what changed (see `listing`). */
  replaceFolder(folder: string, listing: readonly ListedEntry[]): Difference[] {
    const diff: Difference[] = [];
    const pass = this.listing(folder, (d) => diff.push(d));
    for (const entry of listing) pass.add(entry);
    pass.finish();
    return diff;
  }

  /**
   * Apply a fresh listing of `folder` as it arrives, each change reported to `report` as it is
   * found: a new name is a CREATE, a name whose type changed a DELETE and a CREATE, a file whose
   * size or write time changed a MODIFY; at `finish`, every name the listing did not show is a
   * DELETE (a folder's with what was known below it), and its subtree is dropped. A folder seen for
   * the first time yields CREATE for every entry. The folder is recorded as known from its first
   * response on. Should the folder leave the snapshot meanwhile (deleted or moved by another
   * listing or a notification), or another listing of it begin, the rest of this one is ignored.
   */
  listing(folder: string, report: (d: Difference) => void): FolderListing {
    const pass = ++this.passes;
    this.listingOf.set(folder, pass);
    // A folder known now must still be this one when entries come; one listed for the first time
    // is recorded with its first entry.
    let entries = this.folders.get(folder);
    let changes = 0;
    const current = (): Map<string, EntryState> | undefined => {
      if (this.listingOf.get(folder) !== pass) return undefined;
      if (!entries) {
        entries = this.folders.get(folder) ?? new Map<string, EntryState>();
        this.folders.set(folder, entries);
      }
      return this.folders.get(folder) === entries ? entries : undefined;
    };
    const put = (folderEntries: Map<string, EntryState>, listed: Readonly<ListedEntry>): void => {
      const old = folderEntries.get(listed.name);
      if (!old) {
        const entry = entryOf(listed, pass);
        folderEntries.set(listed.name, entry);
        this.count++;
        this.nameIn(listed.name);
        changes++;
        report({ kind: 'CREATE', path: joinPath(folder, listed.name), entry });
      } else if (old.isDir !== undefined && old.isDir !== listed.isDirectory) {
        const path = joinPath(folder, listed.name);
        const entry = entryOf(listed, pass);
        changes += 2;
        report({ kind: 'DELETE', path, entry: old, below: old.isDir ? this.below(path) : [] });
        if (old.isDir) this.dropSubtree(path);
        folderEntries.set(listed.name, entry);
        report({ kind: 'CREATE', path, entry });
      } else {
        const modified = !listed.isDirectory && old.size !== undefined && (old.size !== listed.size || old.mtime !== listed.lastWrite);
        // Written only when different: a new number in an old entry would be garbage for the old
        // generation at every listing of a big folder.
        if (old.isDir !== listed.isDirectory) old.isDir = listed.isDirectory;
        if (old.size !== listed.size) old.size = listed.size;
        if (old.mtime !== listed.lastWrite) old.mtime = listed.lastWrite;
        old.listed = pass;
        if (modified) {
          changes++;
          report({ kind: 'MODIFY', path: joinPath(folder, listed.name), entry: old });
        }
      }
    };
    return {
      add: (listed) => {
        const folderEntries = current();
        if (folderEntries) put(folderEntries, listed);
      },
      finish: () => {
        const folderEntries = current();
        if (this.listingOf.get(folder) === pass) this.listingOf.delete(folder);
        if (!folderEntries) return changes;
        // forEach: no [name, entry] pair made per entry (a big folder is gone through every time).
        folderEntries.forEach((old, name) => {
          if (old.listed === pass) return;
          folderEntries.delete(name);
          this.count--;
          this.nameOut(name);
          const path = joinPath(folder, name);
          changes++;
          report({ kind: 'DELETE', path, entry: old, below: old.isDir !== false ? this.below(path) : [] });
          if (old.isDir !== false) this.dropSubtree(path);
        });
        return changes;
      },
      abandon: () => {
        if (this.listingOf.get(folder) === pass) this.listingOf.delete(folder);
      },
    };
  }

  /** Record a folder as known and empty (a folder just created). */
  ensureFolder(folder: string): void {
    if (!this.folders.has(folder)) this.folders.set(folder, new Map());
  }

  /** Add or update one entry; returns false when it was already there with the same type. */
  add(path: string, entry: EntryState): boolean {
    const folder = this.folders.get(parentOf(path));
    if (!folder) return true;
    const old = folder.get(baseName(path));
    if (!old) {
      this.count++;
      this.nameIn(baseName(path));
    }
    folder.set(baseName(path), entry);
    if (entry.isDir) this.ensureFolder(path);
    return !old || old.isDir !== entry.isDir;
  }

  /** Remove an entry and, for a folder, everything below it; returns the removed entry. */
  remove(path: string): EntryState | undefined {
    const folder = this.folders.get(parentOf(path));
    const old = folder?.get(baseName(path));
    if (!folder || !old) return undefined;
    folder.delete(baseName(path));
    this.count--;
    this.nameOut(baseName(path));
    if (old.isDir !== false) this.dropSubtree(path);
    return old;
  }

  /** Take an entry and its subtree out; `attach` puts them back at another path. */
  detach(path: string): Detached | undefined {
    const entry = this.get(path);
    if (!entry) return undefined;
    const folders = entry.isDir !== false ? [...this.folders.entries()].filter(([f]) => isWithin(f, path)) : [];
    this.remove(path);
    return { from: path, entry, folders };
  }

  attach(path: string, detached: Detached): void {
    this.add(path, detached.entry);
    for (const [f, entries] of detached.folders) {
      const moved = path + f.slice(detached.from.length);
      const previous = this.folders.get(moved);
      this.count += entries.size - (previous?.size ?? 0);
      for (const name of previous?.keys() ?? []) this.nameOut(name);
      for (const name of entries.keys()) this.nameIn(name);
      this.folders.set(moved, entries);
    }
  }

  /** Move an entry (and a folder's subtree) to a new path; returns the moved entry. */
  move(from: string, to: string): EntryState | undefined {
    const detached = this.detach(from);
    if (detached) this.attach(to, detached);
    return detached?.entry;
  }

  /** What is known below a folder, deepest first. */
  below(dir: string): Removed[] {
    return deletionOrder([...this.folders.entries()].filter(([f]) => isWithin(f, dir)));
  }

  private dropSubtree(dir: string): void {
    for (const [f, entries] of [...this.folders.entries()]) {
      if (isWithin(f, dir)) {
        this.count -= entries.size;
        for (const name of entries.keys()) this.nameOut(name);
        this.folders.delete(f);
      }
    }
  }

  private nameIn(name: string): void {
    this.names.set(name, (this.names.get(name) ?? 0) + 1);
  }

  private nameOut(name: string): void {
    const n = this.names.get(name) ?? 0;
    if (n <= 1) this.names.delete(name);
    else this.names.set(name, n - 1);
  }
}
