/**
 * Valid server messages, built byte by byte the way a server sends them, as starting points for
 * the fuzzers. Each seed marks its offset/length/count fields so the mutator can aim at them.
 *
 * Built here with the project's encoders where they exist (encodeHeader, encodeFileNotifyInformation,
 * encodeAvPairs, the DER encoder, encryptMessage, signMessage) and by hand from MS-SMB2 otherwise;
 * real captures come from test/unit/fixtures/ms-blog-vectors.ts (Windows server, Microsoft blog).
 */
import { contextTag, encodeOid, encodeTlv, Tag } from '../../src/smb/auth/der.js';
import { AvId, encodeAvPairs } from '../../src/smb/auth/ntlm-messages.js';
import { NTLMSSP_OID, SPNEGO_OID } from '../../src/smb/auth/spnego.js';
import { encryptMessage, nonceLength, type CipherName } from '../../src/smb/crypto/encryption.js';
import { signMessage } from '../../src/smb/crypto/signing.js';
import { Writer } from '../../src/smb/wire/buffer.js';
import { dateToFiletime } from '../../src/smb/wire/filetime.js';
import { Command, encodeHeader, HEADER_SIZE, HeaderFlag } from '../../src/smb/wire/header.js';
import { FSCTL_VALIDATE_NEGOTIATE_INFO } from '../../src/smb/wire/ioctl.js';
import { ContextType, Dialect, GlobalCapability, SecurityMode } from '../../src/smb/wire/negotiate.js';
import { encodeFileNotifyInformation, FileAction } from '../../src/smb/wire/notify.js';
import { NtStatus } from '../../src/smb/wire/ntstatus.js';
import { ANATOMY, ENCRYPTION_CCM, ENCRYPTION_GCM, SECBUF_AT } from '../unit/fixtures/ms-blog-vectors.js';
import type { Field, Seed } from './mutate.js';

export const SESSION_ID = 0x0000_1000_0000_0041n;
export const TREE_ID = 5;
export const ASYNC_ID = 0x0000_0000_0000_002bn;
/** The session's signing key for the signed receive-path scenarios (HMAC-SHA256, SMB 2.x). */
export const SIGNING_KEY = Buffer.from('5ac1d1f0c2b6a4e29f3d7e8c1b0a9f8e', 'hex');
/** Keys as the client holds them: the server encrypts with the client's decryption key. */
export const CIPHER_KEYS: Record<CipherName, { encryptionKey: Buffer; decryptionKey: Buffer }> = {
  'AES-128-CCM': { encryptionKey: Buffer.alloc(16, 0x11), decryptionKey: Buffer.from('95c544aef6072680da1ce49a68a97fa6', 'hex') },
  'AES-128-GCM': { encryptionKey: Buffer.alloc(16, 0x22), decryptionKey: Buffer.from('748c50868c90f302962a5c35f5f9a8bf', 'hex') },
  'AES-256-CCM': { encryptionKey: Buffer.alloc(32, 0x33), decryptionKey: Buffer.alloc(32, 0xc3) },
  'AES-256-GCM': { encryptionKey: Buffer.alloc(32, 0x44), decryptionKey: Buffer.alloc(32, 0xd4) },
};

const SERVER_GUID = Buffer.from('8f1d6c7e3c5a4b2e9d0f112233445566', 'hex');
const FILE_ID = Buffer.from('0b00000000000000' + '01000000ffffffff', 'hex');
const T0 = dateToFiletime(new Date('2024-03-01T09:30:00Z'));
const T1 = dateToFiletime(new Date('2024-03-02T17:05:42.123Z'));

/** A Writer that records where each named field went. */
class Builder {
  private readonly w = new Writer(256);
  readonly fields: Field[] = [];

  get length(): number {
    return this.w.length;
  }

  private mark(size: Field['size'], name: string | undefined): void {
    if (name) this.fields.push({ at: this.w.length, size, name });
  }

  u8(v: number, name?: string): this {
    this.mark(1, name);
    this.w.u8(v);
    return this;
  }

  u16(v: number, name?: string): this {
    this.mark(2, name);
    this.w.u16(v);
    return this;
  }

  u32(v: number, name?: string): this {
    this.mark(4, name);
    this.w.u32(v);
    return this;
  }

  u64(v: bigint, name?: string): this {
    this.mark(8, name);
    this.w.u64(v);
    return this;
  }

  /** Append bytes, carrying the fields of a nested structure along. */
  bytes(b: Buffer, nested: Field[] = []): this {
    for (const f of nested) this.fields.push({ ...f, at: f.at + this.w.length });
    this.w.bytes(b);
    return this;
  }

  zeros(n: number): this {
    this.w.zeros(n);
    return this;
  }

  align(n: number): this {
    this.w.align(n);
    return this;
  }

  patchU16(at: number, v: number): void {
    this.w.patchU16(at, v);
  }

  patchU32(at: number, v: number): void {
    this.w.patchU32(at, v);
  }

  toSeed(name: string): Seed {
    return { name, bytes: this.w.toBuffer(), fields: [...this.fields] };
  }
}

/** The SMB2 header fields worth aiming at in every message (MS-SMB2 2.2.1). */
function headerFields(base = 0): Field[] {
  return [
    { at: base + 4, size: 2, name: 'header StructureSize' },
    { at: base + 8, size: 4, name: 'Status' },
    { at: base + 12, size: 2, name: 'Command' },
    { at: base + 14, size: 2, name: 'CreditResponse' },
    { at: base + 16, size: 4, name: 'Flags' },
    { at: base + 20, size: 4, name: 'NextCommand' },
    { at: base + 24, size: 8, name: 'MessageId' },
    { at: base + 40, size: 8, name: 'SessionId' },
  ];
}

export interface ServerHeader {
  command: number;
  messageId: bigint;
  status?: number;
  sessionId?: bigint;
  treeId?: number;
  /** Set: the async form (MS-SMB2 2.2.1.1) with this AsyncId. */
  asyncId?: bigint;
  related?: boolean;
  credits?: number;
}

/** A response header as a server writes it: SMB2_FLAGS_SERVER_TO_REDIR and a CreditResponse. */
export function serverHeader(h: ServerHeader): Buffer {
  let flags = HeaderFlag.SERVER_TO_REDIR;
  if (h.asyncId !== undefined) flags |= HeaderFlag.ASYNC_COMMAND;
  if (h.related) flags |= HeaderFlag.RELATED_OPERATIONS;
  return encodeHeader({
    command: h.command,
    messageId: h.messageId,
    status: h.status ?? NtStatus.SUCCESS,
    creditCharge: 1,
    credits: h.credits ?? 1,
    flags,
    asyncId: h.asyncId ?? 0n,
    treeId: h.treeId ?? 0,
    sessionId: h.sessionId ?? 0n,
  });
}

