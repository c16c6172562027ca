/**
 * The words a user reads for an SMB or connection failure, the same from the command line and
 * from the daemon's D-Bus API: "share not found: \\HOST\SHARE", "logon failed: wrong user name or
 * password", "cannot connect to HOST:PORT: connection refused". Pure: no I/O.
 */
import { ConnectionError, ProtocolError, SmbError } from './errors.js';

/** What a failing command was working on, to name it in the message. */
export interface ErrorContext {
  host?: string;
  port?: number;
  share?: string;
  /** Share-relative path with '/' separators; '' is the share root. */
  path?: string;
  /** Command name (`ls`, `info`) for the generic fallback message. */
  command?: string;
}

/** `host:port`, with brackets around an IPv6 literal. */
export function hostPort(host: string | undefined, port: number | undefined): string {
  const h = host ?? '?';
  const shown = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
  return `${shown}:${port ?? 445}`;
}

/** `\\HOST\SHARE[\PATH]`, the UNC name everybody in SMB land reads. */
export function uncName(ctx: ErrorContext, withPath = true): string {
  let name = `\\\\${ctx.host ?? '?'}\\${ctx.share ?? '?'}`;
  if (withPath && ctx.path) name += `\\${ctx.path.replace(/\//g, '\\')}`;
  return name;
}

function pathName(ctx: ErrorContext): string {
  if (ctx.host !== undefined && ctx.share !== undefined) return uncName(ctx);
  return ctx.path ? ctx.path : '(share root)';
}

/** SmbError's detail for a failed Kerberos SESSION_SETUP (session.ts: the mechanism's name + ' authentication'). */
const KERBEROS_AUTHENTICATION = 'Kerberos authentication';

const LOGON_MESSAGES: Record<string, string> = {
  STATUS_LOGON_FAILURE: 'logon failed: wrong user name or password',
  STATUS_WRONG_PASSWORD: 'logon failed: wrong user name or password',
  STATUS_NO_SUCH_USER: 'logon failed: wrong user name or password',
  STATUS_ACCOUNT_DISABLED: 'logon failed: the account is disabled',
  STATUS_ACCOUNT_LOCKED_OUT: 'logon failed: the account is locked out',
  STATUS_PASSWORD_EXPIRED: 'logon failed: the password has expired',
  STATUS_ACCOUNT_RESTRICTION: 'logon failed: account restriction (empty password or logon hours?)',
  STATUS_INVALID_LOGON_HOURS: 'logon failed: not allowed to log on at this time',
};

function describeSmbError(err: SmbError, ctx: ErrorContext): string {
  const text = describeStatus(err, ctx);
  return err.triedFirst ? `${text}; ${err.triedFirst}` : text;
}

