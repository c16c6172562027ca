/**
 * QUERY_DIRECTORY (MS-SMB2 2.2.33, 2.2.34) with FileIdFullDirectoryInformation (MS-FSCC 2.4.18),
 * which carries times, sizes, attributes and the server's FileId of each entry.
 */
import { ProtocolError } from '../errors.js';
import { Reader, Writer, fromUtf16, slice, utf16 } from './buffer.js';
import { HEADER_SIZE, bodyOf } from './header.js';
import type { FileId, FileTimes } from './create.js';

export const FileInformationClass = {
  FileDirectoryInformation: 0x01,
  FileIdFullDirectoryInformation: 0x26,
} as const;

export const QueryDirectoryFlag = { RESTART_SCANS: 0x01, RETURN_SINGLE_ENTRY: 0x02, INDEX_SPECIFIED: 0x04, REOPEN: 0x10 } as const;

export interface QueryDirectoryRequest {
  fileId: FileId;
  pattern: string;
  flags: number;
  outputBufferLength: number;
  infoClass?: number;
}

export function encodeQueryDirectoryRequest(req: QueryDirectoryRequest): Buffer {
  const pattern = utf16(req.pattern);
  const fixed = 32;
  return new Writer(fixed + pattern.length)
    .u16(33)
    .u8(req.infoClass ?? FileInformationClass.FileIdFullDirectoryInformation)
    .u8(req.flags)
    .u32(0) // FileIndex
    .bytes(req.fileId)
    .u16(HEADER_SIZE + fixed)
    .u16(pattern.length)
    .u32(req.outputBufferLength)
    .bytes(pattern)
    .toBuffer();
}

/** The output buffer of a QUERY_DIRECTORY, QUERY_INFO or CHANGE_NOTIFY response (all StructureSize 9). */
export function decodeOutputBuffer(msg: Buffer, what: string): Buffer {
  const r = new Reader(bodyOf(msg, 9, what), 2);
  const offset = r.u16();
  const length = r.u32();
  return slice(msg, offset, length, `${what} output buffer`, HEADER_SIZE);
}

export interface DirectoryEntry extends FileTimes {
  name: string;
  fileIndex: number;
  endOfFile: bigint;
  allocationSize: bigint;
  fileAttributes: number;
  fileId: bigint;
}

const ENTRY_FIXED = 80;

/**
 * Parse a FileIdFullDirectoryInformation chain (MS-FSCC 2.4.18); every offset is checked.
 *
 * Strict about bounds, lenient about the end of the chain: MS-FSCC 2.4 says the last entry has
 * NextEntryOffset 0, but some independent servers leave the aligned size of the entry there. A
 * NextEntryOffset that leads to the end of the buffer, or to fewer bytes than an entry's fixed part,
 * ends the chain after the entry just decoded (as Windows and smbclient accept). Anything that
 * would read outside the buffer or move backwards is still a ProtocolError, and the walk only
 * moves forward, so it ends.
 */
export function decodeDirectoryEntries(buf: Buffer): DirectoryEntry[] {
  const entries: DirectoryEntry[] = [];
  if (buf.length === 0) return entries;
  let at = 0;
  for (;;) {
    const r = new Reader(buf, at);
    const next = r.u32('NextEntryOffset');
    const fileIndex = r.u32();
    const creationTime = r.u64();
    const lastAccessTime = r.u64();
    const lastWriteTime = r.u64();
    const changeTime = r.u64();
    const endOfFile = r.u64();
    const allocationSize = r.u64();
    const fileAttributes = r.u32();
    const nameLength = r.u32('FileNameLength');
    r.skip(4 + 4); // EaSize, Reserved
    const fileId = r.u64();
    if (r.offset - at !== ENTRY_FIXED) throw new ProtocolError('directory entry layout');
    const name = fromUtf16(r.bytes(nameLength, 'directory entry FileName'), 'directory entry name');
    entries.push({ name, fileIndex, creationTime, lastAccessTime, lastWriteTime, changeTime, endOfFile, allocationSize, fileAttributes, fileId });
    if (next === 0) break;
    // Entries are 8-byte aligned and must move forward past this one's name (MS-FSCC 2.4).
    if (next % 8 !== 0 || next < ENTRY_FIXED + nameLength) throw new ProtocolError(`bad NextEntryOffset ${next}`);
    // Room for no further entry: this was the last one, whatever its NextEntryOffset said.
    if (at + next + ENTRY_FIXED > buf.length) break;
    at += next;
  }
  return entries;
}
