/**
 * SESSION_SETUP with NTLMv2 or Kerberos inside SPNEGO (MS-SMB2 3.2.4.2.3, 3.2.5.3; MS-SPNG;
 * MS-NLMP; MS-KILE), the session keys (MS-SMB2 3.2.5.3.1), the protection the user asked for, and
 * re-authentication of a live session with a fresh Kerberos ticket.
 */
import os from 'node:os';
import { ProtocolError, SecurityError, SmbError } from './errors.js';
import type { Connection, Response } from './connection.js';
import { deriveSessionKeys } from './crypto/kdf.js';
import { verifyMessage } from './crypto/signing.js';
import { KerberosError } from './auth/gssapi.js';
import { KerberosMechanism, type KerberosTarget } from './auth/kerberos-mechanism.js';
import type { AuthMechanism } from './auth/mechanism.js';
import { NtlmMechanism } from './auth/ntlm-mechanism.js';
import { NtlmFlag } from './auth/ntlm.js';
import { preauthUpdate, type Negotiated } from './negotiate.js';
import type { SessionSecurity } from './security.js';
import { Command, HeaderFlag } from './wire/header.js';
import { NtStatus } from './wire/ntstatus.js';
import { SessionFlag, decodeSessionSetupResponse, encodeSessionSetupRequest } from './wire/session-setup.js';
import { flagNames } from './wire/tree.js';
import type { Credentials, KerberosCredentials, Protection } from './types.js';

export interface EstablishedSession {
  security: SessionSecurity;
  sessionFlags: number;
  sessionFlagNames: string[];
  isGuest: boolean;
  /** 'NTLMv2', 'Kerberos', or 'none' for guest and anonymous sessions. */
  mechanism: string;
  /** Kerberos only: seconds the service ticket was still valid when the session was set up. */
  ticketLifetime?: number;
}

/** Who the session is for and how: the credentials and the server's name (for cifs/HOST). */
export interface SessionTarget {
  credentials: Credentials;
  host: string;
  workstation?: string;
}

/** Legs of one SESSION_SETUP exchange before we give up (NTLM needs 2, Kerberos 1 or 2). */
const MAX_LEGS = 4;

/** Kerberos failures after which 'desired' may still try NTLM: no usable ticket, no KDC, no addon. */
const FALLBACK_REASONS = new Set(['unavailable', 'no-ticket', 'expired', 'kdc-unreachable', 'server-not-in-realm', 'unknown-principal', 'clock-skew']);

async function mechanismFor(credentials: Credentials, host: string, workstation: string, checkChallenge: (flags: number) => void): Promise<AuthMechanism> {
  if (credentials.kind === 'kerberos') return KerberosMechanism.create(kerberosTarget(credentials, host));
  return new NtlmMechanism(credentials.kind === 'user' ? credentials : null, workstation, checkChallenge);
}

function kerberosTarget(credentials: KerberosCredentials, host: string): KerberosTarget {
  return { host, ...(credentials.ccache ? { ccache: credentials.ccache } : {}) };
}

/** A mechanism step on a server message; a ProtocolError from it also fails the connection. */
async function decodeAsync<T>(conn: Connection, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof ProtocolError) conn.abort(err);
    throw err;
  }
}

/**
 * Run SESSION_SETUP legs until SUCCESS (MS-SMB2 3.2.4.2.3). `sessionId` is 0 for a new session,
 * or the existing one for a re-authentication; `hash` is the 3.1.1 pre-auth hash to extend.
 */
async function runLegs(
  conn: Connection,
  neg: Negotiated,
  mechanism: AuthMechanism,
  sessionId: bigint,
  hash: Buffer | undefined,
): Promise<{ sessionId: bigint; hash: Buffer | undefined; final: Response }> {
  let token = mechanism.initialToken();
  for (let leg = 0; leg < MAX_LEGS; leg++) {
    // Capabilities here carry only the DFS bit (MS-SMB2 2.2.5), which this client does not use.
    const body = encodeSessionSetupRequest({ securityMode: neg.clientSecurityMode, capabilities: 0, securityBuffer: token });
    const res = await conn.send({ command: Command.SESSION_SETUP, body, sessionId }).response;
    if (hash) hash = preauthUpdate(hash, res.request);
    if (res.header.status === NtStatus.SUCCESS) {
      const buffer = conn.decode(() => decodeSessionSetupResponse(res.message).securityBuffer);
      await decodeAsync(conn, () => mechanism.complete(buffer));
      return { sessionId: res.header.sessionId, hash, final: res };
    }
    if (res.header.status !== NtStatus.MORE_PROCESSING_REQUIRED) throw new SmbError(res.header.status, 'SESSION_SETUP', `${mechanism.name} authentication`);
    if (hash) hash = preauthUpdate(hash, res.message);
    sessionId = res.header.sessionId;
    const buffer = conn.decode(() => decodeSessionSetupResponse(res.message).securityBuffer);
    token = await decodeAsync(conn, () => mechanism.continue(buffer));
  }
  throw conn.abort(new ProtocolError(`SESSION_SETUP did not complete in ${MAX_LEGS} legs`));
}

