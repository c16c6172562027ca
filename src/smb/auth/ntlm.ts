/**
 * NTLMv2 client (MS-NLMP): NEGOTIATE, then an AUTHENTICATE built from the server's CHALLENGE.
 * NTLMv1 and LM responses are never produced.
 */
import { randomBytes } from 'node:crypto';
import { dateToFiletime } from '../wire/filetime.js';
import { utf16 } from '../wire/buffer.js';
import { computeMic, encryptRandomSessionKey, lmv2Response, ntlmv2ClientChallenge, ntlmv2Response, ntowfV2 } from './ntlm-crypto.js';
import {
  AV_FLAG_MIC_PRESENT,
  AvId,
  type AvPair,
  type ChallengeMessage,
  CLIENT_NEGOTIATE_FLAGS,
  encodeAuthenticateMessage,
  encodeAvPairs,
  MIC_OFFSET,
  NtlmFlag,
  parseAvPairs,
} from './ntlm-messages.js';

export { decodeChallengeMessage, encodeNegotiateMessage, NtlmFlag, type ChallengeMessage } from './ntlm-messages.js';
export { ntHash } from './ntlm-crypto.js';
export { ntlmClientSigner, type NtlmSigner } from './ntlm-session-security.js';

export interface AuthenticateOptions {
  /** The NEGOTIATE_MESSAGE we sent, and the CHALLENGE_MESSAGE bytes and decoding (for the MIC). */
  negotiateMessage: Buffer;
  challengeMessage: Buffer;
  challenge: ChallengeMessage;
  user: string;
  domain: string;
  password: string;
  workstation?: string;
  /** Client SPN for MsvAvTargetName, e.g. "cifs/server" (MS-NLMP 3.1.5.1.2); omitted by default. */
  targetName?: string;
  /** 8 bytes; random by default. */
  clientChallenge?: Buffer;
  /** 8-byte FILETIME; default: the challenge's MsvAvTimestamp, else now. */
  timestamp?: Buffer;
  /** 16 bytes; random by default. Tests fix it. */
  exportedSessionKey?: Buffer;
  anonymous?: boolean;
}

export interface AuthenticateResult {
  message: Buffer;
  /** Session.SessionKey for SMB (MS-SMB2 3.2.5.3.1); 16 zero bytes for an anonymous session. */
  exportedSessionKey: Buffer;
  negotiatedFlags: number;
}

function nowFiletime(): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(dateToFiletime(new Date()));
  return b;
}

/**
 * The AV pairs of the NTLMv2 blob: the server's TargetInfo, with MsvAvFlags carrying
 * MIC-present when we send a MIC, and MsvAvTargetName when a target SPN is known.
 */
function clientAvPairs(serverPairs: AvPair[], withMic: boolean, targetName: string | undefined): Buffer {
  const pairs = targetName === undefined ? [...serverPairs] : serverPairs.filter((p) => p.id !== AvId.TARGET_NAME);
  if (withMic) {
    const existing = pairs.find((p) => p.id === AvId.FLAGS && p.value.length === 4);
    const value = Buffer.alloc(4);
    value.writeUInt32LE(((existing?.value.readUInt32LE(0) ?? 0) | AV_FLAG_MIC_PRESENT) >>> 0);
    if (existing) existing.value = value;
    else pairs.push({ id: AvId.FLAGS, value });
  }
  if (targetName !== undefined) pairs.push({ id: AvId.TARGET_NAME, value: utf16(targetName) });
  return encodeAvPairs(pairs);
}

/** MS-NLMP 3.1.5.1.2: the client's answer to a CHALLENGE_MESSAGE. */
export function buildAuthenticateMessage(opts: AuthenticateOptions): AuthenticateResult {
  const { challenge } = opts;
  const workstation = opts.workstation ?? '';
  // The server picks from what we offered; TARGET_INFO is the server's to set. Our strings are
  // always UTF-16, so NEGOTIATE_UNICODE stays set whatever the server chose.
  let flags = ((challenge.flags & (CLIENT_NEGOTIATE_FLAGS | NtlmFlag.NEGOTIATE_TARGET_INFO)) | NtlmFlag.NEGOTIATE_UNICODE) >>> 0;

  if (opts.anonymous) {
    // Anonymous: empty user and NT response, LM response Z(1), no session key to exchange.
    flags = ((flags | NtlmFlag.ANONYMOUS) & ~NtlmFlag.NEGOTIATE_KEY_EXCH) >>> 0;
    const message = encodeAuthenticateMessage({
      lmChallengeResponse: Buffer.alloc(1),
      ntChallengeResponse: Buffer.alloc(0),
      domain: '',
      user: '',
      workstation,
      encryptedRandomSessionKey: Buffer.alloc(0),
      flags,
      withMic: false,
    });
    return { message, exportedSessionKey: Buffer.alloc(16), negotiatedFlags: flags };
  }

  const clientChallenge = opts.clientChallenge ?? randomBytes(8);
  const timestamp = opts.timestamp ?? challenge.timestamp ?? nowFiletime();
  // With a server timestamp the client sends a MIC and a zero LM response (MS-NLMP 3.1.5.1.2).
  const serverTimestamp = challenge.timestamp !== undefined;

  const responseKey = ntowfV2(opts.password, opts.user, opts.domain);
  const avPairs = clientAvPairs(parseAvPairs(challenge.targetInfo), serverTimestamp, opts.targetName);
  const temp = ntlmv2ClientChallenge(timestamp, clientChallenge, avPairs);
  const { ntChallengeResponse, sessionBaseKey } = ntlmv2Response(responseKey, challenge.serverChallenge, temp);
  const lmChallengeResponse = serverTimestamp ? Buffer.alloc(24) : lmv2Response(responseKey, challenge.serverChallenge, clientChallenge);

  // MS-NLMP 3.4.5.1 KXKEY: for NTLMv2 the key exchange key is the session base key.
  const keyExchangeKey = sessionBaseKey;
  // MS-NLMP 3.1.5.1.2: a random session key is exchanged only with KEY_EXCH and SIGN or SEAL.
  // Without one of those no EncryptedRandomSessionKey is sent, so KEY_EXCH must not be claimed.
  const keyExchange = (flags & NtlmFlag.NEGOTIATE_KEY_EXCH) !== 0 && (flags & (NtlmFlag.NEGOTIATE_SIGN | NtlmFlag.NEGOTIATE_SEAL)) !== 0;
  if (!keyExchange) flags = (flags & ~NtlmFlag.NEGOTIATE_KEY_EXCH) >>> 0;
  const exportedSessionKey = keyExchange ? (opts.exportedSessionKey ?? randomBytes(16)) : keyExchangeKey;
  const encryptedRandomSessionKey = keyExchange ? encryptRandomSessionKey(keyExchangeKey, exportedSessionKey) : Buffer.alloc(0);

  const message = encodeAuthenticateMessage({
    lmChallengeResponse,
    ntChallengeResponse,
    domain: opts.domain,
    user: opts.user,
    workstation,
    encryptedRandomSessionKey,
    flags,
    withMic: serverTimestamp,
  });
  if (serverTimestamp) {
    computeMic(exportedSessionKey, opts.negotiateMessage, opts.challengeMessage, message).copy(message, MIC_OFFSET);
  }
  return { message, exportedSessionKey, negotiatedFlags: flags };
}
