/** CREATE and CLOSE (MS-SMB2 2.2.13-2.2.16). */
import { Reader, Writer, utf16 } from './buffer.js';
import { HEADER_SIZE, bodyOf } from './header.js';

/** A 16-byte SMB2_FILEID (MS-SMB2 2.2.14.1), kept as raw bytes. */
export type FileId = Buffer;
/** The FileId placeholder of a related compound request (MS-SMB2 3.2.4.1.4). */
export const RELATED_FILE_ID: FileId = Buffer.alloc(16, 0xff);

/** MS-SMB2 2.2.13.1 access mask bits used here. */
export const Access = {
  FILE_READ_DATA: 0x00000001, // FILE_LIST_DIRECTORY on a folder
  FILE_READ_EA: 0x00000008,
  FILE_READ_ATTRIBUTES: 0x00000080,
  DELETE: 0x00010000,
  READ_CONTROL: 0x00020000,
  SYNCHRONIZE: 0x00100000,
  MAXIMUM_ALLOWED: 0x02000000,
  GENERIC_READ: 0x80000000,
} as const;

export const ShareAccess = { READ: 0x1, WRITE: 0x2, DELETE: 0x4, ALL: 0x7 } as const;

export const CreateDisposition = { SUPERSEDE: 0, OPEN: 1, CREATE: 2, OPEN_IF: 3, OVERWRITE: 4, OVERWRITE_IF: 5 } as const;

export const CreateOption = {
  DIRECTORY_FILE: 0x00000001,
  NON_DIRECTORY_FILE: 0x00000040,
  OPEN_REPARSE_POINT: 0x00200000,
} as const;

export const ImpersonationLevel = { IMPERSONATION: 2 } as const;

/** MS-FSCC 2.6 FILE_ATTRIBUTE_DIRECTORY. */
export const FILE_ATTRIBUTE_DIRECTORY = 0x10;

export interface CreateRequest {
  /** Share-relative name with `\` separators and no leading separator; '' for the share root. */
  name: string;
  desiredAccess: number;
  shareAccess: number;
  disposition: number;
  options: number;
  fileAttributes?: number;
}

export function encodeCreateRequest(req: CreateRequest): Buffer {
  const name = utf16(req.name);
  const fixed = 56;
  const w = new Writer(fixed + Math.max(name.length, 8));
  w.u16(57)
    .u8(0) // SecurityFlags
    .u8(0) // RequestedOplockLevel: none, we never cache
    .u32(ImpersonationLevel.IMPERSONATION)
    .u64(0n) // SmbCreateFlags
    .u64(0n) // Reserved
    .u32(req.desiredAccess)
    .u32(req.fileAttributes ?? 0)
    .u32(req.shareAccess)
    .u32(req.disposition)
    .u32(req.options)
    .u16(HEADER_SIZE + fixed)
    .u16(name.length)
    .u32(0) // CreateContextsOffset
    .u32(0); // CreateContextsLength
  // The Buffer field is at least one byte long even for an empty name (MS-SMB2 2.2.13).
  w.bytes(name.length ? name : Buffer.alloc(1));
  return w.align(8).toBuffer();
}

export interface FileTimes {
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
}

export interface CreateResponse extends FileTimes {
  oplockLevel: number;
  createAction: number;
  allocationSize: bigint;
  endOfFile: bigint;
  fileAttributes: number;
  fileId: FileId;
}

export function decodeCreateResponse(msg: Buffer): CreateResponse {
  const r = new Reader(bodyOf(msg, 89, 'CREATE response'), 2);
  const oplockLevel = r.u8();
  r.skip(1); // Flags
  const createAction = r.u32();
  const creationTime = r.u64();
  const lastAccessTime = r.u64();
  const lastWriteTime = r.u64();
  const changeTime = r.u64();
  const allocationSize = r.u64();
  const endOfFile = r.u64();
  const fileAttributes = r.u32();
  r.skip(4);
  const fileId = Buffer.from(r.bytes(16));
  return { oplockLevel, createAction, creationTime, lastAccessTime, lastWriteTime, changeTime, allocationSize, endOfFile, fileAttributes, fileId };
}

export function encodeCloseRequest(fileId: FileId): Buffer {
  return new Writer(24).u16(24).u16(0).u32(0).bytes(fileId).toBuffer();
}

export function decodeCloseResponse(msg: Buffer): void {
  bodyOf(msg, 60, 'CLOSE response');
}
