import { describe, expect, it } from 'vitest';
import { deriveSessionKeys, smb3Kdf } from '../../src/smb/crypto/kdf.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const up = (b: Buffer): string => b.toString('hex').toUpperCase();

// Microsoft Open Specifications blog, "SMB 2 and SMB 3 security in Windows 10: the anatomy of
// signing and cryptographic keys" (2017), Appendix: Key derivation examples.
describe('SMB 3.0 keys (anatomy-of-keys blog, SMB 3.0 multichannel example)', () => {
  it('derives the first channel keys', () => {
    const keys = deriveSessionKeys({ dialect: 0x0300, sessionKey: hex('7CD451825D0450D235424E44BA6E78CC'), cipherBits: 128 });
    expect(up(keys.signingKey)).toBe('0B7E9C5CAC36C0F6EA9AB275298CEDCE');
    expect(up(keys.encryptionKey)).toBe('FAD27796665B313EBB578F388632B4F7');
    expect(up(keys.decryptionKey)).toBe('B0F0427F7CEB416D1D9DCC0CD4F99447');
    expect(up(keys.applicationKey)).toBe('BB23A4575AA26C721AF525AF15A87B4F');
  });

  it('derives the second channel signing key', () => {
    const keys = deriveSessionKeys({ dialect: 0x0302, sessionKey: hex('4E01A2B313BCF660CC250BEF021AEDE6'), cipherBits: 128 });
    expect(up(keys.signingKey)).toBe('BA1A17DBBFEC349BCA105563D598952F');
  });
});

describe('SMB 3.1.1 keys', () => {
  it('anatomy-of-keys blog, 3.1.1 first channel', () => {
    const keys = deriveSessionKeys({
      dialect: 0x0311,
      sessionKey: hex('270E1BA896585EEB7AF3472D3B4C75A7'),
      preauthHash: hex(`0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD522D97
        51640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01`),
      cipherBits: 128,
    });
    expect(up(keys.signingKey)).toBe('73FE7A9A77BEF0BDE49C650D8CCB5F76');
    expect(up(keys.encryptionKey)).toBe('629BCBC54422A0F572B97F45989B6073');
    expect(up(keys.decryptionKey)).toBe('E2AF0DCEFAC68DA71A0DFBD0D1350D74');
    expect(up(keys.applicationKey)).toBe('6D7AD7954E9EC61E907B4D473DC178FF');
  });

  it('anatomy-of-keys blog, 3.1.1 second channel signing key', () => {
    const keys = deriveSessionKeys({
      dialect: 0x0311,
      sessionKey: hex('84B9DBB730116A8FA6E9889555C265F9'),
      preauthHash: hex(`EA3BF912B11CBFEC5B1889E8209614218687F82FA5294521AD3063425E49E88A10BD022124CE2512
        3BC9111F52D9566BA88BF46344E6063DC5E3FF0389026F6C`),
      cipherBits: 128,
    });
    expect(up(keys.signingKey)).toBe('C962BCA1A9DD1697B030644199705431');
  });

  // "SMB 3.1.1 Encryption in Windows 10" blog (2015), Appendix A.1 (AES-128-GCM session) and
  // A.2 (AES-128-CCM session): the client encrypts its WRITE with EncryptionKey, so the blog's
  // EncryptionKey is the client-to-server key.
  it('encryption blog, appendix A.1 (GCM session)', () => {
    const keys = deriveSessionKeys({
      dialect: 0x0311,
      sessionKey: hex('419FDDF34C1E001909D362AE7FB6AF79'),
      preauthHash: hex(`B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDBA7DB256BA2EA30E9
        77F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770`),
      cipherBits: 128,
    });
    expect(up(keys.signingKey)).toBe('8765949DFEAEE105CE9118B45BE988F0');
    expect(up(keys.encryptionKey)).toBe('A2F5E80E5D59103034F32E52F698E5EC');
    expect(up(keys.decryptionKey)).toBe('748C50868C90F302962A5C35F5F9A8BF');
    expect(up(keys.applicationKey)).toBe('099D610789FBE82055B313601C3E8CC4');
  });

  it('encryption blog, appendix A.2 (CCM session)', () => {
    const keys = deriveSessionKeys({
      dialect: 0x0311,
      sessionKey: hex('07B7F69C1E2581662DF6987E88F9E891'),
      preauthHash: hex(`DECF98A420718718F22090D3580FCC5E484BD310FA1268210C6E86335A8891E767F5BCD99FA5A785
        9D665AD07A73EA94E1BCDB7CFA69A6962A28A244138340B1`),
      cipherBits: 128,
    });
    expect(up(keys.signingKey)).toBe('3DCC82C5795AE27F383242761078C59B');
    expect(up(keys.encryptionKey)).toBe('DFAAA31AAE40A2485D47AC4DF09FDA1D');
    expect(up(keys.decryptionKey)).toBe('95C544AEF6072680DA1CE49A68A97FA6');
    expect(up(keys.applicationKey)).toBe('7A2F0F73EC2D530879B2913BBFCE242F');
  });

  it('makes 32-byte cipher keys for the AES-256 ciphers whose first half differs from L=128', () => {
    const base = { dialect: 0x0311, sessionKey: hex('419FDDF34C1E001909D362AE7FB6AF79'), preauthHash: Buffer.alloc(64, 7) };
    const k128 = deriveSessionKeys({ ...base, cipherBits: 128 });
    const k256 = deriveSessionKeys({ ...base, cipherBits: 256 });
    expect(k256.encryptionKey).toHaveLength(32);
    expect(k256.decryptionKey).toHaveLength(32);
    // L is part of the PRF input, so the 256-bit key is not an extension of the 128-bit one.
    expect(k256.encryptionKey.subarray(0, 16).equals(k128.encryptionKey)).toBe(false);
    expect(k256.signingKey.equals(k128.signingKey)).toBe(true);
    expect(k256.signingKey).toHaveLength(16);
  });

  it('refuses 3.1.1 without a 64-byte preauth hash', () => {
    expect(() => deriveSessionKeys({ dialect: 0x0311, sessionKey: Buffer.alloc(16), cipherBits: 128 })).toThrow();
  });
});

