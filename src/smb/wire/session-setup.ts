/** SESSION_SETUP request and response (MS-SMB2 2.2.5, 2.2.6). */
import { Reader, Writer, slice } from './buffer.js';
import { HEADER_SIZE, bodyOf } from './header.js';

export const SessionFlag = { IS_GUEST: 0x0001, IS_NULL: 0x0002, ENCRYPT_DATA: 0x0004 } as const;

export interface SessionSetupRequest {
  securityMode: number;
  capabilities: number;
  securityBuffer: Buffer;
  previousSessionId?: bigint;
}

export function encodeSessionSetupRequest(req: SessionSetupRequest): Buffer {
  const fixed = 24;
  return new Writer(fixed + req.securityBuffer.length)
    .u16(25)
    .u8(0) // Flags: no channel binding
    .u8(req.securityMode)
    .u32(req.capabilities)
    .u32(0) // Channel
    .u16(HEADER_SIZE + fixed)
    .u16(req.securityBuffer.length)
    .u64(req.previousSessionId ?? 0n)
    .bytes(req.securityBuffer)
    .toBuffer();
}

export interface SessionSetupResponse {
  sessionFlags: number;
  securityBuffer: Buffer;
}

export function decodeSessionSetupResponse(msg: Buffer): SessionSetupResponse {
  const body = bodyOf(msg, 9, 'SESSION_SETUP response');
  const r = new Reader(body, 2);
  const sessionFlags = r.u16();
  const offset = r.u16();
  const length = r.u16();
  return { sessionFlags, securityBuffer: slice(msg, offset, length, 'SESSION_SETUP security buffer', HEADER_SIZE) };
}
