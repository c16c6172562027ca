/**
 * smbnotify's optional native addon for live views (src/native/view, `npm run build:view`): what
 * Node cannot do for a FUSE file system, or does too slowly for one. A view works without it:
 * - FUSE passthrough (passthrough.ts) takes two ioctls on /dev/fuse, which Node cannot make;
 *   without the addon a root view passes file data through its own threads, as a user's view does.
 * - A folder's names and its entries' attributes for READDIRPLUS (dir-listing.ts, readdirplus.ts):
 *   in C one fstatat(2) each, written straight in the wire's layout; in JavaScript an lstat costs
 *   5-9 µs and a BigIntStats of a score of BigInts. Without the addon listings are slower.
 */
import { createRequire } from 'node:module';

export interface ViewAddon {
  /** Registers an open backing file; its backing id, or minus the errno. */
  backingOpen(fuseFd: number, fd: number): number;
  /** Forgets a backing id; 0, or minus the errno. */
  backingClose(fuseFd: number, id: number): number;
  /**
   * For k < count: lstat of the name starting at byte starts[k] of `names` (NUL-ended) in folder
   * `dir`, its fuse_attr at attrs[88k..], errors[k] 0 or the errno. 0, or minus the errno of
   * opening `dir`.
   */
  statEntries(dir: Buffer, names: Buffer, starts: Uint32Array, count: number, attrs: Buffer, errors: Uint32Array): number;
  /**
   * The names of folder `dir` but '.' and '..', sorted by their bytes, each ended by a NUL, and
   * their DT_ types; or minus the errno.
   */
  listFolder(dir: Buffer): [names: Buffer, types: Buffer] | number;
}

/** From dist/view/ (or src/view/ under the test runner) to the addon; both are two levels down. */
const ADDON_RELATIVE = '../../src/native/view/build/Release/view.node';

let loaded: ViewAddon | null | undefined;

/** The addon, or null when it is not built (or cannot load here). */
export function viewAddon(): ViewAddon | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)(ADDON_RELATIVE) as ViewAddon;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}
