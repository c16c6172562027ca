/**
 * QUERY_DIRECTORY (MS-SMB2 2.2.33, 2.2.34) with FileIdFullDirectoryInformation (MS-FSCC 2.4.18),
 * which carries times, sizes, attributes and the server's FileId of each entry.
 */
import { ProtocolError } from '../errors.js';
import { Reader, Writer, slice, utf16, utf16At } from './buffer.js';
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
/** Byte offsets in a FileIdFullDirectoryInformation entry (MS-FSCC 2.4.18). */
const AT_LAST_WRITE = 24;
const AT_END_OF_FILE = 40;
const AT_ATTRIBUTES = 56;
const AT_NAME_LENGTH = 60;
const AT_FILE_ID = 72;
const FILE_ATTRIBUTE_DIRECTORY = 0x10;

/**
 * Walk a FileIdFullDirectoryInformation chain (MS-FSCC 2.4.18); every offset is checked, and
 * `visit` gets each entry's offset and name.
 *
 * Strict about bounds, lenient about the end of the chain: MS-FSCC 2.4 says the last entry has
 * NextEntryOffset 0, but some independent servers leave the aligned size of the entry there. A
 * NextEntryOffset that leads to the end of the buffer, or to fewer bytes than an entry's fixed part,
 * therefore ends the chain; one that is not 8-byte aligned or does not move past the entry's name
 * is still a ProtocolError.
 */
function walkDirectoryEntries(buf: Buffer, visit: (at: number, name: string) => void): void {
  if (buf.length === 0) return;
  let at = 0;
  for (;;) {
    if (at + ENTRY_FIXED > buf.length) throw new ProtocolError(`truncated directory entry: need ${ENTRY_FIXED} bytes at offset ${at}, have ${buf.length - at}`);
    const next = buf.readUInt32LE(at);
    const nameLength = buf.readUInt32LE(at + AT_NAME_LENGTH);
    // Decoded straight from the response (no Buffer view per entry: a listing of 100,000 names
    // would make as many short-lived objects).
    visit(at, utf16At(buf, at + ENTRY_FIXED, nameLength, 'directory entry FileName'));
    if (next === 0) break;
    // Entries are 8-byte aligned and must move forward past this one's name (MS-FSCC 2.4).
    if (next % 8 !== 0 || next < ENTRY_FIXED + nameLength) throw new ProtocolError(`bad NextEntryOffset ${next}`);
    // Room for no further entry: this was the last one, whatever its NextEntryOffset said.
    if (at + next + ENTRY_FIXED > buf.length) break;
    at += next;
  }
}

/** Every field of each entry of a FileIdFullDirectoryInformation chain. */
export function decodeDirectoryEntries(buf: Buffer): DirectoryEntry[] {
  const entries: DirectoryEntry[] = [];
  walkDirectoryEntries(buf, (at, name) => {
    const r = new Reader(buf, at + 4);
    const fileIndex = r.u32();
    const creationTime = r.u64();
    const lastAccessTime = r.u64();
    const lastWriteTime = r.u64();
    const changeTime = r.u64();
    const endOfFile = r.u64();
    const allocationSize = r.u64();
    const fileAttributes = r.u32();
    r.skip(4 + 4 + 4); // FileNameLength, EaSize, Reserved
    const fileId = r.u64();
    entries.push({ name, fileIndex, creationTime, lastAccessTime, lastWriteTime, changeTime, endOfFile, allocationSize, fileAttributes, fileId });
  });
  return entries;
}

/** What a watch keeps of an entry: its name, whether it is a folder, its size and write time. */
export interface ListedEntry {
  name: string;
  isDirectory: boolean;
  /** EndOfFile as a number (exact below 2^53 bytes). */
  size: number;
  /** LastWriteTime as a FILETIME in a double (100 ns units, exact to a few microseconds). */
  lastWrite: number;
  /** The server's FileId of a folder (for finding links back to an ancestor); files have none. */
  fileId?: bigint;
}

/**
 * The entries of a FileIdFullDirectoryInformation chain in compact form, appended to `out`:
 * no BigInt, no Date, nothing else kept (a listing of 100,000 entries stays small).
 */
export function decodeListedEntries(buf: Buffer, out: ListedEntry[]): void {
  visitListedEntries(buf, (entry) => out.push({ ...entry }));
}

/**
 * Each entry of a FileIdFullDirectoryInformation chain in compact form, handed to `visit` in one
 * object that is reused for the next entry: `visit` copies what it keeps. Apart from the names,
 * walking a response this way allocates nothing per entry, so a big listing applied as it is
 * decoded leaves no garbage for the old generation.
 */
export function visitListedEntries(buf: Buffer, visit: (entry: Readonly<ListedEntry>) => void): void {
  const entry: ListedEntry = { name: '', isDirectory: false, size: 0, lastWrite: 0, fileId: undefined };
  walkDirectoryEntries(buf, (at, name) => {
    const isDirectory = (buf.readUInt32LE(at + AT_ATTRIBUTES) & FILE_ATTRIBUTE_DIRECTORY) !== 0;
    entry.name = name;
    entry.isDirectory = isDirectory;
    entry.size = buf.readUInt32LE(at + AT_END_OF_FILE + 4) * 2 ** 32 + buf.readUInt32LE(at + AT_END_OF_FILE);
    entry.lastWrite = buf.readUInt32LE(at + AT_LAST_WRITE + 4) * 2 ** 32 + buf.readUInt32LE(at + AT_LAST_WRITE);
    entry.fileId = isDirectory ? buf.readBigUInt64LE(at + AT_FILE_ID) : undefined;
    visit(entry);
  });
}