export async function setupSession(
  conn: Connection,
  neg: Negotiated,
  target: SessionTarget,
  protect: Protection,
): Promise<EstablishedSession> {
  const { credentials } = target;
  const workstation = target.workstation ?? os.hostname().split('.')[0]!.toUpperCase();
  const anonymous = credentials.kind === 'guest' || credentials.kind === 'anonymous';
  // Refuse before authenticating: a server that cannot encrypt gets no authentication to keep.
  if (protect === 'encrypt' && !neg.cipher) {
    throw conn.abort(new SecurityError(`server does not offer encryption with dialect ${neg.dialectName}: refusing the session (--protect encrypt)`));
  }
  if (anonymous && (neg.signingRequired || protect !== 'off')) {
    const why = neg.signingRequired ? 'the server requires signing' : `--protect ${protect} was asked for`;
    throw conn.abort(new SecurityError(`refusing a guest session: ${why}, and a guest session cannot be signed or encrypted`));
  }
  let mechanism: AuthMechanism;
  try {
    mechanism = await mechanismFor(credentials, target.host, workstation, (flags) => {
      if (!anonymous) refuseUnsignedChallenge(conn, neg, protect, flags);
    });
  } catch (err) {
    const fallback = kerberosFallback(credentials, err);
    if (!fallback) throw err;
    return fallBack(setupSession(conn, neg, { ...target, credentials: fallback.credentials }, protect), fallback.why);
  }
  let legs: Awaited<ReturnType<typeof runLegs>>;
  try {
    legs = await runLegs(conn, neg, mechanism, 0n, neg.preauthHash ?? undefined);
  } catch (err) {
    // The server refused the ticket (it has no key for cifs/HOST, or the name reached is not the
    // one the ticket names). A failed SESSION_SETUP ends only that session (MS-SMB2 3.3.5.5), so
    // 'desired' starts a new one on the same connection with the password, as smbclient does.
    const fallback = err instanceof SmbError ? kerberosFallback(credentials, err) : undefined;
    if (!fallback || conn.closed) throw err;
    return fallBack(setupSession(conn, neg, { ...target, credentials: fallback.credentials }, protect), fallback.why);
  }
  const { sessionId, hash, final } = legs;
  const { sessionFlags } = conn.decode(() => decodeSessionSetupResponse(final.message));

  const isGuest = anonymous || (sessionFlags & (SessionFlag.IS_GUEST | SessionFlag.IS_NULL)) !== 0;
  const security: SessionSecurity = { sessionId, signing: null, cipher: null, encryptAll: false };
  if (!isGuest) {
    const keys = deriveSessionKeys({
      dialect: neg.dialect,
      sessionKey: smbSessionKey(mechanism.sessionKey()),
      ...(hash ? { preauthHash: hash } : {}),
      cipherBits: neg.cipher === 'AES-256-CCM' || neg.cipher === 'AES-256-GCM' ? 256 : 128,
    });
    security.signing = { algorithm: neg.signingAlgorithm, key: keys.signingKey };
    if (neg.cipher) security.cipher = { name: neg.cipher, encryptionKey: keys.encryptionKey, decryptionKey: keys.decryptionKey };
    // MS-SMB2 3.2.5.3.1: the final response is signed with the new key; verify before trusting it.
    const signed = (final.header.flags & HeaderFlag.SIGNED) !== 0;
    if (signed && !verifyMessage(neg.signingAlgorithm, keys.signingKey, final.message)) {
      throw conn.abort(new ProtocolError('bad signature on the final SESSION_SETUP response (wrong key derivation or tampering)'));
    }
    if (!signed && (neg.signingRequired || neg.dialect === 0x0311)) {
      throw conn.abort(new ProtocolError('server did not sign the final SESSION_SETUP response'));
    }
  }
  enforceProtection(conn, neg, security, sessionFlags, isGuest, protect);
  conn.setSecurity(security);
  return {
    security,
    sessionFlags,
    sessionFlagNames: flagNames(sessionFlags, SessionFlag),
    isGuest,
    mechanism: isGuest ? 'none' : mechanism.name,
    ...(mechanism instanceof KerberosMechanism ? { ticketLifetime: mechanism.lifetime } : {}),
  };
}

