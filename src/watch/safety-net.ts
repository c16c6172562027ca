/**
 * The safety net under CHANGE_NOTIFY, for servers that do not report every change: Samba with
 * `kernel change notify = no` (and filers that behave alike) report changes made over SMB but
 * never those made on their own disk, while the watch looks healthy.
 *
 * Every round reads each watched folder's own times through the handle the watch already holds
 * (one QUERY_INFO FileBasicInformation per folder, no CREATE, no listing). A folder whose change or
 * write time moved while its handle reported nothing had a change the server kept to itself: it
 * is listed, and the differences go out as `rescan` events. The first such difference is said
 * once, naming the likely cause; from then on the watch trusts the server less: every folder
 * whose time moved is listed, and every tenth round lists every folder, which also finds files
 * whose contents changed (a folder's times do not move for that).
 *
 * The interval adapts to the number of folders so that the net costs at most about
 * `1000 / PER_FOLDER_MS` small requests per second: max(base, folders x PER_FOLDER_MS).
 */
import type { FileId } from '../smb/wire/create.js';
import type { SmbTree } from '../smb/tree.js';
import { folderStamp } from './folder-watch.js';
import type { WatchLiveState } from './live-state.js';

/** Time budget per folder and round: 100 folders per second at most. */
export const PER_FOLDER_MS = 10;
/** When the server is known to keep changes to itself: list every folder every this many rounds. */
const FULL_EVERY = 10;
/** How long a folder whose times moved may wait for its notification before it is listed. */
const GRACE_MS = 250;

export interface NetFolder {
  path: string;
  /** The open handle, or null while (re)opening. */
  handle: FileId | null;
  /** Responses with changes (or overflows) the handle got so far. */
  notifications: number;
  /** The folder's times when the handle was opened, before its listing: the first comparison. */
  baseline: string | null;
}

export interface SafetyNetHost extends Pick<WatchLiveState, 'tree'> {
  /** The folders watched right now. */
  netFolders(): NetFolder[];
  /** List a folder (in the watch's queue) and report the differences; resolves to their number. */
  rescan(path: string): Promise<number>;
  /** Say something once, as a watch-state message. */
  warn(message: string): void;
}

interface Seen {
  stamp: string;
  notifications: number;
}

export class SafetyNet {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running = false;
  private round = 0;
  private readonly seen = new Map<string, Seen>();
  /** The server was caught keeping a change to itself. */
  private distrusted = false;

  constructor(
    private readonly host: SafetyNetHost,
    private readonly baseMs: number,
  ) {}

  /** The interval for `folders` folders. */
  static intervalFor(baseMs: number, folders: number): number {
    return Math.max(baseMs, folders * PER_FOLDER_MS);
  }

  get suspicious(): boolean {
    return this.distrusted;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Forget what was seen (after a reconnect every handle is new). */
  reset(): void {
    this.seen.clear();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    const wait = SafetyNet.intervalFor(this.baseMs, this.host.netFolders().length);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.check().finally(() => this.schedule());
    }, wait);
    this.timer.unref();
  }

  /** One round; errors (a folder gone, a connection lost) are left to the watch's own handling. */
  async check(): Promise<void> {
    const tree = this.host.tree;
    if (this.running || this.stopped || !tree || tree.client.closed) return;
    this.running = true;
    try {
      this.round++;
      const full = this.distrusted && this.round % FULL_EVERY === 0;
      const folders = this.host.netFolders().filter((f) => f.handle !== null);
      // All requests at once: one round trip's latency for the whole round.
      const stamps = await Promise.all(folders.map((f) => tree.basicInfo(f.handle!).then(
        // Without FileBasicInformation: the times a CREATE (+ CLOSE) of the folder returns.
        async (info) => (info ? folderStamp(info.lastWriteTime, info.changeTime) : stampByPath(tree, f.path)),
        () => null,
      )));
      const changed: string[] = [];
      const live = new Set<string>();
      folders.forEach((f, i) => {
        const stamp = stamps[i];
        live.add(f.path);
        if (stamp === null || stamp === undefined) return;
        const before = this.seen.get(f.path) ?? (f.baseline ? { stamp: f.baseline, notifications: 0 } : undefined);
        this.seen.set(f.path, { stamp, notifications: f.notifications });
        if (full) changed.push(f.path);
        // (Times read by path have millisecond precision: not comparable with a handle's.)
        else if (before && before.stamp.endsWith('ms') === stamp.endsWith('ms') && before.stamp !== stamp
          && (this.distrusted || before.notifications === f.notifications)) changed.push(f.path);
      });
      for (const path of [...this.seen.keys()]) if (!live.has(path)) this.seen.delete(path);
      // A notification may be on its way for a change the times show already: give it a moment,
      // and list only the folders whose handle still said nothing.
      if (changed.length && !this.distrusted) await new Promise((r) => setTimeout(r, Math.min(GRACE_MS, this.baseMs)));
      const byPath = new Map(this.host.netFolders().map((f) => [f.path, f]));
      for (const path of changed) {
        if (this.stopped) return;
        const notifications = byPath.get(path)?.notifications;
        if (!this.distrusted && !full && notifications !== this.seen.get(path)?.notifications) continue;
        const found = await this.host.rescan(path).catch(() => 0);
        if (found > 0 && !this.distrusted) {
          this.distrusted = true;
          const every = SafetyNet.intervalFor(this.baseMs, folders.length) / 1000;
          this.host.warn(
            `the server did not report ${found === 1 ? 'a change' : `${found} changes`} in ${path || 'the watched folder'}: `
            + 'it probably does not watch its own disk (Samba with "kernel change notify = no", or a filer that reports only '
            + 'changes made over SMB), or not below a folder whose name it serves otherwise than its disk holds it (Samba\'s '
            + `vfs_catia or vfs_fruit mapping characters Windows forbids); such changes are found by checking folder times every ${every} s and reported as rescan events`,
          );
        }
      }
    } finally {
      this.running = false;
    }
  }
}

async function stampByPath(tree: SmbTree, path: string): Promise<string | null> {
  const st = await tree.stat(path).catch(() => null);
  return st ? `${BigInt(st.lastWriteTime.getTime())}ms/${BigInt(st.changeTime.getTime())}ms` : null;
}
