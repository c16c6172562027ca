/**
 * Credentials for the command line, with smbclient's conventions.
 *
 * Sources, and which one wins when several give the same field (each field on its own, as
 * smbclient does):
 *   user:     -U USER  >  smb://USER@ in TARGET  >  -A file `username=`  >  the OS login user
 *   domain:   -U DOMAIN\USER  >  smb://DOMAIN;USER@  >  -A file (`domain=` or `username=DOM\user`)  >  ''
 *   password: -U USER%PASS  >  smb://USER:PASS@  >  -A file `password=`  >  $PASSWD  >  prompt
 * The OS login user is taken from os.userInfo() (the passwd database), never from $USER.
 * -N (--no-pass): with no user given anywhere, log on as guest; with a user, never prompt and
 *   never read $PASSWD: the password is the one given with -U, TARGET or -A, else empty.
 * `-U ''` or `-U %` (empty user and password) means an anonymous logon, as in smbclient.
 * The prompt reads the terminal with echo off; without a terminal it is an error.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import type { Credentials } from '../smb/types.js';
import { Interrupted, UsageError } from './errors.js';
import type { Target } from './target.js';
import { errnoWords } from '../platform/errno-words.js';

export interface CredentialOptions {
  /** -U, --user: `[DOMAIN\]USER[%PASSWORD]` (also `DOMAIN/USER`, `USER@REALM`). */
  user?: string;
  /** -A, --authentication-file FILE. */
  authenticationFile?: string;
  /** -N, --no-pass. */
  noPass?: boolean;
}

export interface CredentialsIO {
  env: Record<string, string | undefined>;
  /** Whether a password prompt can be shown and read (stdin is a terminal). */
  isTTY: boolean;
  /** Show `message`, read one line without echo. */
  prompt: (message: string) => Promise<string>;
  readFile: (path: string) => Promise<string>;
  stat: (path: string) => Promise<{ mode: number; isFile(): boolean }>;
  /** The OS login name, or undefined when it cannot be found. */
  osUser: () => string | undefined;
}

export interface UserSpec {
  user?: string;
  domain?: string;
  password?: string;
}

/** Split `DOMAIN\USER`, `DOMAIN/USER`; `USER@REALM` stays whole (NTLM takes a UPN as is). */
function splitDomainUser(text: string): { user: string; domain?: string } {
  const bs = text.indexOf('\\');
  const sl = text.indexOf('/');
  const i = bs >= 0 ? bs : sl;
  if (i >= 0) return { domain: text.slice(0, i), user: text.slice(i + 1) };
  return { user: text };
}

/** Parse the value of -U: `[DOMAIN\]USER[%PASSWORD]`. The password may itself hold `%`. */
export function parseUserOption(value: string): UserSpec {
  if (value.includes('\0')) throw new UsageError('NUL byte in -U');
  const pct = value.indexOf('%');
  const userPart = pct >= 0 ? value.slice(0, pct) : value;
  const out: UserSpec = {};
  if (pct >= 0) out.password = value.slice(pct + 1);
  const { user, domain } = splitDomainUser(userPart);
  if (domain !== undefined) out.domain = domain;
  out.user = user;
  if (user === '' && domain !== undefined) throw new UsageError('empty user name in -U DOMAIN\\USER');
  return out;
}

const KEYS: Record<string, keyof UserSpec> = {
  username: 'user',
  user: 'user',
  password: 'password',
  pass: 'password',
  domain: 'domain',
  dom: 'domain',
  workgroup: 'domain',
};

/**
 * Parse a smbclient / mount.cifs credentials file: `key = value` lines, `#` (or `;`) comments,
 * blank lines, CRLF tolerated, whitespace around keys and values trimmed, unknown keys ignored.
 * `username=DOMAIN\user` (or `DOMAIN/user`) gives the domain too, unless a `domain=` line does.
 */
export function parseAuthFile(text: string, file = 'credentials file'): UserSpec {
  const out: UserSpec = {};
  let userDomain: string | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const eq = line.indexOf('=');
    // Never quote the line: it may be a password.
    if (eq < 0) throw new UsageError(`credentials file ${file} line ${index + 1}: expected key=value`);
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    const field = KEYS[key];
    if (!field) return;
    if (value.includes('\0')) throw new UsageError(`credentials file ${file} line ${index + 1}: NUL byte`);
    if (field === 'user') {
      const { user, domain } = splitDomainUser(value);
      out.user = user;
      userDomain = domain;
    } else {
      out[field] = value;
    }
  });
  if (userDomain !== undefined && out.domain === undefined) out.domain = userDomain;
  return out;
}

