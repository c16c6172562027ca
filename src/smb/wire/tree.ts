/** TREE_CONNECT request and response (MS-SMB2 2.2.9, 2.2.10). */
import { Reader, Writer, utf16 } from './buffer.js';
import { HEADER_SIZE, bodyOf } from './header.js';

export const ShareType = { DISK: 0x01, PIPE: 0x02, PRINT: 0x03 } as const;

export const ShareFlag = {
  DFS: 0x00000001,
  DFS_ROOT: 0x00000002,
  RESTRICT_EXCLUSIVE_OPENS: 0x00000100,
  FORCE_SHARED_DELETE: 0x00000200,
  ALLOW_NAMESPACE_CACHING: 0x00000400,
  ACCESS_BASED_DIRECTORY_ENUM: 0x00000800,
  FORCE_LEVELII_OPLOCK: 0x00001000,
  ENABLE_HASH_V1: 0x00002000,
  ENABLE_HASH_V2: 0x00004000,
  ENCRYPT_DATA: 0x00008000,
  IDENTITY_REMOTING: 0x00040000,
  COMPRESS_DATA: 0x00100000,
  ISOLATED_TRANSPORT: 0x00200000,
} as const;

export const ShareCapability = {
  DFS: 0x00000008,
  CONTINUOUS_AVAILABILITY: 0x00000010,
  SCALEOUT: 0x00000020,
  CLUSTER: 0x00000040,
  ASYMMETRIC: 0x00000080,
  REDIRECT_TO_OWNER: 0x00000100,
} as const;

/** `path` is the UNC name `\\server\share`. */
export function encodeTreeConnectRequest(path: string): Buffer {
  const name = utf16(path);
  return new Writer(8 + name.length).u16(9).u16(0).u16(HEADER_SIZE + 8).u16(name.length).bytes(name).toBuffer();
}

export interface TreeConnectResponse {
  shareType: number;
  shareFlags: number;
  capabilities: number;
  maximalAccess: number;
}

export function decodeTreeConnectResponse(msg: Buffer): TreeConnectResponse {
  const r = new Reader(bodyOf(msg, 16, 'TREE_CONNECT response'), 2);
  const shareType = r.u8();
  r.skip(1);
  return { shareType, shareFlags: r.u32(), capabilities: r.u32(), maximalAccess: r.u32() };
}

/** Names of the bits set in `value`, for display. */
export function flagNames(value: number, table: Record<string, number>): string[] {
  return Object.entries(table)
    .filter(([, bit]) => bit !== 0 && (value & bit) === bit)
    .map(([name]) => name);
}
