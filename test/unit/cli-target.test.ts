import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/errors.js';
import { formatTarget, isShareTarget, parseTarget } from '../../src/config/target.js';

describe('parseTarget: smb:// URLs', () => {
  it('host and share', () => {
    expect(parseTarget('smb://server/share')).toEqual({ host: 'server', share: 'share', path: '' });
  });

  it('path, trailing and doubled slashes, dot segments', () => {
    expect(parseTarget('smb://server/share/a/b/')).toEqual({ host: 'server', share: 'share', path: 'a/b' });
    expect(parseTarget('smb://server/share//a/./b')).toEqual({ host: 'server', share: 'share', path: 'a/b' });
    expect(parseTarget('SMB://server/share/')).toEqual({ host: 'server', share: 'share', path: '' });
  });

  it('user, password, domain, port', () => {
    expect(parseTarget('smb://CORP;alice:pw@nas.example:1445/data/dir/file.txt')).toEqual({
      host: 'nas.example', port: 1445, share: 'data', path: 'dir/file.txt',
      user: 'alice', domain: 'CORP', password: 'pw',
    });
    expect(parseTarget('smb://alice@nas/data')).toEqual({ host: 'nas', share: 'data', path: '', user: 'alice' });
  });

  it('percent-encoded password with @ and :', () => {
    const t = parseTarget('smb://alice:p%40ss%3Aw%25rd@nas/data');
    expect(t.password).toBe('p@ss:w%rd');
    expect(t.user).toBe('alice');
    expect(t.host).toBe('nas');
  });

  it('raw @ and : in the password (last @ before the path wins)', () => {
    const t = parseTarget('smb://alice:p@ss:word@nas/data');
    expect(t).toMatchObject({ user: 'alice', password: 'p@ss:word', host: 'nas', share: 'data' });
  });

  it('empty password is kept as an explicit empty password', () => {
    expect(parseTarget('smb://alice:@nas/data').password).toBe('');
  });

  it('percent-decodes user, domain and path', () => {
    const t = parseTarget('smb://My%20Domain;J%C3%BCrgen@nas/My%20Share/%C3%BC%20dir/a%23b');
    expect(t).toMatchObject({ domain: 'My Domain', user: 'Jürgen', share: 'My Share', path: 'ü dir/a#b' });
  });

  it('DOMAIN\\user in the user part', () => {
    expect(parseTarget('smb://CORP%5Calice@nas/data')).toMatchObject({ domain: 'CORP', user: 'alice' });
  });

  it('IPv6 literals', () => {
    expect(parseTarget('smb://[::1]:1445/share')).toEqual({ host: '::1', port: 1445, share: 'share', path: '' });
    expect(parseTarget('smb://[fe80::1%25eth0]/share/x')).toEqual({ host: 'fe80::1%eth0', share: 'share', path: 'x' });
    expect(parseTarget('smb://bob@[2001:db8::5]/s')).toMatchObject({ host: '2001:db8::5', user: 'bob' });
  });

  it('IPv4 with port', () => {
    expect(parseTarget('smb://127.0.0.1:445/s')).toEqual({ host: '127.0.0.1', port: 445, share: 's', path: '' });
  });
});

describe('parseTarget: UNC forms', () => {
  it('//HOST/SHARE/PATH', () => {
    expect(parseTarget('//server/share/dir/sub')).toEqual({ host: 'server', share: 'share', path: 'dir/sub' });
    expect(parseTarget('//server/share')).toEqual({ host: 'server', share: 'share', path: '' });
  });

  it('backslashes and mixtures', () => {
    expect(parseTarget('\\\\server\\share\\dir\\file')).toEqual({ host: 'server', share: 'share', path: 'dir/file' });
    expect(parseTarget('\\\\server/share\\dir/file\\')).toEqual({ host: 'server', share: 'share', path: 'dir/file' });
  });

  it('no percent-decoding in UNC names', () => {
    expect(parseTarget('//server/share/100%25 done').path).toBe('100%25 done');
    expect(parseTarget('//server/share/50% off').path).toBe('50% off');
  });

  it('ports and IPv6 in UNC', () => {
    expect(parseTarget('//server:1445/share')).toEqual({ host: 'server', port: 1445, share: 'share', path: '' });
    expect(parseTarget('//[::1]:1445/share')).toEqual({ host: '::1', port: 1445, share: 'share', path: '' });
    expect(parseTarget('//::1/share')).toEqual({ host: '::1', share: 'share', path: '' });
  });
});

