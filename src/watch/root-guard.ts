/**
 * The watched folder itself: deleted (DELETE_SELF, then wait for it by polling) and back again. A
 * watched folder deleted or moved away on the server's own disk sends nothing to the handle open
 * on it (Samba maps no inotify event of the folder itself), so it is looked for by name now and
 * then. Over SMB a deletion arrives at once as STATUS_DELETE_PENDING.
 */
import { isMissing } from '../smb/status.js';
import type { SmbTree } from '../smb/tree.js';
import type { ChangeFields, ChangeKind, EventSource } from './events.js';

export interface RootContext {
  readonly root: string;
  readonly tree: SmbTree | null;
  readonly stopped: boolean;
  readonly polling: boolean;
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
    this.w.emitChange('DELETE_SELF', this.w.root, { source, message });
    this.w.forgetTree();
    this.w.waitForReturn(this.w.tree!);
  }

  /** The folder exists again (the poller found it). */
  returned(): void {
    this.goneNow = false;
  }

  /** Look for a watched folder below the share root by name every `checkEveryMs`. */
  startChecking(): void {
    if (this.check || this.w.root === '' || this.w.stopped) return;
    this.check = setInterval(() => {
      this.w.enqueue(async () => {
        const tree = this.w.tree;
        if (!tree || this.w.polling || this.w.stopped || this.goneNow) return;
        try {
          await tree.stat(this.w.root);
        } catch (err) {
          if (isMissing(err) && !this.w.polling && !this.goneNow) this.markGone('watched folder deleted or moved away', 'poll');
        }
      });
    }, this.checkEveryMs);
    this.check.unref();
  }

  stop(): void {
    if (this.check) clearInterval(this.check);
    this.check = null;
  }
}
