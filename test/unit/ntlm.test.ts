import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, SecurityError } from '../../src/smb/errors.js';
import { rc4 } from '../../src/smb/crypto/rc4.js';
import { decodeNegToken, encodeMechTypeList, NTLMSSP_OID } from '../../src/smb/auth/spnego.js';
import {
  buildAuthenticateMessage,
  decodeChallengeMessage,
  encodeNegotiateMessage,
  ntHash,
  ntlmClientSigner,
  NtlmFlag,
} from '../../src/smb/auth/ntlm.js';
import { computeMic, hmacMd5, ntlmv2Response, ntowfV2, sealKey, signKey } from '../../src/smb/auth/ntlm-crypto.js';
import { AvId, parseAvPairs } from '../../src/smb/auth/ntlm-messages.js';
import { ANATOMY, hex, SECBUF_AT, securityBuffer } from './fixtures/ms-blog-vectors.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 500);

/** AUTHENTICATE_MESSAGE fields (MS-NLMP 2.2.1.3): 0 LM, 1 NT, 2 domain, 3 user, 4 workstation, 5 session key. */
function authField(message: Buffer, index: number): Buffer {
  const at = 12 + 8 * index;
  const length = message.readUInt16LE(at);
  const offset = message.readUInt32LE(at + 4);
  return message.subarray(offset, offset + length);
}

// MS-NLMP 4.2.4 "NTLMv2 Authentication": User / Domain / Password, server challenge
// 0123456789abcdef, client challenge aa..aa, time 0, RandomSessionKey 55..55.
const NLMP = {
  challenge: hex(`4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000
    060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000`),
  authenticate: hex(`4e544c4d535350000300000018001800 6c00000054005400840000000c000c00 48000000080008005400000010001000
    5c00000010001000d8000000358288e2 0501280a0000000f44006f006d006100 69006e00550073006500720043004f00
    4d005000550054004500520086c35097 ac9cec102554764a57cccc19aaaaaaaa aaaaaaaa68cd0ab851e51c96aabc927b
    ebef6a1c010100000000000000000000 00000000aaaaaaaaaaaaaaaa00000000 02000c0044006f006d00610069006e00
    01000c00530065007200760065007200 0000000000000000c5dad2544fc97990 94ce1ce90bc9d03e`),
  randomSessionKey: Buffer.alloc(16, 0x55),
};

const windowsNegotiate = (decodeNegToken(securityBuffer(ANATOMY.sessionSetupRequest1, SECBUF_AT.sessionSetupRequest)) as { mechToken: Buffer }).mechToken;
const windowsChallenge = (decodeNegToken(securityBuffer(ANATOMY.sessionSetupResponse1, SECBUF_AT.sessionSetupResponse)) as { responseToken: Buffer }).responseToken;
const windowsAuthToken = decodeNegToken(securityBuffer(ANATOMY.sessionSetupRequest2, SECBUF_AT.sessionSetupRequest)) as { responseToken: Buffer; mechListMIC: Buffer };
const windowsAuthenticate = windowsAuthToken.responseToken;

describe('NEGOTIATE_MESSAGE', () => {
  it('asks for what Windows asks for, minus OEM and LM_KEY', () => {
    const m = encodeNegotiateMessage();
    expect(m).toHaveLength(40);
    expect(m.subarray(0, 12).equals(windowsNegotiate.subarray(0, 12))).toBe(true);
    const windowsFlags = windowsNegotiate.readUInt32LE(12);
    expect(m.readUInt32LE(12)).toBe((windowsFlags & ~(NtlmFlag.NEGOTIATE_OEM | NtlmFlag.NEGOTIATE_LM_KEY)) >>> 0);
  });
});

