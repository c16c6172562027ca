/**
 * Kerberos inside SPNEGO as a SESSION_SETUP mechanism (MS-SMB2 3.2.4.2.3; MS-SPNG 3.1.5; MS-KILE
 * 3.2.5.1): the system's GSSAPI makes the AP-REQ with mutual authentication, the server's AP-REP
 * completes the context and proves the server knows the service key, and the context's session
 * key becomes Session.SessionKey.
 */
import { ProtocolError } from '../errors.js';
import { describeGssFailure, KerberosError, loadGssapi, type GssapiBinding, type GssContext } from './gssapi.js';
import { KRB5_OID, MS_KRB5_OID, decodeNegToken, encodeMechTypeList, encodeNegTokenInit, encodeNegTokenResp, type NegToken } from './spnego.js';
import type { AuthMechanism } from './mechanism.js';

/** RFC 4178 and MS-SPNG 3.3.5.1: the standard OID first, Microsoft's legacy one as an alternative. */
const MECH_TYPES = [KRB5_OID, MS_KRB5_OID];

export interface KerberosTarget {
  /** Host part of the service principal: cifs/HOST (RFC 4120 6.2.1 host-based service). */
  host: string;
  /** Credential cache to use (a KRB5CCNAME-style name); default: the library's default. */
  ccache?: string;
  /**
   * Seconds the service ticket must still be valid: a cached ticket ending sooner is not reused
   * (a renewal ahead of the end wants a ticket that ends later than the session's).
   */
  minLifetime?: number;
}

export class KerberosMechanism implements AuthMechanism {
  readonly name = 'Kerberos';
  private established = false;
  /** Seconds the service ticket is still valid, from the context. */
  lifetime = 0;

  private constructor(
    private readonly gss: GssapiBinding,
    private readonly ctx: GssContext,
    private readonly target: KerberosTarget,
    private readonly service: string,
    private readonly apReq: Buffer,
  ) {}

  /**
   * Gets the service ticket and makes the AP-REQ before anything is sent, so that a missing
   * ticket or addon is known first (and 'desired' can fall back to NTLM without a wasted leg).
   * The addon does this on a thread of its own: the event loop runs on while the KDC is asked.
   */
  static async create(target: KerberosTarget): Promise<KerberosMechanism> {
    const gss = loadGssapi();
    const service = `cifs/${target.host}`;
    const ctx = await call(gss, target, service, () => gss.newContext({
      target: `cifs@${target.host}`,
      ...(target.ccache ? { ccache: target.ccache } : {}),
      ...(target.minLifetime ? { minLifetime: target.minLifetime } : {}),
    }));
    const first = await call(gss, target, service, () => gss.step(ctx, null));
    if (!first.token) throw new KerberosError('other', 'Kerberos produced no AP-REQ');
    const mechanism = new KerberosMechanism(gss, ctx, target, service, first.token);
    mechanism.lifetime = first.lifetime;
    mechanism.established = first.complete;
    return mechanism;
  }

  initialToken(): Buffer {
    return encodeNegTokenInit(MECH_TYPES, this.apReq);
  }

  /**
   * The server wants another leg: either the AP-REP came with accept-incomplete (it wants our
   * mechListMIC, RFC 4178 5 d) or, exceptionally, a further mechanism token.
   */
  async continue(serverToken: Buffer): Promise<Buffer> {
    const token = await this.take(serverToken);
    if (token.negState === 'reject') throw new KerberosError('rejected', `the server rejected Kerberos for ${this.service}`);
    if (!this.established) {
      throw new ProtocolError('server asked for another Kerberos leg without completing the context');
    }
    const mic = await this.call(() => this.gss.getMic(this.ctx, encodeMechTypeList(MECH_TYPES)));
    return encodeNegTokenResp({ mechListMIC: mic });
  }

  async complete(serverToken: Buffer): Promise<void> {
    if (serverToken.length) {
      const token = await this.take(serverToken);
      if (token.negState === 'reject') throw new KerberosError('rejected', `the server rejected Kerberos for ${this.service}`);
    }
    // Mutual authentication: without the server's AP-REP the context cannot complete, and a
    // server that did not prove its identity gets no session.
    if (!this.established) throw new KerberosError('rejected', `the server accepted the session without proving its identity (no AP-REP from ${this.service})`);
  }

  sessionKey(): Buffer {
    // Local and synchronous: the context is complete, the key is in it.
    try {
      return this.gss.sessionKey(this.ctx);
    } catch (err) {
      throw new KerberosError('other', `Kerberos failed: ${(err as Error).message}`);
    }
  }

  /** A NegTokenResp from the server: feed its AP-REP to the context, check its mechListMIC. */
  private async take(serverToken: Buffer): Promise<NegToken & { kind: 'resp' }> {
    const token = decodeNegToken(serverToken);
    if (token.kind !== 'resp') throw new ProtocolError('server sent a NegTokenInit during SESSION_SETUP');
    if (token.supportedMech && !MECH_TYPES.includes(token.supportedMech)) {
      throw new ProtocolError(`server chose mechanism ${token.supportedMech}, which was not offered`);
    }
    const apRep = token.responseToken;
    if (apRep && !this.established) {
      const step = await this.call(() => this.gss.step(this.ctx, apRep));
      this.established = step.complete;
      if (step.lifetime) this.lifetime = step.lifetime;
    }
    // RFC 4178 5: a mechListMIC from the server protects our list against downgrade; check it.
    if (token.mechListMIC) {
      if (!this.established) throw new ProtocolError('server sent a mechListMIC before the Kerberos context was complete');
      const mic = token.mechListMIC;
      await this.call(() => this.gss.verifyMic(this.ctx, encodeMechTypeList(MECH_TYPES), mic));
    }
    return token;
  }

  private call<T>(fn: () => T | Promise<T>): Promise<T> {
    return call(this.gss, this.target, this.service, fn);
  }
}

/** A GSSAPI call whose failure becomes a KerberosError naming the cause. */
async function call<T>(gss: GssapiBinding, target: KerberosTarget, service: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KerberosError) throw err;
    throw await describeGssFailure(gss, err, target.ccache, service);
  }
}
