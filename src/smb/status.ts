/**
 * NTSTATUS classes, in one place: which failures mean "no such thing", "the server will not let
 * us", "no CHANGE_NOTIFY here", "this handle is gone" and "no retry can fix this"; and turning a
 * response's status into a typed error.
 */
import type { Response } from './connection.js';
import { SecurityError, SmbError } from './errors.js';
import { KerberosError, type KerberosFailure } from './auth/gssapi.js';
import { NtStatus } from './wire/ntstatus.js';

/** Throw `SmbError` unless the status is SUCCESS or one of `also`. */
export function expectSuccess(res: Response, what: string, also: number[] = []): void {
  const status = res.header.status;
  if (status !== NtStatus.SUCCESS && !also.includes(status)) throw new SmbError(status, what);
}

/** The server has no CHANGE_NOTIFY here (Samba with `change notify = no`, ksmbd). */
export const NOTIFY_UNSUPPORTED: ReadonlySet<number> = new Set([NtStatus.NOT_IMPLEMENTED, NtStatus.NOT_SUPPORTED, NtStatus.INVALID_DEVICE_REQUEST]);

/** A watched handle ended: its folder was deleted, or the handle, tree or session went away. */
export const HANDLE_GONE: ReadonlySet<number> = new Set([
  NtStatus.NOTIFY_CLEANUP, NtStatus.DELETE_PENDING, NtStatus.FILE_CLOSED, NtStatus.INVALID_HANDLE,
  NtStatus.USER_SESSION_DELETED, NtStatus.NETWORK_NAME_DELETED,
]);

/** The name does not exist (any more), or is not the kind of thing asked for. */
const MISSING: ReadonlySet<number> = new Set([
  NtStatus.OBJECT_NAME_NOT_FOUND, NtStatus.OBJECT_PATH_NOT_FOUND, NtStatus.NOT_A_DIRECTORY, NtStatus.DELETE_PENDING,
  NtStatus.NO_SUCH_FILE, NtStatus.FILE_IS_A_DIRECTORY,
]);

/**
 * The server refuses to open this name for us (no access, or a name it cannot take, such as one
 * with control characters that Samba lists but will not open, or a DFS link, which leads to
 * another share: MS-SMB2 3.3.5.9 answers STATUS_PATH_NOT_COVERED): no reconnect changes that.
 */
const REFUSED: ReadonlySet<number> = new Set([
  NtStatus.ACCESS_DENIED, NtStatus.OBJECT_NAME_INVALID, NtStatus.OBJECT_PATH_INVALID, NtStatus.OBJECT_PATH_SYNTAX_BAD,
  NtStatus.SHARING_VIOLATION, NtStatus.PATH_NOT_COVERED,
]);

/** The server will not open more files for this connection (Samba: `max open files`, RLIMIT_NOFILE). */
const SERVER_LIMIT: ReadonlySet<number> = new Set([NtStatus.TOO_MANY_OPENED_FILES, NtStatus.INSUFFICIENT_RESOURCES]);

/** Failures of logon or tree connect that the user must fix. */
const PERMANENT: ReadonlySet<number> = new Set([
  NtStatus.LOGON_FAILURE, NtStatus.ACCOUNT_DISABLED, NtStatus.ACCOUNT_LOCKED_OUT, NtStatus.BAD_NETWORK_NAME,
  NtStatus.ACCESS_DENIED, NtStatus.WRONG_PASSWORD, NtStatus.PASSWORD_EXPIRED,
]);

function statusIn(err: unknown, set: ReadonlySet<number>): boolean {
  return err instanceof SmbError && set.has(err.status);
}

export function isMissing(err: unknown): boolean {
  return statusIn(err, MISSING);
}

export function isRefused(err: unknown): boolean {
  return statusIn(err, REFUSED);
}

export function isServerLimit(err: unknown): boolean {
  return statusIn(err, SERVER_LIMIT);
}

export function isNotifyUnsupported(err: unknown): boolean {
  return statusIn(err, NOTIFY_UNSUPPORTED);
}

/** Kerberos failures that go away without changing the configuration: kinit, the network, NTP. */
const TRANSIENT_KERBEROS: ReadonlySet<KerberosFailure> = new Set(['no-ticket', 'expired', 'kdc-unreachable', 'clock-skew']);

/** Errors no retry can fix: the user must change something. */
export function isPermanent(err: unknown): boolean {
  if (err instanceof KerberosError) return !TRANSIENT_KERBEROS.has(err.reason);
  return err instanceof SecurityError || statusIn(err, PERMANENT);
}

/** The name is a DFS link: a referral to another share, which smbnotify does not follow. */
export function isDfsLink(err: unknown): boolean {
  return err instanceof SmbError && err.status === NtStatus.PATH_NOT_COVERED;
}

/** The name is a file where a folder was asked for. */
export function isNotADirectory(err: unknown): boolean {
  return err instanceof SmbError && err.status === NtStatus.NOT_A_DIRECTORY;
}