function message(name: string, h: ServerHeader, body: Builder): Seed {
  const b = body.toSeed(name);
  return {
    name,
    bytes: Buffer.concat([serverHeader(h), b.bytes]),
    fields: [...headerFields(), ...b.fields.map((f) => ({ ...f, at: f.at + HEADER_SIZE }))],
  };
}

/** Length fields of every element of a well-formed DER encoding, recursively. */
function derFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  const walk = (start: number, end: number): void => {
    let pos = start;
    while (pos + 2 <= end) {
      const tag = buf[pos]!;
      const first = buf[pos + 1]!;
      let length = first;
      let head = 2;
      out.push({ at: pos + 1, size: 1, name: `DER length of tag 0x${tag.toString(16)}` });
      if (first >= 0x80) {
        const n = first & 0x7f;
        length = 0;
        for (let i = 0; i < n; i++) length = length * 256 + buf[pos + 2 + i]!;
        head = 2 + n;
        out.push({ at: pos + 1 + n, size: 1, name: `DER long length of tag 0x${tag.toString(16)}` });
      }
      if (tag & 0x20) walk(pos + head, pos + head + length);
      pos += head + length;
    }
  };
  walk(0, buf.length);
  return out;
}

function shift(fields: Field[], by: number): Field[] {
  return fields.map((f) => ({ ...f, at: f.at + by }));
}

// ---------------------------------------------------------------------------------------------
// NTLM (MS-NLMP 2.2.1.2) and SPNEGO (RFC 4178, MS-SPNG)

/** MS-NLMP 4.2.4.3: the CHALLENGE_MESSAGE of the NTLMv2 example (as in test/unit/ntlm.test.ts). */
export const NLMP_CHALLENGE = Buffer.from(
  '4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000' +
    '060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000',
  'hex',
);

function ntlmChallengeFields(buf: Buffer): Field[] {
  const fields: Field[] = [
    { at: 8, size: 4, name: 'NTLM MessageType' },
    { at: 12, size: 2, name: 'TargetNameLen' },
    { at: 14, size: 2, name: 'TargetNameMaxLen' },
    { at: 16, size: 4, name: 'TargetNameBufferOffset' },
    { at: 20, size: 4, name: 'NegotiateFlags' },
    { at: 40, size: 2, name: 'TargetInfoLen' },
    { at: 42, size: 2, name: 'TargetInfoMaxLen' },
    { at: 44, size: 4, name: 'TargetInfoBufferOffset' },
  ];
  const infoOffset = buf.readUInt32LE(44);
  const infoLength = buf.readUInt16LE(40);
  fields.push(...shift(avPairFields(buf.subarray(infoOffset, infoOffset + infoLength)), infoOffset));
  return fields;
}

function avPairFields(info: Buffer): Field[] {
  const fields: Field[] = [];
  for (let at = 0; at + 4 <= info.length; ) {
    fields.push({ at, size: 2, name: 'AvId' }, { at: at + 2, size: 2, name: 'AvLen' });
    if (info.readUInt16LE(at) === AvId.EOL) break;
    at += 4 + info.readUInt16LE(at + 2);
  }
  return fields;
}

export interface NtlmSeeds {
  challenges: Seed[];
  targetInfos: Seed[];
}

/** A CHALLENGE_MESSAGE like Samba's: TargetName, five AV pairs including MsvAvTimestamp, VERSION. */
function sambaChallenge(): Seed {
  const u = (s: string): Buffer => Buffer.from(s, 'utf16le');
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64LE(T1);
  const targetName = u('SAMBA');
  const targetInfo = encodeAvPairs([
    { id: AvId.NB_DOMAIN_NAME, value: u('SAMBA') },
    { id: AvId.NB_COMPUTER_NAME, value: u('FILESRV') },
    { id: AvId.DNS_DOMAIN_NAME, value: u('samba.example') },
    { id: AvId.DNS_COMPUTER_NAME, value: u('filesrv.samba.example') },
    { id: AvId.TIMESTAMP, value: timestamp },
  ]);
  const fixed = 56;
  const w = new Writer(fixed + targetName.length + targetInfo.length);
  w.bytes(Buffer.from('NTLMSSP\0', 'latin1')).u32(2);
  w.u16(targetName.length).u16(targetName.length).u32(fixed);
  w.u32(0xe28a8215);
  w.bytes(Buffer.from('3f8e1b2d4c5a6e7f', 'hex')).zeros(8);
  w.u16(targetInfo.length).u16(targetInfo.length).u32(fixed + targetName.length);
  w.bytes(Buffer.from([6, 1, 0xb1, 0x1d, 0, 0, 0, 0x0f]));
  w.bytes(targetName).bytes(targetInfo);
  const bytes = w.toBuffer();
  return { name: 'NTLM CHALLENGE (Samba-like, with MsvAvTimestamp)', bytes, fields: ntlmChallengeFields(bytes) };
}

export function ntlmSeeds(): NtlmSeeds {
  const nlmp: Seed = { name: 'NTLM CHALLENGE (MS-NLMP 4.2.4.3)', bytes: NLMP_CHALLENGE, fields: ntlmChallengeFields(NLMP_CHALLENGE) };
  const samba = sambaChallenge();
  const targetInfo = (s: Seed): Seed => {
    const off = s.bytes.readUInt32LE(44);
    const info = s.bytes.subarray(off, off + s.bytes.readUInt16LE(40));
    return { name: `TargetInfo of ${s.name}`, bytes: Buffer.from(info), fields: avPairFields(info) };
  };
  return { challenges: [nlmp, samba], targetInfos: [targetInfo(nlmp), targetInfo(samba)] };
}

/** MS-SPNG 2.2.1 NegTokenInit2 in the GSS-API wrapper, as in a NEGOTIATE response. */
function negTokenInit2(): Buffer {
  const mechTypes = encodeTlv(
    Tag.SEQUENCE,
    Buffer.concat([encodeOid('1.2.840.48018.1.2.2'), encodeOid('1.2.840.113554.1.2.2'), encodeOid('1.3.6.1.4.1.311.2.2.30'), encodeOid(NTLMSSP_OID)]),
  );
  const negHints = encodeTlv(Tag.SEQUENCE, encodeTlv(contextTag(0), encodeTlv(0x1b, Buffer.from('not_defined_in_RFC4178@please_ignore', 'latin1'))));
  const init = encodeTlv(Tag.SEQUENCE, Buffer.concat([encodeTlv(contextTag(0), mechTypes), encodeTlv(contextTag(3), negHints)]));
  return encodeTlv(Tag.APPLICATION_0, Buffer.concat([encodeOid(SPNEGO_OID), encodeTlv(contextTag(0), init)]));
}

