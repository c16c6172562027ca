/**
 * Programs that watched the mount point with inotify before the view covered it.
 *
 * An inotify watch belongs to an inode, not to a path: once the view is mounted, a watch set
 * before on the mount point stays on the folder below (the empty folder, or the cifs mount
 * point), where the view's replays never reach it. A file manager that showed the folder then
 * misses every change until it opens the folder again, and Thunar, Nemo and GNOME Files keep a
 * folder and its watch for as long as any of their windows shows it: a window opened after the
 * view started, in the same program, is as dead. Nothing can move a watch, so the view names
 * those programs instead. proc(5): /proc/PID/fdinfo of an inotify descriptor lists each watch's
 * inode (`ino:`, hex) and device (`sdev:`, the kernel's MAJOR << 20 | MINOR, hex).
 */
import * as fs from 'node:fs';

/** The folder the view covers, as stat(2) gives it before the mount. */
export interface CoveredFolder {
  dev: bigint;
  ino: bigint;
}

export interface CoveredWatcher {
  pid: number;
  /** The program's name (/proc/PID/comm), e.g. thunar. */
  name: string;
}

/** The folder at `path` (64-bit inode numbers, as cifs gives, need bigint). */
export function coveredFolder(path: string): CoveredFolder {
  const st = fs.statSync(path, { bigint: true });
  return { dev: st.dev, ino: st.ino };
}

/** The kernel's dev_t, as fdinfo prints it, of a stat(2) st_dev (glibc's encoding). */
export function kernelDev(dev: bigint): bigint {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return (major << 20n) | minor;
}

/** True when an inotify descriptor's fdinfo text holds a watch on `folder`. */
export function fdinfoWatches(fdinfo: string, folder: CoveredFolder): boolean {
  const sdev = kernelDev(folder.dev);
  for (const m of fdinfo.matchAll(/^inotify wd:\S+ ino:([0-9a-f]+) sdev:([0-9a-f]+)/gm)) {
    if (BigInt(`0x${m[1]!}`) === folder.ino && BigInt(`0x${m[2]!}`) === sdev) return true;
  }
  return false;
}

function names(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return []; // gone, or another user's process
  }
}

/**
 * The processes (other than this one) with an inotify watch on `folder`, among those whose
 * descriptors this process may read (its user's; all of them as root).
 */
export function programsWatching(folder: CoveredFolder): CoveredWatcher[] {
  const found: CoveredWatcher[] = [];
  for (const entry of names('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    for (const fd of names(`/proc/${entry}/fd`)) {
      try {
        if (fs.readlinkSync(`/proc/${entry}/fd/${fd}`) !== 'anon_inode:inotify') continue;
        if (!fdinfoWatches(fs.readFileSync(`/proc/${entry}/fdinfo/${fd}`, 'utf8'), folder)) continue;
        found.push({ pid: Number(entry), name: fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() });
        break;
      } catch {
        // the descriptor or the process went meanwhile
      }
    }
  }
  return found;
}

/** One line per program, for the view's stderr and the daemon's log. */
export function describeCoveredWatcher(w: CoveredWatcher, mountPoint: string): string {
  return `${w.name} (pid ${w.pid}) watched ${mountPoint} before the view covered it: it keeps watching the folder below and misses the server's changes there until it is restarted`;
}
