import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  parseAuthFile, parseUserOption, readAuthFile, resolveCredentials, type CredentialsIO,
} from '../../src/config/credentials.js';
import { UsageError } from '../../src/cli/errors.js';
import { parseTarget } from '../../src/config/target.js';

/** An io with no environment, no terminal, no files, and a known OS user. */
function io(over: Partial<CredentialsIO> = {}): Partial<CredentialsIO> {
  return {
    env: {},
    isTTY: false,
    prompt: async () => {
      throw new Error('prompt must not be called');
    },
    readFile: async (p) => {
      throw Object.assign(new Error(`no ${p}`), { code: 'ENOENT' });
    },
    stat: async (p) => {
      throw Object.assign(new Error(`no ${p}`), { code: 'ENOENT' });
    },
    osUser: () => 'osuser',
    ...over,
  };
}

/** An io whose files live in a map, all mode 0600. */
function withFiles(files: Record<string, string>, over: Partial<CredentialsIO> = {}): Partial<CredentialsIO> {
  return io({
    readFile: async (p) => {
      const t = files[p];
      if (t === undefined) throw Object.assign(new Error('x'), { code: 'ENOENT' });
      return t;
    },
    stat: async (p) => {
      if (files[p] === undefined) throw Object.assign(new Error('x'), { code: 'ENOENT' });
      return { mode: 0o100600, isFile: () => true };
    },
    ...over,
  });
}

async function usageMessage(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseUserOption (-U)', () => {
  it('plain, DOMAIN\\USER, DOMAIN/USER, USER@REALM, %PASSWORD', () => {
    expect(parseUserOption('alice')).toEqual({ user: 'alice' });
    expect(parseUserOption('CORP\\alice')).toEqual({ user: 'alice', domain: 'CORP' });
    expect(parseUserOption('CORP/alice')).toEqual({ user: 'alice', domain: 'CORP' });
    expect(parseUserOption('alice@corp.example')).toEqual({ user: 'alice@corp.example' });
    expect(parseUserOption('CORP\\alice%pa%ss\\w')).toEqual({ user: 'alice', domain: 'CORP', password: 'pa%ss\\w' });
    expect(parseUserOption('alice%')).toEqual({ user: 'alice', password: '' });
  });

  it('rejects an empty user after a domain', () => {
    expect(() => parseUserOption('CORP\\')).toThrow(UsageError);
  });
});

describe('parseAuthFile', () => {
  it('reads username/password/domain', () => {
    expect(parseAuthFile('username=alice\npassword=secret\ndomain=CORP\n')).toEqual({
      user: 'alice', password: 'secret', domain: 'CORP',
    });
  });

  it('accepts aliases, comments, blank lines, whitespace and CRLF', () => {
    const text = '\uFEFF# my creds\r\n\r\n  user = bob \r\n; another comment\r\npass=  s3 cr=t \r\nworkgroup=WG\r\n';
    expect(parseAuthFile(text)).toEqual({ user: 'bob', password: 's3 cr=t', domain: 'WG' });
    expect(parseAuthFile('dom=D\nuser=u')).toEqual({ user: 'u', domain: 'D' });
  });

  it('username=DOM\\user gives the domain, unless domain= is given', () => {
    expect(parseAuthFile('username=DOM\\user\npassword=x')).toEqual({ user: 'user', domain: 'DOM', password: 'x' });
    expect(parseAuthFile('username=DOM/user')).toEqual({ user: 'user', domain: 'DOM' });
    expect(parseAuthFile('username=DOM\\user\ndomain=OTHER')).toEqual({ user: 'user', domain: 'OTHER' });
  });

  it('ignores unknown keys, keys are case-insensitive', () => {
    expect(parseAuthFile('UserName=a\nPASSWORD=b\ncolor=blue')).toEqual({ user: 'a', password: 'b' });
  });

  it('rejects a line without = and does not quote it', () => {
    expect(() => parseAuthFile('username=a\nhunter2\n', 'f')).toThrow(/f line 2: expected key=value/);
    try {
      parseAuthFile('hunter2');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});

describe('readAuthFile permissions (real files)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'smbnotify-cred-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a 0644 file, accepts a 0600 file', async () => {
    const file = join(dir, 'creds');
    await writeFile(file, 'username=alice\npassword=secret\n');
    await chmod(file, 0o644);
    const msg = await usageMessage(resolveCredentials({ authenticationFile: file }, {}, io({ readFile: undefined, stat: undefined })));
    expect(msg).toBe(`credentials file ${file} is readable by others (mode 0644): run chmod 600 ${file}`);

    // Only the group may read it: said so, not "others".
    await chmod(file, 0o640);
    expect(await usageMessage(readAuthFile(file, { readFile: async () => '', stat: (p) => import('node:fs/promises').then((m) => m.stat(p)) })))
      .toBe(`credentials file ${file} is group-readable (mode 0640): run chmod 600 ${file}`);
    await chmod(file, 0o604);
    expect(await usageMessage(readAuthFile(file, { readFile: async () => '', stat: (p) => import('node:fs/promises').then((m) => m.stat(p)) })))
      .toBe(`credentials file ${file} is readable by others (mode 0604): run chmod 600 ${file}`);

    await chmod(file, 0o600);
    const creds = await resolveCredentials({ authenticationFile: file }, {}, io({ readFile: undefined, stat: undefined }));
    expect(creds).toEqual({ kind: 'user', user: 'alice', domain: '', password: 'secret' });
  });

  it('reports a missing file and a folder in one line', async () => {
    const missing = join(dir, 'nope');
    expect(await usageMessage(resolveCredentials({ authenticationFile: missing }, {}, io({ readFile: undefined, stat: undefined }))))
      .toBe(`cannot read credentials file ${missing}: no such file`);
    await chmod(dir, 0o700);
    expect(await usageMessage(resolveCredentials({ authenticationFile: dir }, {}, io({ readFile: undefined, stat: undefined }))))
      .toBe(`cannot read credentials file ${dir}: not a regular file`);
  });

  it('reports an unreadable file', async () => {
    const msg = await usageMessage(readAuthFile('/x', {
      stat: async () => ({ mode: 0o100600, isFile: () => true }),
      readFile: async () => {
        throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      },
    }));
    expect(msg).toBe('cannot read credentials file /x: permission denied');
  });
});

