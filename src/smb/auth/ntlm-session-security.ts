/**
 * NTLM session security for the one place SMB needs it: the SPNEGO mechListMIC, an
 * NTLMSSP_MESSAGE_SIGNATURE over the DER MechTypeList (MS-SPNG 3.2.5.1, MS-NLMP 3.4.4.2).
 */
import { timingSafeEqual } from 'node:crypto';
import { SecurityError } from '../errors.js';
import { Rc4 } from '../crypto/rc4.js';
import { hmacMd5, sealKey, signKey } from './ntlm-crypto.js';
import { NtlmFlag } from './ntlm-messages.js';

export interface NtlmSigner {
  /** The 16-byte NTLMSSP_MESSAGE_SIGNATURE of `data` from the client. */
  sign(seqNum: number, data: Buffer): Buffer;
  /** Whether `signature` is the server's signature of `data`. Advances the server's RC4 state. */
  verifyServer(seqNum: number, data: Buffer, signature: Buffer): boolean;
}

/**
 * MS-NLMP 3.4.4.2 MAC with extended session security: Version 1, Checksum =
 * HMAC_MD5(SigningKey, SeqNum || Message)[0..7], RC4-sealed with the direction's sealing key when
 * KEY_EXCH was negotiated (the RC4 state carries over between messages), then SeqNum.
 */
export function ntlmClientSigner(exportedSessionKey: Buffer, negotiatedFlags: number): NtlmSigner {
  if (!(negotiatedFlags & NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY)) {
    throw new SecurityError('NTLM session security without extended session security is not supported');
  }
  const keyExch = (negotiatedFlags & NtlmFlag.NEGOTIATE_KEY_EXCH) !== 0;
  const clientSign = signKey(exportedSessionKey, 'client');
  const serverSign = signKey(exportedSessionKey, 'server');
  const clientSeal = new Rc4(sealKey(exportedSessionKey, negotiatedFlags, 'client'));
  const serverSeal = new Rc4(sealKey(exportedSessionKey, negotiatedFlags, 'server'));

  const mac = (key: Buffer, seal: Rc4, seqNum: number, data: Buffer): Buffer => {
    const seq = Buffer.alloc(4);
    seq.writeUInt32LE(seqNum >>> 0);
    let checksum = hmacMd5(key, seq, data).subarray(0, 8);
    if (keyExch) checksum = seal.update(checksum);
    return Buffer.concat([Buffer.from([1, 0, 0, 0]), checksum, seq]);
  };

  return {
    sign: (seqNum, data) => mac(clientSign, clientSeal, seqNum, data),
    verifyServer: (seqNum, data, signature) => {
      const expected = mac(serverSign, serverSeal, seqNum, data);
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    },
  };
}
