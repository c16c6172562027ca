/**
 * SMB 3.x key derivation (MS-SMB2 3.1.4.2) and the per-session keys built from it
 * (MS-SMB2 3.2.5.3.1).
 */
import { createHmac } from 'node:crypto';

/**
 * SP800-108 KDF in counter mode with HMAC-SHA256 as the PRF, r = 32, as MS-SMB2 3.1.4.2 uses it:
 * K(i) = HMAC-SHA256(key, [i]_32be || Label || 0x00 || Context || [L]_32be). SMB's labels carry
 * their own trailing NUL, so the input holds two zero bytes after a label; that is correct.
 * One PRF block (256 bits) covers every key SMB derives.
 */
export function smb3Kdf(key: Buffer, label: Buffer, context: Buffer, bits: 128 | 256): Buffer {
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(1);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bits);
  const block = createHmac('sha256', key)
    .update(counter)
    .update(label)
    .update(Buffer.from([0]))
    .update(context)
    .update(length)
    .digest();
  return block.subarray(0, bits / 8);
}

export interface SessionKeys {
  signingKey: Buffer;
  /** Client-to-server cipher key (Session.EncryptionKey); empty before SMB 3.0. */
  encryptionKey: Buffer;
  /** Server-to-client cipher key (Session.DecryptionKey); empty before SMB 3.0. */
  decryptionKey: Buffer;
  applicationKey: Buffer;
}

export interface DeriveSessionKeysOptions {
  /** 0x0202, 0x0210, 0x0300, 0x0302 or 0x0311. */
  dialect: number;
  /** The GSS session key (NTLM's ExportedSessionKey, 16 bytes). */
  sessionKey: Buffer;
  /** Session.PreauthIntegrityHashValue (64-byte SHA-512), 3.1.1 only. */
  preauthHash?: Buffer;
  /** 256 for AES-256-CCM / AES-256-GCM, 128 otherwise. */
  cipherBits: 128 | 256;
}

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');

/** MS-SMB2 3.2.1.3: Session.SessionKey is the first 16 bytes of the key, right-padded with zeros. */
function first16(key: Buffer): Buffer {
  const out = Buffer.alloc(16);
  key.copy(out, 0, 0, 16);
  return out;
}

/** MS-SMB2 3.2.5.3.1: the signing, cipher and application keys of a newly authenticated session. */
export function deriveSessionKeys(opts: DeriveSessionKeysOptions): SessionKeys {
  const { dialect, cipherBits } = opts;
  const sessionKey = first16(opts.sessionKey);
  // For the AES-256 ciphers the cipher keys come from Session.FullSessionKey with L = 256.
  const cipherKeyInput = cipherBits === 256 ? opts.sessionKey : sessionKey;

  if (dialect === 0x0202 || dialect === 0x0210) {
    // 2.x signs with the session key itself (3.1.4.1) and has no encryption; the application key
    // is the session key (3.2.4.25).
    return { signingKey: sessionKey, encryptionKey: Buffer.alloc(0), decryptionKey: Buffer.alloc(0), applicationKey: sessionKey };
  }
  if (dialect === 0x0300 || dialect === 0x0302) {
    return {
      signingKey: smb3Kdf(sessionKey, cstr('SMB2AESCMAC'), cstr('SmbSign'), 128),
      encryptionKey: smb3Kdf(cipherKeyInput, cstr('SMB2AESCCM'), cstr('ServerIn '), cipherBits),
      decryptionKey: smb3Kdf(cipherKeyInput, cstr('SMB2AESCCM'), cstr('ServerOut'), cipherBits),
      applicationKey: smb3Kdf(sessionKey, cstr('SMB2APP'), cstr('SmbRpc'), 128),
    };
  }
  if (dialect === 0x0311) {
    const context = opts.preauthHash;
    if (!context || context.length !== 64) {
      throw new RangeError('SMB 3.1.1 key derivation needs the 64-byte preauth integrity hash');
    }
    return {
      signingKey: smb3Kdf(sessionKey, cstr('SMBSigningKey'), context, 128),
      encryptionKey: smb3Kdf(cipherKeyInput, cstr('SMBC2SCipherKey'), context, cipherBits),
      decryptionKey: smb3Kdf(cipherKeyInput, cstr('SMBS2CCipherKey'), context, cipherBits),
      applicationKey: smb3Kdf(sessionKey, cstr('SMBAppKey'), context, 128),
    };
  }
  throw new RangeError(`unknown SMB dialect 0x${dialect.toString(16)}`);
}
