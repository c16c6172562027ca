/**
 * A connected share: open and close handles, list folders (QUERY_DIRECTORY with continuation),
 * stat (CREATE + QUERY_INFO x2 + CLOSE in one compound), and CHANGE_NOTIFY.
 */
import { expectSuccess, NOTIFY_UNSUPPORTED } from './status.js';
import { SmbError } from './errors.js';
import type { Connection, Inflight, RequestSpec, Response } from './connection.js';
import {
  Access, CreateDisposition, CreateOption, FILE_ATTRIBUTE_DIRECTORY, RELATED_FILE_ID, ShareAccess,
  decodeCloseResponse, decodeCreateResponse, encodeCloseRequest, encodeCreateRequest, type CreateResponse, type FileId,
} from './wire/create.js';
import { filetimeToDate } from './wire/filetime.js';
import { Command } from './wire/header.js';
import { CompletionFilter, encodeChangeNotifyRequest } from './wire/notify.js';
import { NtStatus } from './wire/ntstatus.js';
import {
  QueryDirectoryFlag, decodeDirectoryEntries, decodeOutputBuffer, encodeQueryDirectoryRequest, type DirectoryEntry,
  type ListedEntry, visitListedEntries,
} from './wire/query-directory.js';
import {
  FileInfoClass, InfoType, decodeFileBasicInformation, decodeFileInternalInformation, decodeFileStandardInformation, encodeQueryInfoRequest,
  type FileBasicInformation,
} from './wire/query-info.js';
import { decodeEmptyResponse, encodeEmptyRequest } from './wire/simple.js';
import type { FileStat, NotifyProbe, SessionInfo, ShareInfo } from './types.js';

export type { ListedEntry } from './wire/query-directory.js';

/** Everything a watch wants to hear about (MS-SMB2 2.2.35). */
export const ALL_CHANGES =
  CompletionFilter.FILE_NAME | CompletionFilter.DIR_NAME | CompletionFilter.ATTRIBUTES | CompletionFilter.SIZE |
  CompletionFilter.LAST_WRITE | CompletionFilter.CREATION | CompletionFilter.STREAM_NAME | CompletionFilter.STREAM_SIZE |
  CompletionFilter.STREAM_WRITE;

export interface OpenHandle {
  fileId: FileId;
  info: CreateResponse;
}

export interface ChangeNotifyOptions {
  outputBufferLength: number;
  completionFilter?: number;
  watchTree?: boolean;
}

/** A share-relative path with `/` separators becomes the `\`-separated name CREATE expects. */
export function toSmbPath(path: string): string {
  return path.split('/').filter((p) => p !== '' && p !== '.').join('\\');
}

/** What a tree needs of its client (SmbClient is one): no import of the client, no cycle. */
export interface TreeClient {
  readonly connection: Connection;
  readonly session: SessionInfo;
  readonly closed: boolean;
}

export class SmbTree {
  constructor(readonly client: TreeClient, readonly treeId: number, readonly info: ShareInfo) {}

  private get conn() {
    return this.client.connection;
  }

  private spec(command: number, body: Buffer, payloadSize = 0, extra: Partial<RequestSpec> = {}): RequestSpec {
    return { command, body, treeId: this.treeId, payloadSize, ...extra };
  }

  /** The output buffer for listings: large where the server allows multi-credit requests. */
  get listBufferSize(): number {
    const max = this.client.session.maxTransactSize;
    return this.conn.credits.multiCredit ? Math.min(max, 1024 * 1024) : Math.min(max, 65536);
  }

  private openRequest(path: string, directory: boolean | null): Buffer {
    return encodeCreateRequest({
      name: toSmbPath(path),
      desiredAccess: Access.FILE_READ_DATA | Access.FILE_READ_ATTRIBUTES | Access.SYNCHRONIZE,
      shareAccess: ShareAccess.ALL,
      disposition: CreateDisposition.OPEN,
      options: directory === true ? CreateOption.DIRECTORY_FILE : directory === false ? CreateOption.NON_DIRECTORY_FILE : 0,
    });
  }

  /** Open an existing file or folder for reading attributes (and listing / watching a folder). */
  async open(path: string, directory: boolean | null = null): Promise<OpenHandle> {
    const res = await this.conn.send(this.spec(Command.CREATE, this.openRequest(path, directory))).response;
    expectSuccess(res, 'CREATE');
    const info = this.conn.decode(() => decodeCreateResponse(res.message));
    return { fileId: info.fileId, info };
  }

  async close(fileId: FileId): Promise<void> {
    const res = await this.conn.send(this.spec(Command.CLOSE, encodeCloseRequest(fileId))).response;
    expectSuccess(res, 'CLOSE');
    this.conn.decode(() => decodeCloseResponse(res.message));
  }

