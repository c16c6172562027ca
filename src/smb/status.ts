/** Turning a response's NTSTATUS into a typed error. */
import type { Response } from './connection.js';
import { SmbError } from './errors.js';
import { NtStatus } from './wire/ntstatus.js';

/** Throw `SmbError` unless the status is SUCCESS or one of `also`. */
export function expectSuccess(res: Response, what: string, also: number[] = []): void {
  const status = res.header.status;
  if (status !== NtStatus.SUCCESS && !also.includes(status)) throw new SmbError(status, what);
}
