/**
 * NTLMv2 cryptography (MS-NLMP 3.3.2, 3.4.5). NTLMv1 and LM are deliberately absent.
 */
import { createHash, createHmac } from 'node:crypto';
import md4 from 'js-md4';
import { utf16 } from '../wire/buffer.js';
import { rc4 } from '../crypto/rc4.js';
import { NtlmFlag } from './ntlm-messages.js';

export const hmacMd5 = (key: Buffer, ...data: Buffer[]): Buffer => {
  const h = createHmac('md5', key);
  for (const d of data) h.update(d);
  return h.digest();
};

/** NT hash: MD4 of the UTF-16LE password (MS-NLMP 3.3.1, NTOWFv1's inner step). */
export function ntHash(password: string): Buffer {
  return Buffer.from(md4.arrayBuffer(utf16(password)));
}

/** MS-NLMP 3.3.2 NTOWFv2 (= LMOWFv2): HMAC_MD5(NT hash, UNICODE(Uppercase(User) || UserDom)). */
export function ntowfV2(password: string, user: string, domain: string): Buffer {
  return hmacMd5(ntHash(password), utf16(user.toUpperCase() + domain));
}

/**
 * MS-NLMP 2.2.2.7 NTLMv2_CLIENT_CHALLENGE ("temp" in 3.3.2): RespType 1, HiRespType 1, Z(6),
 * TimeStamp, ChallengeFromClient, Z(4), AvPairs (ending in MsvAvEOL), Z(4).
 */
export function ntlmv2ClientChallenge(timestamp: Buffer, clientChallenge: Buffer, avPairs: Buffer): Buffer {
  return Buffer.concat([Buffer.from([1, 1]), Buffer.alloc(6), timestamp, clientChallenge, Buffer.alloc(4), avPairs, Buffer.alloc(4)]);
}

export interface Ntlmv2Response {
  ntProofStr: Buffer;
  /** NTProofStr || temp. */
  ntChallengeResponse: Buffer;
  sessionBaseKey: Buffer;
}

/** MS-NLMP 3.3.2: NTProofStr, NtChallengeResponse and SessionBaseKey from ResponseKeyNT and temp. */
export function ntlmv2Response(responseKeyNT: Buffer, serverChallenge: Buffer, temp: Buffer): Ntlmv2Response {
  const ntProofStr = hmacMd5(responseKeyNT, serverChallenge, temp);
  return {
    ntProofStr,
    ntChallengeResponse: Buffer.concat([ntProofStr, temp]),
    sessionBaseKey: hmacMd5(responseKeyNT, ntProofStr),
  };
}

/** MS-NLMP 3.3.2 LMv2 response: HMAC_MD5(ResponseKeyLM, ServerChallenge || ClientChallenge) || ClientChallenge. */
export function lmv2Response(responseKeyLM: Buffer, serverChallenge: Buffer, clientChallenge: Buffer): Buffer {
  return Buffer.concat([hmacMd5(responseKeyLM, serverChallenge, clientChallenge), clientChallenge]);
}

/** MS-NLMP 3.1.5.1.2 / 6: EncryptedRandomSessionKey = RC4K(KeyExchangeKey, ExportedSessionKey). */
export function encryptRandomSessionKey(keyExchangeKey: Buffer, exportedSessionKey: Buffer): Buffer {
  return rc4(keyExchangeKey, exportedSessionKey);
}

/** MS-NLMP 3.1.5.1.2: MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE with MIC zeroed). */
export function computeMic(exportedSessionKey: Buffer, negotiate: Buffer, challenge: Buffer, authenticate: Buffer): Buffer {
  return hmacMd5(exportedSessionKey, negotiate, challenge, authenticate);
}

const magic = (s: string): Buffer => Buffer.from(`session key to ${s} magic constant\0`, 'latin1');

/** MS-NLMP 3.4.5.2 SIGNKEY with extended session security. */
export function signKey(exportedSessionKey: Buffer, mode: 'client' | 'server'): Buffer {
  const direction = mode === 'client' ? 'client-to-server signing key' : 'server-to-client signing key';
  return createHash('md5').update(exportedSessionKey).update(magic(direction)).digest();
}

/** MS-NLMP 3.4.5.3 SEALKEY with extended session security: weakened to 56 or 40 bits without NEGOTIATE_128. */
export function sealKey(exportedSessionKey: Buffer, flags: number, mode: 'client' | 'server'): Buffer {
  let base = exportedSessionKey;
  if (!(flags & NtlmFlag.NEGOTIATE_128)) base = exportedSessionKey.subarray(0, flags & NtlmFlag.NEGOTIATE_56 ? 7 : 5);
  const direction = mode === 'client' ? 'client-to-server sealing key' : 'server-to-client sealing key';
  return createHash('md5').update(base).update(magic(direction)).digest();
}
