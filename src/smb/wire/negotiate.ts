/**
 * NEGOTIATE request and response (MS-SMB2 2.2.3, 2.2.4) with the SMB 3.1.1 negotiate contexts
 * this client speaks (2.2.3.1.1 pre-auth integrity, 2.2.3.1.2 encryption, 2.2.3.1.7 signing).
 */
import { ProtocolError } from '../errors.js';
import { Reader, Writer, slice } from './buffer.js';
import { HEADER_SIZE, bodyOf } from './header.js';

export const Dialect = {
  SMB2_0_2: 0x0202,
  SMB2_1: 0x0210,
  SMB3_0: 0x0300,
  SMB3_0_2: 0x0302,
  SMB3_1_1: 0x0311,
  /** "SMB2 wildcard" answer to a multi-protocol SMB1 negotiate; never valid for us. */
  WILDCARD: 0x02ff,
} as const;

export const SecurityMode = { SIGNING_ENABLED: 0x0001, SIGNING_REQUIRED: 0x0002 } as const;

/** MS-SMB2 2.2.3 Capabilities. */
export const GlobalCapability = {
  DFS: 0x00000001,
  LEASING: 0x00000002,
  LARGE_MTU: 0x00000004,
  MULTI_CHANNEL: 0x00000008,
  PERSISTENT_HANDLES: 0x00000010,
  DIRECTORY_LEASING: 0x00000020,
  ENCRYPTION: 0x00000040,
  NOTIFICATIONS: 0x00000080,
} as const;

export const ContextType = {
  PREAUTH_INTEGRITY: 0x0001,
  ENCRYPTION: 0x0002,
  COMPRESSION: 0x0003,
  NETNAME: 0x0005,
  TRANSPORT: 0x0006,
  RDMA_TRANSFORM: 0x0007,
  SIGNING: 0x0008,
} as const;

export const HashAlgorithm = { SHA_512: 0x0001 } as const;
/** MS-SMB2 2.2.3.1.7 SigningAlgorithms. */
export const SigningId = { HMAC_SHA256: 0x0000, AES_CMAC: 0x0001, AES_GMAC: 0x0002 } as const;

export interface NegotiateRequest {
  dialects: number[];
  securityMode: number;
  capabilities: number;
  clientGuid: Buffer;
  /** Only sent when 3.1.1 is offered. */
  preauthSalt?: Buffer;
  ciphers?: number[];
  signingAlgorithms?: number[];
}

export function encodeNegotiateRequest(req: NegotiateRequest): Buffer {
  const has311 = req.dialects.includes(Dialect.SMB3_1_1);
  const w = new Writer(256);
  w.u16(36).u16(req.dialects.length).u16(req.securityMode).u16(0).u32(req.capabilities).bytes(req.clientGuid);
  const contextOffsetAt = w.length;
  w.u32(0).u16(0).u16(0); // NegotiateContextOffset/Count/Reserved2, or ClientStartTime (zero) before 3.1.1
  for (const d of req.dialects) w.u16(d);
  if (has311) {
    const contexts: Array<[number, Buffer]> = [];
    const salt = req.preauthSalt ?? Buffer.alloc(32);
    contexts.push([ContextType.PREAUTH_INTEGRITY, new Writer(40).u16(1).u16(salt.length).u16(HashAlgorithm.SHA_512).bytes(salt).toBuffer()]);
    if (req.ciphers?.length) {
      const c = new Writer(16).u16(req.ciphers.length);
      for (const id of req.ciphers) c.u16(id);
      contexts.push([ContextType.ENCRYPTION, c.toBuffer()]);
    }
    if (req.signingAlgorithms?.length) {
      const s = new Writer(16).u16(req.signingAlgorithms.length);
      for (const id of req.signingAlgorithms) s.u16(id);
      contexts.push([ContextType.SIGNING, s.toBuffer()]);
    }
    // Contexts start 8-byte aligned relative to the header (MS-SMB2 2.2.3).
    w.align(8);
    w.patchU32(contextOffsetAt, HEADER_SIZE + w.length);
    w.patchU16(contextOffsetAt + 4, contexts.length);
    contexts.forEach(([type, data], i) => {
      w.u16(type).u16(data.length).u32(0).bytes(data);
      if (i < contexts.length - 1) w.align(8);
    });
  }
  return w.toBuffer();
}

export interface NegotiateResponse {
  securityMode: number;
  dialect: number;
  serverGuid: Buffer;
  capabilities: number;
  maxTransactSize: number;
  maxReadSize: number;
  maxWriteSize: number;
  systemTime: bigint;
  serverStartTime: bigint;
  securityBuffer: Buffer;
  preauthHashAlgorithm?: number;
  cipher?: number;
  signingAlgorithm?: number;
  /** Context types we did not ask about, kept for diagnostics. */
  otherContexts: number[];
}

export function decodeNegotiateResponse(msg: Buffer): NegotiateResponse {
  const body = bodyOf(msg, 65, 'NEGOTIATE response');
  const r = new Reader(body, 2);
  const securityMode = r.u16();
  const dialect = r.u16();
  const contextCount = r.u16();
  const serverGuid = r.bytes(16);
  const capabilities = r.u32();
  const maxTransactSize = r.u32();
  const maxReadSize = r.u32();
  const maxWriteSize = r.u32();
  const systemTime = r.u64();
  const serverStartTime = r.u64();
  const securityBufferOffset = r.u16();
  const securityBufferLength = r.u16();
  const contextOffset = r.u32();
  const securityBuffer = slice(msg, securityBufferOffset, securityBufferLength, 'NEGOTIATE security buffer', HEADER_SIZE);
  const res: NegotiateResponse = {
    securityMode, dialect, serverGuid, capabilities, maxTransactSize, maxReadSize, maxWriteSize,
    systemTime, serverStartTime, securityBuffer, otherContexts: [],
  };
  if (dialect === Dialect.SMB3_1_1) decodeContexts(msg, contextOffset, contextCount, res);
  return res;
}

function decodeContexts(msg: Buffer, offset: number, count: number, res: NegotiateResponse): void {
  if (offset < HEADER_SIZE || offset > msg.length) throw new ProtocolError(`negotiate context offset ${offset} out of bounds`);
  const r = new Reader(msg, offset);
  for (let i = 0; i < count; i++) {
    // Each context after the first starts 8-byte aligned (MS-SMB2 2.2.4).
    if (i > 0) r.skip((8 - (r.offset % 8)) % 8, 'negotiate context padding');
    const type = r.u16('context type');
    const length = r.u16('context length');
    r.skip(4, 'context reserved');
    const data = new Reader(r.bytes(length, 'negotiate context data'));
    switch (type) {
      case ContextType.PREAUTH_INTEGRITY: {
        const hashCount = data.u16();
        data.u16(); // SaltLength
        if (hashCount !== 1) throw new ProtocolError(`server chose ${hashCount} pre-auth hash algorithms, must choose one`);
        res.preauthHashAlgorithm = data.u16();
        break;
      }
      case ContextType.ENCRYPTION: {
        const n = data.u16();
        if (n !== 1) throw new ProtocolError(`server chose ${n} ciphers, must choose one`);
        res.cipher = data.u16();
        break;
      }
      case ContextType.SIGNING: {
        const n = data.u16();
        if (n !== 1) throw new ProtocolError(`server chose ${n} signing algorithms, must choose one`);
        res.signingAlgorithm = data.u16();
        break;
      }
      default:
        res.otherContexts.push(type);
    }
  }
}