/**
 * Why a secret file's mode is too open, in words that match the bits (`group-readable` for 0640,
 * `readable by others` once the world may read it); undefined for 0600, 0400 and the like.
 */
export function tooOpen(mode: number): string | undefined {
  const shown = `(mode ${(mode & 0o7777).toString(8).padStart(4, '0')})`;
  if (mode & 0o004) return `is readable by others ${shown}`;
  if (mode & 0o040) return `is group-readable ${shown}`;
  return undefined;
}

/** Read a credentials file, refusing one that others can read. */
export async function readAuthFile(file: string, io: Pick<CredentialsIO, 'readFile' | 'stat'>): Promise<UserSpec> {
  let st: { mode: number; isFile(): boolean };
  try {
    st = await io.stat(file);
  } catch (err) {
    throw new UsageError(`cannot read credentials file ${file}: ${errnoWords(err, 'file')}`);
  }
  if (!st.isFile()) throw new UsageError(`cannot read credentials file ${file}: not a regular file`);
  const open = tooOpen(st.mode);
  if (open) throw new UsageError(`credentials file ${file} ${open}: run chmod 600 ${file}`);
  let text: string;
  try {
    text = await io.readFile(file);
  } catch (err) {
    throw new UsageError(`cannot read credentials file ${file}: ${errnoWords(err, 'file')}`);
  }
  return parseAuthFile(text, file);
}

/** Read one line from the terminal with echo off; `message` goes to stderr. */
export function promptHidden(message: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const wasRaw = stdin.isRaw;
    const finish = (err: Error | null): void => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      try { stdin.setRawMode(wasRaw); } catch { /* terminal gone */ }
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err); else resolve(value);
    };
    const onEnd = (): void => finish(new UsageError('no password given: end of input at the password prompt'));
    const onData = (chunk: string | Buffer): void => {
      for (const ch of chunk.toString()) {
        switch (ch) {
          case '\r':
          case '\n':
            finish(null);
            return;
          case '\u0003': // Ctrl-C
            finish(new Interrupted('the password prompt'));
            return;
          case '\u0004': // Ctrl-D
            if (value === '') {
              finish(new UsageError('no password given: end of input at the password prompt'));
              return;
            }
            break;
          case '\u007f':
          case '\b':
            value = [...value].slice(0, -1).join('');
            break;
          case '\u0015': // Ctrl-U
            value = '';
            break;
          default:
            if (ch >= ' ') value += ch;
        }
      }
    };
    process.stderr.write(message);
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}

export function defaultCredentialsIO(): CredentialsIO {
  return {
    env: process.env,
    isTTY: Boolean(process.stdin.isTTY),
    prompt: promptHidden,
    readFile: (p) => fsp.readFile(p, 'utf8'),
    stat: (p) => fsp.stat(p),
    osUser: () => {
      try {
        return os.userInfo().username || undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** Resolve the credentials to log on with; see the precedence rules at the top of this file. */
export async function resolveCredentials(
  opts: CredentialOptions,
  target: Pick<Target, 'user' | 'domain' | 'password'> = {},
  ioOverrides: Partial<CredentialsIO> = {},
): Promise<Credentials> {
  const io: CredentialsIO = defaultCredentialsIO();
  for (const [k, v] of Object.entries(ioOverrides)) {
    if (v !== undefined) (io as unknown as Record<string, unknown>)[k] = v;
  }
  const cli: UserSpec = opts.user !== undefined ? parseUserOption(opts.user) : {};
  const file: UserSpec = opts.authenticationFile !== undefined ? await readAuthFile(opts.authenticationFile, io) : {};

  // smbclient: -U% (or an empty -U) is an anonymous logon.
  if (opts.user !== undefined && cli.user === '' && (cli.password ?? '') === '') return { kind: 'anonymous' };

  const pick = (field: keyof UserSpec): string | undefined => {
    for (const src of [cli, target, file]) {
      const v = src[field];
      if (v !== undefined && !(field === 'user' && v === '')) return v;
    }
    return undefined;
  };

  let user = pick('user');
  const domain = pick('domain') ?? '';
  let password = pick('password');

  if (user === undefined) {
    if (opts.noPass) return { kind: 'guest' };
    user = io.osUser();
    if (!user) throw new UsageError('no user name given and the login name is unknown: use -U USER');
  }
  if (password === undefined) {
    if (opts.noPass) password = '';
    else if (io.env['PASSWD'] !== undefined) password = io.env['PASSWD'];
    else if (io.isTTY) password = await io.prompt(`Password for [${domain ? `${domain}\\` : ''}${user}]: `);
    else throw new UsageError('no password given: use -A FILE, PASSWD=..., -N for guest, or run on a terminal');
  }
  return { kind: 'user', user, domain, password };
}
