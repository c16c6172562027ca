/**
 * TARGET parsing: where to connect and what to look at.
 *
 * Accepted forms:
 *   smb://[DOMAIN;]USER[:PASSWORD]@HOST[:PORT]/SHARE[/PATH]   (components percent-decoded)
 *   smb://[::1]:1445/SHARE[/PATH]                              (IPv6 literal in brackets)
 *   //HOST/SHARE[/PATH]   \\HOST\SHARE[\PATH]   (and mixtures of / and \; taken literally)
 *
 * Error messages never repeat the TARGET text, since it may hold a password.
 */
import { isIP } from 'node:net';
import { UsageError } from './errors.js';

export interface Target {
  host: string;
  port?: number;
  share: string;
  /** Share-relative, '/'-separated, no leading or trailing slash; '' is the share root. */
  path: string;
  user?: string;
  domain?: string;
  password?: string;
  /** Where to connect when not `host` (a mount's addr=); `host` still names the server. */
  address?: string;
  /** A cifs mount with sec=krb5: log on with the ticket of the mount's user (cruid). */
  krb5?: { cruid?: number };
}

const FORMS = 'smb://[USER@]HOST/SHARE[/PATH], //HOST/SHARE[/PATH] or \\\\HOST\\SHARE[\\PATH]';

function usage(problem: string): UsageError {
  return new UsageError(`bad TARGET: ${problem}`);
}

function decode(component: string, what: string): string {
  if (/%(?![0-9a-fA-F]{2})/.test(component)) {
    throw usage(`bad percent-encoding in the ${what} (write a literal % as %25)`);
  }
  try {
    return decodeURIComponent(component);
  } catch {
    throw usage(`bad percent-encoding in the ${what} (not UTF-8)`);
  }
}

/** Parse a port given as text; `what` names it in the message. */
/**
 * An IPv4 or IPv6 address to connect to (-I, `ip-address =`), brackets allowed around IPv6; null
 * for anything else: a name there would be looked up and its failure blamed on the target's host.
 */
export function ipAddressOf(text: string): string | null {
  const address = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return isIP(address) === 0 ? null : address;
}

export function parsePortNumber(text: string, what = 'port'): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw usage(`bad ${what} "${text.slice(0, 20)}": must be a number 1-65535`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw usage(`bad ${what} ${port}: must be 1-65535`);
  return port;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port`; raw v6 (several colons) only when `rawV6Ok`. */
function parseHostPort(text: string, rawV6Ok: boolean, percent: boolean): { host: string; port?: number } {
  if (text === '') throw usage('empty host name');
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw usage('unterminated [ in the IPv6 host');
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw usage('unexpected text after ] in the host');
      portText = rest.slice(1);
    }
    if (percent) host = decode(host, 'host'); // zone id: fe80::1%25eth0
    if (!/^[0-9a-fA-F:.]+(%[^\s/\\[\]]+)?$/.test(host) || !host.includes(':')) {
      throw usage('bad IPv6 address in brackets');
    }
  } else {
    const colons = text.split(':').length - 1;
    if (colons > 1) {
      if (!rawV6Ok) throw usage('IPv6 address must be in brackets, e.g. smb://[::1]/SHARE');
      host = text;
      if (!/^[0-9a-fA-F:.]+$/.test(host)) throw usage('bad IPv6 address');
    } else if (colons === 1) {
      const i = text.indexOf(':');
      host = text.slice(0, i);
      portText = text.slice(i + 1);
    } else {
      host = text;
    }
    if (host === '') throw usage('empty host name');
    if (/[\s@%[\]]/.test(host) || /[\u0000-\u001f\u007f]/.test(host)) {
      throw usage('bad character in the host name');
    }
  }
  if (host === '') throw usage('empty host name');
  const out: { host: string; port?: number } = { host };
  if (portText !== undefined) out.port = parsePortNumber(portText);
  return out;
}

/** `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT` as in a UNC name (the authority of `//HOST:PORT/SHARE`). */
export function parseAuthority(text: string): { host: string; port?: number } {
  return parseHostPort(text, true, false);
}

/** Split `/`-separated segments (already without host) into share and share-relative path. */
function shareAndPath(segments: string[], percent: boolean): { share: string; path: string } {
  const parts: string[] = [];
  for (const raw of segments) {
    if (raw === '') continue; // tolerate doubled and trailing slashes
    const seg = percent ? decode(raw, 'path') : raw;
    if (seg.includes('\0')) throw usage('NUL byte in the path');
    if (percent && (seg.includes('/') || seg.includes('\\'))) {
      throw usage('encoded / or \\ inside a name (names cannot contain them)');
    }
    if (seg === '..') throw usage('".." path components are not allowed');
    if (seg === '.') continue;
    parts.push(seg);
  }
  const share = parts.shift();
  if (share === undefined) throw usage(`missing share name: use ${FORMS}`);
  if (/[\u0000-\u001f\u007f]/.test(share)) throw usage('control character in the share name');
  return { share, path: parts.join('/') };
}

function parseUserInfo(userinfo: string): Pick<Target, 'user' | 'domain' | 'password'> {
  const out: Pick<Target, 'user' | 'domain' | 'password'> = {};
  const colon = userinfo.indexOf(':');
  let userPart = userinfo;
  if (colon >= 0) {
    userPart = userinfo.slice(0, colon);
    out.password = decode(userinfo.slice(colon + 1), 'password');
    if (out.password.includes('\0')) throw usage('NUL byte in the password');
  }
  const semi = userPart.indexOf(';');
  if (semi >= 0) {
    out.domain = decode(userPart.slice(0, semi), 'domain');
    userPart = userPart.slice(semi + 1);
  }
  let user = decode(userPart, 'user name');
  if (out.domain === undefined) {
    // smb://DOMAIN%5Cuser@host: a backslash-qualified user name.
    const bs = user.indexOf('\\');
    if (bs >= 0) {
      out.domain = user.slice(0, bs);
      user = user.slice(bs + 1);
    }
  }
  if (user === '') throw usage('empty user name before @');
  if (/[\u0000-\u001f\u007f]/.test(user) || (out.domain && /[\u0000-\u001f\u007f]/.test(out.domain))) {
    throw usage('control character in the user or domain name');
  }
  out.user = user;
  return out;
}

/**
 * An smb:// URL or a UNC name (`//HOST/SHARE`, `\\\\HOST\\SHARE`), as opposed to a local path.
 * Anything else written as a URL (`cifs://`, `http://`, `smb:/host`) counts too, so that
 * parseTarget says what is wrong with it instead of a local folder of that name being looked for.
 */
export function isShareTarget(text: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) || /^smb:/i.test(text) || /^(\/\/|\\\\)/.test(text);
}

