/**
 * RC4 (ARCFOUR), which Node's OpenSSL 3 no longer offers. NTLM still needs it: the
 * EncryptedRandomSessionKey (MS-NLMP 3.1.5.1.2, RC4K) and the sealed checksum of an
 * NTLMSSP_MESSAGE_SIGNATURE (MS-NLMP 3.4.4.2), whose key stream carries on across messages.
 */

/** A keyed RC4 stream; each `update` continues the key stream where the last one stopped. */
export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Buffer) {
    if (key.length === 0 || key.length > 256) throw new RangeError(`RC4 key length ${key.length}`);
    const s = this.s;
    for (let k = 0; k < 256; k++) s[k] = k;
    let j = 0;
    for (let k = 0; k < 256; k++) {
      j = (j + s[k] + key[k % key.length]) & 0xff;
      const t = s[k];
      s[k] = s[j];
      s[j] = t;
    }
  }

  update(data: Buffer): Buffer {
    const s = this.s;
    const out = Buffer.alloc(data.length);
    let { i, j } = this;
    for (let k = 0; k < data.length; k++) {
      i = (i + 1) & 0xff;
      j = (j + s[i]) & 0xff;
      const t = s[i];
      s[i] = s[j];
      s[j] = t;
      out[k] = data[k] ^ s[(s[i] + s[j]) & 0xff];
    }
    this.i = i;
    this.j = j;
    return out;
  }
}

/** One-shot RC4 with a fresh key schedule (MS-NLMP 6: RC4K). */
export function rc4(key: Buffer, data: Buffer): Buffer {
  return new Rc4(key).update(data);
}
