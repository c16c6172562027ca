/**
 * FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.2.5.5): on 3.0 and 3.0.2, a signed IOCTL proves that
 * nobody tampered with the unsigned NEGOTIATE exchange. 3.1.1 gets that from pre-auth integrity.
 */
import { SecurityError } from './errors.js';
import type { Connection } from './connection.js';
import type { Negotiated } from './negotiate.js';
import type { SessionSecurity } from './security.js';
import { RELATED_FILE_ID } from './wire/create.js';
import { Command } from './wire/header.js';
import {
  FSCTL_VALIDATE_NEGOTIATE_INFO, decodeIoctlResponse, decodeValidateNegotiateResponse, encodeIoctlRequest,
  encodeValidateNegotiateRequest,
} from './wire/ioctl.js';
import { CLIENT_CAPABILITIES } from './negotiate.js';
import { Dialect } from './wire/negotiate.js';
import { NtStatus } from './wire/ntstatus.js';

export async function validateNegotiate(conn: Connection, neg: Negotiated, security: SessionSecurity, treeId: number): Promise<void> {
  if (neg.dialect !== Dialect.SMB3_0 && neg.dialect !== Dialect.SMB3_0_2) return;
  // Without a signing key the answer could be forged too, so there is nothing to gain.
  if (!security.signing) return;
  const input = encodeValidateNegotiateRequest({
    capabilities: CLIENT_CAPABILITIES,
    guid: neg.clientGuid,
    securityMode: neg.clientSecurityMode,
    dialects: neg.offeredDialects,
  });
  // The FileId of this FSCTL is all ones, the same bytes as the related-compound placeholder.
  const body = encodeIoctlRequest(FSCTL_VALIDATE_NEGOTIATE_INFO, RELATED_FILE_ID, input, 24);
  const res = await conn.send({ command: Command.IOCTL, body, treeId }).response;
  const status = res.header.status;
  // MS-SMB2 3.2.5.5: servers that do not implement it may answer these; the reply was signed.
  if (status === NtStatus.NOT_SUPPORTED || status === NtStatus.INVALID_DEVICE_REQUEST || status === NtStatus.FILE_CLOSED) return;
  if (status !== NtStatus.SUCCESS) throw conn.abort(new SecurityError(`validate negotiate failed with status 0x${status.toString(16)}: refusing the session`));
  const info = conn.decode(() => decodeValidateNegotiateResponse(decodeIoctlResponse(res.message).output));
  const r = neg.response;
  if (
    info.dialect !== neg.dialect ||
    info.securityMode !== r.securityMode ||
    info.capabilities !== r.capabilities ||
    !info.guid.equals(r.serverGuid)
  ) {
    throw conn.abort(new SecurityError('validate negotiate mismatch: the negotiation was tampered with; refusing the session'));
  }
}
