import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/smb/errors.js';
import { decodeOid, encodeLength, encodeOid, encodeTlv, readTlv } from '../../src/smb/auth/der.js';
import { decodeNegToken, encodeMechTypeList, encodeNegTokenInit, encodeNegTokenResp, NTLMSSP_OID } from '../../src/smb/auth/spnego.js';
import { ANATOMY, hex, SECBUF_AT, securityBuffer } from './fixtures/ms-blog-vectors.js';

const NEGOEX_OID = '1.3.6.1.4.1.311.2.2.30';
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 500);

const negotiateToken = securityBuffer(ANATOMY.negotiateResponse, SECBUF_AT.negotiateResponse);
const clientInit = securityBuffer(ANATOMY.sessionSetupRequest1, SECBUF_AT.sessionSetupRequest);
const serverChallenge = securityBuffer(ANATOMY.sessionSetupResponse1, SECBUF_AT.sessionSetupResponse);
const clientAuth = securityBuffer(ANATOMY.sessionSetupRequest2, SECBUF_AT.sessionSetupRequest);
const serverAccept = securityBuffer(ANATOMY.sessionSetupResponse2, SECBUF_AT.sessionSetupResponse);

describe('DER', () => {
  it('encodes lengths in short and long form', () => {
    expect(encodeLength(0x7f).toString('hex')).toBe('7f');
    expect(encodeLength(0x80).toString('hex')).toBe('8180');
    expect(encodeLength(0x1cb).toString('hex')).toBe('8201cb');
    expect(encodeLength(0x10000).toString('hex')).toBe('83010000');
  });

  it('round trips OIDs, including multi-byte arcs', () => {
    expect(encodeOid(NTLMSSP_OID).toString('hex')).toBe('060a2b06010401823702020a');
    for (const oid of [NTLMSSP_OID, '1.3.6.1.5.5.2', '1.2.840.113554.1.2.2', '2.999.3', '0.9.2342']) {
      const tlv = readTlv(encodeOid(oid), 0, 'oid');
      expect(decodeOid(tlv.content)).toBe(oid);
    }
  });

  it('rejects truncated, indefinite and oversized lengths', () => {
    expect(() => readTlv(hex('04'), 0, 'x')).toThrow(ProtocolError);
    expect(() => readTlv(hex('0405aabb'), 0, 'x')).toThrow(ProtocolError);
    expect(() => readTlv(hex('3080'), 0, 'x')).toThrow(ProtocolError);
    expect(() => readTlv(hex('0485ffffffffff'), 0, 'x')).toThrow(ProtocolError);
    expect(() => readTlv(hex('0482ffff00'), 0, 'x')).toThrow(ProtocolError);
    expect(() => decodeOid(hex('2b8f'))).toThrow(ProtocolError);
  });
});

describe('SPNEGO against the anatomy-of-keys capture (Windows client, Windows server)', () => {
  it('decodes the NEGOTIATE response NegTokenInit2 offering NEGOEX and NTLMSSP', () => {
    const token = decodeNegToken(negotiateToken);
    expect(token.kind).toBe('init');
    if (token.kind !== 'init') return;
    expect(token.mechTypes).toEqual([NEGOEX_OID, NTLMSSP_OID]);
    expect(token.mechToken?.subarray(0, 8).toString('latin1')).toBe('NEGOEXTS');
  });

  it('encodes the client NegTokenInit exactly as Windows did', () => {
    const inner = decodeNegToken(clientInit);
    expect(inner).toMatchObject({ kind: 'init', mechTypes: [NTLMSSP_OID] });
    const ntlmNegotiate = inner.kind === 'init' ? inner.mechToken! : Buffer.alloc(0);
    expect(ntlmNegotiate.subarray(0, 8).toString('latin1')).toBe('NTLMSSP\0');
    expect(encodeNegTokenInit([NTLMSSP_OID], ntlmNegotiate).equals(clientInit)).toBe(true);
  });

  it('decodes the challenge NegTokenResp', () => {
    const token = decodeNegToken(serverChallenge);
    expect(token).toMatchObject({ kind: 'resp', negState: 'accept-incomplete', supportedMech: NTLMSSP_OID });
    if (token.kind !== 'resp') return;
    expect(token.responseToken?.readUInt32LE(8)).toBe(2);
    expect(token.mechListMIC).toBeUndefined();
  });

  it('encodes the client NegTokenResp (with negState, as Windows sends it) byte for byte', () => {
    const token = decodeNegToken(clientAuth);
    expect(token.kind).toBe('resp');
    if (token.kind !== 'resp') return;
    expect(token.negState).toBe('accept-incomplete');
    expect(token.mechListMIC?.toString('hex')).toBe('0100000063775a9a5fd97f0600000000');
    const encoded = encodeNegTokenResp({ negState: 'accept-incomplete', responseToken: token.responseToken!, mechListMIC: token.mechListMIC! });
    expect(encoded.equals(clientAuth)).toBe(true);
  });

  it('decodes the final accept-completed with the server mechListMIC', () => {
    const token = decodeNegToken(serverAccept);
    expect(token).toEqual({ kind: 'resp', negState: 'accept-completed', mechListMIC: hex('010000003B453CDC3524164200000000') });
  });

  it('encodes the MechTypeList a mechListMIC covers', () => {
    expect(encodeMechTypeList([NTLMSSP_OID]).toString('hex')).toBe('300c060a2b06010401823702020a');
  });
});

