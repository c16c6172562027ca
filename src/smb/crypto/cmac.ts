/**
 * AES-128-CMAC (RFC 4493), the SMB 3.0 / 3.0.2 signing algorithm and the 3.1.1 default
 * (MS-SMB2 3.1.4.1). Built on AES-128-ECB from node:crypto, which has no CMAC of its own.
 */
import { createCipheriv } from 'node:crypto';

const BLOCK = 16;
/** R_b for 128-bit blocks (RFC 4493 2.3). */
const RB = 0x87;

function aesBlock(key: Buffer, block: Buffer): Buffer {
  const cipher = createCipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

/** Left shift of a 128-bit string by one bit, xor R_b when the top bit fell off (RFC 4493 2.3). */
function doubleBlock(b: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    out[i] = ((b[i] << 1) | (i + 1 < BLOCK ? b[i + 1] >> 7 : 0)) & 0xff;
  }
  if (b[0] & 0x80) out[BLOCK - 1] ^= RB;
  return out;
}

/** RFC 4493 2.3: the subkeys K1 and K2. Exported for the RFC's own subkey test vector. */
export function cmacSubkeys(key: Buffer): { k1: Buffer; k2: Buffer } {
  const l = aesBlock(key, Buffer.alloc(BLOCK));
  const k1 = doubleBlock(l);
  return { k1, k2: doubleBlock(k1) };
}

/** RFC 4493 2.4: the 16-byte AES-CMAC of `data` under a 16-byte key. */
export function aesCmac(key: Buffer, data: Buffer): Buffer {
  if (key.length !== 16) throw new RangeError(`AES-128-CMAC key must be 16 bytes, got ${key.length}`);
  const { k1, k2 } = cmacSubkeys(key);
  const blocks = Math.max(1, Math.ceil(data.length / BLOCK));
  const complete = data.length > 0 && data.length % BLOCK === 0;

  const last = Buffer.alloc(BLOCK);
  const lastStart = (blocks - 1) * BLOCK;
  data.copy(last, 0, lastStart);
  if (complete) {
    for (let i = 0; i < BLOCK; i++) last[i] ^= k1[i];
  } else {
    last[data.length - lastStart] = 0x80;
    for (let i = 0; i < BLOCK; i++) last[i] ^= k2[i];
  }

  // CBC-MAC over M_1 .. M_{n-1} and the masked last block: AES-CBC with a zero IV, keep the tail.
  const cipher = createCipheriv('aes-128-cbc', key, Buffer.alloc(BLOCK));
  cipher.setAutoPadding(false);
  const encrypted = Buffer.concat([cipher.update(data.subarray(0, lastStart)), cipher.update(last), cipher.final()]);
  return Buffer.from(encrypted.subarray(encrypted.length - BLOCK));
}