/** RFC 4178 NegTokenResp: accept-incomplete, supportedMech NTLMSSP, the CHALLENGE as responseToken. */
function negTokenRespChallenge(challenge: Buffer): Buffer {
  return encodeTlv(
    contextTag(1),
    encodeTlv(
      Tag.SEQUENCE,
      Buffer.concat([
        encodeTlv(contextTag(0), encodeTlv(Tag.ENUMERATED, Buffer.from([1]))),
        encodeTlv(contextTag(1), encodeOid(NTLMSSP_OID)),
        encodeTlv(contextTag(2), encodeTlv(Tag.OCTET_STRING, challenge)),
      ]),
    ),
  );
}

/** NegTokenResp accept-completed with the server's mechListMIC (NTLMSSP_MESSAGE_SIGNATURE). */
function negTokenRespCompleted(withMic: boolean): Buffer {
  const mic = Buffer.from('01000000' + 'a1b2c3d4e5f60718' + '00000000', 'hex');
  const fields = [encodeTlv(contextTag(0), encodeTlv(Tag.ENUMERATED, Buffer.from([0])))];
  if (withMic) fields.push(encodeTlv(contextTag(3), encodeTlv(Tag.OCTET_STRING, mic)));
  return encodeTlv(contextTag(1), encodeTlv(Tag.SEQUENCE, Buffer.concat(fields)));
}

export function spnegoSeeds(): Seed[] {
  const challenge = sambaChallenge();
  const seed = (name: string, bytes: Buffer, extra: Field[] = []): Seed => ({ name, bytes, fields: [...derFields(bytes), ...extra] });
  const resp = negTokenRespChallenge(challenge.bytes);
  return [
    seed('SPNEGO NegTokenInit2 (GSS-wrapped)', negTokenInit2()),
    seed('SPNEGO NegTokenResp with NTLM CHALLENGE', resp, shift(challenge.fields, resp.indexOf(challenge.bytes))),
    seed('SPNEGO NegTokenResp accept-completed + mechListMIC', negTokenRespCompleted(true)),
    seed('SPNEGO NegTokenResp accept-completed', negTokenRespCompleted(false)),
  ];
}

// ---------------------------------------------------------------------------------------------
// SMB2 responses (MS-SMB2 2.2)

/** 2.2.4 NEGOTIATE response; for 3.1.1 with pre-auth, encryption, signing and a POSIX context. */
export function negotiateResponse(dialect: number, messageId = 0n): Seed {
  const secBlob = negTokenInit2();
  const b = new Builder();
  b.u16(65, 'StructureSize').u16(SecurityMode.SIGNING_ENABLED, 'SecurityMode').u16(dialect, 'DialectRevision');
  const countAt = b.length;
  b.u16(0, 'NegotiateContextCount');
  b.bytes(SERVER_GUID);
  b.u32(GlobalCapability.DFS | GlobalCapability.LEASING | GlobalCapability.LARGE_MTU | GlobalCapability.ENCRYPTION, 'Capabilities');
  b.u32(8 << 20, 'MaxTransactSize').u32(8 << 20, 'MaxReadSize').u32(8 << 20, 'MaxWriteSize');
  b.u64(T1).u64(0n);
  const secOffsetAt = b.length;
  b.u16(0, 'SecurityBufferOffset').u16(secBlob.length, 'SecurityBufferLength');
  const ctxOffsetAt = b.length;
  b.u32(0, 'NegotiateContextOffset');
  b.patchU16(secOffsetAt, HEADER_SIZE + b.length);
  b.bytes(secBlob, derFields(secBlob));
  if (dialect === Dialect.SMB3_1_1) {
    const salt = Buffer.from('c7a0e6f9125b4d3e8a1f0b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e', 'hex');
    const contexts: Array<[number, Buffer]> = [
      [ContextType.PREAUTH_INTEGRITY, new Writer(38).u16(1).u16(salt.length).u16(1).bytes(salt).toBuffer()],
      [ContextType.ENCRYPTION, new Writer(4).u16(1).u16(0x0002).toBuffer()],
      [ContextType.SIGNING, new Writer(4).u16(1).u16(0x0002).toBuffer()],
      [0x0100, Buffer.from('93ad25509cb411e7b42383de968bcd7c', 'hex')], // Samba's SMB2_POSIX_EXTENSIONS_AVAILABLE
    ];
    b.align(8);
    b.patchU32(ctxOffsetAt, HEADER_SIZE + b.length);
    b.patchU16(countAt, contexts.length);
    contexts.forEach(([type, data], i) => {
      if (i > 0) b.align(8);
      b.u16(type, 'ContextType').u16(data.length, 'DataLength').u32(0).bytes(data, type === ContextType.PREAUTH_INTEGRITY ? [{ at: 0, size: 2, name: 'HashAlgorithmCount' }, { at: 2, size: 2, name: 'SaltLength' }] : [{ at: 0, size: 2, name: 'Count' }]);
    });
  }
  return message(`NEGOTIATE response ${dialect.toString(16)}`, { command: Command.NEGOTIATE, messageId }, b);
}

function sessionSetupResponse(name: string, status: number, sessionFlags: number, blob: Buffer, nested: Field[], messageId: bigint): Seed {
  const b = new Builder();
  b.u16(9, 'StructureSize').u16(sessionFlags, 'SessionFlags').u16(HEADER_SIZE + 8, 'SecurityBufferOffset').u16(blob.length, 'SecurityBufferLength');
  b.bytes(blob, [...derFields(blob), ...nested]);
  return message(name, { command: Command.SESSION_SETUP, messageId, status, sessionId: SESSION_ID }, b);
}

/** 2.2.6 SESSION_SETUP response, leg 1: MORE_PROCESSING_REQUIRED with SPNEGO + NTLM CHALLENGE. */
export function sessionSetupChallenge(messageId = 1n, challenge: Seed = sambaChallenge()): Seed {
  const blob = negTokenRespChallenge(challenge.bytes);
  return sessionSetupResponse(
    `SESSION_SETUP response (CHALLENGE: ${challenge.name})`,
    NtStatus.MORE_PROCESSING_REQUIRED,
    0,
    blob,
    shift(challenge.fields, blob.indexOf(challenge.bytes)),
    messageId,
  );
}

