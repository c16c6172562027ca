import { createCipheriv, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gmacNonce, signMessage, verifyMessage, type SigningAlgorithm } from '../../src/smb/crypto/signing.js';
import { ANATOMY, ENCRYPTION_CCM, ENCRYPTION_GCM, hex } from './fixtures/ms-blog-vectors.js';

const ALGORITHMS: SigningAlgorithm[] = ['HMAC-SHA256', 'AES-128-CMAC', 'AES-128-GMAC'];

/** A minimal SMB2 request header + 8 body bytes: MessageId 0x1122334455667788, Command `command`. */
function sampleMessage(command = 0x0005, flags = 0): Buffer {
  const m = Buffer.alloc(72);
  m.writeUInt32LE(0x424d53fe, 0);
  m.writeUInt16LE(64, 4);
  m.writeUInt16LE(command, 12);
  m.writeUInt32LE(flags, 16);
  m.writeBigUInt64LE(0x1122334455667788n, 24);
  m.writeBigUInt64LE(0x0000100000000025n, 40);
  m.write('body....', 64, 'latin1');
  return m;
}

/**
 * GMAC computed from first principles (NIST SP 800-38D): tag = E(K, J0) xor GHASH_H(A || pad ||
 * len(A) || len(C)=0), H = E(K, 0^128), J0 = IV || 0^31 || 1. Independent of node's GCM.
 */
function referenceGmac(key: Buffer, iv: Buffer, aad: Buffer): Buffer {
  const aes = (block: Buffer): Buffer => {
    const c = createCipheriv('aes-128-ecb', key, null);
    c.setAutoPadding(false);
    return Buffer.concat([c.update(block), c.final()]);
  };
  const toBig = (b: Buffer): bigint => BigInt(`0x${b.toString('hex') || '0'}`);
  const R = 0xe1n << 120n;
  const mul = (x: bigint, y: bigint): bigint => {
    let z = 0n;
    let v = y;
    for (let i = 127n; i >= 0n; i--) {
      if ((x >> i) & 1n) z ^= v;
      v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
    }
    return z;
  };
  const h = toBig(aes(Buffer.alloc(16)));
  const padded = Buffer.concat([aad, Buffer.alloc((16 - (aad.length % 16)) % 16)]);
  const lengths = Buffer.alloc(16);
  lengths.writeBigUInt64BE(BigInt(aad.length * 8), 0);
  const blocks = Buffer.concat([padded, lengths]);
  let x = 0n;
  for (let i = 0; i < blocks.length; i += 16) x = mul(x ^ toBig(blocks.subarray(i, i + 16)), h);
  const s = toBig(aes(Buffer.concat([iv, hex('00000001')])));
  return Buffer.from((x ^ s).toString(16).padStart(32, '0'), 'hex');
}

describe('AES-128-CMAC signing against Microsoft captures', () => {
  it.each([
    ['anatomy-of-keys blog, final SESSION_SETUP response', ANATOMY.signingKey, ANATOMY.sessionSetupResponse2],
    ['encryption blog A.1, final SESSION_SETUP response', ENCRYPTION_GCM.signingKey, ENCRYPTION_GCM.sessionSetupResponse],
    ['encryption blog A.2, final SESSION_SETUP response', ENCRYPTION_CCM.signingKey, ENCRYPTION_CCM.sessionSetupResponse],
  ])('%s verifies and re-signs to the same bytes', (_name, key, captured) => {
    expect(verifyMessage('AES-128-CMAC', key, captured)).toBe(true);
    const copy = Buffer.from(captured);
    copy.fill(0xaa, 48, 64);
    signMessage('AES-128-CMAC', key, copy);
    expect(copy.equals(captured)).toBe(true);
  });
});

describe('AES-128-GMAC signing', () => {
  it('builds the MS-SMB2 3.1.4.1 nonce: MessageId, then bit 0 = server, bit 1 = CANCEL', () => {
    expect(gmacNonce(sampleMessage()).toString('hex')).toBe('8877665544332211' + '00000000');
    expect(gmacNonce(sampleMessage(0x0005, 0x1)).toString('hex')).toBe('8877665544332211' + '01000000');
    expect(gmacNonce(sampleMessage(0x000c)).toString('hex')).toBe('8877665544332211' + '02000000');
    expect(gmacNonce(sampleMessage(0x000c, 0x1)).toString('hex')).toBe('8877665544332211' + '03000000');
  });

  it.each([
    ['client request', 0x0005, 0],
    ['server response', 0x0005, 1],
    ['CANCEL request', 0x000c, 0],
  ])('matches a from-scratch GHASH computation for a %s', (_name, command, flags) => {
    const key = hex('8765949DFEAEE105CE9118B45BE988F0');
    const message = sampleMessage(command, flags);
    signMessage('AES-128-GMAC', key, message);
    const zeroed = Buffer.from(message);
    zeroed.fill(0, 48, 64);
    expect(message.readUInt32LE(16) & 0x8).toBe(0x8);
    expect(message.subarray(48, 64).equals(referenceGmac(key, gmacNonce(zeroed), zeroed))).toBe(true);
  });

  it('gives a server response and a client request with the same MessageId different signatures', () => {
    const key = Buffer.alloc(16, 1);
    const request = sampleMessage(0x0005, 0);
    const response = sampleMessage(0x0005, 1);
    signMessage('AES-128-GMAC', key, request);
    signMessage('AES-128-GMAC', key, response);
    expect(request.subarray(48, 64).equals(response.subarray(48, 64))).toBe(false);
  });
});

describe('HMAC-SHA256 signing (SMB 2.0.2 / 2.1)', () => {
  it('is the first 16 bytes of HMAC-SHA256 over the message with the SIGNED flag set and a zero signature', () => {
    const key = hex('00112233445566778899aabbccddeeff');
    const message = sampleMessage();
    const expected = Buffer.from(message);
    expected.writeUInt32LE(0x8, 16);
    const mac = createHmac('sha256', key).update(expected).digest().subarray(0, 16);
    signMessage('HMAC-SHA256', key, message);
    expect(message.subarray(48, 64).equals(mac)).toBe(true);
  });
});

describe('signMessage / verifyMessage', () => {
  it.each(ALGORITHMS)('%s: round trips, keeps the input of verify intact, rejects any changed byte', (alg) => {
    const key = Buffer.alloc(16, 0x42);
    const message = sampleMessage();
    signMessage(alg, key, message);
    const snapshot = Buffer.from(message);
    expect(verifyMessage(alg, key, message)).toBe(true);
    expect(message.equals(snapshot)).toBe(true);
    for (let i = 0; i < message.length; i++) {
      const tampered = Buffer.from(message);
      tampered[i] ^= 0x01;
      expect(verifyMessage(alg, key, tampered)).toBe(false);
    }
    expect(verifyMessage(alg, Buffer.alloc(16, 0x43), message)).toBe(false);
  });

  it.each(ALGORITHMS)('%s: returns false, never throws, for short or arbitrary input', (alg) => {
    expect(verifyMessage(alg, Buffer.alloc(16), Buffer.alloc(63))).toBe(false);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes, key) => {
        expect(typeof verifyMessage(alg, Buffer.from(key), Buffer.from(bytes))).toBe('boolean');
      }),
      { numRuns: 200 },
    );
  });
});
