import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/smb/errors.js';
import { cipherById, CipherId, decryptMessage, encryptMessage, nonceLength, type CipherName } from '../../src/smb/crypto/encryption.js';
import { decodeTransformHeader, encodeTransformHeader, TRANSFORM_PROTOCOL_ID } from '../../src/smb/wire/transform.js';
import { ENCRYPTION_CCM, ENCRYPTION_GCM } from './fixtures/ms-blog-vectors.js';

const CIPHERS: CipherName[] = ['AES-128-CCM', 'AES-128-GCM', 'AES-256-CCM', 'AES-256-GCM'];
const keyFor = (c: CipherName): Buffer => randomBytes(c.startsWith('AES-256') ? 32 : 16);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 300);

/** Anything a decoder may throw on garbage: only ProtocolError is allowed. */
function onlyProtocolErrors(run: () => unknown): void {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
  }
}

describe('cipher ids (MS-SMB2 2.2.3.1.2)', () => {
  it('maps names and ids both ways', () => {
    expect(CipherId).toEqual({ 'AES-128-CCM': 1, 'AES-128-GCM': 2, 'AES-256-CCM': 3, 'AES-256-GCM': 4 });
    for (const c of CIPHERS) expect(cipherById(CipherId[c])).toBe(c);
    expect(cipherById(0)).toBeUndefined();
    expect(cipherById(5)).toBeUndefined();
    expect(nonceLength('AES-128-CCM')).toBe(11);
    expect(nonceLength('AES-256-GCM')).toBe(12);
  });
});

describe('TRANSFORM_HEADER (MS-SMB2 2.2.41)', () => {
  it('encodes 52 bytes that decode back', () => {
    const h = { signature: randomBytes(16), nonce: randomBytes(16), originalMessageSize: 0x87, flags: 1, sessionId: 0x0000100000000025n };
    const bytes = encodeTransformHeader(h);
    expect(bytes).toHaveLength(52);
    expect(bytes.readUInt32LE(0)).toBe(TRANSFORM_PROTOCOL_ID);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('\xfdSMB');
    expect(decodeTransformHeader(bytes)).toEqual(h);
  });

  it('decodes the header of the encryption blog WRITE request', () => {
    const h = decodeTransformHeader(ENCRYPTION_GCM.writeTransformed);
    expect(h.signature.toString('hex').toUpperCase()).toBe('BD73D97D2BC9001BCAFAC0FDFF5FEEBC');
    expect(h.nonce.toString('hex').toUpperCase()).toBe('C7D6822D269CAF48904C664C00000000');
    expect(h.originalMessageSize).toBe(0x87);
    expect(h.flags).toBe(1);
    expect(h.sessionId).toBe(0x100000000025n);
  });

  it('rejects short input and other protocol ids', () => {
    expect(() => decodeTransformHeader(Buffer.alloc(51))).toThrow(ProtocolError);
    const smb2 = Buffer.from(ENCRYPTION_GCM.writeTransformed);
    smb2[0] = 0xfe;
    expect(() => decodeTransformHeader(smb2)).toThrow(ProtocolError);
  });

  it('throws only ProtocolError on random and mutated input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => onlyProtocolErrors(() => decodeTransformHeader(Buffer.from(bytes)))),
      { numRuns: ITERATIONS },
    );
  });
});

