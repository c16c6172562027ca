// The daemon with Kerberos against the test DC (NTLM disabled there): -k on the command line on
// 2.1, 3.0.2 and 3.1.1, a [watch] section with its own credential cache and address, a D-Bus
// AddWatch with the same settings over a real dbus-daemon, and a cifs mount with sec=krb5 in
// mountinfo (the mount user's ticket).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { runCli, type Running } from '../support/cli.js';
import { startDbus } from '../support/dbus.js';
import { requireTool } from '../support/tools.js';
import { krb5ConfWith, startKcm, useRealm, type Realm } from '../support/kerberos.js';

const theRealm = useRealm('kerberos daemon', { beforeAll, afterAll });
let realm: Realm;
let aliceCache: string;
let emptyMountinfo: string;
let journals: string;

beforeAll(() => {
  realm = theRealm();
  aliceCache = `FILE:${join(realm.dir, 'alice.cc')}`;
  realm.kinit(aliceCache);
  // The journal's folder becomes 0700 (the daemon's own): keep it apart from the shares'.
  journals = join(realm.dir, 'journals');
  mkdirSync(journals);
  emptyMountinfo = join(realm.dir, 'mountinfo-empty');
  writeFileSync(emptyMountinfo, '');
});

async function journalEvent(journal: string, match: (e: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(journal)) {
      const found = readFileSync(journal, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find(match);
      if (found) return found;
    }
    if (Date.now() > deadline) throw new Error(`no matching event in ${journal} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A folder on the share the domain user may open (mkdir gives root's 0755). */
function shareFolder(root: string, name: string): void {
  mkdirSync(join(root, name));
  chmodSync(join(root, name), 0o777);
}

/** Wait for the watch to be established; on failure, say what the DC logged. */
async function watching(d: Running, timeoutMs = 20_000): Promise<void> {
  try {
    await d.waitLine(/: watching/, timeoutMs, 'stderr');
  } catch (err) {
    (err as Error).message += `\n--- DC log:\n${realm.logTail(4000)}`;
    throw err;
  }
}

async function stop(d: Running): Promise<void> {
  d.child.kill('SIGTERM');
  await d.exit;
}

describe.each([
  { name: 'SMB2_10', share: 'share', protect: 'sign' },
  { name: 'SMB3_02', share: 'enc', protect: 'encrypt' },
  { name: 'SMB3_11', share: 'enc', protect: 'encrypt' },
] as const)('daemon -k, $name', ({ name, share, protect }) => {
  it('watches with only a ticket and journals the changes', async () => {
    const journal = join(journals, `journal-${name}.jsonl`);
    const folder = `daemon-${name}`;
    const root = share === 'enc' ? realm.encSharePath : realm.sharePath;
    shareFolder(root, folder);
    const d = runCli(
      ['daemon', '--bus', 'none', '--journal', journal, '--mountinfo', emptyMountinfo, '-k', '-I', '127.0.0.1', '-p', String(realm.smbPort),
        '--max-protocol', name, '--protect', protect, '--watch', `//${realm.host}/${share}/${folder}`],
      realm.clientEnv(aliceCache),
    );
    try {
      await watching(d);
      writeFileSync(join(root, folder, 'hello.txt'), 'x');
      const e = await journalEvent(journal, (x) => x['event'] === 'CREATE');
      expect(e).toMatchObject({ event: 'CREATE', path: `${folder}/hello.txt`, share, server: `${realm.host}:${realm.smbPort}` });
    } finally {
      await stop(d);
    }
  });
});

