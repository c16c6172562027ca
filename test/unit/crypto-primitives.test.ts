import { describe, expect, it } from 'vitest';
import { aesCmac, cmacSubkeys } from '../../src/smb/crypto/cmac.js';
import { Rc4, rc4 } from '../../src/smb/crypto/rc4.js';
import { ANATOMY, hex } from './fixtures/ms-blog-vectors.js';

describe('AES-CMAC (RFC 4493 section 4 test vectors)', () => {
  const key = hex('2b7e1516 28aed2a6 abf71588 09cf4f3c');
  const message = hex(`6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51
    30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710`);

  it('derives the subkeys', () => {
    const { k1, k2 } = cmacSubkeys(key);
    expect(k1.toString('hex')).toBe('fbeed618357133667c85e08f7236a8de');
    expect(k2.toString('hex')).toBe('f7ddac306ae266ccf90bc11ee46d513b');
  });

  it.each([
    [0, 'bb1d6929e95937287fa37d129b756746'],
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ])('example with a %i-byte message', (length, mac) => {
    expect(aesCmac(key, message.subarray(0, length)).toString('hex')).toBe(mac);
  });

  it('rejects keys that are not 128 bits', () => {
    expect(() => aesCmac(Buffer.alloc(32), Buffer.alloc(1))).toThrow(RangeError);
  });
});

describe('RC4', () => {
  it('matches the RFC 6229 key stream for key 0x0102030405', () => {
    const stream = rc4(hex('0102030405'), Buffer.alloc(32));
    expect(stream.toString('hex')).toBe('b2396305f03dc027ccc3524a0a1118a8' + '6982944f18fc82d589c403a47a0d0919');
  });

  it('keeps its key stream across update calls', () => {
    const key = hex('0102030405');
    const oneShot = rc4(key, Buffer.alloc(32));
    const stream = new Rc4(key);
    const pieces = Buffer.concat([stream.update(Buffer.alloc(5)), stream.update(Buffer.alloc(0)), stream.update(Buffer.alloc(27))]);
    expect(pieces.equals(oneShot)).toBe(true);
  });

  it('recovers the exported session key of the anatomy-of-keys NTLM example', () => {
    // ExportedSessionKey = RC4(KeyExchangeKey, EncryptedRandomSessionKey), MS-NLMP 3.2.5.1.2.
    expect(rc4(ANATOMY.keyExchangeKey, ANATOMY.encryptedRandomSessionKey).equals(ANATOMY.exportedSessionKey)).toBe(true);
  });

  it('is its own inverse', () => {
    const key = hex('00112233');
    const text = Buffer.from('Attack at dawn');
    expect(rc4(key, rc4(key, text)).equals(text)).toBe(true);
  });
});