/** 2.2.6 SESSION_SETUP response, final leg. */
export function sessionSetupFinal(messageId = 2n, guest = false): Seed {
  return sessionSetupResponse(`SESSION_SETUP response (final${guest ? ', guest' : ''})`, NtStatus.SUCCESS, guest ? 0x0001 : 0, negTokenRespCompleted(!guest), [], messageId);
}

/** 2.2.10 TREE_CONNECT response. */
export function treeConnectResponse(messageId = 3n, pipe = false): Seed {
  const b = new Builder();
  b.u16(16, 'StructureSize').u8(pipe ? 0x02 : 0x01, 'ShareType').u8(0);
  b.u32(pipe ? 0x00000030 : 0x00000800, 'ShareFlags').u32(0, 'Capabilities').u32(pipe ? 0x001f00a9 : 0x001f01ff, 'MaximalAccess');
  return message(`TREE_CONNECT response (${pipe ? 'IPC$' : 'disk'})`, { command: Command.TREE_CONNECT, messageId, sessionId: SESSION_ID, treeId: TREE_ID }, b);
}

/** 2.2.14 CREATE response, optionally with MxAc and QFid create contexts (2.2.14.2). */
export function createResponse(messageId = 4n, withContexts = true, related = false): Seed {
  const b = new Builder();
  b.u16(89, 'StructureSize').u8(0, 'OplockLevel').u8(0).u32(1, 'CreateAction');
  b.u64(T0).u64(T1).u64(T1).u64(T1);
  b.u64(0n, 'AllocationSize').u64(0n, 'EndOfFile').u32(0x10, 'FileAttributes').u32(0);
  b.bytes(FILE_ID);
  const ctxAt = b.length;
  b.u32(0, 'CreateContextsOffset').u32(0, 'CreateContextsLength');
  if (withContexts) {
    b.align(8);
    const start = b.length;
    b.patchU32(ctxAt, HEADER_SIZE + start);
    // MxAc: QueryStatus, MaximalAccess (2.2.14.2.5).
    b.u32(32, 'CreateContext Next').u16(16, 'NameOffset').u16(4, 'NameLength').u16(0).u16(24, 'DataOffset').u32(8, 'DataLength');
    b.bytes(Buffer.from('MxAc', 'latin1')).zeros(4).u32(0).u32(0x001f01ff);
    // QFid: 32 bytes of DiskFileId + VolumeId (2.2.14.2.9).
    b.u32(0, 'CreateContext Next').u16(16, 'NameOffset').u16(4, 'NameLength').u16(0).u16(24, 'DataOffset').u32(32, 'DataLength');
    b.bytes(Buffer.from('QFid', 'latin1')).zeros(4).bytes(Buffer.from('2a0f000000000000fd000000000000000000000000000000' + '0000000000000000', 'hex'));
    b.patchU32(ctxAt + 4, b.length - start);
  }
  return message(
    `CREATE response${withContexts ? ' (MxAc, QFid)' : ''}`,
    { command: Command.CREATE, messageId, sessionId: SESSION_ID, treeId: TREE_ID, related },
    b,
  );
}

/** 2.2.16 CLOSE response with SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB. */
export function closeResponse(messageId = 5n, related = false): Seed {
  const b = new Builder();
  b.u16(60, 'StructureSize').u16(1, 'Flags').u32(0);
  b.u64(T0).u64(T1).u64(T1).u64(T1).u64(4096n, 'AllocationSize').u64(1234n, 'EndOfFile').u32(0x20, 'FileAttributes');
  return message('CLOSE response', { command: Command.CLOSE, messageId, sessionId: SESSION_ID, treeId: TREE_ID, related }, b);
}

/** MS-FSCC 2.4.18 FileIdFullDirectoryInformation entries, 8-byte aligned. */
export function directoryBuffer(): Seed {
  const entries: Array<[string, number, bigint]> = [
    ['.', 0x10, 0n],
    ['..', 0x10, 0n],
    ['report.docx', 0x20, 48213n],
    ['Photos 2024', 0x10, 0n],
    ['ünïcødé – notes.txt', 0x20, 7n],
  ];
  const b = new Builder();
  entries.forEach(([name, attributes, size], i) => {
    const n = Buffer.from(name, 'utf16le');
    const start = b.length;
    b.u32(0, 'NextEntryOffset').u32(0, 'FileIndex');
    b.u64(T0).u64(T1).u64(T1).u64(T1);
    b.u64(size, 'EndOfFile').u64(size ? 1048576n : 0n, 'AllocationSize').u32(attributes, 'FileAttributes').u32(n.length, 'FileNameLength');
    b.u32(0, 'EaSize').u32(0).u64(BigInt(0x1000 + i)).bytes(n);
    if (i < entries.length - 1) {
      b.align(8);
      b.patchU32(start, b.length - start);
    }
  });
  return b.toSeed('FileIdFullDirectoryInformation chain');
}

/** MS-FSCC 2.7.1 FILE_NOTIFY_INFORMATION chain, encoded by the project's encoder. */
export function notifyBuffer(): Seed {
  const bytes = encodeFileNotifyInformation([
    { action: FileAction.ADDED, fileName: 'new.txt' },
    { action: FileAction.RENAMED_OLD_NAME, fileName: 'dir\\a.txt' },
    { action: FileAction.RENAMED_NEW_NAME, fileName: 'dir\\b.txt' },
    { action: FileAction.MODIFIED, fileName: 'Projekte\\Übersicht 2024 – ünïcødé.xlsx' },
    { action: FileAction.REMOVED, fileName: 'x' },
  ]);
  const fields: Field[] = [];
  for (let at = 0; ; ) {
    fields.push({ at, size: 4, name: 'NextEntryOffset' }, { at: at + 4, size: 4, name: 'Action' }, { at: at + 8, size: 4, name: 'FileNameLength' });
    const next = bytes.readUInt32LE(at);
    if (next === 0) break;
    at += next;
  }
  return { name: 'FILE_NOTIFY_INFORMATION chain', bytes, fields };
}

/** MS-FSCC 2.4.7 FileBasicInformation (40 bytes). */
export function basicInfoBuffer(): Seed {
  const b = new Builder();
  b.u64(T0).u64(T1).u64(T1).u64(T1).u32(0x20, 'FileAttributes').u32(0);
  return b.toSeed('FileBasicInformation');
}