describe('encryption against the "SMB 3.1.1 Encryption in Windows 10" test vectors', () => {
  it('A.1 AES-128-GCM: encrypts the WRITE request byte for byte', () => {
    const v = ENCRYPTION_GCM;
    expect(encryptMessage('AES-128-GCM', v.encryptionKey, v.sessionId, v.writeNonce, v.writeRequest).equals(v.writeTransformed)).toBe(true);
  });

  it('A.1 AES-128-GCM: decrypts the WRITE and READ responses', () => {
    const v = ENCRYPTION_GCM;
    const write = decryptMessage('AES-128-GCM', v.decryptionKey, v.writeResponseTransformed);
    expect(write.sessionId).toBe(v.sessionId);
    expect(write.plaintext.equals(v.writeResponse)).toBe(true);
    const read = decryptMessage('AES-128-GCM', v.decryptionKey, v.readResponseTransformed);
    expect(read.plaintext.equals(v.readResponse)).toBe(true);
    expect(read.plaintext.subarray(80).toString('latin1')).toBe('Smb3 encryption testing');
  });

  it('A.2 AES-128-CCM: encrypts the WRITE and READ requests byte for byte', () => {
    const v = ENCRYPTION_CCM;
    expect(encryptMessage('AES-128-CCM', v.encryptionKey, v.sessionId, v.writeNonce, v.writeRequest).equals(v.writeTransformed)).toBe(true);
    expect(encryptMessage('AES-128-CCM', v.encryptionKey, v.sessionId, v.readRequestNonce, v.readRequest).equals(v.readTransformed)).toBe(true);
  });

  it('A.2 AES-128-CCM: decrypts the READ response', () => {
    const v = ENCRYPTION_CCM;
    const read = decryptMessage('AES-128-CCM', v.decryptionKey, v.readResponseTransformed);
    expect(read.sessionId).toBe(v.sessionId);
    expect(read.plaintext.equals(v.readResponse)).toBe(true);
  });

  it('does not decrypt with the other direction key', () => {
    const v = ENCRYPTION_GCM;
    expect(() => decryptMessage('AES-128-GCM', v.encryptionKey, v.readResponseTransformed)).toThrow(ProtocolError);
  });
});

describe.each(CIPHERS)('%s', (cipher) => {
  const key = keyFor(cipher);
  const plaintext = Buffer.concat([Buffer.from([0xfe, 0x53, 0x4d, 0x42]), randomBytes(150)]);
  const nonce = randomBytes(nonceLength(cipher));
  const frame = encryptMessage(cipher, key, 0x1234n, nonce, plaintext);

  it('round trips, with the nonce zero-padded to 16 bytes in the header', () => {
    expect(frame).toHaveLength(52 + plaintext.length);
    const header = decodeTransformHeader(frame);
    expect(header.nonce.equals(Buffer.concat([nonce, Buffer.alloc(16 - nonce.length)]))).toBe(true);
    expect(header.originalMessageSize).toBe(plaintext.length);
    const out = decryptMessage(cipher, key, frame);
    expect(out.sessionId).toBe(0x1234n);
    expect(out.plaintext.equals(plaintext)).toBe(true);
  });

  it('rejects a change to any byte of the frame', () => {
    for (let i = 0; i < frame.length; i++) {
      const tampered = Buffer.from(frame);
      tampered[i] ^= 0x80;
      expect(() => decryptMessage(cipher, key, tampered), `byte ${i}`).toThrow(ProtocolError);
    }
  });

  it('rejects truncation, extension and a wrong OriginalMessageSize', () => {
    expect(() => decryptMessage(cipher, key, frame.subarray(0, frame.length - 1))).toThrow(ProtocolError);
    expect(() => decryptMessage(cipher, key, Buffer.concat([frame, Buffer.alloc(1)]))).toThrow(ProtocolError);
    expect(() => decryptMessage(cipher, key, frame.subarray(0, 52))).toThrow(ProtocolError);
    expect(() => decryptMessage(cipher, key, frame.subarray(0, 20))).toThrow(ProtocolError);
  });

  it('refuses a nonce of the wrong length when encrypting', () => {
    expect(() => encryptMessage(cipher, key, 1n, Buffer.alloc(16), plaintext)).toThrow(RangeError);
  });

  it('throws only ProtocolError on random and mutated frames', () => {
    const mutated = fc
      .tuple(fc.nat(frame.length - 1), fc.integer({ min: 1, max: 255 }), fc.nat(frame.length))
      .map(([at, xor, cut]) => {
        const b = Buffer.from(frame);
        b[at] ^= xor;
        return b.subarray(0, Math.max(cut, at + 1));
      });
    const random = fc.uint8Array({ maxLength: 300 }).map((a) => {
      const b = Buffer.from(a);
      if (b.length >= 4) b.writeUInt32LE(TRANSFORM_PROTOCOL_ID, 0);
      return b;
    });
    fc.assert(
      fc.property(fc.oneof(mutated, random), (bytes) => onlyProtocolErrors(() => decryptMessage(cipher, key, bytes))),
      { numRuns: ITERATIONS },
    );
  });
});
