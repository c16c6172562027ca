/**
 * NEGOTIATE (MS-SMB2 3.2.4.2.2.2, 3.2.5.2): offer the dialects the user allows, with the 3.1.1
 * contexts for pre-auth integrity, every cipher and every signing algorithm, and pick what the
 * server chose.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConnectionError, ProtocolError, SmbError } from './errors.js';
import type { Connection, Response } from './connection.js';
import { CipherId, cipherById, type CipherName } from './crypto/encryption.js';
import type { SigningAlgorithm } from './crypto/signing.js';
import { Command } from './wire/header.js';
import {
  Dialect, GlobalCapability, HashAlgorithm, SecurityMode, SigningId,
  decodeNegotiateResponse, encodeNegotiateRequest, type NegotiateResponse,
} from './wire/negotiate.js';
import { NtStatus } from './wire/ntstatus.js';
import type { DialectName } from './types.js';

export const DIALECTS: ReadonlyArray<[DialectName, number]> = [
  ['2.0.2', Dialect.SMB2_0_2],
  ['2.1', Dialect.SMB2_1],
  ['3.0', Dialect.SMB3_0],
  ['3.0.2', Dialect.SMB3_0_2],
  ['3.1.1', Dialect.SMB3_1_1],
];

export function dialectName(code: number): DialectName {
  const found = DIALECTS.find(([, c]) => c === code);
  if (!found) throw new ProtocolError(`server chose unknown dialect 0x${code.toString(16)}`);
  return found[0];
}

/** Ciphers in the order Windows offers them: the 128-bit GCM first for speed. */
const OFFERED_CIPHERS: CipherName[] = ['AES-128-GCM', 'AES-128-CCM', 'AES-256-GCM', 'AES-256-CCM'];
const OFFERED_SIGNING: SigningAlgorithm[] = ['AES-128-GMAC', 'AES-128-CMAC', 'HMAC-SHA256'];
const SIGNING_IDS: Record<SigningAlgorithm, number> = {
  'HMAC-SHA256': SigningId.HMAC_SHA256,
  'AES-128-CMAC': SigningId.AES_CMAC,
  'AES-128-GMAC': SigningId.AES_GMAC,
};

export interface NegotiateOptions {
  minDialect?: DialectName;
  maxDialect?: DialectName;
  ciphers?: CipherName[];
  signingAlgorithms?: SigningAlgorithm[];
}

/** How a connection closed by the server fails a request waiting for its answer. */
const CLOSED: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export const CLIENT_CAPABILITIES = GlobalCapability.LARGE_MTU | GlobalCapability.ENCRYPTION;

export interface Negotiated {
  dialect: number;
  dialectName: DialectName;
  offeredDialects: number[];
  clientGuid: Buffer;
  clientSecurityMode: number;
  response: NegotiateResponse;
  signingRequired: boolean;
  signingAlgorithm: SigningAlgorithm;
  cipher: CipherName | null;
  /** SHA-512 over negotiate request and response (MS-SMB2 3.2.5.2); null before 3.1.1. */
  preauthHash: Buffer | null;
}

export function preauthUpdate(hash: Buffer, message: Buffer): Buffer {
  return createHash('sha512').update(hash).update(message).digest();
}