describe('SPNEGO round trips', () => {
  it('decodes what it encodes', () => {
    const init = encodeNegTokenInit([NTLMSSP_OID, NEGOEX_OID], Buffer.alloc(300, 7));
    expect(decodeNegToken(init)).toEqual({ kind: 'init', mechTypes: [NTLMSSP_OID, NEGOEX_OID], mechToken: Buffer.alloc(300, 7) });
    const resp = encodeNegTokenResp({ responseToken: Buffer.from('abc'), mechListMIC: Buffer.alloc(16, 1) });
    expect(decodeNegToken(resp)).toEqual({ kind: 'resp', responseToken: Buffer.from('abc'), mechListMIC: Buffer.alloc(16, 1) });
    expect(decodeNegToken(encodeNegTokenResp({}))).toEqual({ kind: 'resp' });
  });

  it('decodes a Samba-style NegTokenInit2 with negHints', () => {
    // [0] mechTypes, [3] negHints { [0] hintName GeneralString "not_defined_in_RFC4178@please_ignore" }
    const hint = encodeTlv(0x1b, Buffer.from('not_defined_in_RFC4178@please_ignore', 'latin1'));
    const negHints = encodeTlv(0xa3, encodeTlv(0x30, encodeTlv(0xa0, hint)));
    const mechTypes = encodeTlv(0xa0, encodeMechTypeList([NTLMSSP_OID]));
    const negTokenInit = encodeTlv(0xa0, encodeTlv(0x30, Buffer.concat([mechTypes, negHints])));
    const token = encodeTlv(0x60, Buffer.concat([encodeOid('1.3.6.1.5.5.2'), negTokenInit]));
    expect(decodeNegToken(token)).toEqual({ kind: 'init', mechTypes: [NTLMSSP_OID] });
  });

  it('rejects other GSS mechanisms, unknown choices and undefined negState values', () => {
    const krb = Buffer.from(negotiateToken);
    krb[10] = 0x03; // 1.3.6.1.5.5.3
    expect(() => decodeNegToken(krb)).toThrow(ProtocolError);
    expect(() => decodeNegToken(hex('a2023000'))).toThrow(ProtocolError);
    expect(() => decodeNegToken(hex('a1073005a0030a0107'))).toThrow(ProtocolError);
    expect(() => decodeNegToken(Buffer.alloc(0))).toThrow(ProtocolError);
  });
});

describe('decodeNegToken fuzzing', () => {
  const samples = [negotiateToken, clientInit, serverChallenge, clientAuth, serverAccept];

  it('throws only ProtocolError on random and mutated tokens', () => {
    const mutated = fc
      .tuple(fc.constantFrom(...samples), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat())
      .map(([s, at, xor, cut]) => {
        const b = Buffer.from(s);
        b[at % b.length] ^= xor;
        return b.subarray(0, cut % (b.length + 1));
      });
    const random = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(fc.oneof(mutated, random), (bytes) => {
        try {
          decodeNegToken(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: ITERATIONS },
    );
  });
});
