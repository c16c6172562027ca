/**
 * SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41), the 52-byte prefix of an encrypted message.
 * Pure encode/decode; the cryptography is in crypto/encryption.ts.
 */
import { ProtocolError } from '../errors.js';
import { Reader, Writer } from './buffer.js';

/** 0xFD 'S' 'M' 'B' read as a little-endian u32. */
export const TRANSFORM_PROTOCOL_ID = 0x424d53fd;
export const TRANSFORM_HEADER_SIZE = 52;
/** Offset of Nonce: the additional authenticated data is bytes 20..52 (MS-SMB2 3.1.4.3). */
export const TRANSFORM_AAD_OFFSET = 20;
/** Flags / EncryptionAlgorithm value meaning "encrypted" (3.1.1) or AES-128-CCM (3.0.x). */
export const TRANSFORM_FLAG_ENCRYPTED = 0x0001;

export interface TransformHeader {
  /** The 16-byte AEAD tag. */
  signature: Buffer;
  /** 16 bytes: the 11-byte CCM or 12-byte GCM nonce, zero-padded. */
  nonce: Buffer;
  originalMessageSize: number;
  flags: number;
  sessionId: bigint;
}

export function encodeTransformHeader(h: TransformHeader): Buffer {
  if (h.signature.length !== 16) throw new RangeError('transform signature must be 16 bytes');
  if (h.nonce.length > 16) throw new RangeError('transform nonce is at most 16 bytes');
  const nonce = Buffer.alloc(16);
  h.nonce.copy(nonce);
  return new Writer(TRANSFORM_HEADER_SIZE)
    .u32(TRANSFORM_PROTOCOL_ID)
    .bytes(h.signature)
    .bytes(nonce)
    .u32(h.originalMessageSize)
    .u16(0)
    .u16(h.flags)
    .u64(h.sessionId)
    .toBuffer();
}

export function decodeTransformHeader(buf: Buffer): TransformHeader {
  if (buf.length < TRANSFORM_HEADER_SIZE) {
    throw new ProtocolError(`transform header truncated: ${buf.length} of ${TRANSFORM_HEADER_SIZE} bytes`);
  }
  const r = new Reader(buf);
  const protocolId = r.u32('ProtocolId');
  if (protocolId !== TRANSFORM_PROTOCOL_ID) {
    throw new ProtocolError(`not a transform header: ProtocolId 0x${protocolId.toString(16)}`);
  }
  const signature = Buffer.from(r.bytes(16, 'Signature'));
  const nonce = Buffer.from(r.bytes(16, 'Nonce'));
  const originalMessageSize = r.u32('OriginalMessageSize');
  r.skip(2, 'Reserved');
  const flags = r.u16('Flags');
  const sessionId = r.u64('SessionId');
  return { signature, nonce, originalMessageSize, flags, sessionId };
}
