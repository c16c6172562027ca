// Kerberos options as users write them: the CLI flags, config keys, and sec=krb5 mounts.
import { describe, expect, it } from 'vitest';
import { kerberosUse, mountCcache, resolveLogon, targetKerberos } from '../../src/config/kerberos.js';
import { expandCcacheTemplate } from '../../src/smb/auth/gssapi.js';
import { parseConfig } from '../../src/config/daemon-config.js';
import { UsageError } from '../../src/config/errors.js';
import { parseMountinfo, shareTargetForLocalPath } from '../../src/config/mounts.js';

const password = async () => ({ kind: 'user' as const, user: 'alice', domain: 'CORP', password: 'pw' });

describe('--use-kerberos, -k, --use-krb5-ccache', () => {
  it('-k is required; no option is off; contradictions are usage errors', () => {
    expect(kerberosUse({ kerberos: true })).toBe('required');
    expect(kerberosUse({})).toBe('off');
    expect(kerberosUse({ useKerberos: 'Desired' })).toBe('desired');
    expect(() => kerberosUse({ kerberos: true, useKerberos: 'off' })).toThrow(UsageError);
    expect(() => kerberosUse({ useKerberos: 'maybe' })).toThrow(/expected required, desired or off/);
  });

  it('required never asks for a password; desired keeps it as the fallback; off is NTLM', async () => {
    let asked = 0;
    const counting = async () => {
      asked++;
      return password();
    };
    expect(await resolveLogon({ kerberos: true, useKrb5Ccache: 'KCM:' }, counting)).toEqual({ kind: 'kerberos', use: 'required', ccache: 'KCM:' });
    expect(asked).toBe(0);
    expect(await resolveLogon({ useKerberos: 'desired' }, counting)).toEqual({ kind: 'kerberos', use: 'desired', fallback: await password() });
    expect(await resolveLogon({ useKerberos: 'desired' }, () => Promise.reject(new UsageError('no password given')))).toEqual({ kind: 'kerberos', use: 'desired' });
    expect(await resolveLogon({}, counting)).toEqual(await password());
    await expect(resolveLogon({ useKrb5Ccache: 'FILE:/tmp/x' }, counting)).rejects.toThrow(/needs Kerberos/);
  });
});

describe('config keys', () => {
  it('kerberos and krb5-ccache in [daemon] and [watch], ip-address in [watch]', () => {
    const c = parseConfig([
      '[daemon]', 'kerberos = desired', 'krb5-ccache = KCM:',
      '[watch p]', 'target = //files.corp.example/projects', 'kerberos = required', 'krb5-ccache = FILE:/tmp/krb5cc_1000', 'ip-address = 10.0.0.5',
    ].join('\n'));
    expect(c).toMatchObject({ kerberos: 'desired', krb5Ccache: 'KCM:' });
    expect(c.watches[0]).toMatchObject({ kerberos: 'required', krb5Ccache: 'FILE:/tmp/krb5cc_1000', ipAddress: '10.0.0.5' });
    expect(() => parseConfig('[daemon]\nkerberos = yes', 'cfg')).toThrow(/cfg:2: kerberos must be required, desired or off/);
  });
});

describe('cifs mounts with sec=krb5', () => {
  const line = (opts: string) => `36 25 0:45 / /mnt/projects rw,relatime - cifs //files.corp.example/projects rw,vers=3.1.1,${opts}\n`;

  it('use the cruid\'s ticket, the source host for cifs/HOST and addr= for the connection', () => {
    const mounts = parseMountinfo(line('sec=krb5,cruid=1000,addr=10.0.0.5,uid=1000'));
    expect(mounts[0]).toMatchObject({ sec: 'krb5', cruid: 1000, addr: '10.0.0.5' });
    const target = shareTargetForLocalPath(mounts, '/mnt/projects/2026')!;
    expect(target).toMatchObject({ host: 'files.corp.example', address: '10.0.0.5', share: 'projects', path: '2026', krb5: { cruid: 1000 } });
    expect(targetKerberos(target)).toEqual({ kind: 'kerberos', use: 'required', ...(process.getuid!() === 1000 ? {} : { ccache: 'FILE:/tmp/krb5cc_1000' }) });
  });

  it('the daemon\'s own user gets the default cache; other mounts keep connecting to addr=', () => {
    expect(mountCcache({ cruid: 1000 }, 1000)).toBeUndefined();
    expect(mountCcache({}, 1000)).toBeUndefined();
    expect(mountCcache({ cruid: 1001 }, 1000, (u) => expandCcacheTemplate(null, u))).toBe('FILE:/tmp/krb5cc_1001');
    expect(mountCcache({ cruid: 1001 }, 1000, (u) => expandCcacheTemplate('KEYRING:persistent:%{uid}', u))).toBe('KEYRING:persistent:1001');
    const ntlm = shareTargetForLocalPath(parseMountinfo(line('sec=ntlmssp,addr=10.0.0.5')), '/mnt/projects')!;
    expect(ntlm).toMatchObject({ host: '10.0.0.5' });
    expect(ntlm.krb5).toBeUndefined();
  });
});

describe('expandCcacheTemplate: another user\'s default cache from krb5.conf\'s default_ccache_name', () => {
  it('expands the uid tokens as MIT does', () => {
    expect(expandCcacheTemplate('KEYRING:persistent:%{uid}', 1000)).toBe('KEYRING:persistent:1000');
    expect(expandCcacheTemplate('FILE:%{TEMP}/krb5cc_%{euid}', 1000)).toBe('FILE:/tmp/krb5cc_1000');
    expect(expandCcacheTemplate('DIR:/run/user/%{USERID}/krb5cc', 1000)).toBe('DIR:/run/user/1000/krb5cc');
  });
  it('names the user\'s default cache of a KCM daemon (SSSD\'s default_ccache_name = KCM:)', () => {
    expect(expandCcacheTemplate('KCM:', 1000)).toBe('KCM:1000');
  });
  it('falls back to MIT\'s built-in FILE default when there is none or a token it cannot expand', () => {
    expect(expandCcacheTemplate(null, 1000)).toBe('FILE:/tmp/krb5cc_1000');
    expect(expandCcacheTemplate('FILE:/home/%{username}/.cc', 1000)).toBe('FILE:/tmp/krb5cc_1000');
  });
});