describe('resolveCredentials', () => {
  const file = '/creds';
  const fileText = 'username=FILEDOM\\fileuser\npassword=filepw\n';

  it('-U with password', async () => {
    expect(await resolveCredentials({ user: 'CORP\\alice%pw' }, {}, io())).toEqual({
      kind: 'user', user: 'alice', domain: 'CORP', password: 'pw',
    });
  });

  it('user precedence: -U > URL > -A > OS user', async () => {
    const t = parseTarget('smb://URLDOM;urluser:urlpw@h/s');
    const f = withFiles({ [file]: fileText });
    expect(await resolveCredentials({ user: 'cli%clipw', authenticationFile: file }, t, f))
      .toEqual({ kind: 'user', user: 'cli', domain: 'URLDOM', password: 'clipw' });
    expect(await resolveCredentials({ authenticationFile: file }, t, f))
      .toEqual({ kind: 'user', user: 'urluser', domain: 'URLDOM', password: 'urlpw' });
    expect(await resolveCredentials({ authenticationFile: file }, {}, f))
      .toEqual({ kind: 'user', user: 'fileuser', domain: 'FILEDOM', password: 'filepw' });
    expect(await resolveCredentials({}, {}, io({ env: { PASSWD: 'envpw', USER: 'envuser' } })))
      .toEqual({ kind: 'user', user: 'osuser', domain: '', password: 'envpw' });
  });

  it('password precedence: -U % > URL > -A > PASSWD > prompt', async () => {
    const env = { PASSWD: 'envpw' };
    const f = withFiles({ [file]: fileText }, { env });
    const t = parseTarget('smb://u:urlpw@h/s');
    const tNoPw = parseTarget('smb://u@h/s');
    expect(await resolveCredentials({ user: 'u%clipw', authenticationFile: file }, t, f)).toMatchObject({ password: 'clipw' });
    expect(await resolveCredentials({ user: 'u', authenticationFile: file }, t, f)).toMatchObject({ password: 'urlpw' });
    expect(await resolveCredentials({ user: 'u', authenticationFile: file }, tNoPw, f)).toMatchObject({ password: 'filepw' });
    expect(await resolveCredentials({ user: 'u' }, tNoPw, f)).toMatchObject({ user: 'u', password: 'envpw' });
    const prompt = vi.fn(async () => 'typed');
    expect(await resolveCredentials({ user: 'CORP\\u' }, {}, io({ isTTY: true, prompt }))).toMatchObject({ password: 'typed' });
    expect(prompt).toHaveBeenCalledWith('Password for [CORP\\u]: ');
  });

  it('an empty password given explicitly is not prompted for', async () => {
    expect(await resolveCredentials({ user: 'u%' }, {}, io({ env: { PASSWD: 'x' } }))).toMatchObject({ password: '' });
    expect(await resolveCredentials({}, parseTarget('smb://u:@h/s'), io())).toMatchObject({ password: '' });
  });

  it('PASSWD may be empty', async () => {
    expect(await resolveCredentials({ user: 'u' }, {}, io({ env: { PASSWD: '' } }))).toMatchObject({ password: '' });
  });

  it('-N: guest without a user, empty password with one', async () => {
    expect(await resolveCredentials({ noPass: true }, {}, io({ env: { PASSWD: 'x' } }))).toEqual({ kind: 'guest' });
    expect(await resolveCredentials({ noPass: true, user: 'bob' }, {}, io({ env: { PASSWD: 'x' }, isTTY: true })))
      .toEqual({ kind: 'user', user: 'bob', domain: '', password: '' });
    expect(await resolveCredentials({ noPass: true }, parseTarget('smb://bob@h/s'), io()))
      .toEqual({ kind: 'user', user: 'bob', domain: '', password: '' });
    expect(await resolveCredentials({ noPass: true, user: 'bob%given' }, {}, io())).toMatchObject({ password: 'given' });
  });

  it('-U% is anonymous', async () => {
    expect(await resolveCredentials({ user: '%' }, {}, io())).toEqual({ kind: 'anonymous' });
    expect(await resolveCredentials({ user: '' }, {}, io())).toEqual({ kind: 'anonymous' });
  });

  it('no password and no terminal: one-line error', async () => {
    expect(await usageMessage(resolveCredentials({ user: 'u' }, {}, io())))
      .toBe('no password given: use -A FILE, PASSWD=..., -N for guest, or run on a terminal');
  });

  it('prompt without domain', async () => {
    const prompt = vi.fn(async () => 'pw');
    await resolveCredentials({}, {}, io({ isTTY: true, prompt }));
    expect(prompt).toHaveBeenCalledWith('Password for [osuser]: ');
  });

  it('unknown OS user and no -U', async () => {
    expect(await usageMessage(resolveCredentials({}, {}, io({ osUser: () => undefined })))).toMatch(/use -U USER/);
  });
});
