/**
 * QUERY_INFO (MS-SMB2 2.2.37, 2.2.38) for FileBasicInformation, FileStandardInformation and
 * FileInternalInformation (MS-FSCC 2.4.7, 2.4.47, 2.4.22).
 */
import { ProtocolError } from '../errors.js';
import { Reader, Writer } from './buffer.js';
import type { FileId, FileTimes } from './create.js';

export const InfoType = { FILE: 0x01, FILESYSTEM: 0x02, SECURITY: 0x03, QUOTA: 0x04 } as const;
export const FileInfoClass = { FileBasicInformation: 4, FileStandardInformation: 5, FileInternalInformation: 6 } as const;

export function encodeQueryInfoRequest(fileId: FileId, infoType: number, infoClass: number, outputBufferLength: number): Buffer {
  return new Writer(40)
    .u16(41)
    .u8(infoType)
    .u8(infoClass)
    .u32(outputBufferLength)
    .u16(0) // InputBufferOffset
    .u16(0)
    .u32(0) // InputBufferLength
    .u32(0) // AdditionalInformation
    .u32(0) // Flags
    .bytes(fileId)
    .toBuffer();
}

export interface FileBasicInformation extends FileTimes {
  fileAttributes: number;
}

export function decodeFileBasicInformation(buf: Buffer): FileBasicInformation {
  if (buf.length < 36) throw new ProtocolError(`FileBasicInformation of ${buf.length} bytes`);
  const r = new Reader(buf);
  return { creationTime: r.u64(), lastAccessTime: r.u64(), lastWriteTime: r.u64(), changeTime: r.u64(), fileAttributes: r.u32() };
}

export interface FileStandardInformation {
  allocationSize: bigint;
  endOfFile: bigint;
  numberOfLinks: number;
  deletePending: boolean;
  directory: boolean;
}

export function decodeFileStandardInformation(buf: Buffer): FileStandardInformation {
  if (buf.length < 22) throw new ProtocolError(`FileStandardInformation of ${buf.length} bytes`);
  const r = new Reader(buf);
  return { allocationSize: r.u64(), endOfFile: r.u64(), numberOfLinks: r.u32(), deletePending: r.u8() !== 0, directory: r.u8() !== 0 };
}

/** MS-FSCC 2.4.22: the file's 64-bit IndexNumber, the id listings give as FileId. */
export function decodeFileInternalInformation(buf: Buffer): bigint {
  if (buf.length < 8) throw new ProtocolError(`FileInternalInformation of ${buf.length} bytes`);
  return new Reader(buf).u64();
}
