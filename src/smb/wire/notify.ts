/**
 * CHANGE_NOTIFY (MS-SMB2 2.2.35, 2.2.36) and the FILE_NOTIFY_INFORMATION chain it returns
 * (MS-FSCC 2.7.1).
 */
import { ProtocolError } from '../errors.js';
import { Reader, Writer, fromUtf16 } from './buffer.js';
import type { FileId } from './create.js';

export const NotifyFlag = { WATCH_TREE: 0x0001 } as const;

/** MS-SMB2 2.2.35 CompletionFilter. */
export const CompletionFilter = {
  FILE_NAME: 0x00000001,
  DIR_NAME: 0x00000002,
  ATTRIBUTES: 0x00000004,
  SIZE: 0x00000008,
  LAST_WRITE: 0x00000010,
  LAST_ACCESS: 0x00000020,
  CREATION: 0x00000040,
  EA: 0x00000080,
  SECURITY: 0x00000100,
  STREAM_NAME: 0x00000200,
  STREAM_SIZE: 0x00000400,
  STREAM_WRITE: 0x00000800,
} as const;

/** MS-FSCC 2.7.1 Action. */
export const FileAction = {
  ADDED: 0x00000001,
  REMOVED: 0x00000002,
  MODIFIED: 0x00000003,
  RENAMED_OLD_NAME: 0x00000004,
  RENAMED_NEW_NAME: 0x00000005,
  ADDED_STREAM: 0x00000006,
  REMOVED_STREAM: 0x00000007,
  MODIFIED_STREAM: 0x00000008,
  REMOVED_BY_DELETE: 0x00000009,
  ID_NOT_TUNNELLED: 0x0000000a,
  TUNNELLED_ID_COLLISION: 0x0000000b,
} as const;

export interface ChangeNotifyRequest {
  fileId: FileId;
  outputBufferLength: number;
  completionFilter: number;
  watchTree: boolean;
}

export function encodeChangeNotifyRequest(req: ChangeNotifyRequest): Buffer {
  return new Writer(32)
    .u16(32)
    .u16(req.watchTree ? NotifyFlag.WATCH_TREE : 0)
    .u32(req.outputBufferLength)
    .bytes(req.fileId)
    .u32(req.completionFilter)
    .u32(0)
    .toBuffer();
}

export interface FileNotifyInformation {
  action: number;
  /** Relative to the watched folder, with the server's `\` separators. */
  fileName: string;
}

const ENTRY_FIXED = 12;

/**
 * Parse a FILE_NOTIFY_INFORMATION chain (MS-FSCC 2.7.1). NextEntryOffset must be a multiple of 4
 * that moves past the current entry; trailing padding after the last entry is tolerated; unknown
 * actions are kept for the caller to report raw.
 */
export function decodeFileNotifyInformation(buf: Buffer): FileNotifyInformation[] {
  const entries: FileNotifyInformation[] = [];
  if (buf.length === 0) return entries;
  let at = 0;
  for (;;) {
    const r = new Reader(buf, at);
    const next = r.u32('NextEntryOffset');
    const action = r.u32('Action');
    const nameLength = r.u32('FileNameLength');
    const fileName = fromUtf16(r.bytes(nameLength, 'FILE_NOTIFY_INFORMATION FileName'), 'notify file name');
    entries.push({ action, fileName });
    if (next === 0) return entries;
    if (next % 4 !== 0 || next < ENTRY_FIXED + nameLength) throw new ProtocolError(`bad NextEntryOffset ${next} in FILE_NOTIFY_INFORMATION`);
    at += next;
    if (at >= buf.length) throw new ProtocolError(`NextEntryOffset ${next} points past the notify buffer`);
  }
}

/** Build a FILE_NOTIFY_INFORMATION chain (for tests and fuzz seeds), 4-byte aligned. */
export function encodeFileNotifyInformation(entries: FileNotifyInformation[]): Buffer {
  const w = new Writer(64);
  entries.forEach((e, i) => {
    const name = Buffer.from(e.fileName, 'utf16le');
    const start = w.length;
    w.u32(0).u32(e.action).u32(name.length).bytes(name);
    if (i < entries.length - 1) {
      w.align(4);
      w.patchU32(start, w.length - start);
    }
  });
  return w.toBuffer();
}