  /** All entries of a folder except `.` and `..`. */
  async list(path: string): Promise<FileStat[]> {
    const entries: DirectoryEntry[] = [];
    await this.queryDirectory(path, (buf) => {
      for (const e of decodeDirectoryEntries(buf)) entries.push(e);
    });
    return entries.filter((e) => e.name !== '.' && e.name !== '..').map(entryToStat);
  }

  /** All entries of a folder in compact form (see listEach), except `.` and `..`. */
  async listEntries(folder: string): Promise<ListedEntry[]> {
    const out: ListedEntry[] = [];
    await this.listEach(folder, (entry) => out.push({ ...entry }));
    return out;
  }

  /**
   * A folder's entries in compact form (ListedEntry: name, folder or not, size, write time), except
   * `.` and `..`, handed to `visit` as each QUERY_DIRECTORY response is decoded, in one object
   * reused for the next entry (`visit` copies what it keeps): a listing of 100,000 entries is never
   * held whole, nor as full DirectoryEntry objects (a watch applies it to its snapshot as it comes).
   */
  async listEach(folder: string, visit: (entry: Readonly<ListedEntry>) => void): Promise<void> {
    await this.queryDirectory(folder, (buf) => visitListedEntries(buf, (e) => {
      if (e.name !== '.' && e.name !== '..') visit(e);
    }));
  }

  /**
   * The same through a folder handle already open (a watch's): QUERY_DIRECTORY from the start
   * (RESTART_SCANS), no CREATE and no CLOSE. Samba's cost of an open grows with the handles the
   * connection holds, so a tree of thousands of watched folders is set up much faster this way.
   */
  async listEachOpen(fileId: FileId, visit: (entry: Readonly<ListedEntry>) => void): Promise<void> {
    const first = await this.conn.send(this.queryRequest(fileId, QueryDirectoryFlag.RESTART_SCANS)).response;
    await this.drainQuery(fileId, first, (buf) => visitListedEntries(buf, (e) => {
      if (e.name !== '.' && e.name !== '..') visit(e);
    }));
  }

  private queryRequest(fileId: FileId, flags: number): RequestSpec {
    const size = this.listBufferSize;
    return this.spec(Command.QUERY_DIRECTORY, encodeQueryDirectoryRequest({ fileId, pattern: '*', flags, outputBufferLength: size }), size);
  }

  /** Hand `first` and the responses after it to `take` until STATUS_NO_MORE_FILES. */
  private async drainQuery(fileId: FileId, first: Response, take: (buf: Buffer) => void): Promise<void> {
    let res = first;
    while (res.header.status !== NtStatus.NO_MORE_FILES) {
      expectSuccess(res, 'QUERY_DIRECTORY');
      const message = res.message;
      this.conn.decode(() => take(decodeOutputBuffer(message, 'QUERY_DIRECTORY response')));
      res = await this.conn.send(this.queryRequest(fileId, 0)).response;
    }
  }

  /**
   * QUERY_DIRECTORY until STATUS_NO_MORE_FILES, each output buffer handed to `take`. CREATE and the
   * first QUERY_DIRECTORY travel together (MS-SMB2 3.2.4.1.4); the handle is closed after.
   */
  private async queryDirectory(folder: string, take: (buf: Buffer) => void): Promise<void> {
    const [create, first] = this.conn.submit([
      this.spec(Command.CREATE, this.openRequest(folder, true)),
      this.queryRequest(RELATED_FILE_ID, QueryDirectoryFlag.RESTART_SCANS),
    ]);
    const createRes = await create!.response;
    const res = await first!.response;
    expectSuccess(createRes, 'CREATE');
    const { fileId } = this.conn.decode(() => decodeCreateResponse(createRes.message));
    try {
      await this.drainQuery(fileId, res, take);
    } finally {
      await this.close(fileId).catch(() => undefined);
    }
  }