describe('daemon configuration', () => {
  it('a [watch] section with kerberos, krb5-ccache and ip-address', async () => {
    const journal = join(journals, 'journal-config.jsonl');
    shareFolder(realm.sharePath, 'configured');
    const config = join(realm.dir, 'config');
    writeFileSync(config, [
      '[daemon]', 'follow-desktop = no', `journal = ${journal}`, 'bus = none', '',
      '[watch configured]', `target = smb://${realm.host}:${realm.smbPort}/share/configured`, 'kerberos = required',
      `krb5-ccache = ${aliceCache}`, 'ip-address = 127.0.0.1', '',
    ].join('\n'));
    // KRB5CCNAME points nowhere: the ticket can only come from krb5-ccache.
    const d = runCli(['daemon', '--config', config, '--mountinfo', emptyMountinfo], realm.clientEnv('FILE:/nonexistent/cache'));
    try {
      await watching(d);
      writeFileSync(join(realm.sharePath, 'configured', 'from-config.txt'), 'x');
      expect(await journalEvent(journal, (x) => x['event'] === 'CREATE')).toMatchObject({ path: 'configured/from-config.txt' });
    } finally {
      await stop(d);
    }
  });

  it('D-Bus AddWatch with kerberos, krb5Ccache and ipAddress', async () => {
    const journal = join(journals, 'journal-dbus.jsonl');
    shareFolder(realm.sharePath, 'over-dbus');
    const bus = await startDbus();
    // KRB5CCNAME points nowhere: the ticket can only come from the krb5Ccache option.
    const d = runCli(['daemon', '--bus', bus.address, '--config', '/dev/null', '--journal', journal, '--mountinfo', emptyMountinfo], realm.clientEnv('FILE:/nonexistent/cache'));
    const gdbus = async (method: string, ...args: string[]): Promise<string> => {
      const r = await promisify(execFile)(requireTool('gdbus', 'libglib2.0-bin'), [
        'call', '--address', bus.address, '--dest', 'io.github.smbnotify', '--object-path', '/io/github/smbnotify',
        '--method', `io.github.smbnotify.Watcher1.${method}`, ...args,
      ]);
      return r.stdout.trim();
    };
    try {
      await d.waitLine(/daemon running/, 20_000, 'stderr');
      const target = `smb://${realm.host}:${realm.smbPort}/share/over-dbus`;
      // A cache named without Kerberos would be ignored in silence: refused, as on the command line.
      const refused = await gdbus('AddWatch', target, `{'krb5Ccache': <'${aliceCache}'>}`).then(() => 'accepted', (err: Error) => err.message);
      expect(refused).toMatch(/Error\.\w+: krb5Ccache \S+ needs Kerberos: set kerberos to required or desired \(dbus watch\)/);
      const added = await gdbus('AddWatch', target, `{'kerberos': <'required'>, 'krb5Ccache': <'${aliceCache}'>, 'ipAddress': <'127.0.0.1'>}`);
      const id = /^\('(w\d+)',\)$/.exec(added)?.[1];
      expect(id, added).toBeDefined();
      await watching(d);
      writeFileSync(join(realm.sharePath, 'over-dbus', 'via-dbus.txt'), 'x');
      expect(await journalEvent(journal, (x) => x['event'] === 'CREATE')).toMatchObject({ path: 'over-dbus/via-dbus.txt', watchId: id });
      const listed = await gdbus('ListWatches');
      expect(listed).toContain(`'id': <'${id}'>`);
      expect(listed).toContain("'state': <'watching'>");
      expect(listed).toContain("'origin': <'dbus'>");
    } finally {
      await stop(d);
      await bus.stop();
    }
  });

  it('a cifs mount with sec=krb5 uses the mount user\'s ticket, connecting to its addr=', async () => {
    const journal = join(journals, 'journal-mount.jsonl');
    shareFolder(realm.sharePath, 'mounted');
    const mountPoint = join(realm.dir, 'mnt');
    mkdirSync(mountPoint);
    const mountinfo = join(realm.dir, 'mountinfo-krb5');
    const uid = process.getuid!();
    writeFileSync(mountinfo, `99 22 0:55 / ${mountPoint} rw,relatime - cifs //${realm.host}/share rw,vers=3.1.1,sec=krb5,cruid=${uid},addr=127.0.0.1,port=${realm.smbPort},prefixpath=mounted\n`);
    const d = runCli(['daemon', '--bus', 'none', '--journal', journal, '--mountinfo', mountinfo, '--watch', mountPoint], realm.clientEnv(aliceCache));
    try {
      await watching(d);
      writeFileSync(join(realm.sharePath, 'mounted', 'via-mount.txt'), 'x');
      const e = await journalEvent(journal, (x) => x['event'] === 'CREATE');
      expect(e).toMatchObject({ path: 'mounted/via-mount.txt', localPath: join(mountPoint, 'via-mount.txt') });
    } finally {
      await stop(d);
    }
  });

  // A root daemon and a mount whose cruid is another user (nobody here), who keeps tickets where
  // krb5.conf's default_ccache_name says, as Fedora and RHEL set it: the daemon opens that user's
  // default cache (cifs.upcall would find it as that user). Root may open another uid's persistent
  // keyring, and Heimdal's kcm gives root every user's caches.
  it.each([
    { type: 'KEYRING:persistent:%{uid}', kcm: false },
    { type: 'KCM:', kcm: true },
  ])('a sec=krb5 mount with another user\'s cruid and default_ccache_name = $type', async ({ type, kcm }) => {
    const name = kcm ? 'kcm' : 'keyring';
    const journal = join(journals, `journal-cruid-${name}.jsonl`);
    const folder = `cruid-${name}`;
    shareFolder(realm.sharePath, folder);
    const kcmd = kcm ? await startKcm(join(realm.dir, 'kcm-daemon-test')) : undefined;
    const conf = join(realm.dir, `krb5-cruid-${name}.conf`);
    writeFileSync(conf, krb5ConfWith(realm.kdcPort, [`default_ccache_name = ${type}`, ...(kcmd ? [`kcm_socket = ${kcmd.socket}`] : [])]));
    const nobody = 65534;
    const asNobody = ['--reuid', String(nobody), '--regid', String(nobody), '--clear-groups', '--'];
    // nobody's own default cache: no KRB5CCNAME.
    const env: NodeJS.ProcessEnv = { ...process.env, KRB5_CONFIG: conf };
    delete env['KRB5CCNAME'];
    const kinit = spawnSync('setpriv', [...asNobody, 'kinit', realm.alice.principal], { env, input: `${realm.alice.password}\n`, encoding: 'utf8' });
    expect(kinit.status, kinit.stderr).toBe(0);
    const mountPoint = join(realm.dir, `mnt-${name}`);
    mkdirSync(mountPoint);
    const mountinfo = join(realm.dir, `mountinfo-cruid-${name}`);
    writeFileSync(mountinfo, `99 22 0:55 / ${mountPoint} rw,relatime - cifs //${realm.host}/share rw,vers=3.1.1,sec=krb5,cruid=${nobody},addr=127.0.0.1,port=${realm.smbPort},prefixpath=${folder}\n`);
    // The daemon's own cache points nowhere: the ticket can only be nobody's.
    const d = runCli(['daemon', '--bus', 'none', '--journal', journal, '--mountinfo', mountinfo, '--watch', mountPoint], { KRB5_CONFIG: conf, KRB5CCNAME: 'FILE:/nonexistent/cache' });
    try {
      await watching(d);
      writeFileSync(join(realm.sharePath, folder, 'as-cruid.txt'), 'x');
      expect(await journalEvent(journal, (x) => x['event'] === 'CREATE')).toMatchObject({ path: `${folder}/as-cruid.txt` });
    } finally {
      await stop(d);
      spawnSync('setpriv', [...asNobody, 'kdestroy'], { env });
      kcmd?.stop();
    }
  });

  it('without a ticket the daemon says so in one line and keeps retrying until kinit', async () => {
    const journal = join(journals, 'journal-noticket.jsonl');
    const cache = `FILE:${join(realm.dir, 'later.cc')}`;
    shareFolder(realm.sharePath, 'later');
    const d = runCli(
      ['daemon', '--bus', 'none', '--journal', journal, '--mountinfo', emptyMountinfo, '-k', '-I', '127.0.0.1', '-p', String(realm.smbPort), '--watch', `//${realm.host}/share/later`],
      realm.clientEnv(cache),
    );
    try {
      const line = await d.waitLine(/no Kerberos ticket/, 20_000, 'stderr');
      expect(line).toMatch(/reconnecting: cannot connect \(no Kerberos ticket: .*run kinit.*\); retrying in \d+ s/);
      realm.kinit(cache);
      await watching(d, 30_000);
      writeFileSync(join(realm.sharePath, 'later', 'after-kinit.txt'), 'x');
      expect(await journalEvent(journal, (x) => x['event'] === 'CREATE')).toMatchObject({ path: 'later/after-kinit.txt' });
    } finally {
      await stop(d);
    }
  });
});