/** MS-FSCC 2.4.47 FileStandardInformation (24 bytes). */
export function standardInfoBuffer(): Seed {
  const b = new Builder();
  b.u64(1048576n, 'AllocationSize').u64(48213n, 'EndOfFile').u32(1, 'NumberOfLinks').u8(0, 'DeletePending').u8(0, 'Directory').u16(0);
  return b.toSeed('FileStandardInformation');
}

/** MS-SMB2 2.2.32.6 VALIDATE_NEGOTIATE_INFO response (24 bytes). */
export function validateNegotiateBuffer(): Seed {
  const b = new Builder();
  b.u32(GlobalCapability.DFS | GlobalCapability.LEASING | GlobalCapability.LARGE_MTU, 'Capabilities').bytes(SERVER_GUID);
  b.u16(SecurityMode.SIGNING_ENABLED, 'SecurityMode').u16(Dialect.SMB3_0_2, 'Dialect');
  return b.toSeed('VALIDATE_NEGOTIATE_INFO response');
}

/**
 * QUERY_DIRECTORY (2.2.34), CHANGE_NOTIFY (2.2.36) and QUERY_INFO (2.2.38) responses share a
 * layout: StructureSize 9, OutputBufferOffset (u16), OutputBufferLength (u32), Buffer.
 */
export function outputResponse(name: string, h: ServerHeader, output: Seed | null): Seed {
  const b = new Builder();
  const bytes = output?.bytes ?? Buffer.alloc(0);
  b.u16(9, 'StructureSize').u16(HEADER_SIZE + 8, 'OutputBufferOffset').u32(bytes.length, 'OutputBufferLength');
  if (output) b.bytes(bytes, output.fields);
  else b.zeros(1); // the one byte of Buffer that StructureSize 9 counts
  return message(name, { sessionId: SESSION_ID, treeId: TREE_ID, ...h }, b);
}

/** 2.2.2 ERROR response, optionally with ErrorData (and the 3.1.1 error-context form). */
export function errorResponse(name: string, h: ServerHeader, errorData?: Buffer, contexts = 0): Seed {
  const b = new Builder();
  b.u16(9, 'StructureSize').u8(contexts, 'ErrorContextCount').u8(0).u32(errorData?.length ?? 0, 'ByteCount');
  if (errorData?.length) b.bytes(errorData);
  else b.zeros(1);
  return message(name, { sessionId: SESSION_ID, treeId: TREE_ID, ...h }, b);
}

/** 2.2.2.2.1 Symbolic Link Error Response for STATUS_STOPPED_ON_SYMLINK. */
function symlinkErrorData(): Buffer {
  const sub = Buffer.from('\\??\\C:\\target', 'utf16le');
  const print = Buffer.from('C:\\target', 'utf16le');
  const w = new Writer(64);
  const reparseDataLength = 12 + sub.length + print.length;
  w.u32(0) // SymLinkLength, patched
    .u32(0x4c4d5953) // SymLinkErrorTag "SYML"
    .u32(0xa000000c) // IO_REPARSE_TAG_SYMLINK
    .u16(reparseDataLength)
    .u16(0) // UnparsedPathLength
    .u16(0)
    .u16(sub.length)
    .u16(sub.length)
    .u16(print.length)
    .u32(1) // SYMLINK_FLAG_RELATIVE
    .bytes(sub)
    .bytes(print);
  const buf = w.toBuffer();
  buf.writeUInt32LE(buf.length - 4, 0);
  return buf;
}

/** 2.2.2.1 SMB2 ERROR Context: ErrorDataLength, ErrorId, then (for BUFFER_TOO_SMALL) the size needed. */
function errorContextData(): Buffer {
  return new Writer(12).u32(4).u32(0).u32(65536).toBuffer();
}

/** 2.2.1.1 interim response: async header, STATUS_PENDING, empty ERROR body. */
export function interimResponse(command: number, messageId: bigint, related = false): Seed {
  return errorResponse(`interim STATUS_PENDING ${command}`, { command, messageId, status: NtStatus.PENDING, asyncId: ASYNC_ID, related }, undefined);
}

export function emptyResponse(command: number, messageId: bigint, name: string): Seed {
  const b = new Builder();
  b.u16(4, 'StructureSize').u16(0);
  return message(name, { command, messageId, sessionId: SESSION_ID, treeId: TREE_ID }, b);
}

/** 2.2.32 IOCTL response carrying the VALIDATE_NEGOTIATE_INFO output. */
export function ioctlResponse(messageId = 6n): Seed {
  const out = validateNegotiateBuffer();
  const b = new Builder();
  b.u16(49, 'StructureSize').u16(0).u32(FSCTL_VALIDATE_NEGOTIATE_INFO, 'CtlCode').bytes(Buffer.alloc(16, 0xff));
  b.u32(HEADER_SIZE + 48, 'InputOffset').u32(0, 'InputCount').u32(HEADER_SIZE + 48, 'OutputOffset').u32(out.bytes.length, 'OutputCount');
  b.u32(0, 'Flags').u32(0).bytes(out.bytes, out.fields);
  return message('IOCTL response (VALIDATE_NEGOTIATE_INFO)', { command: Command.IOCTL, messageId, sessionId: SESSION_ID, treeId: TREE_ID }, b);
}

/** 2.2.23.1 oplock break notification: MessageId 0xFFFFFFFFFFFFFFFF, unsolicited. */
export function oplockBreak(): Seed {
  const b = new Builder();
  b.u16(24, 'StructureSize').u8(1, 'OplockLevel').u8(0).u32(0).bytes(FILE_ID);
  return message('OPLOCK_BREAK notification', { command: Command.OPLOCK_BREAK, messageId: 0xffffffffffffffffn, credits: 0 }, b);
}

/** A compound chain (MS-SMB2 3.3.4.1.3): NextCommand to the 8-aligned next header, 0 for the last. */
export function compound(name: string, members: Seed[]): Seed {
  const parts: Buffer[] = [];
  const fields: Field[] = [];
  let at = 0;
  members.forEach((m, i) => {
    const last = i === members.length - 1;
    const padded = last ? m.bytes.length : Math.ceil(m.bytes.length / 8) * 8;
    const b = Buffer.alloc(padded);
    m.bytes.copy(b);
    if (!last) b.writeUInt32LE(padded, 20);
    parts.push(b);
    fields.push(...shift(m.fields, at));
    at += padded;
  });
  return { name, bytes: Buffer.concat(parts), fields };
}