describe('parseTarget: malformed', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['server/share', /use smb:\/\//],
    ['/share', /use smb:\/\//],
    ['C:\\dir', /use smb:\/\//],
    ['http://server/share', /unsupported scheme "http:"/],
    ['ftp://server/share', /unsupported scheme/],
    ['smb:server/share', /smb: must be followed by \/\//],
    ['smb://server', /missing share/],
    ['smb://server/', /missing share/],
    ['//server', /missing share/],
    ['\\\\server\\', /missing share/],
    ['smb:///share', /empty host/],
    ['///share', /empty host/],
    ['smb://alice@/share', /empty host/],
    ['smb://server:0/share', /bad port/],
    ['smb://server:65536/share', /bad port/],
    ['smb://server:abc/share', /bad port/],
    ['smb://server:/share', /bad port/],
    ['smb://server:-1/share', /bad port/],
    ['smb://::1/share', /IPv6 address must be in brackets/],
    ['smb://[::1/share', /unterminated/],
    ['smb://[::1]x/share', /unexpected text/],
    ['smb://[nothex]/share', /bad IPv6/],
    ['smb://server/share/../etc', /"\.\."/],
    ['smb://server/share/a/%2E%2E/b', /"\.\."/],
    ['//server/share/..', /"\.\."/],
    ['\\\\server\\share\\a\\..\\..\\b', /"\.\."/],
    ['smb://server/..', /"\.\."/],
    ['//server/share/a\0b', /NUL/],
    ['smb://server/share/a%00b', /NUL/],
    ['smb://alice:pw%00@server/share', /NUL/],
    ['smb://server/share/a%2Fb', /encoded \//],
    ['smb://server/share/a%5Cb', /encoded/],
    ['smb://server/share/100%', /percent-encoding/],
    ['smb://server/share/%zz', /percent-encoding/],
    ['smb://server/share/%C3', /percent-encoding/],
    ['smb://server/share?x=1', /query/],
    ['smb://server/share#frag', /fragment/],
    ['smb://@server/share', /empty user/],
    ['smb://:pw@server/share', /empty user/],
    ['//alice@server/share', /user name is not allowed/],
    ['//ser ver/share', /bad character/],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      let caught: unknown;
      try {
        parseTarget(input);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(UsageError);
      const msg = (caught as Error).message;
      expect(msg).toMatch(message);
      expect(msg).not.toContain('\n');
    });
  }

  it('never repeats a password in its message', () => {
    for (const input of ['smb://alice:hunter22@server', 'smb://alice:hunter22@server:99999/s', 'smb://alice:hunter22@server/s/../x']) {
      expect(() => parseTarget(input)).toThrow(UsageError);
      try {
        parseTarget(input);
      } catch (err) {
        expect((err as Error).message).not.toContain('hunter22');
      }
    }
  });
});

describe('formatTarget', () => {
  it('shows no credentials, brackets IPv6', () => {
    expect(formatTarget(parseTarget('smb://alice:pw@[::1]:1445/s/a/b'))).toBe('//[::1]:1445/s/a/b');
    expect(formatTarget(parseTarget('//h/s'))).toBe('//h/s');
  });
});

describe('isShareTarget: what watch, the daemon and D-Bus parse as a target rather than look for as a local folder', () => {
  it('smb:// URLs and UNC names, and anything written as another URL (parseTarget then names the scheme)', () => {
    for (const t of ['smb://h/s', 'SMB://h/s', '//h/s', '\\\\h\\s', 'cifs://h/s', 'http://h/s', 'smb:/h/s', 'smb:h']) expect(isShareTarget(t), t).toBe(true);
    for (const t of ['/mnt/share', 'mnt/share', './smb', 'smb', 'a:b/c', '']) expect(isShareTarget(t), t).toBe(false);
    expect(() => parseTarget('cifs://h/s')).toThrow(/unsupported scheme "cifs:"/);
    expect(() => parseTarget('smb:/h/s')).toThrow(/smb: must be followed by \/\//);
  });
});
