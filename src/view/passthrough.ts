/**
 * FUSE passthrough (Linux 6.9+, protocol 7.40): a view's OPEN can hand the kernel the backing
 * file, which the kernel then reads and writes itself, at the backing file's own speed, instead
 * of sending every READ and WRITE through the view's threads (three copies of each byte). It
 * takes two ioctls on /dev/fuse, which Node cannot make: smbnotify's optional addon
 * (src/native/view, `npm run build:view`: addon.ts). The kernel allows them to
 * CAP_SYS_ADMIN only, so a root view uses it and a user's view goes on without.
 */
import { PACKAGE_ROOT } from '../platform/usocket.js';
import { viewAddon } from './addon.js';

/** Whether a view uses passthrough, and if not, why not. */
export type PassthroughUse = 'yes' | 'turned off' | 'not root' | 'no addon' | 'no kernel support';

/** Whether this process may register backing files: the addon is there, and we are root. */
export function passthroughUse(wanted: boolean, kernelOffers: boolean): PassthroughUse {
  if (!wanted) return 'turned off';
  if (process.getuid?.() !== 0) return 'not root';
  if (!kernelOffers) return 'no kernel support';
  return viewAddon() === null ? 'no addon' : 'yes';
}

/**
 * What a view says about the addon when it starts: only what is worth knowing (a view that could
 * be faster with it, or a root view that cannot pass file data to the kernel).
 */
export function describePassthrough(use: PassthroughUse): string {
  const build = `apt-get install build-essential python3, then npm run build:view in ${PACKAGE_ROOT}`;
  switch (use) {
    case 'yes':
      return 'the kernel reads and writes its files directly (FUSE passthrough)';
    case 'no addon':
      return `file data goes through smbnotify and large folders list slower: FUSE passthrough and fast listings need the optional addon (${build})`;
    case 'no kernel support':
      return 'file data goes through smbnotify: this kernel offers no FUSE passthrough (Linux 6.9 or later)';
    default:
      return viewAddon() === null ? `large folders list slower: fast listings need the optional addon (${build})` : '';
  }
}
