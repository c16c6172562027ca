/**
 * The fallback where the server has no CHANGE_NOTIFY (Linux ksmbd, Samba with `change notify =
 * no`), and the wait for a deleted watched folder to come back. Each cycle first compares every
 * folder's own change time (one compounded CREATE + QUERY_INFO + CLOSE round trip per folder) and
 * lists only the folders that changed; every `FULL_EVERY`-th cycle lists them all, because a
 * file's contents can change without its folder's times changing.
 */
import { isMissing } from '../smb/status.js';
import type { SmbTree } from '../smb/tree.js';
import type { EventSource } from './events.js';
import type { Snapshot } from './snapshot.js';

/** What the poller needs of the watch. */
export interface PollContext {
  readonly root: string;
  readonly snapshot: Snapshot;
  enqueue(task: () => Promise<void> | void): void;
  /** List a folder into the snapshot (FolderSync.rescan). */
  rescan(path: string, source: EventSource, emit: boolean, deep: boolean): Promise<void>;
  /** The poller found the root folder gone. */
  rootDeleted(): void;
  /** A deleted root folder exists again. */
  rootReturned(tree: SmbTree): Promise<void>;
}

const FULL_EVERY = 10;

export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private cycle = 0;
  /** Folder path -> its last seen change stamp. */
  private readonly stamps = new Map<string, string>();

  constructor(
    private readonly w: PollContext,
    private readonly tree: SmbTree,
    readonly intervalMs: number,
    /** Only wait for the deleted root folder to return. */
    private readonly untilRootReturns: boolean,
    /** Emit the differences of the first cycle (after a reconnect), or take it as the baseline. */
    private readonly emitFirst: boolean,
  ) {}

  /**
   * The first cycle: a full listing taken before the watch counts as started (the baseline), or,
   * after a reconnect, the resynchronisation whose differences are reported.
   */
  async first(): Promise<void> {
    if (this.untilRootReturns) return;
    await this.poll(true);
  }

  /** Poll every interval from now on. */
  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.w.enqueue(() => this.tick()), this.intervalMs);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.untilRootReturns) await this.checkRoot();
      else await this.poll(false);
    } finally {
      this.schedule();
    }
  }

  private async checkRoot(): Promise<void> {
    try {
      const st = await this.tree.stat(this.w.root);
      if (!st.isDirectory) return;
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    this.stop();
    await this.w.rootReturned(this.tree);
  }

  private async poll(first: boolean): Promise<void> {
    const full = first || ++this.cycle % FULL_EVERY === 0;
    const emit = !first || this.emitFirst;
    const source = first ? 'rescan' : 'poll';
    if (full) {
      // Stamps first, listing second: a change between the two is seen again next cycle.
      if (!(await this.stampAll())) return;
      try {
        await this.w.rescan(this.w.root, source, emit, true);
      } catch (err) {
        if (!isMissing(err)) throw err;
        this.w.rootDeleted();
      }
      return;
    }
    for (const folder of this.w.snapshot.foldersUnder(this.w.root)) {
      if (this.stopped) return;
      let stamp: string;
      try {
        const st = await this.tree.stat(folder);
        stamp = `${st.lastWriteTime.getTime()}/${st.changeTime.getTime()}`;
      } catch (err) {
        if (!isMissing(err)) throw err;
        if (folder === this.w.root) {
          this.w.rootDeleted();
          return;
        }
        continue; // its parent's listing reports it
      }
      const before = this.stamps.get(folder);
      this.stamps.set(folder, stamp);
      // A folder seen for the first time (new since the last listing) is listed too.
      if (before === stamp) continue;
      await this.w.rescan(folder, 'poll', true, false);
    }
  }

  /** Take every known folder's stamp; false when the root is gone. */
  private async stampAll(): Promise<boolean> {
    this.stamps.clear();
    // Before the first listing the snapshot knows no folder yet: the root is always stamped.
    const folders = new Set([this.w.root, ...this.w.snapshot.foldersUnder(this.w.root)]);
    for (const folder of folders) {
      try {
        const st = await this.tree.stat(folder);
        this.stamps.set(folder, `${st.lastWriteTime.getTime()}/${st.changeTime.getTime()}`);
      } catch (err) {
        if (!isMissing(err)) throw err;
        if (folder === this.w.root) {
          this.w.rootDeleted();
          return false;
        }
      }
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