/** Parse a TARGET argument. Throws UsageError with a one-line message naming the problem. */
export function parseTarget(input: string): Target {
  if (input === '') throw usage(`empty: use ${FORMS}`);
  if (input.includes('\0')) throw usage('NUL byte');

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(input);
  if (scheme) {
    const afterScheme = input.slice(scheme[0].length);
    const isSmb = scheme[1]!.toLowerCase() === 'smb';
    if (afterScheme.startsWith('//')) {
      if (!isSmb) throw usage(`unsupported scheme "${scheme[1]!.slice(0, 20)}:", use ${FORMS}`);
      return parseSmbUrl(afterScheme.slice(2));
    }
    if (isSmb) throw usage(`smb: must be followed by //, use ${FORMS}`);
  }

  const unc = input.replace(/\\/g, '/');
  if (!unc.startsWith('//')) throw usage(`use ${FORMS}`);
  const rest = unc.slice(2);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  if (authority.includes('@')) {
    throw usage('a user name is not allowed in //HOST/SHARE: use -U USER or smb://USER@HOST/SHARE');
  }
  const { host, port } = parseHostPort(authority, true, false);
  const { share, path } = shareAndPath(slash < 0 ? [] : rest.slice(slash + 1).split('/'), false);
  const target: Target = { host, share, path };
  if (port !== undefined) target.port = port;
  return target;
}

function parseSmbUrl(rest: string): Target {
  if (/[?#]/.test(rest)) throw usage('query (?) and fragment (#) are not supported: encode them as %3F and %23');
  // The user information ends at the last @ before the first / that follows it, so that an
  // unencoded @ in a password still works; a / in a password must be written %2F.
  let userinfo: string | undefined;
  let afterUser = rest;
  const firstSlash = rest.indexOf('/');
  const authorityEnd = firstSlash < 0 ? rest.length : firstSlash;
  const at = rest.lastIndexOf('@', authorityEnd - 1);
  if (at >= 0 && at < authorityEnd) {
    userinfo = rest.slice(0, at);
    afterUser = rest.slice(at + 1);
  }
  const slash = afterUser.indexOf('/');
  const authority = slash < 0 ? afterUser : afterUser.slice(0, slash);
  const { host, port } = parseHostPort(authority, false, true);
  const { share, path } = shareAndPath(slash < 0 ? [] : afterUser.slice(slash + 1).split('/'), true);
  const target: Target = { host, share, path };
  if (port !== undefined) target.port = port;
  if (userinfo !== undefined) Object.assign(target, parseUserInfo(userinfo));
  return target;
}

/**
 * An smb:// TARGET as the user wrote it, minus the password (`smb://alice:pw@h/s` ->
 * `smb://alice@h/s`), found by the URL's structure as parseSmbUrl finds it; other text as is.
 * For labels and command lines, which must never show a password.
 */
export function withoutPassword(text: string): string {
  const m = /^(smb:\/\/)(.*)$/is.exec(text);
  if (!m) return text;
  const rest = m[2]!;
  const firstSlash = rest.indexOf('/');
  const authorityEnd = firstSlash < 0 ? rest.length : firstSlash;
  const at = rest.lastIndexOf('@', authorityEnd - 1);
  if (at < 0) return text;
  const colon = rest.indexOf(':');
  if (colon < 0 || colon > at) return text;
  return `${m[1]}${rest.slice(0, colon)}${rest.slice(at)}`;
}

/** `//host[:port]/share[/path]` for display: never the user or password. */
export function formatTarget(t: Pick<Target, 'host' | 'port' | 'share' | 'path'>): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `//${host}${t.port !== undefined ? `:${t.port}` : ''}/${t.share}${t.path ? `/${t.path}` : ''}`;
}

/**
 * The port to use, by one rule for every command and the daemon: a port written in the target
 * is used; `-p` gives the port of targets that name none (default 445). A target naming another
 * port than `-p` on the same command line is ambiguous and refused.
 */
export function targetPort(target: Target, optionPort: number | undefined): number {
  if (target.port !== undefined && optionPort !== undefined && target.port !== optionPort) {
    throw new UsageError(`the target names port ${target.port} but -p says ${optionPort}: give the port once: in the target, or with -p for targets without one`);
  }
  return target.port ?? optionPort ?? 445;
}
