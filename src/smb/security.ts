/**
 * What the connection needs to know about the session to protect its messages: the keys and the
 * rules for signing (MS-SMB2 3.1.4.1, 3.2.4.1.1) and encryption (3.1.4.3, 3.2.4.1.8).
 */
import { randomBytes } from 'node:crypto';
import { ProtocolError } from './errors.js';
import { decryptMessage, encryptMessage, nonceLength, type CipherName } from './crypto/encryption.js';
import { signMessage, verifyMessage, type SigningAlgorithm } from './crypto/signing.js';

export interface SessionSecurity {
  sessionId: bigint;
  /** Set once the session has a signing key; every outgoing unencrypted message is then signed. */
  signing: { algorithm: SigningAlgorithm; key: Buffer } | null;
  /** Set when the dialect and server allow encryption (3.0 and later). */
  cipher: { name: CipherName; encryptionKey: Buffer; decryptionKey: Buffer } | null;
  /** Session-level encryption: every message after SESSION_SETUP is encrypted. */
  encryptAll: boolean;
}

/** Encrypts outgoing chains with a per-session nonce: a counter and a random salt, never reused. */
export class MessageProtector {
  private counter = 0n;
  private readonly salt = randomBytes(4);

  constructor(readonly security: SessionSecurity) {}

  sign(message: Buffer): void {
    const s = this.security.signing;
    if (s) signMessage(s.algorithm, s.key, message);
  }

  verify(message: Buffer): boolean {
    const s = this.security.signing;
    return s ? verifyMessage(s.algorithm, s.key, message) : false;
  }

  encrypt(chain: Buffer): Buffer {
    const c = this.security.cipher;
    if (!c) throw new Error('encryption requested on a session without a cipher');
    this.counter += 1n;
    const nonce = Buffer.alloc(nonceLength(c.name));
    nonce.writeBigUInt64LE(this.counter, 0);
    this.salt.copy(nonce, 8, 0, nonce.length - 8);
    return encryptMessage(c.name, c.encryptionKey, this.security.sessionId, nonce, chain);
  }

  decrypt(frame: Buffer): Buffer {
    const c = this.security.cipher;
    if (!c) throw new ProtocolError('server sent an encrypted message on a session without encryption');
    const { sessionId, plaintext } = decryptMessage(c.name, c.decryptionKey, frame);
    if (sessionId !== this.security.sessionId) throw new ProtocolError(`encrypted message for unknown session 0x${sessionId.toString(16)}`);
    return plaintext;
  }
}