function describeStatus(err: SmbError, ctx: ErrorContext): string {
  const s = err.statusName;
  // The ticket was valid (libkrb5 made the AP-REQ) but the server could not take it: Samba says
  // STATUS_LOGON_FAILURE or STATUS_INVALID_PARAMETER, neither of which is about a password.
  if (err.command === 'SESSION_SETUP' && err.detail === KERBEROS_AUTHENTICATION) {
    return `the server refused the Kerberos logon: is it a member of the ticket's realm, known there as cifs/${ctx.host ?? 'HOST'}? (${s})`;
  }
  const logon = LOGON_MESSAGES[s];
  if (logon) return `${logon} (${s})`;
  switch (s) {
    case 'STATUS_BAD_NETWORK_NAME':
      return `share not found: ${uncName(ctx, false)} (${s})`;
    case 'STATUS_NETWORK_ACCESS_DENIED':
      return `access to share ${uncName(ctx, false)} denied (${s})`;
    case 'STATUS_OBJECT_NAME_NOT_FOUND':
    case 'STATUS_OBJECT_PATH_NOT_FOUND':
    case 'STATUS_NO_SUCH_FILE':
    case 'STATUS_NOT_FOUND':
      return `no such file or folder: ${pathName(ctx)} (${s})`;
    case 'STATUS_NOT_A_DIRECTORY':
      return `not a folder: ${pathName(ctx)} (${s})`;
    case 'STATUS_FILE_IS_A_DIRECTORY':
      return `is a folder: ${pathName(ctx)} (${s})`;
    case 'STATUS_ACCESS_DENIED':
      return `access denied: ${pathName(ctx)} (${s})`;
    case 'STATUS_OBJECT_NAME_INVALID':
    case 'STATUS_OBJECT_PATH_INVALID':
    case 'STATUS_OBJECT_PATH_SYNTAX_BAD':
      return `invalid file name: ${pathName(ctx)} (${s})`;
    case 'STATUS_PATH_NOT_COVERED':
      return `a DFS link to another share: ${pathName(ctx)} (smbnotify does not follow DFS referrals: name the share it leads to) (${s})`;
    case 'STATUS_SHARING_VIOLATION':
      return `file in use by another program: ${pathName(ctx)} (${s})`;
    case 'STATUS_DELETE_PENDING':
      return `file is being deleted: ${pathName(ctx)} (${s})`;
    case 'STATUS_NOT_SUPPORTED':
    case 'STATUS_NOT_IMPLEMENTED':
    case 'STATUS_INVALID_DEVICE_REQUEST':
      if (err.command === 'NEGOTIATE' && err.detail) {
        return `dialect mismatch: ${err.detail}; it may need a newer dialect than --max-protocol allows (${s})`;
      }
      return `the server does not support ${err.command || 'this request'} (${s})`;
    case 'STATUS_NETWORK_NAME_DELETED':
    case 'STATUS_USER_SESSION_DELETED':
    case 'STATUS_NETWORK_SESSION_EXPIRED':
      return `the server ended the session (${s})`;
    case 'STATUS_INSUFFICIENT_RESOURCES':
    case 'STATUS_REQUEST_NOT_ACCEPTED':
      return `the server is out of resources or connections (${s})`;
    case 'STATUS_IO_TIMEOUT':
      return `the server timed out (${s})`;
    default:
      // SmbError's own message: `<command> failed: STATUS_X (0x...)[: detail]`.
      return err.message;
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_NODATA', 'EAI_FAIL', 'ETIMEDOUT',
  'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'EHOSTDOWN', 'ENETDOWN',
]);

function describeConnectionError(code: string | undefined, message: string, ctx: ErrorContext): string {
  const where = hostPort(ctx.host, ctx.port);
  switch (code) {
    case 'ECONNREFUSED':
      return `cannot connect to ${where}: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
    case 'EAI_FAIL':
      return `unknown host ${ctx.host ?? '?'}`;
    case 'ETIMEDOUT':
    case 'TIMEOUT':
    case 'ETIMEOUT':
      // The connection layer's connect timeout names the host already: say it once.
      if (message.startsWith('cannot connect to ')) return message;
      return `timed out talking to ${where}${message ? `: ${message}` : ''}`;
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return `connection to ${where} was reset by the server`;
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return `cannot connect to ${where}: host unreachable`;
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return `cannot connect to ${where}: network unreachable`;
    default:
      return `connection to ${where} failed: ${message}`;
  }
}

/**
 * The one-line description of an SMB, connection or protocol failure, or undefined when `err` is
 * none of those (the caller describes it).
 */
export function describeSmbFailure(err: unknown, ctx: ErrorContext = {}): string | undefined {
  if (err instanceof SmbError) return describeSmbError(err, ctx);
  if (err instanceof ConnectionError) return describeConnectionError(err.code, err.message, ctx);
  if (err instanceof ProtocolError) return `server sent a malformed message: ${err.message}`;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  // A raw socket error that escaped the SMB layer.
  if (err instanceof Error && typeof code === 'string' && NETWORK_CODES.has(code)) return describeConnectionError(code, err.message, ctx);
  return undefined;
}