describe('SMB 2.x keys', () => {
  it('signs with the session key itself and has no cipher keys', () => {
    const sessionKey = hex('00112233445566778899aabbccddeeff');
    const keys = deriveSessionKeys({ dialect: 0x0210, sessionKey, cipherBits: 128 });
    expect(keys.signingKey.equals(sessionKey)).toBe(true);
    expect(keys.applicationKey.equals(sessionKey)).toBe(true);
    expect(keys.encryptionKey).toHaveLength(0);
    expect(keys.decryptionKey).toHaveLength(0);
  });
});

describe('smb3Kdf', () => {
  it('agrees with the openssl KBKDF when it is available', async () => {
    const { spawnSync } = await import('node:child_process');
    const key = hex('7CD451825D0450D235424E44BA6E78CC');
    const label = Buffer.from('SMB2AESCMAC\0', 'latin1');
    const context = Buffer.from('SmbSign\0', 'latin1');
    const run = spawnSync('openssl', [
      'kdf', '-keylen', '32', '-kdfopt', 'mac:HMAC', '-kdfopt', 'digest:SHA2-256',
      '-kdfopt', `hexkey:${key.toString('hex')}`, '-kdfopt', `hexsalt:${label.toString('hex')}`,
      '-kdfopt', `hexinfo:${context.toString('hex')}`, 'KBKDF',
    ], { encoding: 'utf8' });
    if (run.status !== 0) return; // no openssl 3 here: the published vectors above still apply
    const expected = hex(run.stdout.replace(/:/g, '').trim());
    expect(smb3Kdf(key, label, context, 256).equals(expected)).toBe(true);
  });
});
