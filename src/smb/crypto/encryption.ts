/**
 * SMB 3.x message encryption (MS-SMB2 3.1.4.3) and decryption (MS-SMB2 3.2.5.1.1.1) with the
 * four negotiable AEAD ciphers (MS-SMB2 2.2.3.1.2).
 */
import { createCipheriv, createDecipheriv, type CipherCCMTypes, type CipherGCMTypes } from 'node:crypto';
import { ProtocolError } from '../errors.js';
import {
  decodeTransformHeader,
  encodeTransformHeader,
  TRANSFORM_AAD_OFFSET,
  TRANSFORM_FLAG_ENCRYPTED,
  TRANSFORM_HEADER_SIZE,
} from '../wire/transform.js';

export type CipherName = 'AES-128-CCM' | 'AES-128-GCM' | 'AES-256-CCM' | 'AES-256-GCM';

/** MS-SMB2 2.2.3.1.2: SMB2_ENCRYPTION_CAPABILITIES cipher ids. */
export const CipherId: Record<CipherName, number> = {
  'AES-128-CCM': 0x0001,
  'AES-128-GCM': 0x0002,
  'AES-256-CCM': 0x0003,
  'AES-256-GCM': 0x0004,
};

export function cipherById(id: number): CipherName | undefined {
  return (Object.keys(CipherId) as CipherName[]).find((name) => CipherId[name] === id);
}

const TAG_LENGTH = 16;

interface CipherParams {
  algorithm: CipherCCMTypes | CipherGCMTypes;
  ccm: boolean;
  keyLength: 16 | 32;
  nonceLength: 11 | 12;
}

/** MS-SMB2 2.2.41: CCM uses the first 11 bytes of Nonce, GCM the first 12. */
function params(cipher: CipherName): CipherParams {
  switch (cipher) {
    case 'AES-128-CCM':
      return { algorithm: 'aes-128-ccm', ccm: true, keyLength: 16, nonceLength: 11 };
    case 'AES-128-GCM':
      return { algorithm: 'aes-128-gcm', ccm: false, keyLength: 16, nonceLength: 12 };
    case 'AES-256-CCM':
      return { algorithm: 'aes-256-ccm', ccm: true, keyLength: 32, nonceLength: 11 };
    case 'AES-256-GCM':
      return { algorithm: 'aes-256-gcm', ccm: false, keyLength: 32, nonceLength: 12 };
  }
}

export function nonceLength(cipher: CipherName): 11 | 12 {
  return params(cipher).nonceLength;
}

function checkKey(cipher: CipherName, key: Buffer): CipherParams {
  const p = params(cipher);
  if (key.length !== p.keyLength) throw new RangeError(`${cipher} needs a ${p.keyLength}-byte key, got ${key.length}`);
  return p;
}

/**
 * Encrypt one SMB2 message (or compound chain) into TRANSFORM_HEADER + ciphertext. The nonce must
 * never repeat under a key; the caller owns that (a per-session counter is the usual choice).
 */
export function encryptMessage(cipher: CipherName, key: Buffer, sessionId: bigint, nonce: Buffer, plaintext: Buffer): Buffer {
  const p = checkKey(cipher, key);
  if (nonce.length !== p.nonceLength) throw new RangeError(`${cipher} needs a ${p.nonceLength}-byte nonce, got ${nonce.length}`);
  const header = encodeTransformHeader({
    signature: Buffer.alloc(TAG_LENGTH),
    nonce,
    originalMessageSize: plaintext.length,
    flags: TRANSFORM_FLAG_ENCRYPTED,
    sessionId,
  });
  // MS-SMB2 3.1.4.3: the AAD is the transform header without ProtocolId and Signature.
  const aad = header.subarray(TRANSFORM_AAD_OFFSET);
  let ciphertext: Buffer;
  let tag: Buffer;
  if (p.ccm) {
    const c = createCipheriv(p.algorithm as CipherCCMTypes, key, nonce, { authTagLength: TAG_LENGTH });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
    tag = c.getAuthTag();
  } else {
    const c = createCipheriv(p.algorithm as CipherGCMTypes, key, nonce, { authTagLength: TAG_LENGTH });
    c.setAAD(aad);
    ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
    tag = c.getAuthTag();
  }
  tag.copy(header, 4);
  return Buffer.concat([header, ciphertext]);
}

/**
 * Check and decrypt a frame that starts with a TRANSFORM_HEADER. Every way the frame can be
 * wrong (short, wrong protocol id, wrong flags, wrong size, failed authentication) is a
 * ProtocolError.
 */
export function decryptMessage(cipher: CipherName, key: Buffer, frame: Buffer): { sessionId: bigint; plaintext: Buffer } {
  const p = checkKey(cipher, key);
  const header = decodeTransformHeader(frame);
  if (header.flags !== TRANSFORM_FLAG_ENCRYPTED) {
    throw new ProtocolError(`transform header Flags 0x${header.flags.toString(16)} is not "encrypted"`);
  }
  const ciphertext = frame.subarray(TRANSFORM_HEADER_SIZE);
  if (header.originalMessageSize !== ciphertext.length || ciphertext.length === 0) {
    throw new ProtocolError(`transform OriginalMessageSize ${header.originalMessageSize} but ${ciphertext.length} bytes follow`);
  }
  const nonce = header.nonce.subarray(0, p.nonceLength);
  const aad = frame.subarray(TRANSFORM_AAD_OFFSET, TRANSFORM_HEADER_SIZE);
  try {
    let plaintext: Buffer;
    if (p.ccm) {
      const d = createDecipheriv(p.algorithm as CipherCCMTypes, key, nonce, { authTagLength: TAG_LENGTH });
      d.setAuthTag(header.signature);
      d.setAAD(aad, { plaintextLength: ciphertext.length });
      plaintext = Buffer.concat([d.update(ciphertext), d.final()]);
    } else {
      const d = createDecipheriv(p.algorithm as CipherGCMTypes, key, nonce, { authTagLength: TAG_LENGTH });
      d.setAuthTag(header.signature);
      d.setAAD(aad);
      plaintext = Buffer.concat([d.update(ciphertext), d.final()]);
    }
    return { sessionId: header.sessionId, plaintext };
  } catch {
    throw new ProtocolError(`${cipher} decryption failed: the message was altered or the key is wrong`);
  }
}
