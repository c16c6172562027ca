/**
 * NTLMv2 inside SPNEGO as a SESSION_SETUP mechanism (MS-SMB2 3.2.4.2.3; MS-SPNG 3.1.5; MS-NLMP):
 * NegTokenInit with the NEGOTIATE_MESSAGE, then the AUTHENTICATE_MESSAGE with a mechListMIC.
 */
import { ProtocolError } from '../errors.js';
import { buildAuthenticateMessage, decodeChallengeMessage, encodeNegotiateMessage, ntlmClientSigner } from './ntlm.js';
import { NTLMSSP_OID, decodeNegToken, encodeMechTypeList, encodeNegTokenInit, encodeNegTokenResp } from './spnego.js';
import type { AuthMechanism } from './mechanism.js';

const MECH_TYPES = [NTLMSSP_OID];

export class NtlmMechanism implements AuthMechanism {
  readonly name = 'NTLMv2';
  private readonly negotiateMessage = encodeNegotiateMessage();
  private exportedSessionKey: Buffer | null = null;

  constructor(
    private readonly user: { user: string; domain: string; password: string } | null,
    private readonly workstation: string,
    /** Refuses a CHALLENGE whose flags this session cannot accept (a stripped NEGOTIATE_SIGN). */
    private readonly checkChallenge: (flags: number) => void = () => undefined,
  ) {}

  initialToken(): Buffer {
    return encodeNegTokenInit(MECH_TYPES, this.negotiateMessage);
  }

  /** Leg 2: the server's CHALLENGE in, our AUTHENTICATE out (MS-NLMP 3.1.5.1.2). */
  async continue(serverToken: Buffer): Promise<Buffer> {
    const token = decodeNegToken(serverToken);
    if (token.kind !== 'resp' || !token.responseToken) throw new ProtocolError('SPNEGO reply without an NTLM challenge');
    if (this.exportedSessionKey) throw new ProtocolError('server asked for a third NTLM leg');
    const challengeMessage = token.responseToken;
    const challenge = decodeChallengeMessage(challengeMessage);
    if (this.user) this.checkChallenge(challenge.flags);
    const anonymous = this.user === null;
    let auth: ReturnType<typeof buildAuthenticateMessage>;
    try {
      auth = buildAuthenticateMessage({
        negotiateMessage: this.negotiateMessage,
        challengeMessage,
        challenge,
        user: this.user?.user ?? '',
        domain: this.user?.domain ?? '',
        password: this.user?.password ?? '',
        workstation: this.workstation,
        anonymous,
      });
    } catch (err) {
      // The AUTHENTICATE echoes the server's target info; one too large to echo is the server's fault.
      if (err instanceof RangeError) throw new ProtocolError(`NTLM challenge cannot be answered: ${err.message}`);
      throw err;
    }
    this.exportedSessionKey = auth.exportedSessionKey;
    // MS-SPNG 3.1.5.1: a mechListMIC over our mechanism list, signed with the NTLM session key.
    const mechListMIC = anonymous ? undefined : ntlmClientSigner(auth.exportedSessionKey, auth.negotiatedFlags).sign(0, encodeMechTypeList(MECH_TYPES));
    return encodeNegTokenResp({ responseToken: auth.message, ...(mechListMIC ? { mechListMIC } : {}) });
  }

  async complete(): Promise<void> {
    if (!this.exportedSessionKey) throw new ProtocolError('server accepted the session before NTLM authenticated');
  }

  sessionKey(): Buffer {
    return this.exportedSessionKey!;
  }
}
