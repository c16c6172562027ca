/**
 * Mounting and unmounting a view, and the watchdog that unmounts it when this process dies.
 *
 * Root opens /dev/fuse and lets mount(8) mount it (`-i`: no mount.fuse helper; the descriptor is
 * the child's fd 3). Other users go through fusermount3, which sends the descriptor back over a
 * Unix socket (fusermount-user.ts). Either way the watchdog, a detached shell holding our end of
 * a pipe as its stdin, unmounts lazily when that pipe closes without a "done" line: after
 * SIGKILL or a crash the mount point works again at once, never "Transport endpoint is not
 * connected"; for a view over a cifs mount point, the cifs mount is back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { FUSE_TYPE, mountinfoEscape, topMountAt } from './mountinfo.js';
import { mountAsUser } from './fusermount-user.js';
import { systemToolEnv } from '../platform/system-path.js';

export class MountError extends Error {
  override name = 'MountError';
}

export interface MountOptions {
  mountPoint: string;
  /** What mountinfo shows as the source, e.g. //server/share. */
  source: string;
  /** Let other users in (kernel allow_other; fusermount3 needs user_allow_other for non-root). */
  allowOther?: boolean;
}

export interface Mounted {
  fd: number;
  unmount(): void;
}

const isRoot = () => process.getuid?.() === 0;

/**
 * Who checks permissions. Without allow_other the kernel lets in only processes whose uid and gid
 * are those of the view's owner, which are ours: the backing threads' own calls on the backing
 * folder then check exactly what the caller may do, and the kernel need not check modes itself.
 * Its check would cost a GETATTR round trip for each folder whose attributes are not cached, and
 * every replay makes the kernel drop its folder's: two of a replayed creation's four requests.
 * With allow_other other users come in, and default_permissions makes the kernel check their
 * access against the modes and owners the backing folder reports, as on a local file system.
 */
function options(o: MountOptions, uid: number, gid: number): string {
  const access = o.allowOther ? ['default_permissions', 'allow_other'] : [];
  return [`rootmode=40000`, `user_id=${uid}`, `group_id=${gid}`, ...access].join(',');
}

/** The fusermount3 / umount command that lazily unmounts `mountPoint`. */
function unmountCommand(): [string, string[]] {
  return isRoot() ? ['umount', ['-l']] : ['fusermount3', ['-u', '-z']];
}

export async function mountView(o: MountOptions): Promise<Mounted> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let fd: number;
  if (isRoot()) {
    fd = fs.openSync('/dev/fuse', 'r+');
    const r = spawnSync('mount', ['-i', '-t', FUSE_TYPE, '-o', `fd=3,${options(o, uid, gid)}`, o.source, o.mountPoint], {
      stdio: ['ignore', 'pipe', 'pipe', fd],
      encoding: 'utf8',
      env: systemToolEnv(),
    });
    if (r.status !== 0) {
      fs.closeSync(fd);
      throw new MountError(`mount ${o.mountPoint}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
    }
  } else {
    fd = await mountAsUser(o.mountPoint, `fsname=${o.source},subtype=smbnotify,${options(o, uid, gid)}`);
  }
  // The mount's own device: the watchdog and unmount() touch this mount only, never one stacked
  // on it later or the folder below.
  const line = topMountAt(fs.readFileSync('/proc/self/mountinfo', 'utf8'), o.mountPoint);
  const device = line?.fstype === FUSE_TYPE ? `${line.major}:${line.minor}` : '';
  const watchdog = startWatchdog(o.mountPoint, device);
  let done = false;
  return {
    fd,
    unmount() {
      if (done) return;
      done = true;
      try {
        if (isOurs(o.mountPoint, device)) {
          const [cmd, args] = unmountCommand();
          spawnSync(cmd, [...args, o.mountPoint], { stdio: 'ignore', env: systemToolEnv() });
        }
      } finally {
        watchdog.stdin?.end('done\n');
      }
    },
  };
}

/** True when the top mount at `mountPoint` is this view (never unmount the cifs mount below it). */
function isOurs(mountPoint: string, device: string): boolean {
  const top = topMountAt(fs.readFileSync('/proc/self/mountinfo', 'utf8'), mountPoint);
  return top?.fstype === FUSE_TYPE && (device === '' || `${top.major}:${top.minor}` === device);
}

const WATCHDOG = `
read -r line
[ "$line" = done ] && exit 0
top=$(M="$1" awk '$5 == ENVIRON["M"] { d = $3; for (i = 6; i <= NF; i++) if ($i == "-") { t = $(i + 1); break } } END { print d " " t }' /proc/self/mountinfo)
[ "$top" = "$2 ${FUSE_TYPE}" ] || { [ -z "$2" ] && [ "\${top#* }" = "${FUSE_TYPE}" ]; } || exit 0
shift 2
exec "$@"
`;

function startWatchdog(mountPoint: string, device: string): ChildProcess {
  const [cmd, args] = unmountCommand();
  const child = spawn('sh', ['-c', WATCHDOG, 'smbnotify-view-watchdog', mountinfoEscape(mountPoint), device, cmd, ...args, mountPoint], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
    env: systemToolEnv(),
  });
  child.on('error', () => undefined);
  child.stdin?.on('error', () => undefined);
  child.unref();
  (child.stdin as unknown as { unref?: () => void })?.unref?.();
  return child;
}
