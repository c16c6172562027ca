/**
 * SESSION_SETUP with NTLMv2 inside SPNEGO (MS-SMB2 3.2.4.2.3, 3.2.5.3; MS-SPNG; MS-NLMP), the
 * session keys (MS-SMB2 3.2.5.3.1) and the protection the user asked for.
 */
import os from 'node:os';
import { ProtocolError, SecurityError, SmbError } from './errors.js';
import type { Connection, Response } from './connection.js';
import { deriveSessionKeys } from './crypto/kdf.js';
import { verifyMessage } from './crypto/signing.js';
import { NtlmFlag, buildAuthenticateMessage, decodeChallengeMessage, encodeNegotiateMessage, ntlmClientSigner } from './auth/ntlm.js';
import { NTLMSSP_OID, decodeNegToken, encodeMechTypeList, encodeNegTokenInit, encodeNegTokenResp } from './auth/spnego.js';
import { preauthUpdate, type Negotiated } from './negotiate.js';
import type { SessionSecurity } from './security.js';
import { Command, HeaderFlag } from './wire/header.js';
import { NtStatus } from './wire/ntstatus.js';
import { SessionFlag, decodeSessionSetupResponse, encodeSessionSetupRequest } from './wire/session-setup.js';
import { flagNames } from './wire/tree.js';
import type { Credentials, Protection } from './types.js';

export interface EstablishedSession {
  security: SessionSecurity;
  sessionFlags: number;
  sessionFlagNames: string[];
  isGuest: boolean;
}

const MECH_TYPES = [NTLMSSP_OID];

export async function setupSession(
  conn: Connection,
  neg: Negotiated,
  credentials: Credentials,
  protect: Protection,
  workstation = os.hostname().split('.')[0]!.toUpperCase(),
): Promise<EstablishedSession> {
  const anonymous = credentials.kind !== 'user';
  // Refuse before authenticating: a server that cannot encrypt gets no NTLM response to keep.
  if (protect === 'encrypt' && !neg.cipher) {
    throw conn.abort(new SecurityError(`server does not offer encryption with dialect ${neg.dialectName}: refusing the session (--protect encrypt)`));
  }
  if (anonymous && (neg.signingRequired || protect !== 'off')) {
    const why = neg.signingRequired ? 'the server requires signing' : `--protect ${protect} was asked for`;
    throw conn.abort(new SecurityError(`refusing a guest session: ${why}, and a guest session cannot be signed or encrypted`));
  }
  let hash = neg.preauthHash;
  let sessionId = 0n;

  const exchange = async (securityBuffer: Buffer): Promise<Response> => {
    // Capabilities here carry only the DFS bit (MS-SMB2 2.2.5), which this client does not use.
    const body = encodeSessionSetupRequest({ securityMode: neg.clientSecurityMode, capabilities: 0, securityBuffer });
    const res = await conn.send({ command: Command.SESSION_SETUP, body, sessionId }).response;
    if (hash) hash = preauthUpdate(hash, res.request);
    return res;
  };

  // Leg 1: SPNEGO NegTokenInit carrying the NTLM NEGOTIATE_MESSAGE.
  const negotiateMessage = encodeNegotiateMessage();
  const first = await exchange(encodeNegTokenInit(MECH_TYPES, negotiateMessage));
  if (first.header.status !== NtStatus.MORE_PROCESSING_REQUIRED) throw new SmbError(first.header.status, 'SESSION_SETUP');
  if (hash) hash = preauthUpdate(hash, first.message);
  sessionId = first.header.sessionId;
  const challengeToken = conn.decode(() => {
    const token = decodeNegToken(decodeSessionSetupResponse(first.message).securityBuffer);
    if (token.kind !== 'resp' || !token.responseToken) throw new ProtocolError('SPNEGO reply without an NTLM challenge');
    return token.responseToken;
  });
  const challenge = conn.decode(() => decodeChallengeMessage(challengeToken));
  if (!anonymous) refuseUnsignedChallenge(conn, neg, protect, challenge.flags);

  // Leg 2: NTLMv2 AUTHENTICATE_MESSAGE, with a mechListMIC over our mechanism list (MS-SPNG 3.1.5.1).
  const auth = conn.decode(() => authenticateOrFail({
    negotiateMessage,
    challengeMessage: challengeToken,
    challenge,
    user: credentials.kind === 'user' ? credentials.user : '',
    domain: credentials.kind === 'user' ? credentials.domain : '',
    password: credentials.kind === 'user' ? credentials.password : '',
    workstation,
    anonymous,
  }));
  const mechListMIC = anonymous ? undefined : ntlmClientSigner(auth.exportedSessionKey, auth.negotiatedFlags).sign(0, encodeMechTypeList(MECH_TYPES));
  const finalRes = await exchange(encodeNegTokenResp({ responseToken: auth.message, ...(mechListMIC ? { mechListMIC } : {}) }));
  if (finalRes.header.status !== NtStatus.SUCCESS) throw new SmbError(finalRes.header.status, 'SESSION_SETUP');
  const { sessionFlags } = conn.decode(() => decodeSessionSetupResponse(finalRes.message));

  const isGuest = anonymous || (sessionFlags & (SessionFlag.IS_GUEST | SessionFlag.IS_NULL)) !== 0;
  const security: SessionSecurity = { sessionId, signing: null, cipher: null, encryptAll: false };
  if (!isGuest) {
    const keys = deriveSessionKeys({
      dialect: neg.dialect,
      sessionKey: auth.exportedSessionKey,
      ...(hash ? { preauthHash: hash } : {}),
      cipherBits: neg.cipher === 'AES-256-CCM' || neg.cipher === 'AES-256-GCM' ? 256 : 128,
    });
    security.signing = { algorithm: neg.signingAlgorithm, key: keys.signingKey };
    if (neg.cipher) security.cipher = { name: neg.cipher, encryptionKey: keys.encryptionKey, decryptionKey: keys.decryptionKey };
    // MS-SMB2 3.2.5.3.1: the final response is signed with the new key; verify before trusting it.
    const signed = (finalRes.header.flags & HeaderFlag.SIGNED) !== 0;
    if (signed && !verifyMessage(neg.signingAlgorithm, keys.signingKey, finalRes.message)) {
      throw conn.abort(new ProtocolError('bad signature on the final SESSION_SETUP response (wrong key derivation or tampering)'));
    }
    if (!signed && (neg.signingRequired || neg.dialect === 0x0311)) {
      throw conn.abort(new ProtocolError('server did not sign the final SESSION_SETUP response'));
    }
  }
  enforceProtection(conn, neg, security, sessionFlags, isGuest, protect);
  conn.setSecurity(security);
  return { security, sessionFlags, sessionFlagNames: flagNames(sessionFlags, SessionFlag), isGuest };
}