  /**
   * Attributes of one file or folder: CREATE, QUERY_INFO basic and standard, CLOSE, compounded.
   * Where the server does not offer those information classes (smaller independent servers), the
   * CREATE response alone is used: it carries the same times, sizes and attributes (MS-SMB2
   * 2.2.14), and from then on this tree asks for nothing more than CREATE + CLOSE.
   */
  async stat(path: string): Promise<FileStat> {
    const name = path.split('/').filter(Boolean).pop() ?? '';
    if (!this.queryInfoOffered) return this.statFromCreate(path, name);
    const [create, basic, standard, close] = this.conn.submit([
      this.spec(Command.CREATE, this.openRequest(path, null)),
      this.spec(Command.QUERY_INFO, encodeQueryInfoRequest(RELATED_FILE_ID, InfoType.FILE, FileInfoClass.FileBasicInformation, 40)),
      this.spec(Command.QUERY_INFO, encodeQueryInfoRequest(RELATED_FILE_ID, InfoType.FILE, FileInfoClass.FileStandardInformation, 24)),
      this.spec(Command.CLOSE, encodeCloseRequest(RELATED_FILE_ID)),
    ]);
    const [c, b, s] = await Promise.all([create!.response, basic!.response, standard!.response, close!.response]);
    expectSuccess(c!, 'CREATE');
    if (INFO_CLASS_MISSING.has(b!.header.status) || INFO_CLASS_MISSING.has(s!.header.status)) {
      this.queryInfoOffered = false;
      return createToStat(name, this.conn.decode(() => decodeCreateResponse(c!.message)));
    }
    const bi = this.infoOutput(b!, decodeFileBasicInformation);
    const si = this.infoOutput(s!, decodeFileStandardInformation);
    return {
      name,
      isDirectory: si.directory || (bi.fileAttributes & FILE_ATTRIBUTE_DIRECTORY) !== 0,
      size: si.endOfFile,
      allocationSize: si.allocationSize,
      creationTime: filetimeToDate(bi.creationTime),
      lastAccessTime: filetimeToDate(bi.lastAccessTime),
      lastWriteTime: filetimeToDate(bi.lastWriteTime),
      changeTime: filetimeToDate(bi.changeTime),
      attributes: bi.fileAttributes,
    };
  }

  /**
   * Times and attributes of a file or folder through a handle already open (one QUERY_INFO, no
   * CREATE): the cheap way to see whether a watched folder changed. Null where the server does not
   * offer FileBasicInformation.
   */
  async basicInfo(fileId: FileId): Promise<FileBasicInformation | null> {
    if (!this.queryInfoOffered) return null;
    const res = await this.queryOpen(fileId, FileInfoClass.FileBasicInformation, 40);
    if (!res) {
      this.queryInfoOffered = false;
      return null;
    }
    return this.infoOutput(res, decodeFileBasicInformation);
  }

  /**
   * Whether an open file or folder is to be deleted once every handle on it is closed
   * (FileStandardInformation.DeletePending, MS-FSCC 2.4.41). Null where the server does not
   * offer the class.
   */
  async deletePending(fileId: FileId): Promise<boolean | null> {
    if (!this.queryInfoOffered) return null;
    const res = await this.queryOpen(fileId, FileInfoClass.FileStandardInformation, 24);
    if (!res) return null;
    if (res.header.status === NtStatus.DELETE_PENDING) return true;
    return this.infoOutput(res, decodeFileStandardInformation).deletePending;
  }

  /**
   * The server's file id of an open file or folder (FileInternalInformation), the id listings
   * carry: two paths with one id are one folder. Null where the server does not offer it.
   */
  async internalId(fileId: FileId): Promise<bigint | null> {
    const res = await this.queryOpen(fileId, FileInfoClass.FileInternalInformation, 8);
    return res && this.infoOutput(res, decodeFileInternalInformation);
  }

  /** One QUERY_INFO of a file information class through an open handle; null where the server lacks the class. */
  private async queryOpen(fileId: FileId, infoClass: number, outputLength: number): Promise<Response | null> {
    const res = await this.conn.send(this.spec(Command.QUERY_INFO, encodeQueryInfoRequest(fileId, InfoType.FILE, infoClass, outputLength))).response;
    return INFO_CLASS_MISSING.has(res.header.status) ? null : res;
  }

  /** A successful QUERY_INFO response's output buffer, decoded (a failing status is thrown). */
  private infoOutput<T>(res: Response, decode: (buf: Buffer) => T): T {
    expectSuccess(res, 'QUERY_INFO');
    return this.conn.decode(() => decode(decodeOutputBuffer(res.message, 'QUERY_INFO response')));
  }

  /** False once the server answered QUERY_INFO FileBasic/FileStandardInformation with "no such class". */
  queryInfoOffered = true;

  private async statFromCreate(path: string, name: string): Promise<FileStat> {
    const [create, close] = this.conn.submit([
      this.spec(Command.CREATE, this.openRequest(path, null)),
      this.spec(Command.CLOSE, encodeCloseRequest(RELATED_FILE_ID)),
    ]);
    const [c] = await Promise.all([create!.response, close!.response]);
    expectSuccess(c!, 'CREATE');
    return createToStat(name, this.conn.decode(() => decodeCreateResponse(c!.message)));
  }

