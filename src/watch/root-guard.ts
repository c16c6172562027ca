/**
 * The watched folder itself: deleted (DELETE_SELF, then wait for it by polling) and back again. A
 * watched folder deleted or moved away on the server's own disk sends nothing to the handle open
 * on it (Samba maps no inotify event of the folder itself), but its PARENT's handle hears the
 * removal at once (REMOVED or RENAMED_OLD_NAME of its name): so a small CHANGE_NOTIFY is kept on
 * the parent, names only, and the folder is also looked for by name now and then, for a parent
 * we may not open or watch. Over SMB a deletion also arrives as STATUS_DELETE_PENDING.
 */
import { CompletionFilter, FileAction, type FileNotifyInformation } from '../smb/change-notify.js';
import { isMissing } from '../smb/status.js';
import type { SmbTree } from '../smb/tree.js';
import type { ChangeFields, ChangeKind, EventSource } from './events.js';
import { SETTLE_MS } from './folder-sync.js';
import { FolderWatch } from './folder-watch.js';
import { baseName, parentOf } from './paths.js';
import type { WatchLiveState } from './live-state.js';

/** The parent's watch only needs names; a small buffer (an overflow there costs nothing). */
const PARENT_WATCH = { bufferSize: 4096, completionFilter: CompletionFilter.FILE_NAME | CompletionFilter.DIR_NAME, outstanding: 1 };

export interface RootContext extends WatchLiveState {
  readonly root: string;
  enqueue(task: () => Promise<void> | void): void;
  emitChange(kind: ChangeKind, path: string, fields: ChangeFields): void;
  /** Close every handle and forget everything below the root. */
  forgetTree(): void;
  /** Poll until the root exists again. */
  waitForReturn(tree: SmbTree): void;
}

export class RootGuard {
  private goneNow = false;
  private check: NodeJS.Timeout | null = null;
  private settle: NodeJS.Timeout | null = null;
  private parent: FolderWatch | null = null;

  constructor(
    private readonly w: RootContext,
    private readonly checkEveryMs: number,
  ) {}

  get gone(): boolean {
    return this.goneNow;
  }

  /** Say DELETE_SELF, forget the tree and wait for the folder to come back. */
  markGone(message: string, source: EventSource): void {
    this.goneNow = true;
    void this.closeParent();
    this.w.emitChange('DELETE_SELF', this.w.root, { source, message });
    this.w.forgetTree();
    this.w.waitForReturn(this.w.tree!);
  }

  /** The folder exists again (the poller found it). */
  returned(): void {
    this.goneNow = false;
  }

  /**
   * Watch the parent for the folder's name going away (re-opened on every call: a reconnect
   * gives a new tree), and look for it by name every `checkEveryMs`.
   */
  async startChecking(): Promise<void> {
    if (this.w.root === '' || this.w.stopped) return;
    const armed = this.watchParent();
    this.startCheckByName();
    await armed;
    // Samba answers CHANGE_NOTIFY before its notify daemon watches the disk: a removal in between
    // is in no notification. Look for the folder by name once more after the same settling time
    // FolderSync gives a newly armed folder's contents (settleLater).
    this.checkSoon(SETTLE_MS);
  }

  private startCheckByName(): void {
    if (this.check) return;
    this.check = setInterval(() => this.checkByName('poll'), this.checkEveryMs);
    this.check.unref();
  }

  /** Look for the folder by name once, `delayMs` from now (one such check at a time). */
  private checkSoon(delayMs: number): void {
    if (this.settle) return;
    this.settle = setTimeout(() => {
      this.settle = null;
      this.checkByName('rescan');
    }, delayMs);
    this.settle.unref();
  }

  private checkByName(source: EventSource): void {
    this.w.enqueue(async () => {
      const tree = this.w.tree;
      if (!tree || this.w.polling || this.w.stopped || this.goneNow) return;
      try {
        await tree.stat(this.w.root);
      } catch (err) {
        if (isMissing(err) && !this.w.polling && !this.goneNow) this.markGone('watched folder deleted or moved away', source);
      }
    });
  }

  /** Resolves once the parent's first request is with the server (or the parent cannot be watched). */
  private async watchParent(): Promise<void> {
    const tree = this.w.tree;
    void this.closeParent();
    if (!tree) return;
    const name = baseName(this.w.root).toLowerCase();
    const leaves = (e: FileNotifyInformation) =>
      (e.action === FileAction.REMOVED || e.action === FileAction.RENAMED_OLD_NAME) && e.fileName.toLowerCase() === name;
    const parent = new FolderWatch(tree, parentOf(this.w.root), PARENT_WATCH, {
      entries: (_fw, entries) => {
        if (!entries.some(leaves)) return;
        this.w.enqueue(() => {
          if (this.parent !== parent || this.w.polling || this.w.stopped || this.goneNow) return;
          this.markGone('watched folder deleted or moved away', 'notify');
        });
      },
      overflow: () => this.checkSoon(0), // names lost: look for it by name
      // Without the parent's notification the check by name is left: nothing to report.
      gone: () => void this.closeParent(parent),
      unsupported: () => void this.closeParent(parent),
      failed: () => void this.closeParent(parent),
    });
    this.parent = parent;
    // A parent we may not open (or watch) leaves the check by name: not an error of the watch.
    await parent.start().catch(() => this.closeParent(parent));
  }

  private closeParent(which: FolderWatch | null = this.parent): Promise<void> {
    if (!which) return Promise.resolve();
    if (this.parent === which) this.parent = null;
    return which.close();
  }

  /** Stop checking; resolves once the parent's handle is closed. */
  stop(): Promise<void> {
    if (this.check) clearInterval(this.check);
    this.check = null;
    if (this.settle) clearTimeout(this.settle);
    this.settle = null;
    return this.closeParent();
  }
}