/** What a renewal asks for (gss_init_sec_context's time_req): 30 days, beyond every KDC's maximum. */
const RENEWAL_TIME_REQ_S = 30 * 24 * 3600;

/**
 * Re-authenticate the live session with fresh Kerberos credentials: SESSION_SETUP on the same
 * SessionId (MS-SMB2 3.2.4.2.3 "re-authenticate", 3.3.5.5.3). Open files, trees and pending
 * requests stay; the session keys do not change (they come from the first authentication).
 * Returns the new ticket's remaining lifetime in seconds. With `endsAfter` (Unix ms), a ticket
 * that does not end later than that is not used: null, and nothing is sent (a renewal before
 * the end, with no fresher ticket in the cache yet).
 */
export async function reauthenticate(
  conn: Connection,
  neg: Negotiated,
  credentials: KerberosCredentials,
  host: string,
  endsAfter?: number,
): Promise<number | null> {
  const security = conn.security;
  if (!security) throw new SecurityError('cannot re-authenticate a session that was never set up');
  // Ahead of the end, a cached service ticket is not taken: libkrb5 asks the KDC for a new one,
  // which ends later if the TGT does (a kinit, SSSD's renewal, or a client keytab's refreshed
  // TGT, with the old service ticket still cached). time_req is also the lifetime libkrb5 asks
  // the KDC for, and the KDC grants it: asking for just past the old end gave tickets a few
  // seconds longer each time, renewed every 30 s for good. So ask for far more than any KDC
  // grants (it caps the ticket at the TGT's end and its own maximum): the longest ticket there is.
  const minLifetime = endsAfter === undefined ? undefined : RENEWAL_TIME_REQ_S;
  const mechanism = await KerberosMechanism.create({ ...kerberosTarget(credentials, host), ...(minLifetime ? { minLifetime } : {}) });
  if (endsAfter !== undefined && Date.now() + mechanism.lifetime * 1000 <= endsAfter) return null;
  await runLegs(conn, neg, mechanism, security.sessionId, undefined);
  return mechanism.lifetime;
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

/**
 * 'desired' with a password: the password's credentials after a Kerberos failure it may follow (no
 * usable ticket, no KDC, no addon; or the server refused the ticket's SESSION_SETUP), and why.
 */
function kerberosFallback(credentials: Credentials, err: unknown): { credentials: Credentials; why: string } | undefined {
  if (credentials.kind !== 'kerberos' || credentials.use !== 'desired' || !credentials.fallback) return undefined;
  if (err instanceof KerberosError && FALLBACK_REASONS.has(err.reason)) return { credentials: credentials.fallback, why: err.message };
  if (err instanceof SmbError && err.command === 'SESSION_SETUP') {
    return { credentials: credentials.fallback, why: `the server refused the Kerberos logon (${err.statusName})` };
  }
  return undefined;
}

/** The password's session; if it fails too, its error also says why Kerberos was not used. */
async function fallBack(setup: Promise<EstablishedSession>, kerberosFailure: string): Promise<EstablishedSession> {
  try {
    return await setup;
  } catch (err) {
    if (err instanceof SmbError && err.triedFirst === undefined) err.triedFirst = `Kerberos: ${kerberosFailure}`;
    throw err;
  }
}

/**
 * MS-SMB2 3.2.5.3.1: Session.SessionKey is the first 16 bytes of the key the security context
 * gives (Kerberos AES256 subkeys are 32 bytes), right-padded with zeros when shorter.
 */
function smbSessionKey(key: Buffer): Buffer {
  const out = Buffer.alloc(16);
  key.copy(out, 0, 0, Math.min(16, key.length));
  return out;
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
