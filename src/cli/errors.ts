/**
 * Errors of the command line and their one-line descriptions.
 *
 * Every failure the user sees is ONE line on stderr (`smbnotify: <describeError>`): no stack, no
 * multi-line dumps, no control characters from a hostile server, and never a password.
 */
import { UsageError } from '../config/errors.js';
import { ConnectionError, ProtocolError, SecurityError, SmbError } from '../smb/errors.js';
import { BusUnavailable } from '../sinks/bus-errors.js';

export { UsageError };

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

/** Wraps a failure with the context it happened in; describeError unwraps it. */
export class CommandFailed extends Error {
  readonly original: unknown;
  readonly context: ErrorContext;
  constructor(original: unknown, context: ErrorContext) {
    super(original instanceof Error ? original.message : String(original));
    this.name = 'CommandFailed';
    this.original = original;
    this.context = context;
  }
}

/** Make any text safe for one terminal line: newlines folded, control characters escaped. */
export function oneLine(text: string): string {
  const folded = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  // eslint-disable-next-line no-control-regex
  return folded.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code === 0x09) return '\\t';
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
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
  const s = err.statusName;
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
 * ONE line (no trailing newline, no stack) telling the user what went wrong, naming the host,
 * share or path from `context` where that helps.
 */
export function describeError(err: unknown, context: ErrorContext = {}): string {
  let ctx = context;
  let e = err;
  while (e instanceof CommandFailed) {
    ctx = { ...e.context, ...ctx };
    e = e.original;
  }
  let line: string;
  if (e instanceof UsageError || e instanceof SecurityError || e instanceof BusUnavailable) {
    line = e.message;
  } else if (e instanceof SmbError) {
    line = describeSmbError(e, ctx);
  } else if (e instanceof ConnectionError) {
    line = describeConnectionError(e.code, e.message, ctx);
  } else if (e instanceof ProtocolError) {
    line = `server sent a malformed message: ${e.message}`;
  } else if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string'
    && NETWORK_CODES.has((e as NodeJS.ErrnoException).code as string)) {
    // A raw socket error that escaped the SMB layer.
    line = describeConnectionError((e as NodeJS.ErrnoException).code, e.message, ctx);
  } else if (e instanceof Error) {
    line = `internal error: ${e.message || e.name}`;
  } else {
    line = `internal error: ${String(e)}`;
  }
  return oneLine(line);
}

/**
 * Replace every secret (passwords) in a line by `***`, and the password part of any
 * `smb://user:password@` URL. Belt and braces: messages are built not to contain passwords.
 */
export function redact(line: string, secrets: Iterable<string> = []): string {
  let out = line.replace(/(smb:\/\/[^\s/@:'"]*:)[^\s'"]*@/gi, '$1***@');
  const list = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  for (const s of list) out = out.split(s).join('***');
  return out;
}
