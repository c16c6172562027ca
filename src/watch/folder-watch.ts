/**
 * One open folder handle with CHANGE_NOTIFY requests kept outstanding on it for its whole life
 * (docs/protocol.md, "CHANGE_NOTIFY"): the server buffers changes on the handle between requests, and a
 * second outstanding request means no change waits for a re-arm.
 */
import type { Inflight, Response } from '../smb/connection.js';
import { ConnectionError, SmbError } from '../smb/errors.js';
import type { SmbTree } from '../smb/tree.js';
import type { FileId } from '../smb/wire/create.js';
import { decodeFileNotifyInformation, type FileNotifyInformation } from '../smb/wire/notify.js';
import { NtStatus } from '../smb/wire/ntstatus.js';
import { decodeOutputBuffer } from '../smb/wire/query-directory.js';

export interface FolderWatchOptions {
  bufferSize: number;
  completionFilter: number;
  /** Requests kept outstanding on the handle. */
  outstanding: number;
}

export interface FolderWatchHandler {
  /** Changes, in the server's order. */
  entries(fw: FolderWatch, entries: FileNotifyInformation[]): void;
  /** The server lost changes (STATUS_NOTIFY_ENUM_DIR, or an empty buffer). */
  overflow(fw: FolderWatch): void;
  /** The folder or its handle is gone (NOTIFY_CLEANUP, DELETE_PENDING, FILE_CLOSED ...). */
  gone(fw: FolderWatch, status: number): void;
  /** The server does not implement CHANGE_NOTIFY here. */
  unsupported(fw: FolderWatch, status: number): void;
  /** Anything else: a failing status or a malformed response. */
  failed(fw: FolderWatch, err: Error): void;
}

const GONE = new Set<number>([NtStatus.NOTIFY_CLEANUP, NtStatus.DELETE_PENDING, NtStatus.FILE_CLOSED, NtStatus.INVALID_HANDLE, NtStatus.USER_SESSION_DELETED, NtStatus.NETWORK_NAME_DELETED]);
const UNSUPPORTED = new Set<number>([NtStatus.NOT_IMPLEMENTED, NtStatus.NOT_SUPPORTED, NtStatus.INVALID_DEVICE_REQUEST]);

const CLOSE_TIMEOUT_MS = 5000;

export class FolderWatch {
  private fileId: FileId | null = null;
  private readonly inflight = new Set<Inflight>();
  private closing = false;

  constructor(
    private readonly tree: SmbTree,
    /** Share-relative path of the folder; changes when an ancestor is renamed. */
    public path: string,
    private readonly opts: FolderWatchOptions,
    private readonly handler: FolderWatchHandler,
  ) {}

  get open(): boolean {
    return this.fileId !== null && !this.closing;
  }

  /**
   * Open the folder and arm its requests; the first travels with the CREATE in one compound. A
   * server without CHANGE_NOTIFY answers that first request at once: that is thrown as SmbError.
   */
  async start(): Promise<void> {
    const { handle, notify } = await this.tree.openAndWatch(this.path, this.notifyOptions());
    this.fileId = handle.fileId;
    const first = await Promise.race([notify.interim.then(() => null), notify.response]).catch(() => null);
    if (first && UNSUPPORTED.has(first.header.status)) {
      await this.close();
      throw new SmbError(first.header.status, 'CHANGE_NOTIFY');
    }
    this.track(notify);
    for (let i = 1; i < this.opts.outstanding; i++) this.arm();
  }

  /** Watch through a handle the caller already opened on the folder. */
  adopt(fileId: FileId): void {
    this.fileId = fileId;
    for (let i = 0; i < this.opts.outstanding; i++) this.arm();
  }

  private notifyOptions() {
    return { outputBufferLength: this.opts.bufferSize, completionFilter: this.opts.completionFilter };
  }

  private arm(): void {
    if (!this.open) return;
    this.track(this.tree.changeNotify(this.fileId!, this.notifyOptions()));
  }

  private track(inflight: Inflight): void {
    this.inflight.add(inflight);
    inflight.response.then(
      (res) => {
        this.inflight.delete(inflight);
        this.complete(res);
      },
      (err: Error) => {
        this.inflight.delete(inflight);
        // A lost connection is the share connection's business; it re-opens every watch.
        if (!(err instanceof ConnectionError) && !this.closing) this.handler.failed(this, err);
      },
    );
  }

  private complete(res: Response): void {
    if (this.closing) return;
    const status = res.header.status;
    if (status === NtStatus.SUCCESS) {
      let entries: FileNotifyInformation[];
      try {
        entries = this.tree.client.connection.decode(() => decodeFileNotifyInformation(decodeOutputBuffer(res.message, 'CHANGE_NOTIFY response')));
      } catch (err) {
        this.handler.failed(this, err as Error);
        return;
      }
      // MS-SMB2 3.3.4.4: an empty successful response also means the changes did not fit.
      if (entries.length === 0) this.handler.overflow(this);
      else this.handler.entries(this, entries);
      // Deliver first, re-arm right after: the other outstanding request is still parked on the
      // server, so nothing waits for this one, and the event does not wait for its signing.
      setImmediate(() => this.arm());
    } else if (status === NtStatus.NOTIFY_ENUM_DIR) {
      this.arm();
      this.handler.overflow(this);
    } else if (status === NtStatus.CANCELLED) {
      // Only we cancel; a cancelled request while not closing is re-armed.
      this.arm();
    } else if (GONE.has(status)) {
      this.handler.gone(this, status);
    } else if (UNSUPPORTED.has(status)) {
      this.handler.unsupported(this, status);
    } else {
      this.handler.failed(this, new SmbError(status, 'CHANGE_NOTIFY'));
    }
  }

  /** Cancel the outstanding requests and close the handle. Never throws. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const pending = [...this.inflight];
    for (const inflight of pending) this.tree.cancel(inflight);
    // A server that ignores CANCEL must not hang shutdown: give it a few seconds.
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    });
    await Promise.race([Promise.allSettled(pending.map((p) => p.response)), limit]);
    clearTimeout(timer);
    const fileId = this.fileId;
    this.fileId = null;
    if (fileId && !this.tree.client.closed) await this.tree.close(fileId).catch(() => undefined);
  }
}
