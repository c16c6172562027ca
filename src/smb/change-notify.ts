/**
 * A folder handle watched with CHANGE_NOTIFY (MS-SMB2 3.2.4.14), as typed outcomes: what each
 * request ended with (entries, overflow, gone, unsupported, cancelled, failed, lost) instead of
 * raw responses. The policy (how many requests to keep outstanding, what to do with each
 * outcome) is the caller's.
 */
import type { Inflight, Response } from './connection.js';
import { ConnectionError, SmbError } from './errors.js';
import { HANDLE_GONE, NOTIFY_UNSUPPORTED } from './status.js';
import type { SmbTree } from './tree.js';
import type { FileId } from './wire/create.js';
import { decodeFileNotifyInformation, type FileNotifyInformation } from './wire/notify.js';
import { NtStatus, ntStatusName } from './wire/ntstatus.js';
import { decodeOutputBuffer } from './wire/query-directory.js';

export { CompletionFilter, FileAction, type FileNotifyInformation } from './wire/notify.js';
export type { FileId } from './wire/create.js';

export type NotifyOutcome =
  /** Changes, in the server's order. */
  | { kind: 'entries'; entries: FileNotifyInformation[] }
  /** The server lost changes: STATUS_NOTIFY_ENUM_DIR, or an empty successful response (MS-SMB2 3.3.4.4). */
  | { kind: 'overflow' }
  /** The folder or its handle is gone (NOTIFY_CLEANUP, DELETE_PENDING, FILE_CLOSED ...). */
  | { kind: 'gone'; status: number; statusName: string }
  /** The server does not implement CHANGE_NOTIFY here. */
  | { kind: 'unsupported'; status: number; statusName: string }
  /** We cancelled the request (closing the handle). */
  | { kind: 'cancelled' }
  /** Any other failing status, or a malformed response. */
  | { kind: 'failed'; error: Error }
  /** The connection is gone; whoever owns it reconnects. */
  | { kind: 'lost'; error: Error };

/**
 * The outcome of a CHANGE_NOTIFY response, from its status and message bytes. Pure; a malformed
 * buffer throws ProtocolError.
 */
export function notifyOutcome(status: number, message: Buffer): NotifyOutcome {
  if (status === NtStatus.SUCCESS) {
    const entries = decodeFileNotifyInformation(decodeOutputBuffer(message, 'CHANGE_NOTIFY response'));
    return entries.length === 0 ? { kind: 'overflow' } : { kind: 'entries', entries };
  }
  if (status === NtStatus.NOTIFY_ENUM_DIR) return { kind: 'overflow' };
  if (status === NtStatus.CANCELLED) return { kind: 'cancelled' };
  if (HANDLE_GONE.has(status)) return { kind: 'gone', status, statusName: ntStatusName(status) };
  if (NOTIFY_UNSUPPORTED.has(status)) return { kind: 'unsupported', status, statusName: ntStatusName(status) };
  return { kind: 'failed', error: new SmbError(status, 'CHANGE_NOTIFY') };
}

export interface NotifyOptions {
  /** CHANGE_NOTIFY output buffer size. */
  bufferSize: number;
  completionFilter: number;
}

/** How long close() waits for the server to answer its CANCELs. */
const CLOSE_TIMEOUT_MS = 5000;

export class NotifyHandle {
  private readonly inflight = new Set<Inflight>();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly tree: SmbTree,
    readonly fileId: FileId,
    private readonly opts: NotifyOptions,
    /** The folder's times from the CREATE that opened it (open() only). */
    readonly opened?: { lastWriteTime: bigint; changeTime: bigint },
  ) {}

  /**
   * Open a folder and arm its first request in the same compound (MS-SMB2 3.2.4.1.4), so no change
   * between the open and the first request escapes. A server without CHANGE_NOTIFY answers that
   * first request at once: that is thrown as SmbError (as is a failed CREATE), the handle closed.
   */
  static async open(tree: SmbTree, path: string, opts: NotifyOptions): Promise<{ handle: NotifyHandle; first: Promise<NotifyOutcome> }> {
    const { handle: opened, notify } = await tree.openAndWatch(path, { outputBufferLength: opts.bufferSize, completionFilter: opts.completionFilter });
    const handle = new NotifyHandle(tree, opened.fileId, opts, { lastWriteTime: opened.info.lastWriteTime, changeTime: opened.info.changeTime });
    const answered = await Promise.race([notify.interim.then(() => null), notify.response]).catch(() => null);
    if (answered && NOTIFY_UNSUPPORTED.has(answered.header.status)) {
      await handle.close();
      throw new SmbError(answered.header.status, 'CHANGE_NOTIFY');
    }
    return { handle, first: handle.track(notify) };
  }

  /** Watch through a handle already open on the folder. */
  static adopt(tree: SmbTree, fileId: FileId, opts: NotifyOptions): NotifyHandle {
    return new NotifyHandle(tree, fileId, opts);
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Send one CHANGE_NOTIFY; it ends in an outcome (never rejects). */
  next(): Promise<NotifyOutcome> {
    if (this.closing) return Promise.resolve({ kind: 'cancelled' });
    const body = { outputBufferLength: this.opts.bufferSize, completionFilter: this.opts.completionFilter };
    return this.track(this.tree.changeNotify(this.fileId, body));
  }

  private track(inflight: Inflight): Promise<NotifyOutcome> {
    this.inflight.add(inflight);
    return inflight.response.then(
      (res) => {
        this.inflight.delete(inflight);
        return this.outcomeOf(res);
      },
      (err: Error): NotifyOutcome => {
        this.inflight.delete(inflight);
        return err instanceof ConnectionError ? { kind: 'lost', error: err } : { kind: 'failed', error: err };
      },
    );
  }

  private outcomeOf(res: Response): NotifyOutcome {
    try {
      // A malformed response fails the connection (Connection.decode), as for every decoder.
      return this.tree.client.connection.decode(() => notifyOutcome(res.header.status, res.message));
    } catch (err) {
      return { kind: 'failed', error: err as Error };
    }
  }

  /**
   * Whether the folder is to be deleted once its handles close. Samba ends the requests parked on
   * a folder with STATUS_DELETE_PENDING when another client deletes it, but only those parked at
   * that moment: a request sent after it waits for ever, and our open handle keeps the folder
   * (and its parent, "not empty") from going. Never throws: false when it cannot tell.
   */
  async deletePending(): Promise<boolean> {
    if (this.closing) return false;
    return (await this.tree.deletePending(this.fileId).catch(() => null)) === true;
  }

  /** Cancel the outstanding requests and close the handle. Never throws. */
  close(): Promise<void> {
    this.closing ??= this.shut();
    return this.closing;
  }

  private async shut(): Promise<void> {
    const pending = [...this.inflight];
    for (const inflight of pending) this.tree.cancel(inflight);
    // A server that ignores CANCEL must not hang shutdown: give it a few seconds.
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    });
    await Promise.race([Promise.allSettled(pending.map((p) => p.response)), limit]);
    clearTimeout(timer);
    if (!this.tree.client.closed) await this.tree.close(this.fileId).catch(() => undefined);
  }
}
