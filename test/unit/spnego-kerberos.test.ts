// SPNEGO with Kerberos: our NegTokenInit against the DER the specs give, and a real answer from a
// Samba 4.17 AD DC (captured on loopback: the SESSION_SETUP response security buffer).
import { describe, expect, it } from 'vitest';
import { decodeNegToken, encodeMechTypeList, encodeNegTokenInit, KRB5_OID, MS_KRB5_OID } from '../../src/smb/auth/spnego.js';
import { ProtocolError } from '../../src/smb/errors.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Samba's NegTokenResp: accept-completed, supportedMech krb5, the GSS-wrapped AP-REP (tok_id 02 00). */
const SAMBA_ACCEPT = hex(`
  a181b73081b4a0030a0100a10b06092a864886f712010202a2819f04819c60819906092a864886f71201020202006f8189
  308186a003020105a10302010fa27a3078a003020112a271046f0e8f5f631b1e0f5b89a8915ee4d56f78551e6488d89aa6
  8a4bcb8766a59b6e798f60fd3d32f1f015d1d09010cef4761c1332772146585232298bc016056264b1d3cdefdb02cdff98
  79bd25889dd895be7830ad0b2af9f0b3f867ef465b5aa2ab48ab5e82cf2324eddf5adf354eecfa`);

describe('SPNEGO with Kerberos', () => {
  it('offers krb5 (RFC 4121) then the Microsoft legacy OID (MS-SPNG 3.3.5.1), DER as on the wire', () => {
    // 06 09 2a 86 48 86 f7 12 01 02 02 = 1.2.840.113554.1.2.2; 2a 86 48 82 f7 12 ... = 1.2.840.48018.1.2.2
    expect(encodeMechTypeList([KRB5_OID, MS_KRB5_OID]).toString('hex')).toBe('301606092a864886f71201020206092a864882f712010202');
    const apReq = hex('6003060100'); // stands for the GSS-wrapped AP-REQ: carried as an opaque mechToken
    const init = encodeNegTokenInit([KRB5_OID, MS_KRB5_OID], apReq);
    expect(init[0]).toBe(0x60); // [APPLICATION 0] InitialContextToken, then the SPNEGO OID
    expect(init.subarray(2, 10).toString('hex')).toBe('06062b0601050502');
    expect(decodeNegToken(init)).toEqual({ kind: 'init', mechTypes: [KRB5_OID, MS_KRB5_OID], mechToken: apReq });
  });

  it('reads Samba\'s accept with the AP-REP for mutual authentication', () => {
    const token = decodeNegToken(SAMBA_ACCEPT);
    expect(token).toMatchObject({ kind: 'resp', negState: 'accept-completed', supportedMech: KRB5_OID });
    if (token.kind !== 'resp') throw new Error('not a NegTokenResp');
    // RFC 2743 3.1 InitialContextToken around a krb5 AP-REP: tok_id 02 00 then [APPLICATION 15].
    expect(token.responseToken!.subarray(0, 17).toString('hex')).toBe('60819906092a864886f712010202' + '0200' + '6f');
    expect(token.mechListMIC).toBeUndefined();
  });

  it('a truncated accept is a ProtocolError, never a crash', () => {
    for (let n = 0; n < SAMBA_ACCEPT.length; n += 7) {
      expect(() => decodeNegToken(SAMBA_ACCEPT.subarray(0, n))).toThrow(ProtocolError);
    }
  });
});
