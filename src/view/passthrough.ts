/**
 * FUSE passthrough (Linux 6.9+, protocol 7.40): a view's OPEN can hand the kernel the backing
 * file, which the kernel then reads and writes itself, at the backing file's own speed, instead
 * of sending every READ and WRITE through the view's threads (three copies of each byte). It
 * takes two ioctls on /dev/fuse, which Node cannot make: smbnotify's optional addon
 * (src/native/fuse-passthrough, `npm run build:passthrough`). The kernel allows them to
 * CAP_SYS_ADMIN only, so a root view uses it and a user's view goes on without.
 */
import { createRequire } from 'node:module';
import { PACKAGE_ROOT } from '../platform/usocket.js';

export interface PassthroughBinding {
  /** Registers an open backing file; its backing id, or minus the errno. */
  backingOpen(fuseFd: number, fd: number): number;
  /** Forgets a backing id; 0, or minus the errno. */
  backingClose(fuseFd: number, id: number): number;
}

const ADDON_RELATIVE = '../../src/native/fuse-passthrough/build/Release/passthrough.node';

let loaded: PassthroughBinding | null | undefined;

/** The addon, or null when it is not built (or cannot load here). */
export function passthroughBinding(): PassthroughBinding | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)(ADDON_RELATIVE) as PassthroughBinding;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/** Whether a view uses passthrough, and if not, why not. */
export type PassthroughUse = 'yes' | 'turned off' | 'not root' | 'no addon' | 'no kernel support';

/** Whether this process may register backing files: the addon is there, and we are root. */
export function passthroughUse(wanted: boolean, kernelOffers: boolean): PassthroughUse {
  if (!wanted) return 'turned off';
  if (process.getuid?.() !== 0) return 'not root';
  if (!kernelOffers) return 'no kernel support';
  return passthroughBinding() === null ? 'no addon' : 'yes';
}

/** What a view says about it when it starts: only what is worth knowing (a root view that could be faster). */
export function describePassthrough(use: PassthroughUse): string {
  switch (use) {
    case 'yes':
      return 'the kernel reads and writes its files directly (FUSE passthrough)';
    case 'no addon':
      return `file data goes through smbnotify: FUSE passthrough needs the optional addon (apt-get install build-essential python3, then npm run build:passthrough in ${PACKAGE_ROOT})`;
    case 'no kernel support':
      return 'file data goes through smbnotify: this kernel offers no FUSE passthrough (Linux 6.9 or later)';
    default:
      return '';
  }
}
