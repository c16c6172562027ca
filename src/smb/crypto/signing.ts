/**
 * SMB2 message signing (MS-SMB2 3.1.4.1) and verification (MS-SMB2 3.1.5.1) over one complete
 * message: the 64-byte header and its body, including the padding of a compound member.
 */
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { aesCmac } from './cmac.js';

export type SigningAlgorithm = 'HMAC-SHA256' | 'AES-128-CMAC' | 'AES-128-GMAC';

/** MS-SMB2 2.2.1: header fields this module reads or writes. */
const HEADER_SIZE = 64;
const COMMAND_OFFSET = 12;
const FLAGS_OFFSET = 16;
const MESSAGE_ID_OFFSET = 24;
const SIGNATURE_OFFSET = 48;
const SIGNATURE_SIZE = 16;
const SMB2_FLAGS_SERVER_TO_REDIR = 0x00000001;
const SMB2_FLAGS_SIGNED = 0x00000008;
const SMB2_CANCEL = 0x000c;

/**
 * MS-SMB2 3.1.4.1: the AES-GMAC nonce (RFC 4543) is MessageId (8 bytes, little-endian) followed by
 * a 32-bit little-endian word whose bit 0 is set when the sender is the server and bit 1 when the
 * message is an SMB2 CANCEL request; the other 30 bits are zero.
 */
export function gmacNonce(message: Buffer): Buffer {
  const nonce = Buffer.alloc(12);
  message.copy(nonce, 0, MESSAGE_ID_OFFSET, MESSAGE_ID_OFFSET + 8);
  const flags = message.readUInt32LE(FLAGS_OFFSET);
  const command = message.readUInt16LE(COMMAND_OFFSET);
  let word = 0;
  if (flags & SMB2_FLAGS_SERVER_TO_REDIR) word |= 0x1;
  if (command === SMB2_CANCEL) word |= 0x2;
  nonce.writeUInt32LE(word, 8);
  return nonce;
}

/** The 16-byte signature of `message`, whose Signature field must already be zero. */
function computeSignature(alg: SigningAlgorithm, key: Buffer, message: Buffer): Buffer {
  switch (alg) {
    case 'HMAC-SHA256':
      return createHmac('sha256', key).update(message).digest().subarray(0, SIGNATURE_SIZE);
    case 'AES-128-CMAC':
      return aesCmac(key, message);
    case 'AES-128-GMAC': {
      // GMAC is GCM with the whole message as additional data and nothing to encrypt.
      const gcm = createCipheriv('aes-128-gcm', key, gmacNonce(message), { authTagLength: 16 });
      gcm.setAAD(message);
      gcm.final();
      return gcm.getAuthTag();
    }
  }
}

/** Set SMB2_FLAGS_SIGNED, zero the Signature field, and write the signature in place. */
export function signMessage(alg: SigningAlgorithm, key: Buffer, message: Buffer): void {
  if (message.length < HEADER_SIZE) throw new RangeError(`cannot sign a ${message.length}-byte SMB2 message`);
  message.writeUInt32LE((message.readUInt32LE(FLAGS_OFFSET) | SMB2_FLAGS_SIGNED) >>> 0, FLAGS_OFFSET);
  message.fill(0, SIGNATURE_OFFSET, SIGNATURE_OFFSET + SIGNATURE_SIZE);
  computeSignature(alg, key, message).copy(message, SIGNATURE_OFFSET);
}

/**
 * MS-SMB2 3.1.5.1: recompute the signature over a copy with the Signature field zeroed and compare
 * in constant time. Never throws: anything too short or otherwise unverifiable is simply false.
 */
export function verifyMessage(alg: SigningAlgorithm, key: Buffer, message: Buffer): boolean {
  if (message.length < HEADER_SIZE) return false;
  try {
    const received = message.subarray(SIGNATURE_OFFSET, SIGNATURE_OFFSET + SIGNATURE_SIZE);
    const copy = Buffer.from(message);
    copy.fill(0, SIGNATURE_OFFSET, SIGNATURE_OFFSET + SIGNATURE_SIZE);
    return timingSafeEqual(computeSignature(alg, key, copy), received);
  } catch {
    return false;
  }
}