/**
 * This client signs every message of an authenticated session that is not encrypted, and needs
 * signing whenever the server requires it, the user asked for protection, or the dialect is 3.1.1
 * (its final SESSION_SETUP response must be signed). A CHALLENGE without NEGOTIATE_SIGN there is
 * what a man in the middle stripping the flag would produce: refuse before answering it, as
 * smbclient does ("possible downgrade"), rather than hand over an NTLM response.
 */
function refuseUnsignedChallenge(conn: Connection, neg: Negotiated, protect: Protection, challengeFlags: number): void {
  if (challengeFlags & NtlmFlag.NEGOTIATE_SIGN) return;
  const why = neg.signingRequired ? 'the server requires signing'
    : protect !== 'off' ? `--protect ${protect} was asked for`
      : neg.dialect === 0x0311 ? 'SMB 3.1.1 sessions are always signed'
        : null;
  if (why === null) return;
  throw conn.abort(new SecurityError(
    `the server's NTLM challenge does not offer signing although ${why}: possible downgrade attack, refusing the session`));
}

/** The AUTHENTICATE echoes the server's target info; one too large to echo is the server's fault. */
function authenticateOrFail(opts: Parameters<typeof buildAuthenticateMessage>[0]): ReturnType<typeof buildAuthenticateMessage> {
  try {
    return buildAuthenticateMessage(opts);
  } catch (err) {
    if (err instanceof RangeError) throw new ProtocolError(`NTLM challenge cannot be answered: ${err.message}`);
    throw err;
  }
}

/** Refuse, never downgrade: the session must meet `protect` and what the server requires. */
function enforceProtection(
  conn: Connection,
  neg: Negotiated,
  security: SessionSecurity,
  sessionFlags: number,
  isGuest: boolean,
  protect: Protection,
): void {
  if (isGuest && (neg.signingRequired || protect !== 'off')) {
    const why = neg.signingRequired ? 'the server requires signing' : `--protect ${protect} was asked for`;
    throw conn.abort(new SecurityError(`refusing a guest session: ${why}, and a guest session cannot be signed or encrypted`));
  }
  if (sessionFlags & SessionFlag.ENCRYPT_DATA) {
    if (!security.cipher) throw conn.abort(new SecurityError('server requires encryption but negotiated no cipher'));
    security.encryptAll = true;
  }
  if (protect === 'encrypt') {
    if (!security.cipher) {
      throw conn.abort(new SecurityError(`server does not offer encryption with dialect ${neg.dialectName}: refusing the session (--protect encrypt)`));
    }
    security.encryptAll = true;
  }
}