/** Sign every member of a message or chain in place (HMAC-SHA256, MS-SMB2 3.1.4.1). */
export function signed(seed: Seed, key = SIGNING_KEY): Seed {
  const bytes = Buffer.from(seed.bytes);
  for (let at = 0; ; ) {
    const next = bytes.readUInt32LE(at + 20);
    const end = next === 0 ? bytes.length : at + next;
    signMessage('HMAC-SHA256', key, bytes.subarray(at, end));
    if (next === 0) break;
    at = end;
  }
  return { name: `signed ${seed.name}`, bytes, fields: seed.fields };
}

/**
 * 2.2.41 TRANSFORM_HEADER + ciphertext, as the server encrypts with the client's decryption key.
 * `nonceSeed` picks the nonce, so a fuzz case replays byte for byte.
 */
export function encrypted(cipher: CipherName, plain: Buffer, nonceSeed = 1, sessionId = SESSION_ID): Buffer {
  const nonce = Buffer.alloc(nonceLength(cipher));
  nonce.writeUInt32LE(nonceSeed >>> 0, 0);
  nonce.writeUInt32LE(0x5e7e7, 4);
  return encryptMessage(cipher, CIPHER_KEYS[cipher].decryptionKey, sessionId, nonce, plain);
}

export const TRANSFORM_FIELDS: Field[] = [
  { at: 0, size: 4, name: 'ProtocolId' },
  { at: 36, size: 4, name: 'OriginalMessageSize' },
  { at: 40, size: 2, name: 'Reserved' },
  { at: 42, size: 2, name: 'Flags' },
  { at: 44, size: 8, name: 'SessionId' },
];

export function encryptedSeed(cipher: CipherName, plain: Seed, nonceSeed = 1): Seed {
  return { name: `${cipher} transform of ${plain.name}`, bytes: encrypted(cipher, plain.bytes, nonceSeed), fields: TRANSFORM_FIELDS };
}

function capture(name: string, bytes: Buffer, secbufAt?: number): Seed {
  const fields = headerFields();
  if (secbufAt !== undefined) fields.push({ at: secbufAt, size: 2, name: 'SecurityBufferOffset' }, { at: secbufAt + 2, size: 2, name: 'SecurityBufferLength' });
  return { name: `Windows capture: ${name}`, bytes, fields };
}

// ---------------------------------------------------------------------------------------------
// The corpus

export interface Corpus {
  negotiate: Seed[];
  sessionSetup: Seed[];
  treeConnect: Seed[];
  create: Seed[];
  close: Seed[];
  queryDirectory: Seed[];
  changeNotify: Seed[];
  queryInfo: Seed[];
  ioctl: Seed[];
  empty: Seed[];
  errors: Seed[];
  interim: Seed[];
  compounds: Seed[];
  /** Every plain SMB2 message or chain above, plus the captures and the oplock break. */
  messages: Seed[];
  /** Transform frames with the cipher whose client decryption key opens them. */
  transforms: Array<{ seed: Seed; cipher: CipherName; key: Buffer }>;
  directoryBuffers: Seed[];
  notifyBuffers: Seed[];
  basicInfo: Seed[];
  standardInfo: Seed[];
  validateNegotiate: Seed[];
  challenges: Seed[];
  targetInfos: Seed[];
  spnego: Seed[];
  /** Everything, as splice donors. */
  pool: Seed[];
}

