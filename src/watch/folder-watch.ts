/**
 * One watched folder: a NotifyHandle with CHANGE_NOTIFY requests kept outstanding on it for its
 * whole life (docs/protocol.md, "CHANGE_NOTIFY"): the server buffers changes on the handle between
 * requests, and a second outstanding request means no change waits for a re-arm. This is the
 * policy; the protocol and the status classes are smb/change-notify.ts and smb/status.ts.
 */
import { FileAction, NotifyHandle, type FileId, type FileNotifyInformation, type NotifyOptions, type NotifyOutcome } from '../smb/change-notify.js';
import type { SmbTree } from '../smb/tree.js';

export interface FolderWatchOptions extends NotifyOptions {
  /** Requests kept outstanding on the handle. */
  outstanding: number;
}

export interface FolderWatchHandler {
  /** Changes, in the server's order. */
  entries(fw: FolderWatch, entries: FileNotifyInformation[]): void;
  /** The server lost changes (STATUS_NOTIFY_ENUM_DIR, or an empty buffer). */
  overflow(fw: FolderWatch): void;
  /** The folder or its handle is gone (NOTIFY_CLEANUP, DELETE_PENDING, FILE_CLOSED ...). */
  gone(fw: FolderWatch, statusName: string): void;
  /** The server does not implement CHANGE_NOTIFY here. */
  unsupported(fw: FolderWatch, statusName: string): void;
  /** Anything else: a failing status or a malformed response. */
  failed(fw: FolderWatch, err: Error): void;
}

/** Entries after which the folder may be emptied and deleted by another client. */
const EMPTYING = new Set<number>([FileAction.REMOVED, FileAction.REMOVED_BY_DELETE, FileAction.RENAMED_OLD_NAME]);

export class FolderWatch {
  private handle: NotifyHandle | null = null;
  private closing = false;
  /** The handle's end (gone, unsupported, failed) was reported: nothing more is. */
  private ended = false;
  /** A delete-pending check is on its way; `recheck`: another is due once it is back. */
  private checking = false;
  private recheck = false;
  /** Responses with changes or overflows so far (the safety net compares it between rounds). */
  notifications = 0;
  /** The server's file id of the folder, when known: one folder reached by two paths is watched once. */
  id: bigint | null = null;
  /** The folder's write and change times when its handle was opened (before it was listed). */
  baseline: string | null = null;

  constructor(
    private readonly tree: SmbTree,
    /** Share-relative path of the folder; changes when an ancestor is renamed. */
    public path: string,
    private readonly opts: FolderWatchOptions,
    private readonly handler: FolderWatchHandler,
  ) {}

  /** The open handle (its id is asked for, to find wide-link loops). */
  get fileId(): FileId | null {
    return this.handle && !this.closing ? this.handle.fileId : null;
  }

  /**
   * Open the folder and arm its requests; the first travels with the CREATE in one compound. A
   * server without CHANGE_NOTIFY answers that first request at once: that is thrown as SmbError.
   */
  async start(): Promise<void> {
    const { handle, first } = await NotifyHandle.open(this.tree, this.path, this.opts);
    this.handle = handle;
    if (handle.opened) this.baseline = folderStamp(handle.opened.lastWriteTime, handle.opened.changeTime);
    if (this.closing) {
      await handle.close();
      return;
    }
    this.follow(first);
    for (let i = 1; i < this.opts.outstanding; i++) this.arm();
  }

  /** Watch through a handle the caller already opened on the folder. */
  adopt(fileId: FileId, times?: { lastWriteTime: bigint; changeTime: bigint }): void {
    this.handle = NotifyHandle.adopt(this.tree, fileId, this.opts);
    if (times) this.baseline = folderStamp(times.lastWriteTime, times.changeTime);
    for (let i = 0; i < this.opts.outstanding; i++) this.arm();
  }

  private arm(): void {
    if (this.handle && !this.closing) this.follow(this.handle.next());
  }

  private follow(request: Promise<NotifyOutcome>): void {
    void request.then((outcome) => this.complete(outcome));
  }

  private complete(outcome: NotifyOutcome): void {
    if (this.closing) return;
    switch (outcome.kind) {
      case 'entries':
      case 'overflow':
        this.notifications++;
        if (outcome.kind === 'entries') this.handler.entries(this, outcome.entries);
        else this.handler.overflow(this);
        // Deliver first, re-arm right after: the other outstanding request is still parked on the
        // server, so nothing waits for this one, and the event does not wait for its signing.
        setImmediate(() => {
          this.arm();
          // Asked after the re-arm, so that a deletion between the two answers is caught either
          // way: before it, by this question; after it, by the request it ends.
          if (outcome.kind === 'overflow' || outcome.entries.some((e) => EMPTYING.has(e.action))) this.checkDeletePending();
        });
        return;
      case 'cancelled':
        // Only we cancel; a cancelled request while not closing is re-armed.
        this.arm();
        return;
      case 'gone':
        this.end(() => this.handler.gone(this, outcome.statusName));
        return;
      case 'unsupported':
        this.end(() => this.handler.unsupported(this, outcome.statusName));
        return;
      case 'failed':
        this.end(() => this.handler.failed(this, outcome.error));
        return;
      case 'lost':
        // A lost connection is the share connection's business; it re-opens every watch.
        return;
    }
  }

  private end(report: () => void): void {
    if (this.ended) return;
    this.ended = true;
    report();
  }

  /**
   * After changes that may have emptied the folder: is it being deleted? Samba ends only the
   * requests parked when the deletion starts (NotifyHandle.deletePending); with both answered
   * just then, our handle would hold the folder for ever. One question at a time per folder.
   */
  private checkDeletePending(): void {
    if (!this.handle || this.closing || this.ended) return;
    if (this.checking) {
      this.recheck = true;
      return;
    }
    this.checking = true;
    void this.handle.deletePending().then((pending) => {
      this.checking = false;
      if (this.closing) return;
      if (pending) this.end(() => this.handler.gone(this, 'STATUS_DELETE_PENDING'));
      else if (this.recheck) {
        this.recheck = false;
        this.checkDeletePending();
      }
    });
  }

  /** Cancel the outstanding requests and close the handle. Never throws. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.handle?.close();
  }
}

/** A folder's write and change times as one comparable value. */
export function folderStamp(lastWriteTime: bigint, changeTime: bigint): string {
  return `${lastWriteTime}/${changeTime}`;
}