export async function negotiate(conn: Connection, opts: NegotiateOptions = {}): Promise<Negotiated> {
  const minDialect = opts.minDialect ?? '2.0.2';
  const maxDialect = opts.maxDialect ?? '3.1.1';
  const lo = DIALECTS.findIndex(([n]) => n === minDialect);
  const hi = DIALECTS.findIndex(([n]) => n === maxDialect);
  if (lo < 0 || hi < 0 || lo > hi) throw new RangeError(`bad dialect range ${minDialect}..${maxDialect}`);
  const offeredDialects = DIALECTS.slice(lo, hi + 1).map(([, c]) => c);
  const clientGuid = randomBytes(16);
  const clientSecurityMode = SecurityMode.SIGNING_ENABLED;
  const body = encodeNegotiateRequest({
    dialects: offeredDialects,
    securityMode: clientSecurityMode,
    capabilities: CLIENT_CAPABILITIES,
    clientGuid,
    preauthSalt: randomBytes(32),
    ciphers: (opts.ciphers ?? OFFERED_CIPHERS).map((c) => CipherId[c]),
    signingAlgorithms: (opts.signingAlgorithms ?? OFFERED_SIGNING).map((a) => SIGNING_IDS[a]),
  });
  const range = minDialect === maxDialect ? `SMB ${minDialect}` : `SMB ${minDialect} to ${maxDialect}`;
  let res: Response;
  try {
    res = await conn.send({ command: Command.NEGOTIATE, body }).response;
  } catch (err) {
    // Closed without an answer: what a server that speaks only SMB1 does with an SMB2 NEGOTIATE
    // (Samba with `server max protocol = NT1`, old NAS boxes), where "reset by the server" alone
    // says nothing of the cause.
    if (err instanceof ConnectionError && CLOSED.has(err.code ?? '')) {
      throw new ConnectionError(`the server closed the connection when offered ${range}, without an answer: it may speak only SMB1 (NT1), which smbnotify does not`, 'NEGOTIATE_CLOSED');
    }
    throw err;
  }
  if (res.header.status === NtStatus.NOT_SUPPORTED) {
    // MS-SMB2 3.3.5.4: the server found no common dialect in the list we offered.
    throw new SmbError(res.header.status, 'NEGOTIATE', `the server accepts none of the dialects offered (${range})`);
  }
  if (res.header.status !== NtStatus.SUCCESS) throw new SmbError(res.header.status, 'NEGOTIATE');
  const response = conn.decode(() => decodeNegotiateResponse(res.message));
  const dialect = response.dialect;
  if (!offeredDialects.includes(dialect)) {
    throw conn.abort(new ProtocolError(`server chose dialect 0x${dialect.toString(16)}, which was not offered`));
  }
  const name = dialectName(dialect);
  conn.credits.multiCredit = dialect !== Dialect.SMB2_0_2 && (response.capabilities & GlobalCapability.LARGE_MTU) !== 0;
  conn.maxMessageSize = Math.max(65536, Math.min(response.maxTransactSize, 8 * 1024 * 1024)) + 1024;

  let preauthHash: Buffer | null = null;
  let cipher: CipherName | null = null;
  let signingAlgorithm: SigningAlgorithm = dialect >= Dialect.SMB3_0 ? 'AES-128-CMAC' : 'HMAC-SHA256';
  if (dialect === Dialect.SMB3_1_1) {
    if (response.preauthHashAlgorithm !== HashAlgorithm.SHA_512) {
      throw conn.abort(new ProtocolError('3.1.1 server did not choose SHA-512 pre-auth integrity'));
    }
    preauthHash = preauthUpdate(preauthUpdate(Buffer.alloc(64), res.request), res.message);
    if (response.cipher !== undefined && response.cipher !== 0) {
      cipher = cipherById(response.cipher) ?? null;
      if (!cipher) {
        throw conn.abort(new ProtocolError(`server chose cipher ${response.cipher}, which was not offered`));
      }
    }
    if (response.signingAlgorithm !== undefined) signingAlgorithm = signingById(conn, response.signingAlgorithm);
  } else if (dialect >= Dialect.SMB3_0 && response.capabilities & GlobalCapability.ENCRYPTION) {
    cipher = 'AES-128-CCM'; // MS-SMB2 3.2.5.2: 3.0 and 3.0.2 know only AES-128-CCM
  }
  return {
    dialect, dialectName: name, offeredDialects, clientGuid, clientSecurityMode, response,
    signingRequired: (response.securityMode & SecurityMode.SIGNING_REQUIRED) !== 0,
    signingAlgorithm, cipher, preauthHash,
  };
}

function signingById(conn: Connection, id: number): SigningAlgorithm {
  switch (id) {
    case SigningId.HMAC_SHA256: return 'HMAC-SHA256';
    case SigningId.AES_CMAC: return 'AES-128-CMAC';
    case SigningId.AES_GMAC: return 'AES-128-GMAC';
    default:
      throw conn.abort(new ProtocolError(`server chose signing algorithm ${id}, which was not offered`));
  }
}