export function buildCorpus(): Corpus {
  const ntlm = ntlmSeeds();
  const nlmpChallenge = ntlm.challenges[0]!;
  const dir = directoryBuffer();
  const notify = notifyBuffer();
  const basic = basicInfoBuffer();
  const standard = standardInfoBuffer();
  const C = Command;

  const negotiate = [
    negotiateResponse(Dialect.SMB3_1_1, 0n),
    negotiateResponse(Dialect.SMB3_0_2, 0n),
    negotiateResponse(Dialect.SMB2_1, 0n),
    capture('NEGOTIATE response 3.1.1', ANATOMY.negotiateResponse, SECBUF_AT.negotiateResponse),
  ];
  const sessionSetup = [
    sessionSetupChallenge(1n),
    sessionSetupChallenge(1n, nlmpChallenge),
    sessionSetupFinal(2n),
    sessionSetupFinal(2n, true),
    capture('SESSION_SETUP response (CHALLENGE)', ANATOMY.sessionSetupResponse1, SECBUF_AT.sessionSetupResponse),
    capture('SESSION_SETUP response (final, signed)', ANATOMY.sessionSetupResponse2, SECBUF_AT.sessionSetupResponse),
  ];
  const treeConnect = [treeConnectResponse(3n), treeConnectResponse(3n, true)];
  const create = [createResponse(4n, true), createResponse(4n, false)];
  const close = [closeResponse(5n)];
  const queryDirectory = [outputResponse('QUERY_DIRECTORY response', { command: C.QUERY_DIRECTORY, messageId: 7n }, dir)];
  const changeNotify = [
    outputResponse('CHANGE_NOTIFY response (async)', { command: C.CHANGE_NOTIFY, messageId: 8n, asyncId: ASYNC_ID }, notify),
    outputResponse('CHANGE_NOTIFY response (sync)', { command: C.CHANGE_NOTIFY, messageId: 8n }, notify),
    outputResponse('CHANGE_NOTIFY response STATUS_NOTIFY_ENUM_DIR', { command: C.CHANGE_NOTIFY, messageId: 8n, asyncId: ASYNC_ID, status: NtStatus.NOTIFY_ENUM_DIR }, null),
  ];
  const queryInfo = [
    outputResponse('QUERY_INFO response (FileBasicInformation)', { command: C.QUERY_INFO, messageId: 9n }, basic),
    outputResponse('QUERY_INFO response (FileStandardInformation)', { command: C.QUERY_INFO, messageId: 10n }, standard),
  ];
  const ioctl = [ioctlResponse(6n)];
  const empty = [
    emptyResponse(C.ECHO, 11n, 'ECHO response'),
    emptyResponse(C.LOGOFF, 12n, 'LOGOFF response'),
    emptyResponse(C.TREE_DISCONNECT, 13n, 'TREE_DISCONNECT response'),
  ];
  const errors = [
    errorResponse('CREATE STATUS_OBJECT_NAME_NOT_FOUND', { command: C.CREATE, messageId: 4n, status: NtStatus.OBJECT_NAME_NOT_FOUND }),
    errorResponse('CREATE STATUS_STOPPED_ON_SYMLINK', { command: C.CREATE, messageId: 4n, status: NtStatus.STOPPED_ON_SYMLINK }, symlinkErrorData()),
    errorResponse('QUERY_INFO STATUS_BUFFER_TOO_SMALL (3.1.1 error context)', { command: C.QUERY_INFO, messageId: 9n, status: NtStatus.BUFFER_TOO_SMALL }, errorContextData(), 1),
    errorResponse('TREE_CONNECT STATUS_BAD_NETWORK_NAME', { command: C.TREE_CONNECT, messageId: 3n, status: NtStatus.BAD_NETWORK_NAME }),
    errorResponse('SESSION_SETUP STATUS_LOGON_FAILURE', { command: C.SESSION_SETUP, messageId: 2n, status: NtStatus.LOGON_FAILURE }),
    errorResponse('QUERY_DIRECTORY STATUS_NO_MORE_FILES', { command: C.QUERY_DIRECTORY, messageId: 7n, status: NtStatus.NO_MORE_FILES }),
    errorResponse('CHANGE_NOTIFY STATUS_CANCELLED', { command: C.CHANGE_NOTIFY, messageId: 8n, status: NtStatus.CANCELLED, asyncId: ASYNC_ID }),
  ];
  const interim = [interimResponse(C.CHANGE_NOTIFY, 8n), interimResponse(C.CREATE, 4n)];
  const compounds = [
    compound('compound CREATE + QUERY_INFO', [createResponse(14n, false), outputResponse('QUERY_INFO', { command: C.QUERY_INFO, messageId: 15n, related: true }, basic)]),
    compound('compound CREATE + CHANGE_NOTIFY interim', [createResponse(16n, true), interimResponse(C.CHANGE_NOTIFY, 17n, true)]),
    compound('compound CREATE + QUERY_INFO + CLOSE', [
      createResponse(18n, false),
      outputResponse('QUERY_INFO', { command: C.QUERY_INFO, messageId: 19n, related: true }, standard),
      closeResponse(20n, true),
    ]),
  ];
  const messages = [
    ...negotiate, ...sessionSetup, ...treeConnect, ...create, ...close, ...queryDirectory, ...changeNotify, ...queryInfo,
    ...ioctl, ...empty, ...errors, ...interim, ...compounds, oplockBreak(),
  ];

  const transforms: Corpus['transforms'] = [];
  for (const cipher of Object.keys(CIPHER_KEYS) as CipherName[]) {
    for (const [i, plain] of [empty[0]!, compounds[0]!, changeNotify[0]!].entries()) {
      transforms.push({ seed: encryptedSeed(cipher, plain, i + 1), cipher, key: CIPHER_KEYS[cipher].decryptionKey });
    }
  }
  transforms.push(
    { seed: { name: 'Windows capture: AES-128-GCM READ response', bytes: ENCRYPTION_GCM.readResponseTransformed, fields: TRANSFORM_FIELDS }, cipher: 'AES-128-GCM', key: ENCRYPTION_GCM.decryptionKey },
    { seed: { name: 'Windows capture: AES-128-CCM READ response', bytes: ENCRYPTION_CCM.readResponseTransformed, fields: TRANSFORM_FIELDS }, cipher: 'AES-128-CCM', key: ENCRYPTION_CCM.decryptionKey },
  );

  const corpus: Corpus = {
    negotiate, sessionSetup, treeConnect, create, close, queryDirectory, changeNotify, queryInfo, ioctl, empty, errors, interim, compounds,
    messages,
    transforms,
    directoryBuffers: [dir],
    notifyBuffers: [notify, { name: 'FILE_NOTIFY_INFORMATION single', bytes: encodeFileNotifyInformation([{ action: FileAction.ADDED, fileName: 'a' }]), fields: [{ at: 0, size: 4, name: 'NextEntryOffset' }, { at: 8, size: 4, name: 'FileNameLength' }] }],
    basicInfo: [basic],
    standardInfo: [standard],
    validateNegotiate: [validateNegotiateBuffer()],
    challenges: ntlm.challenges,
    targetInfos: ntlm.targetInfos,
    spnego: spnegoSeeds(),
    pool: [],
  };
  corpus.pool = [
    ...messages, ...transforms.map((t) => t.seed), ...corpus.directoryBuffers, ...corpus.notifyBuffers, ...corpus.basicInfo,
    ...corpus.standardInfo, ...corpus.validateNegotiate, ...corpus.challenges, ...corpus.targetInfos, ...corpus.spnego,
  ];
  return corpus;
}

// ---------------------------------------------------------------------------------------------
// Receive-path scenarios

export type ScenarioSecurity = { kind: 'sign' } | { kind: 'encrypt'; cipher: CipherName };

/** One frame the server sends: an SMB2 message or chain, encrypted when the scenario says so. */
export interface ScenarioFrame {
  /** The plaintext message or chain (mutated before encryption to reach the decrypted path). */
  plain: Seed;
  encrypt: boolean;
}

export interface Scenario {
  name: string;
  /** Commands the client sends first, in order; their MessageIds are 0, 1, 2, ... */
  requests: number[];
  frames: ScenarioFrame[];
  security?: ScenarioSecurity;
}

