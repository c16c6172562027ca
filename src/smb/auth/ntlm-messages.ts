/**
 * NTLM message layouts (MS-NLMP 2.2): the NEGOTIATE_MESSAGE we send, the CHALLENGE_MESSAGE the
 * server answers with (decoded with every offset checked), the AV_PAIR list of its TargetInfo, and
 * the AUTHENTICATE_MESSAGE layout. The cryptography is in ntlm-crypto.ts.
 */
import { ProtocolError } from '../errors.js';
import { fromUtf16, Reader, slice, utf16, Writer } from '../wire/buffer.js';

/** MS-NLMP 2.2.2.5 NEGOTIATE flags. */
export const NtlmFlag = {
  NEGOTIATE_UNICODE: 0x00000001,
  NEGOTIATE_OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  NEGOTIATE_SIGN: 0x00000010,
  NEGOTIATE_SEAL: 0x00000020,
  NEGOTIATE_LM_KEY: 0x00000080,
  NEGOTIATE_NTLM: 0x00000200,
  ANONYMOUS: 0x00000800,
  NEGOTIATE_ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  TARGET_TYPE_SERVER: 0x00020000,
  NEGOTIATE_EXTENDED_SESSIONSECURITY: 0x00080000,
  NEGOTIATE_TARGET_INFO: 0x00800000,
  NEGOTIATE_VERSION: 0x02000000,
  NEGOTIATE_128: 0x20000000,
  NEGOTIATE_KEY_EXCH: 0x40000000,
  NEGOTIATE_56: 0x80000000,
} as const;

/**
 * What we ask for: the flags Windows' SMB client sends (0xE2088297) minus OEM and LM_KEY, since we
 * only speak Unicode and NTLMv2. SEAL is not needed: SMB does its own encryption.
 */
export const CLIENT_NEGOTIATE_FLAGS =
  (NtlmFlag.NEGOTIATE_UNICODE |
    NtlmFlag.REQUEST_TARGET |
    NtlmFlag.NEGOTIATE_SIGN |
    NtlmFlag.NEGOTIATE_NTLM |
    NtlmFlag.NEGOTIATE_ALWAYS_SIGN |
    NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY |
    NtlmFlag.NEGOTIATE_VERSION |
    NtlmFlag.NEGOTIATE_128 |
    NtlmFlag.NEGOTIATE_KEY_EXCH |
    NtlmFlag.NEGOTIATE_56) >>>
  0;

/** MS-NLMP 2.2.2.1 AvId values. */
export const AvId = {
  EOL: 0,
  NB_COMPUTER_NAME: 1,
  NB_DOMAIN_NAME: 2,
  DNS_COMPUTER_NAME: 3,
  DNS_DOMAIN_NAME: 4,
  DNS_TREE_NAME: 5,
  FLAGS: 6,
  TIMESTAMP: 7,
  SINGLE_HOST: 8,
  TARGET_NAME: 9,
  CHANNEL_BINDINGS: 10,
} as const;

/** MsvAvFlags bit: the AUTHENTICATE_MESSAGE carries a MIC (MS-NLMP 2.2.2.1). */
export const AV_FLAG_MIC_PRESENT = 0x00000002;

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
/** MS-NLMP 2.2.2.10 VERSION: 10.0, build 0, NTLMSSP_REVISION_W2K3. */
const CLIENT_VERSION = Buffer.from([10, 0, 0, 0, 0, 0, 0, 0x0f]);

export interface AvPair {
  id: number;
  value: Buffer;
}

export interface ChallengeMessage {
  flags: number;
  serverChallenge: Buffer;
  targetName: string;
  /** The raw AV_PAIR list, echoed (extended) into the NTLMv2 response. */
  targetInfo: Buffer;
  /** MsvAvTimestamp (8-byte FILETIME) when the server sent one. */
  timestamp?: Buffer;
  netbiosDomain?: string;
  netbiosComputer?: string;
  dnsComputer?: string;
  dnsDomain?: string;
}

/** MS-NLMP 2.2.1.1: no domain or workstation supplied, our VERSION. */
export function encodeNegotiateMessage(): Buffer {
  return new Writer(40)
    .bytes(SIGNATURE)
    .u32(1)
    .u32(CLIENT_NEGOTIATE_FLAGS)
    .zeros(8)
    .zeros(8)
    .bytes(CLIENT_VERSION)
    .toBuffer();
}

/** MS-NLMP 2.2.2.1: AV_PAIRs up to MsvAvEOL (which is not returned); bytes after it are ignored. */
export function parseAvPairs(targetInfo: Buffer): AvPair[] {
  const r = new Reader(targetInfo);
  const pairs: AvPair[] = [];
  while (r.remaining > 0) {
    const id = r.u16('AvId');
    const length = r.u16('AvLen');
    const value = Buffer.from(r.bytes(length, 'AV_PAIR value'));
    if (id === AvId.EOL) break;
    pairs.push({ id, value });
  }
  return pairs;
}