describe('CHALLENGE_MESSAGE decoding', () => {
  it('decodes the MS-NLMP 4.2.4.3 sample', () => {
    const c = decodeChallengeMessage(NLMP.challenge);
    expect(c.flags).toBe(0xe28a8233);
    expect(c.serverChallenge.toString('hex')).toBe('0123456789abcdef');
    expect(c.targetName).toBe('Server');
    expect(c.netbiosDomain).toBe('Domain');
    expect(c.netbiosComputer).toBe('Server');
    expect(c.timestamp).toBeUndefined();
    expect(c.targetInfo.toString('hex')).toBe('02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000');
  });

  it('decodes the Windows Server capture, with its MsvAvTimestamp', () => {
    const c = decodeChallengeMessage(windowsChallenge);
    expect(c.flags).toBe(0xe28a8215);
    expect(c.serverChallenge.toString('hex').toUpperCase()).toBe('0D1D8BA31179D008');
    expect(c.targetName).toBe('SUT311');
    expect([c.netbiosDomain, c.netbiosComputer, c.dnsDomain, c.dnsComputer]).toEqual(['SUT311', 'SUT311', 'SUT311', 'SUT311']);
    expect(c.timestamp?.toString('hex').toUpperCase()).toBe('A1A1F5ADCBAED001');
  });

  it('rejects malformed messages with ProtocolError', () => {
    const bad = (mutate: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(NLMP.challenge);
      mutate(b);
      return b;
    };
    expect(() => decodeChallengeMessage(Buffer.alloc(0))).toThrow(ProtocolError);
    expect(() => decodeChallengeMessage(NLMP.challenge.subarray(0, 31))).toThrow(ProtocolError);
    expect(() => decodeChallengeMessage(bad((b) => (b[0] = 0x41)))).toThrow(ProtocolError);
    expect(() => decodeChallengeMessage(bad((b) => b.writeUInt32LE(3, 8)))).toThrow(ProtocolError);
    expect(() => decodeChallengeMessage(bad((b) => b.writeUInt32LE(0xfffffff0, 16)))).toThrow(ProtocolError);
    expect(() => decodeChallengeMessage(bad((b) => b.writeUInt16LE(11, 12)))).toThrow(ProtocolError);
    expect(() => decodeChallengeMessage(bad((b) => b.writeUInt16LE(0x200, 40)))).toThrow(ProtocolError);
    expect(() => decodeChallengeMessage(bad((b) => b.writeUInt16LE(0x0d, 0x44 + 2)))).toThrow(ProtocolError);
    expect(() => decodeChallengeMessage(bad((b) => b.writeUInt16LE(AvId.TIMESTAMP, 0x44)))).toThrow(ProtocolError);
  });

  it('throws only ProtocolError on random and mutated input', () => {
    const samples = [NLMP.challenge, windowsChallenge];
    const mutated = fc
      .tuple(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat())
      .map(([s, flips, cut]) => {
        const b = Buffer.from(s);
        for (const [at, xor] of flips) b[at % b.length] ^= xor;
        return b.subarray(0, cut % (b.length + 1));
      });
    const random = fc.uint8Array({ maxLength: 200 }).map((a) => {
      const b = Buffer.from(a);
      if (b.length >= 12) {
        b.write('NTLMSSP\0', 0, 'latin1');
        b.writeUInt32LE(2, 8);
      }
      return b;
    });
    fc.assert(
      fc.property(fc.oneof(mutated, random), (bytes) => {
        try {
          decodeChallengeMessage(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: ITERATIONS },
    );
  });
});

describe('NTLMv2 against MS-NLMP 4.2.4', () => {
  it('computes the NT hash and NTOWFv2 (4.2.2.1.2, 4.2.4.1.1)', () => {
    expect(ntHash('Password').toString('hex')).toBe('a4f49c406510bdcab6824ee7c30fd852');
    expect(ntowfV2('Password', 'User', 'Domain').toString('hex')).toBe('0c868a403bfd7a93a3001ef22ef02e3f');
    expect(ntowfV2('Password', 'USER', 'Domain').toString('hex')).toBe('0c868a403bfd7a93a3001ef22ef02e3f');
  });

  it('builds the 4.2.4.3 AUTHENTICATE_MESSAGE byte for byte apart from flags and version', () => {
    const challenge = decodeChallengeMessage(NLMP.challenge);
    const result = buildAuthenticateMessage({
      negotiateMessage: encodeNegotiateMessage(),
      challengeMessage: NLMP.challenge,
      challenge,
      user: 'User',
      domain: 'Domain',
      password: 'Password',
      workstation: 'COMPUTER',
      clientChallenge: Buffer.alloc(8, 0xaa),
      timestamp: Buffer.alloc(8),
      exportedSessionKey: NLMP.randomSessionKey,
    });
    const mask = (b: Buffer): Buffer => Buffer.concat([b.subarray(0, 60), b.subarray(72)]);
    expect(mask(result.message).toString('hex')).toBe(mask(NLMP.authenticate).toString('hex'));
    expect(authField(result.message, 0).toString('hex')).toBe('86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
    expect(authField(result.message, 1).subarray(0, 16).toString('hex')).toBe('68cd0ab851e51c96aabc927bebef6a1c');
    expect(authField(result.message, 5).toString('hex')).toBe('c5dad2544fc9799094ce1ce90bc9d03e');
    expect(result.exportedSessionKey.equals(NLMP.randomSessionKey)).toBe(true);
    expect(result.negotiatedFlags & NtlmFlag.NEGOTIATE_KEY_EXCH).toBeTruthy();
    // Session base key 8de40cca... (4.2.4.1.2) is what the encrypted key was sealed with.
    expect(rc4(hex('8de40ccadbc14a82f15cb0ad0de95ca3'), authField(result.message, 5)).equals(NLMP.randomSessionKey)).toBe(true);
  });

  it('derives the 4.2.4 signing and sealing keys and the 4.2.4.4 checksum', () => {
    const flags = 0xe2888235;
    const clientSign = signKey(NLMP.randomSessionKey, 'client');
    const clientSeal = sealKey(NLMP.randomSessionKey, flags, 'client');
    expect(clientSign.toString('hex')).toBe('4788dc861b4782f35d43fd98fe1a2d39');
    expect(clientSeal.toString('hex')).toBe('59f600973cc4960a25480a7c196e4c58');
    // GSS_WrapEx of "Plaintext": the RC4 stream seals the message, then the checksum.
    const plaintext = Buffer.from('Plaintext', 'utf16le');
    const checksum = hmacMd5(clientSign, Buffer.alloc(4), plaintext).subarray(0, 8);
    const stream = rc4(clientSeal, Buffer.concat([plaintext, checksum]));
    expect(stream.subarray(0, 18).toString('hex')).toBe('54e50165bf1936dc996020c1811b0f06fb5f');
    expect(stream.subarray(18).toString('hex')).toBe('7fb38ec5c55d4976');
  });
});

describe('NTLMv2 against the Windows capture of the anatomy-of-keys blog', () => {
  const challenge = decodeChallengeMessage(windowsChallenge);
  const ntResponse = authField(windowsAuthenticate, 1);

  it('reproduces the NT hash, NTProofStr, session base key and exported session key', () => {
    expect(ntHash(ANATOMY.password).equals(ANATOMY.ntHash)).toBe(true);
    const responseKey = ntowfV2(ANATOMY.password, ANATOMY.user, ANATOMY.domain);
    expect(responseKey.equals(ANATOMY.responseKeyNT)).toBe(true);
    const { ntProofStr, sessionBaseKey, ntChallengeResponse } = ntlmv2Response(responseKey, challenge.serverChallenge, ntResponse.subarray(16));
    expect(ntProofStr.equals(ANATOMY.ntProofStr)).toBe(true);
    expect(ntChallengeResponse.equals(ntResponse)).toBe(true);
    expect(sessionBaseKey.equals(ANATOMY.keyExchangeKey)).toBe(true);
    expect(rc4(sessionBaseKey, authField(windowsAuthenticate, 5)).equals(ANATOMY.exportedSessionKey)).toBe(true);
  });

  it('reproduces the MIC over NEGOTIATE || CHALLENGE || AUTHENTICATE', () => {
    const zeroed = Buffer.from(windowsAuthenticate);
    expect(zeroed.subarray(72, 88).equals(ANATOMY.mic)).toBe(true);
    zeroed.fill(0, 72, 88);
    expect(computeMic(ANATOMY.exportedSessionKey, windowsNegotiate, windowsChallenge, zeroed).equals(ANATOMY.mic)).toBe(true);
  });

  it('derives the four NTLM session security keys', () => {
    const flags = windowsAuthenticate.readUInt32LE(60);
    expect(signKey(ANATOMY.exportedSessionKey, 'client').equals(ANATOMY.clientSigningKey)).toBe(true);
    expect(signKey(ANATOMY.exportedSessionKey, 'server').equals(ANATOMY.serverSigningKey)).toBe(true);
    expect(sealKey(ANATOMY.exportedSessionKey, flags, 'client').equals(ANATOMY.clientSealingKey)).toBe(true);
    expect(sealKey(ANATOMY.exportedSessionKey, flags, 'server').equals(ANATOMY.serverSealingKey)).toBe(true);
  });

  it('signs and verifies the SPNEGO mechListMICs of the exchange', () => {
    const flags = windowsAuthenticate.readUInt32LE(60);
    expect(flags).toBe(0xe2888215);
    const mechTypes = encodeMechTypeList([NTLMSSP_OID]);
    const signer = ntlmClientSigner(ANATOMY.exportedSessionKey, flags);
    expect(signer.sign(0, mechTypes).equals(windowsAuthToken.mechListMIC)).toBe(true);
    const serverMic = (decodeNegToken(securityBuffer(ANATOMY.sessionSetupResponse2, SECBUF_AT.sessionSetupResponse)) as { mechListMIC: Buffer }).mechListMIC;
    expect(signer.verifyServer(0, mechTypes, serverMic)).toBe(true);
    const fresh = ntlmClientSigner(ANATOMY.exportedSessionKey, flags);
    const forged = Buffer.from(serverMic);
    forged[5] ^= 1;
    expect(fresh.verifyServer(0, mechTypes, forged)).toBe(false);
    expect(ntlmClientSigner(ANATOMY.exportedSessionKey, flags).verifyServer(0, mechTypes, serverMic.subarray(0, 15))).toBe(false);
  });

  it('builds a consistent AUTHENTICATE_MESSAGE with a MIC for this challenge', () => {
    const negotiateMessage = encodeNegotiateMessage();
    const result = buildAuthenticateMessage({
      negotiateMessage,
      challengeMessage: windowsChallenge,
      challenge,
      user: ANATOMY.user,
      domain: ANATOMY.domain,
      password: ANATOMY.password,
      workstation: ANATOMY.workstation,
      targetName: 'cifs/SUT311',
      clientChallenge: ANATOMY.clientChallenge,
      exportedSessionKey: ANATOMY.exportedSessionKey,
    });
    const m = result.message;
    // Same negotiated flags as Windows chose for this challenge.
    expect(result.negotiatedFlags).toBe(0xe2888215);
    expect(m.readUInt32LE(60)).toBe(0xe2888215);
    expect(authField(m, 0).equals(Buffer.alloc(24))).toBe(true);
    expect(authField(m, 2).toString('utf16le')).toBe('SUT311');
    expect(authField(m, 3).toString('utf16le')).toBe('administrator');
    expect(authField(m, 4).toString('utf16le')).toBe('DRIVER311');

    const nt = authField(m, 1);
    const temp = nt.subarray(16);
    expect(temp.subarray(8, 16).equals(challenge.timestamp!)).toBe(true);
    expect(temp.subarray(16, 24).equals(ANATOMY.clientChallenge)).toBe(true);
    const pairs = parseAvPairs(temp.subarray(28));
    expect(pairs.find((p) => p.id === AvId.FLAGS)?.value.readUInt32LE(0)).toBe(2);
    expect(pairs.find((p) => p.id === AvId.TARGET_NAME)?.value.toString('utf16le')).toBe('cifs/SUT311');
    const { ntProofStr, sessionBaseKey } = ntlmv2Response(ANATOMY.responseKeyNT, challenge.serverChallenge, temp);
    expect(nt.subarray(0, 16).equals(ntProofStr)).toBe(true);
    expect(rc4(sessionBaseKey, authField(m, 5)).equals(ANATOMY.exportedSessionKey)).toBe(true);

    const zeroed = Buffer.from(m);
    zeroed.fill(0, 72, 88);
    expect(m.subarray(72, 88).equals(computeMic(ANATOMY.exportedSessionKey, negotiateMessage, windowsChallenge, zeroed))).toBe(true);
  });
});

describe('NTLM edge cases', () => {
  const challenge = decodeChallengeMessage(NLMP.challenge);
  const base = {
    negotiateMessage: encodeNegotiateMessage(),
    challengeMessage: NLMP.challenge,
    challenge,
    user: 'User',
    domain: 'Domain',
    password: 'Password',
  };

  it('anonymous: empty user and NT response, LM response Z(1), no key exchange, zero session key', () => {
    const r = buildAuthenticateMessage({ ...base, anonymous: true, workstation: 'WS' });
    expect(r.negotiatedFlags & NtlmFlag.ANONYMOUS).toBeTruthy();
    expect(r.negotiatedFlags & NtlmFlag.NEGOTIATE_KEY_EXCH).toBe(0);
    expect(r.exportedSessionKey.equals(Buffer.alloc(16))).toBe(true);
    expect(authField(r.message, 0).toString('hex')).toBe('00');
    expect(authField(r.message, 1)).toHaveLength(0);
    expect(authField(r.message, 3)).toHaveLength(0);
    expect(authField(r.message, 5)).toHaveLength(0);
  });

  it('without KEY_EXCH the exported session key is the session base key', () => {
    const noKeyExch = { ...challenge, flags: challenge.flags & ~NtlmFlag.NEGOTIATE_KEY_EXCH };
    const r = buildAuthenticateMessage({ ...base, challenge: noKeyExch, clientChallenge: Buffer.alloc(8, 0xaa), timestamp: Buffer.alloc(8) });
    expect(r.exportedSessionKey.toString('hex')).toBe('8de40ccadbc14a82f15cb0ad0de95ca3');
    expect(authField(r.message, 5)).toHaveLength(0);
  });

  it('a CHALLENGE without SIGN or SEAL: KEY_EXCH is dropped with the key it would announce (MS-NLMP 3.1.5.1.2)', () => {
    // The MS-NLMP 4.2.4.3 sample with NEGOTIATE_SIGN and NEGOTIATE_SEAL cleared, KEY_EXCH kept.
    const bytes = Buffer.from(NLMP.challenge);
    bytes.writeUInt32LE((bytes.readUInt32LE(20) & ~(NtlmFlag.NEGOTIATE_SIGN | NtlmFlag.NEGOTIATE_SEAL)) >>> 0, 20);
    const unsigned = decodeChallengeMessage(bytes);
    expect(unsigned.flags & NtlmFlag.NEGOTIATE_KEY_EXCH).toBeTruthy();
    const r = buildAuthenticateMessage({ ...base, challengeMessage: bytes, challenge: unsigned, clientChallenge: Buffer.alloc(8, 0xaa), timestamp: Buffer.alloc(8) });
    const sentFlags = r.message.readUInt32LE(60);
    expect(sentFlags).toBe(r.negotiatedFlags);
    expect(sentFlags & NtlmFlag.NEGOTIATE_KEY_EXCH).toBe(0);
    expect(sentFlags & NtlmFlag.NEGOTIATE_SIGN).toBe(0);
    expect(authField(r.message, 5)).toHaveLength(0);
    // No exchange: the exported session key is the session base key of the 4.2.4 sample.
    expect(r.exportedSessionKey.toString('hex')).toBe('8de40ccadbc14a82f15cb0ad0de95ca3');
  });

  it('flags and key agree for every combination of server flags', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (serverFlags) => {
      const r = buildAuthenticateMessage({ ...base, challenge: { ...challenge, flags: serverFlags >>> 0 } });
      const sentFlags = r.message.readUInt32LE(60);
      const keyLength = authField(r.message, 5).length;
      expect(sentFlags).toBe(r.negotiatedFlags);
      expect(keyLength).toBe(sentFlags & NtlmFlag.NEGOTIATE_KEY_EXCH ? 16 : 0);
      if (sentFlags & NtlmFlag.NEGOTIATE_KEY_EXCH) expect(sentFlags & (NtlmFlag.NEGOTIATE_SIGN | NtlmFlag.NEGOTIATE_SEAL)).not.toBe(0);
    }), { numRuns: ITERATIONS });
  });

  it('uses fresh random client challenges and session keys by default', () => {
    const a = buildAuthenticateMessage(base);
    const b = buildAuthenticateMessage(base);
    expect(a.exportedSessionKey.equals(b.exportedSessionKey)).toBe(false);
    expect(authField(a.message, 1).equals(authField(b.message, 1))).toBe(false);
  });

  it('refuses session security without extended session security', () => {
    expect(() => ntlmClientSigner(Buffer.alloc(16), NtlmFlag.NEGOTIATE_KEY_EXCH)).toThrow(SecurityError);
  });
});
