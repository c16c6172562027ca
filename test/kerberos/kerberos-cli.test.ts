// info, ls and watch with -k against a real Samba AD DC on loopback, where NTLM is disabled:
// every success here is a Kerberos logon. Dialects 2.1 (signed), 3.0.2 and 3.1.1 (encrypted),
// the client keytab, --use-krb5-ccache, and each Kerberos error in words.
import { copyFileSync, existsSync, mkdirSync, rmSync, openSync, readSync, closeSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { krb5ConfText, krb5ConfWith, startKcm, useRealm, type Realm } from '../support/kerberos.js';
import { startSamba, type SambaServer } from '../support/samba.js';

const theRealm = useRealm('kerberos-cli', { beforeAll, afterAll });
let realm: Realm;
let aliceCache: string;

beforeAll(() => {
  realm = theRealm();
  aliceCache = `FILE:${join(realm.dir, 'alice.cc')}`;
  realm.kinit(aliceCache);
  mkdirSync(join(realm.sharePath, 'docs'));
  writeFileSync(join(realm.encSharePath, 'report.txt'), 'hello');
});

/** Connection arguments for the DC: its name in TARGET, its address through -I. */
function at(share: string, ...more: string[]): string[] {
  return ['-I', '127.0.0.1', '-p', String(realm.smbPort), ...more, `//${realm.host}/${share}`];
}

async function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = runCli(args, env);
  const { code } = await r.exit;
  return { code, stdout: r.stdout.join('\n'), stderr: r.stderr.join('\n') };
}

const DIALECTS = [
  { name: 'SMB2_10', label: '2.1', share: 'share', protect: 'sign', signing: /Signing: +HMAC-SHA256/, encryption: /Encryption: +none/ },
  { name: 'SMB3_02', label: '3.0.2', share: 'enc', protect: 'encrypt', signing: /Signing: +not needed: every message is encrypted/, encryption: /Encryption: +AES-128-CCM \(this share is encrypted\)/ },
  { name: 'SMB3_11', label: '3.1.1', share: 'enc', protect: 'encrypt', signing: /Signing: +not needed: every message is encrypted/, encryption: /Encryption: +AES-128-GCM \(this share is encrypted\)/ },
] as const;

