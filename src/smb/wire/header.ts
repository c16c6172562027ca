/**
 * The 64-byte SMB2 packet header (MS-SMB2 2.2.1) and the constants every message shares.
 * Pure: encode and decode only.
 */
import { ProtocolError } from '../errors.js';

export const HEADER_SIZE = 64;
/** 0xFE 'S' 'M' 'B' read as a little-endian u32. */
export const SMB2_PROTOCOL_ID = 0x424d53fe;

export const Command = {
  NEGOTIATE: 0x0000,
  SESSION_SETUP: 0x0001,
  LOGOFF: 0x0002,
  TREE_CONNECT: 0x0003,
  TREE_DISCONNECT: 0x0004,
  CREATE: 0x0005,
  CLOSE: 0x0006,
  FLUSH: 0x0007,
  READ: 0x0008,
  WRITE: 0x0009,
  LOCK: 0x000a,
  IOCTL: 0x000b,
  CANCEL: 0x000c,
  ECHO: 0x000d,
  QUERY_DIRECTORY: 0x000e,
  CHANGE_NOTIFY: 0x000f,
  QUERY_INFO: 0x0010,
  SET_INFO: 0x0011,
  OPLOCK_BREAK: 0x0012,
} as const;

const commandNames = new Map<number, string>(Object.entries(Command).map(([k, v]) => [v, k]));
export function commandName(command: number): string {
  return commandNames.get(command) ?? `COMMAND_0x${command.toString(16)}`;
}

/** MS-SMB2 2.2.1.2 Flags. */
export const HeaderFlag = {
  SERVER_TO_REDIR: 0x00000001,
  ASYNC_COMMAND: 0x00000002,
  RELATED_OPERATIONS: 0x00000004,
  SIGNED: 0x00000008,
  DFS_OPERATIONS: 0x10000000,
  REPLAY_OPERATION: 0x20000000,
} as const;

export interface Header {
  creditCharge: number;
  /** NTSTATUS in responses; ChannelSequence/Reserved in requests. */
  status: number;
  command: number;
  /** CreditRequest in requests, CreditResponse in responses. */
  credits: number;
  flags: number;
  nextCommand: number;
  messageId: bigint;
  /** Set when SMB2_FLAGS_ASYNC_COMMAND is set (MS-SMB2 2.2.1.1). */
  asyncId: bigint;
  /** Set for the sync form (MS-SMB2 2.2.1.2). */
  treeId: number;
  sessionId: bigint;
  signature: Buffer;
}

export function encodeHeader(h: Partial<Header> & { command: number; messageId: bigint }): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  b.writeUInt32LE(SMB2_PROTOCOL_ID, 0);
  b.writeUInt16LE(HEADER_SIZE, 4);
  b.writeUInt16LE(h.creditCharge ?? 0, 6);
  b.writeUInt32LE((h.status ?? 0) >>> 0, 8);
  b.writeUInt16LE(h.command, 12);
  b.writeUInt16LE(h.credits ?? 0, 14);
  const flags = h.flags ?? 0;
  b.writeUInt32LE(flags >>> 0, 16);
  b.writeUInt32LE(h.nextCommand ?? 0, 20);
  b.writeBigUInt64LE(BigInt.asUintN(64, h.messageId), 24);
  if (flags & HeaderFlag.ASYNC_COMMAND) {
    b.writeBigUInt64LE(BigInt.asUintN(64, h.asyncId ?? 0n), 32);
  } else {
    b.writeUInt32LE((h.treeId ?? 0) >>> 0, 36);
  }
  b.writeBigUInt64LE(BigInt.asUintN(64, h.sessionId ?? 0n), 40);
  if (h.signature) h.signature.copy(b, 48, 0, 16);
  return b;
}

export function decodeHeader(msg: Buffer): Header {
  if (msg.length < HEADER_SIZE) throw new ProtocolError(`SMB2 message of ${msg.length} bytes is shorter than its header`);
  const protocolId = msg.readUInt32LE(0);
  if (protocolId !== SMB2_PROTOCOL_ID) {
    throw new ProtocolError(`not an SMB2 message (protocol id 0x${protocolId.toString(16)})`);
  }
  if (msg.readUInt16LE(4) !== HEADER_SIZE) throw new ProtocolError('SMB2 header StructureSize is not 64');
  const flags = msg.readUInt32LE(16);
  const isAsync = (flags & HeaderFlag.ASYNC_COMMAND) !== 0;
  return {
    creditCharge: msg.readUInt16LE(6),
    status: msg.readUInt32LE(8),
    command: msg.readUInt16LE(12),
    credits: msg.readUInt16LE(14),
    flags,
    nextCommand: msg.readUInt32LE(20),
    messageId: msg.readBigUInt64LE(24),
    asyncId: isAsync ? msg.readBigUInt64LE(32) : 0n,
    treeId: isAsync ? 0 : msg.readUInt32LE(36),
    sessionId: msg.readBigUInt64LE(40),
    signature: msg.subarray(48, 64),
  };
}

/**
 * Split a (possibly compounded) chain of SMB2 messages (MS-SMB2 3.2.5.1.9: NextCommand is the
 * offset from this header to the next, 8-byte aligned, 0 for the last). Each returned slice is one
 * message including its padding, which is what its signature covers (MS-SMB2 3.1.4.1).
 */
export function splitCompound(chain: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let at = 0;
  for (;;) {
    const rest = chain.subarray(at);
    const header = decodeHeader(rest);
    if (header.nextCommand === 0) {
      messages.push(rest);
      return messages;
    }
    if (header.nextCommand % 8 !== 0 || header.nextCommand < HEADER_SIZE || header.nextCommand > rest.length) {
      throw new ProtocolError(`bad NextCommand ${header.nextCommand} in a compound of ${rest.length} bytes`);
    }
    messages.push(rest.subarray(0, header.nextCommand));
    at += header.nextCommand;
    if (messages.length > 64) throw new ProtocolError('compound response with more than 64 messages');
  }
}

/** The body (bytes after the header) and its StructureSize check (MS-SMB2 2.2). */
export function bodyOf(msg: Buffer, structureSize: number, what: string): Buffer {
  const body = msg.subarray(HEADER_SIZE);
  if (body.length < 2) throw new ProtocolError(`${what}: empty body`);
  const size = body.readUInt16LE(0);
  if (size !== structureSize) throw new ProtocolError(`${what}: StructureSize ${size}, expected ${structureSize}`);
  // Variable-length structures count one byte of their buffer in StructureSize (MS-SMB2 2.2).
  const fixed = structureSize & ~1;
  if (body.length < fixed) throw new ProtocolError(`${what}: body of ${body.length} bytes, need ${fixed}`);
  return body;
}
