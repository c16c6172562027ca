/**
 * Messages whose body is only StructureSize 4 and a reserved u16: ECHO (MS-SMB2 2.2.28/29),
 * LOGOFF (2.2.7/8), TREE_DISCONNECT (2.2.11/12) and CANCEL (2.2.30, request only).
 */
import { Reader } from './buffer.js';
import { bodyOf } from './header.js';

export function encodeEmptyRequest(): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(4, 0);
  return b;
}

export function decodeEmptyResponse(msg: Buffer, what: string): void {
  new Reader(bodyOf(msg, 4, what), 2).u16();
}