export function receiveScenarios(): Scenario[] {
  const C = Command;
  const plain = (...seeds: Seed[]): ScenarioFrame[] => seeds.map((s) => ({ plain: s, encrypt: false }));
  const ntlm = ntlmSeeds();
  const dir = directoryBuffer();
  const notify = notifyBuffer();
  const basic = basicInfoBuffer();
  const standard = standardInfoBuffer();
  const scenarios: Scenario[] = [
    { name: 'NEGOTIATE 3.1.1', requests: [C.NEGOTIATE], frames: plain(negotiateResponse(Dialect.SMB3_1_1, 0n)) },
    { name: 'NEGOTIATE 3.0.2', requests: [C.NEGOTIATE], frames: plain(negotiateResponse(Dialect.SMB3_0_2, 0n)) },
    { name: 'NEGOTIATE (Windows capture, MessageId 1)', requests: [C.ECHO, C.NEGOTIATE], frames: plain(capture('NEGOTIATE', ANATOMY.negotiateResponse, SECBUF_AT.negotiateResponse)) },
    { name: 'SESSION_SETUP challenge', requests: [C.SESSION_SETUP], frames: plain(sessionSetupChallenge(0n)) },
    { name: 'SESSION_SETUP challenge (MS-NLMP sample)', requests: [C.SESSION_SETUP], frames: plain(sessionSetupChallenge(0n, ntlm.challenges[0]!)) },
    { name: 'SESSION_SETUP final', requests: [C.SESSION_SETUP], frames: plain(sessionSetupFinal(0n)) },
    { name: 'SESSION_SETUP (Windows capture, MessageId 2)', requests: [C.ECHO, C.ECHO, C.SESSION_SETUP], frames: plain(capture('SESSION_SETUP', ANATOMY.sessionSetupResponse1, SECBUF_AT.sessionSetupResponse)) },
    { name: 'TREE_CONNECT', requests: [C.TREE_CONNECT], frames: plain(treeConnectResponse(0n)) },
    { name: 'TREE_CONNECT error', requests: [C.TREE_CONNECT], frames: plain(errorResponse('TREE_CONNECT error', { command: C.TREE_CONNECT, messageId: 0n, status: NtStatus.BAD_NETWORK_NAME })) },
    { name: 'CREATE with contexts', requests: [C.CREATE], frames: plain(createResponse(0n, true)) },
    { name: 'CREATE symlink error', requests: [C.CREATE], frames: plain(errorResponse('CREATE symlink', { command: C.CREATE, messageId: 0n, status: NtStatus.STOPPED_ON_SYMLINK }, symlinkErrorData())) },
    { name: 'CLOSE', requests: [C.CLOSE], frames: plain(closeResponse(0n)) },
    { name: 'QUERY_DIRECTORY', requests: [C.QUERY_DIRECTORY], frames: plain(outputResponse('QUERY_DIRECTORY', { command: C.QUERY_DIRECTORY, messageId: 0n }, dir)) },
    {
      name: 'CHANGE_NOTIFY interim then final',
      requests: [C.CHANGE_NOTIFY],
      frames: plain(interimResponse(C.CHANGE_NOTIFY, 0n), outputResponse('CHANGE_NOTIFY', { command: C.CHANGE_NOTIFY, messageId: 0n, asyncId: ASYNC_ID }, notify)),
    },
    {
      name: 'CHANGE_NOTIFY enum dir',
      requests: [C.CHANGE_NOTIFY],
      frames: plain(outputResponse('CHANGE_NOTIFY enum dir', { command: C.CHANGE_NOTIFY, messageId: 0n, asyncId: ASYNC_ID, status: NtStatus.NOTIFY_ENUM_DIR }, null)),
    },
    {
      name: 'QUERY_INFO x2',
      requests: [C.QUERY_INFO, C.QUERY_INFO],
      frames: plain(
        outputResponse('QUERY_INFO basic', { command: C.QUERY_INFO, messageId: 0n }, basic),
        outputResponse('QUERY_INFO standard', { command: C.QUERY_INFO, messageId: 1n }, standard),
      ),
    },
    { name: 'IOCTL', requests: [C.IOCTL], frames: plain(ioctlResponse(0n)) },
    { name: 'ECHO', requests: [C.ECHO], frames: plain(emptyResponse(C.ECHO, 0n, 'ECHO')) },
    {
      name: 'compound CREATE + QUERY_INFO',
      requests: [C.CREATE, C.QUERY_INFO],
      frames: plain(compound('CREATE + QUERY_INFO', [createResponse(0n, false), outputResponse('QUERY_INFO', { command: C.QUERY_INFO, messageId: 1n, related: true }, basic)])),
    },
    {
      name: 'compound CREATE + CHANGE_NOTIFY interim, then final',
      requests: [C.CREATE, C.CHANGE_NOTIFY],
      frames: plain(
        compound('CREATE + CHANGE_NOTIFY interim', [createResponse(0n, true), interimResponse(C.CHANGE_NOTIFY, 1n, true)]),
        outputResponse('CHANGE_NOTIFY', { command: C.CHANGE_NOTIFY, messageId: 1n, asyncId: ASYNC_ID }, notify),
      ),
    },
    { name: 'oplock break then ECHO', requests: [C.ECHO], frames: plain(oplockBreak(), emptyResponse(C.ECHO, 0n, 'ECHO')) },
    {
      name: 'signed QUERY_INFO',
      requests: [C.QUERY_INFO],
      frames: plain(signed(outputResponse('QUERY_INFO basic', { command: C.QUERY_INFO, messageId: 0n }, basic))),
      security: { kind: 'sign' },
    },
    {
      name: 'signed CHANGE_NOTIFY: unsigned interim, signed final',
      requests: [C.CHANGE_NOTIFY],
      frames: plain(interimResponse(C.CHANGE_NOTIFY, 0n), signed(outputResponse('CHANGE_NOTIFY', { command: C.CHANGE_NOTIFY, messageId: 0n, asyncId: ASYNC_ID }, notify))),
      security: { kind: 'sign' },
    },
    {
      name: 'signed compound CREATE + QUERY_INFO',
      requests: [C.CREATE, C.QUERY_INFO],
      frames: plain(signed(compound('CREATE + QUERY_INFO', [createResponse(0n, false), outputResponse('QUERY_INFO', { command: C.QUERY_INFO, messageId: 1n, related: true }, standard)]))),
      security: { kind: 'sign' },
    },
    {
      name: 'encrypted ECHO (AES-128-GCM)',
      requests: [C.ECHO],
      frames: [{ plain: emptyResponse(C.ECHO, 0n, 'ECHO'), encrypt: true }],
      security: { kind: 'encrypt', cipher: 'AES-128-GCM' },
    },
    {
      name: 'encrypted compound (AES-128-CCM)',
      requests: [C.CREATE, C.QUERY_INFO],
      frames: [{ plain: compound('CREATE + QUERY_INFO', [createResponse(0n, true), outputResponse('QUERY_INFO', { command: C.QUERY_INFO, messageId: 1n, related: true }, basic)]), encrypt: true }],
      security: { kind: 'encrypt', cipher: 'AES-128-CCM' },
    },
    {
      name: 'encrypted CHANGE_NOTIFY (AES-256-GCM): plain interim, encrypted final',
      requests: [C.CHANGE_NOTIFY],
      frames: [
        { plain: interimResponse(C.CHANGE_NOTIFY, 0n), encrypt: false },
        { plain: outputResponse('CHANGE_NOTIFY', { command: C.CHANGE_NOTIFY, messageId: 0n, asyncId: ASYNC_ID }, notify), encrypt: true },
      ],
      security: { kind: 'encrypt', cipher: 'AES-256-GCM' },
    },
  ];
  return scenarios;
}