describe.each(DIALECTS)('with only a ticket, SMB $label', ({ name, label, share, protect, signing, encryption }) => {
  it('info logs on with Kerberos, signed or encrypted as the share requires', async () => {
    const r = await run(['info', ...at(share, '--max-protocol', name, '--protect', protect, '-k')], realm.clientEnv(aliceCache));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Dialect: +SMB ${label.replace(/\./g, '\\.')}$`, 'm'));
    expect(r.stdout).toMatch(/Authentication: +Kerberos/);
    expect(r.stdout).toMatch(signing);
    expect(r.stdout).toMatch(encryption);
    expect(r.stdout).toMatch(/Change notify: +supported/);
  });

  it('ls lists the share', async () => {
    const r = await run(['ls', ...at(share, '--max-protocol', name, '--protect', protect, '-k')], realm.clientEnv(aliceCache));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(share === 'enc' ? /report\.txt/ : /docs/);
  });

  it('watch reports a change made on the server', async () => {
    const w = runCli(['watch', '-m', '--json', '-k', ...at(share, '--max-protocol', name, '--protect', protect)], realm.clientEnv(aliceCache));
    try {
      await w.waitLine(/"event":"STATE".*"watching"/, 20_000);
      const file = `new-${label}.txt`;
      writeFileSync(join(share === 'enc' ? realm.encSharePath : realm.sharePath, file), 'x');
      const line = JSON.parse(await w.waitLine(new RegExp(`"CREATE".*${file.replace(/\./g, '\\.')}`), 20_000)) as Record<string, unknown>;
      expect(line).toMatchObject({ event: 'CREATE', path: file, share });
    } finally {
      w.child.kill('SIGTERM');
      await w.exit;
    }
  });
});

describe('credential sources', () => {
  it('a client keytab (KRB5_CLIENT_KTNAME) gets a ticket with no kinit and no cache on disk', async () => {
    const r = await run(['info', '--json', ...at('share', '-k')], realm.clientEnv('MEMORY:smbnotify', { KRB5_CLIENT_KTNAME: realm.bob.keytab }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ authentication: 'Kerberos', signingRequired: true });
  });

  it('--use-krb5-ccache takes the named cache over KRB5CCNAME', async () => {
    const r = await run(['info', ...at('share', '--use-krb5-ccache', aliceCache, '--use-kerberos=required')], realm.clientEnv('FILE:/nonexistent/cache'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Authentication: +Kerberos/);
  });

  it('a named cache that holds nothing is "no Kerberos ticket", even beside a client keytab, and nothing is written there', async () => {
    // A service's keytab (KRB5_CLIENT_KTNAME) serves the default cache only: a mount user's cache
    // or a named one must never be filled with the service's ticket (as root, in the user's name).
    const missing = join(realm.dir, 'nobody-has-this.cc');
    const r = await run(['info', ...at('share', '--use-krb5-ccache', `FILE:${missing}`, '--use-kerberos=required')], realm.clientEnv('MEMORY:smbnotify', { KRB5_CLIENT_KTNAME: realm.bob.keytab }));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // Named, with the kinit that fills it, and no keytab hint: a keytab never fills a named cache.
    expect(r.stderr.trim()).toMatch(new RegExp(`^smbnotify: no Kerberos ticket in FILE:${missing.replace(/[.]/g, '\\.')}: .*\\(run kinit -c FILE:${missing.replace(/[.]/g, '\\.')}\\)$`));
    expect(existsSync(missing)).toBe(false);
  });

  it('--use-kerberos=desired with a ticket uses Kerberos', async () => {
    const r = await run(['info', ...at('share', '--use-kerberos=desired', '-N')], realm.clientEnv(aliceCache));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Authentication: +Kerberos/);
  });

  it('without -k the DC refuses NTLM, in words', async () => {
    const r = await run(['info', ...at('share', '-U', `alice%${realm.alice.password}`)], realm.clientEnv(aliceCache));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/STATUS_NTLM_BLOCKED/);
  });
});

// Cache types other than FILE, through the system's libkrb5 as the user has them: the kernel
// keyring (KEYRING:, Fedora's and RHEL's default before SSSD's KCM; the container allows the
// keyctl calls), a DIR collection, and a KCM daemon (KCM:, SSSD's default on Fedora and RHEL; here Heimdal's kcm on
// a private socket, which speaks the protocol MIT's client and SSSD share). Each: kinit into it,
// info -k with KRB5CCNAME, then with --use-krb5-ccache while KRB5CCNAME points nowhere; klist
// then shows the cifs/ service ticket the logon stored in that very cache.
describe('credential cache types', () => {
  function klist(ccache: string, env: Record<string, string>): string {
    const r = spawnSync('klist', ['-c', ccache], { env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  }

  async function logsOnWith(ccache: string, env: Record<string, string>): Promise<void> {
    const viaEnv = await run(['info', '--json', ...at('share', '-k')], { ...env, KRB5CCNAME: ccache });
    expect(viaEnv.stderr).toBe('');
    expect(viaEnv.code).toBe(0);
    expect(JSON.parse(viaEnv.stdout)).toMatchObject({ authentication: 'Kerberos' });
    const named = await run(['info', '--json', ...at('share', '-k', '--use-krb5-ccache', ccache)], { ...env, KRB5CCNAME: 'FILE:/nonexistent/cache' });
    expect(named.stderr).toBe('');
    expect(named.code).toBe(0);
    expect(klist(ccache, env)).toContain(`cifs/${realm.host}@${realm.realm}`);
  }

  it.each([
    { type: 'KEYRING:session (the kernel keyring)', ccache: `KEYRING:session:smbnotify-test-${process.pid}`, header: /Ticket cache: KEYRING:session:/ },
    { type: 'KEYRING:persistent (the kernel keyring, per uid)', ccache: `KEYRING:persistent:${process.getuid!()}:smbnotify-test-${process.pid}`, header: /Ticket cache: KEYRING:persistent:/ },
    { type: 'DIR (a cache collection in a folder)', ccache: `DIR:${tmpdir()}/smbnotify-test-ccdir-${process.pid}`, header: /Ticket cache: DIR::/ },
  ])('$type', async ({ ccache, header }) => {
    if (ccache.startsWith('DIR:')) mkdirSync(ccache.slice('DIR:'.length), { mode: 0o700 });
    realm.kinit(ccache);
    try {
      expect(klist(ccache, realm.clientEnv(ccache))).toMatch(header);
      await logsOnWith(ccache, realm.clientEnv(ccache));
    } finally {
      spawnSync('kdestroy', ['-c', ccache], { env: { ...process.env, ...realm.clientEnv(ccache) } });
      if (ccache.startsWith('DIR:')) rmSync(ccache.slice('DIR:'.length), { recursive: true, force: true });
    }
  });

  it('KCM: (a KCM daemon, as SSSD runs on Fedora and RHEL; Heimdal\'s kcm here)', async () => {
    const kcm = await startKcm(join(realm.dir, 'kcm-run'));
    try {
      const conf = join(realm.dir, 'krb5-kcm.conf');
      writeFileSync(conf, krb5ConfWith(realm.kdcPort, [`kcm_socket = ${kcm.socket}`]));
      const env = { KRB5_CONFIG: conf };
      const kinit = spawnSync('kinit', [realm.alice.principal], { env: { ...process.env, ...env, KRB5CCNAME: 'KCM:' }, input: `${realm.alice.password}\n`, encoding: 'utf8' });
      expect(kinit.status, kinit.stderr).toBe(0);
      expect(klist('KCM:', env)).toMatch(/Ticket cache: KCM:/);
      await logsOnWith('KCM:', env);
    } finally {
      kcm.stop();
    }
  });
});

// A server outside the domain reached under the DC's name: the KDC gives a valid ticket for
// cifs/<DC>, which this server has no key for. It refuses the AP-REQ, and 'desired' logs on with
// the password instead, as smbclient does.
describe('a server that refuses a valid ticket', () => {
  let plain: SambaServer;
  let creds: string;
  let wrongCreds: string;

  beforeAll(async () => {
    plain = await startSamba();
    creds = join(realm.dir, 'plain.creds');
    wrongCreds = join(realm.dir, 'plain-wrong.creds');
    writeFileSync(creds, `username=${plain.user}\npassword=${plain.password}\ndomain=${plain.domain}\n`, { mode: 0o600 });
    writeFileSync(wrongCreds, `username=${plain.user}\npassword=not-${plain.password}\ndomain=${plain.domain}\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    await plain?.stop();
  });

  const plainAt = (...more: string[]) => ['-I', '127.0.0.1', '-p', String(plain.port), ...more, `//${realm.host}/${plain.share}`];

  it('-k says the server refused the Kerberos logon, in one line', async () => {
    const r = await run(['info', ...plainAt('-k')], realm.clientEnv(aliceCache));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`the server refused the Kerberos logon: is it a member of the ticket's realm, known there as cifs/${realm.host.replace(/\./g, '\\.')}\\? \\(STATUS_`));
  });

  it('--use-kerberos=desired then logs on with the password', async () => {
    const r = await run(['info', ...plainAt('--use-kerberos=desired', '-A', creds)], realm.clientEnv(aliceCache));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Authentication: +NTLMv2/);
  });

  it('when the password fails too, the one line says why Kerberos was not used', async () => {
    const r = await run(['info', ...plainAt('--use-kerberos=desired', '-A', wrongCreds)], realm.clientEnv(aliceCache));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/logon failed: wrong user name or password \(STATUS_LOGON_FAILURE\); Kerberos: the server refused the Kerberos logon \(STATUS_/);
  });

  it('with no ticket at all, the password\'s failure says so too', async () => {
    const r = await run(['info', ...plainAt('--use-kerberos=desired', '-A', wrongCreds)], realm.clientEnv(`FILE:${join(realm.dir, 'none.cc')}`));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/logon failed: wrong user name or password \(STATUS_LOGON_FAILURE\); Kerberos: no Kerberos ticket/);
  });
});

