/** IOCTL (MS-SMB2 2.2.31, 2.2.32), used for FSCTL_VALIDATE_NEGOTIATE_INFO (2.2.31.4, 2.2.32.6). */
import { ProtocolError } from '../errors.js';
import { Reader, Writer, slice } from './buffer.js';
import { HEADER_SIZE, bodyOf } from './header.js';
import type { FileId } from './create.js';

export const FSCTL_VALIDATE_NEGOTIATE_INFO = 0x00140204;
export const IOCTL_IS_FSCTL = 0x00000001;

export function encodeIoctlRequest(ctlCode: number, fileId: FileId, input: Buffer, maxOutputResponse: number): Buffer {
  const fixed = 56;
  return new Writer(fixed + input.length)
    .u16(57)
    .u16(0)
    .u32(ctlCode)
    .bytes(fileId)
    .u32(HEADER_SIZE + fixed) // InputOffset
    .u32(input.length)
    .u32(0) // MaxInputResponse
    .u32(0) // OutputOffset
    .u32(0) // OutputCount
    .u32(maxOutputResponse)
    .u32(IOCTL_IS_FSCTL)
    .u32(0)
    .bytes(input)
    .toBuffer();
}

export interface IoctlResponse {
  ctlCode: number;
  output: Buffer;
}

export function decodeIoctlResponse(msg: Buffer): IoctlResponse {
  const r = new Reader(bodyOf(msg, 49, 'IOCTL response'), 2);
  r.skip(2);
  const ctlCode = r.u32();
  r.skip(16 + 8); // FileId, InputOffset, InputCount
  const outputOffset = r.u32();
  const outputCount = r.u32();
  return { ctlCode, output: slice(msg, outputOffset, outputCount, 'IOCTL output', HEADER_SIZE) };
}

export interface ValidateNegotiateInfo {
  capabilities: number;
  guid: Buffer;
  securityMode: number;
}

export function encodeValidateNegotiateRequest(info: ValidateNegotiateInfo & { dialects: number[] }): Buffer {
  const w = new Writer(24 + info.dialects.length * 2).u32(info.capabilities).bytes(info.guid).u16(info.securityMode).u16(info.dialects.length);
  for (const d of info.dialects) w.u16(d);
  return w.toBuffer();
}

export function decodeValidateNegotiateResponse(buf: Buffer): ValidateNegotiateInfo & { dialect: number } {
  if (buf.length < 24) throw new ProtocolError(`VALIDATE_NEGOTIATE_INFO response of ${buf.length} bytes`);
  const r = new Reader(buf);
  return { capabilities: r.u32(), guid: Buffer.from(r.bytes(16)), securityMode: r.u16(), dialect: r.u16() };
}