  /**
   * Send a CHANGE_NOTIFY on an open folder (MS-SMB2 3.2.4.14). The first request on a handle fixes
   * filter, WATCH_TREE and buffer size for the handle's life, so callers pass their final values.
   */
  changeNotify(fileId: FileId, opts: ChangeNotifyOptions): Inflight {
    const body = encodeChangeNotifyRequest({
      fileId,
      outputBufferLength: opts.outputBufferLength,
      completionFilter: opts.completionFilter ?? ALL_CHANGES,
      watchTree: opts.watchTree ?? false,
    });
    return this.conn.send(this.spec(Command.CHANGE_NOTIFY, body, opts.outputBufferLength, { waitForeverAfterInterim: true }));
  }

  /**
   * Open a folder and arm its first CHANGE_NOTIFY in one compound (MS-SMB2 3.2.4.1.4), so no change
   * between the open and the first request escapes the handle's buffer.
   */
  async openAndWatch(path: string, opts: ChangeNotifyOptions): Promise<{ handle: OpenHandle; notify: Inflight }> {
    const body = encodeChangeNotifyRequest({
      fileId: RELATED_FILE_ID,
      outputBufferLength: opts.outputBufferLength,
      completionFilter: opts.completionFilter ?? ALL_CHANGES,
      watchTree: opts.watchTree ?? false,
    });
    const [create, notify] = this.conn.submit([
      this.spec(Command.CREATE, this.openRequest(path, true)),
      this.spec(Command.CHANGE_NOTIFY, body, opts.outputBufferLength, { waitForeverAfterInterim: true }),
    ]);
    const res = await create!.response;
    expectSuccess(res, 'CREATE');
    const info = this.conn.decode(() => decodeCreateResponse(res.message));
    return { handle: { fileId: info.fileId, info }, notify: notify! };
  }

  cancel(inflight: Inflight): void {
    this.conn.cancel(inflight);
  }

  /** Whether CHANGE_NOTIFY works on a folder: arm it, and cancel it once the server parked it. */
  async probeChangeNotify(path: string): Promise<NotifyProbe> {
    const { fileId } = await this.open(path, true);
    try {
      const inflight = this.changeNotify(fileId, { outputBufferLength: 4096 });
      const first = await Promise.race([inflight.interim.then(() => 'pending' as const), inflight.response.then(() => 'done' as const)]);
      if (first === 'pending') this.cancel(inflight);
      const res = await inflight.response;
      const status = res.header.status;
      const statusName = new SmbError(status, 'CHANGE_NOTIFY').statusName;
      if (NOTIFY_UNSUPPORTED.has(status)) {
        return { supported: false, status, statusName };
      }
      // Parked and then cancelled (or answered at once with changes): the server watches. Any
      // other answer (ACCESS_DENIED, ...) says nothing works here, whatever the server knows.
      if (status === NtStatus.CANCELLED || status === NtStatus.SUCCESS || status === NtStatus.NOTIFY_ENUM_DIR) return { supported: true };
      return { supported: false, refused: true, status, statusName };
    } finally {
      await this.close(fileId).catch(() => undefined);
    }
  }

  async disconnect(): Promise<void> {
    const res = await this.conn.send(this.spec(Command.TREE_DISCONNECT, encodeEmptyRequest())).response;
    expectSuccess(res, 'TREE_DISCONNECT');
    this.conn.decode(() => decodeEmptyResponse(res.message, 'TREE_DISCONNECT response'));
  }
}

/** Answers that mean "this information class is not offered" (as opposed to a failed request). */
const INFO_CLASS_MISSING = new Set<number>([
  NtStatus.NOT_SUPPORTED, NtStatus.NOT_IMPLEMENTED, NtStatus.INVALID_INFO_CLASS, NtStatus.INVALID_DEVICE_REQUEST,
]);

function createToStat(name: string, c: CreateResponse): FileStat {
  return {
    name,
    isDirectory: (c.fileAttributes & FILE_ATTRIBUTE_DIRECTORY) !== 0,
    size: c.endOfFile,
    allocationSize: c.allocationSize,
    creationTime: filetimeToDate(c.creationTime),
    lastAccessTime: filetimeToDate(c.lastAccessTime),
    lastWriteTime: filetimeToDate(c.lastWriteTime),
    changeTime: filetimeToDate(c.changeTime),
    attributes: c.fileAttributes,
  };
}

function entryToStat(e: DirectoryEntry): FileStat {
  return {
    name: e.name,
    isDirectory: (e.fileAttributes & FILE_ATTRIBUTE_DIRECTORY) !== 0,
    size: e.endOfFile,
    allocationSize: e.allocationSize,
    creationTime: filetimeToDate(e.creationTime),
    lastAccessTime: filetimeToDate(e.lastAccessTime),
    lastWriteTime: filetimeToDate(e.lastWriteTime),
    changeTime: filetimeToDate(e.changeTime),
    attributes: e.fileAttributes,
    fileId: e.fileId,
  };
}