describe('errors in words, one line each', () => {
  async function failure(args: string[], env: Record<string, string>): Promise<string> {
    const r = await run(args, env);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/\n|^\s+at /);
    return lines[0]!;
  }

  /** A cache with only a TGT (no service ticket yet), so the next logon asks the KDC. */
  function freshCache(name: string): string {
    const cache = `FILE:${join(realm.dir, name)}`;
    realm.kinit(cache);
    return cache;
  }

  it('no ticket', async () => {
    const line = await failure(['info', ...at('share', '-k')], realm.clientEnv(`FILE:${join(realm.dir, 'none.cc')}`));
    expect(line).toMatch(/no Kerberos ticket: .*No Kerberos credentials available.*run kinit/);
  });

  it('clock skew (the cache says the KDC clock is an hour ahead)', async () => {
    const cache = freshCache('skew.cc');
    // MIT ccache format version 4: header tag 1 holds the KDC time offset (seconds, then µs),
    // which libkrb5 adds to the local clock when kdc_timesync is on (the default).
    const path = cache.slice('FILE:'.length);
    const fd = openSync(path, 'r+');
    const head = Buffer.alloc(12);
    readSync(fd, head, 0, 12, 0);
    expect(head.readUInt16BE(0)).toBe(0x0504);
    expect(head.readUInt16BE(4)).toBe(1); // tag 1: DeltaTime
    const offset = Buffer.alloc(4);
    offset.writeInt32BE(3600);
    writeSync(fd, offset, 0, 4, 8);
    closeSync(fd);
    const line = await failure(['info', ...at('share', '-k')], realm.clientEnv(cache));
    expect(line).toMatch(/Kerberos clock skew too great/);
  });

  it('unknown principal (a keytab for a user the domain does not have)', async () => {
    const keytab = join(realm.dir, 'nobody.keytab');
    const kt = spawnSync('ktutil', [], {
      input: `addent -password -p nobody@${realm.realm} -k 1 -e aes256-cts-hmac-sha1-96\nsecret\nwkt ${keytab}\nquit\n`,
      encoding: 'utf8',
    });
    expect(kt.status).toBe(0);
    const line = await failure(['info', ...at('share', '-k')], realm.clientEnv('MEMORY:nobody', { KRB5_CLIENT_KTNAME: keytab }));
    expect(line).toMatch(/Kerberos unknown principal: .*nobody@TEST\.LAN/);
  });

  it('server not in the realm', async () => {
    const args = ['info', '-I', '127.0.0.1', '-p', String(realm.smbPort), '-k', `//files.test.lan/share`];
    const line = await failure(args, realm.clientEnv(aliceCache));
    expect(line).toMatch(/Kerberos server not in the realm: the KDC has no principal for cifs\/files\.test\.lan/);
  });

  it('KDC unreachable', async () => {
    const cache = freshCache('nokdc.cc');
    const conf = join(realm.dir, 'krb5-nokdc.conf');
    writeFileSync(conf, krb5ConfText(realm.kdcPort, { kdc: '127.0.0.1:9' }));
    const line = await failure(['info', ...at('share', '-k')], { ...realm.clientEnv(cache), KRB5_CONFIG: conf });
    expect(line).toMatch(/Kerberos KDC unreachable: Cannot contact any KDC for realm 'TEST\.LAN'/);
  });

  it('an expired ticket names the user and says to run kinit', async () => {
    // A cache whose TGT ended: copy alice's and move the clock past its end through the KDC
    // time offset (as above), which is how libkrb5 sees an expired ticket.
    const path = join(realm.dir, 'old.cc');
    copyFileSync(aliceCache.slice('FILE:'.length), path);
    const fd = openSync(path, 'r+');
    const offset = Buffer.alloc(4);
    offset.writeInt32BE(2 * 86400);
    writeSync(fd, offset, 0, 4, 8);
    closeSync(fd);
    const line = await failure(['info', ...at('share', '-k')], realm.clientEnv(`FILE:${path}`));
    expect(line).toBe('smbnotify: Kerberos ticket expired for alice@TEST.LAN: run kinit');
    // The same cache named on the command line is said by name, with the kinit that fills it.
    const named = await failure(['info', ...at('share', '-k', '--use-krb5-ccache', `FILE:${path}`)], realm.clientEnv(`FILE:${join(realm.dir, 'none.cc')}`));
    expect(named).toBe(`smbnotify: Kerberos ticket expired for alice@TEST.LAN in FILE:${path}: run kinit -c FILE:${path}`);
  });
});