/** The AV_PAIR list followed by MsvAvEOL. */
export function encodeAvPairs(pairs: AvPair[]): Buffer {
  const w = new Writer();
  for (const { id, value } of pairs) w.u16(id).u16(value.length).bytes(value);
  return w.u16(AvId.EOL).u16(0).toBuffer();
}

function readFields(r: Reader, what: string): { length: number; offset: number } {
  const length = r.u16(`${what}Len`);
  r.u16(`${what}MaxLen`);
  const offset = r.u32(`${what}BufferOffset`);
  return { length, offset };
}

/** MS-NLMP 2.2.1.2. Anything malformed is a ProtocolError. */
export function decodeChallengeMessage(buf: Buffer): ChallengeMessage {
  const r = new Reader(buf);
  if (!r.bytes(8, 'NTLMSSP signature').equals(SIGNATURE)) throw new ProtocolError('not an NTLMSSP message');
  const type = r.u32('MessageType');
  if (type !== 2) throw new ProtocolError(`expected an NTLM CHALLENGE_MESSAGE, got type ${type}`);
  const targetNameFields = readFields(r, 'TargetName');
  const flags = r.u32('NegotiateFlags');
  const serverChallenge = Buffer.from(r.bytes(8, 'ServerChallenge'));
  r.skip(8, 'Reserved');
  // Very old servers end the message here; NTLMv2 then runs with an empty TargetInfo.
  const targetInfoFields = r.remaining >= 8 ? readFields(r, 'TargetInfo') : { length: 0, offset: 0 };

  const nameBytes = slice(buf, targetNameFields.offset, targetNameFields.length, 'TargetName');
  const targetName = flags & NtlmFlag.NEGOTIATE_UNICODE ? fromUtf16(nameBytes, 'TargetName') : nameBytes.toString('latin1');
  const targetInfo = Buffer.from(slice(buf, targetInfoFields.offset, targetInfoFields.length, 'TargetInfo'));

  const challenge: ChallengeMessage = { flags, serverChallenge, targetName, targetInfo };
  for (const { id, value } of parseAvPairs(targetInfo)) {
    switch (id) {
      case AvId.NB_COMPUTER_NAME:
        challenge.netbiosComputer = fromUtf16(value, 'MsvAvNbComputerName');
        break;
      case AvId.NB_DOMAIN_NAME:
        challenge.netbiosDomain = fromUtf16(value, 'MsvAvNbDomainName');
        break;
      case AvId.DNS_COMPUTER_NAME:
        challenge.dnsComputer = fromUtf16(value, 'MsvAvDnsComputerName');
        break;
      case AvId.DNS_DOMAIN_NAME:
        challenge.dnsDomain = fromUtf16(value, 'MsvAvDnsDomainName');
        break;
      case AvId.TIMESTAMP:
        if (value.length !== 8) throw new ProtocolError(`MsvAvTimestamp of ${value.length} bytes`);
        challenge.timestamp = value;
        break;
    }
  }
  return challenge;
}

export interface AuthenticateFields {
  lmChallengeResponse: Buffer;
  ntChallengeResponse: Buffer;
  domain: string;
  user: string;
  workstation: string;
  encryptedRandomSessionKey: Buffer;
  flags: number;
  /** Reserve the 16-byte MIC field (zeroed; the caller fills it in at MIC_OFFSET). */
  withMic: boolean;
}

/** Offset of the MIC in an AUTHENTICATE_MESSAGE that carries one (after the 8-byte Version). */
export const MIC_OFFSET = 72;

/**
 * MS-NLMP 2.2.1.3. The payload follows the fixed part in the order Windows uses: domain, user,
 * workstation, LM response, NT response, session key.
 */
export function encodeAuthenticateMessage(f: AuthenticateFields): Buffer {
  const payload = [utf16(f.domain), utf16(f.user), utf16(f.workstation), f.lmChallengeResponse, f.ntChallengeResponse, f.encryptedRandomSessionKey];
  const fixed = MIC_OFFSET + (f.withMic ? 16 : 0);
  const w = new Writer(fixed + payload.reduce((n, b) => n + b.length, 0));
  w.bytes(SIGNATURE).u32(3);
  // Field order in the header: LM, NT, domain, user, workstation, session key.
  const headerOrder = [3, 4, 0, 1, 2, 5];
  const offsets: number[] = [];
  let offset = fixed;
  for (const b of payload) {
    offsets.push(offset);
    offset += b.length;
  }
  for (const i of headerOrder) {
    const b = payload[i]!;
    if (b.length > 0xffff) throw new RangeError('NTLM field longer than 65535 bytes');
    w.u16(b.length).u16(b.length).u32(offsets[i]!);
  }
  w.u32(f.flags);
  w.bytes(f.flags & NtlmFlag.NEGOTIATE_VERSION ? CLIENT_VERSION : Buffer.alloc(8));
  if (f.withMic) w.zeros(16);
  for (const b of payload) w.bytes(b);
  return w.toBuffer();
}
