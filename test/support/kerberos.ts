// A throwaway Active Directory domain (Samba AD DC) on loopback for the Kerberos tests: realm
// TEST.LAN, KDC and SMB on free high ports, NTLM disabled so that only Kerberos can succeed, one
// user with a password (alice) and one with a keytab (bob). docs/kerberos.md explains the set-up;
// the traps, briefly:
// - Provisioning runs as root only (samba-tool refuses otherwise): the tests need root.
// - A running DC's winbindd takes over the machine-wide /run/samba/winbindd/pipe, and then logins
//   to every OTHER smbd on the machine fail. The DC runs with nss_wrapper preloaded and
//   SELFTEST_WINBINDD_SOCKET_DIR set, as Samba's own selftest does, so its winbindd listens in
//   its own directory; `assertIsolated()` checks that the global pipe is not the DC's.
// - `ntlm auth = disabled` given at provision time is dropped: it is added to smb.conf after.
// - The client krb5.conf switches DNS off entirely (realm, KDC and host canonicalisation), or
//   libkrb5 asks DNS servers off the machine for SRV records.
// - The KDC refuses a service ticket when the TGT has 120 s or less left: short tickets for the
//   expiry tests are `kinit -l 150s` at the least.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, probe } from './samba.js';
import { atExit, requireTool, withParentDeathSignal } from './tools.js';

export const REALM = 'TEST.LAN';
export const DC_HOST = 'dc.test.lan';

export interface Realm {
  readonly dir: string;
  readonly realm: string;
  /** The DC's host name: the service principal is cifs/dc.test.lan; connect to 127.0.0.1. */
  readonly host: string;
  readonly smbPort: number;
  readonly kdcPort: number;
  /** krb5.conf for clients (KRB5_CONFIG). */
  readonly krb5Conf: string;
  /** Share with signing (the DC requires it); `enc` additionally requires encryption. */
  readonly sharePath: string;
  readonly encSharePath: string;
  readonly alice: { principal: string; password: string };
  readonly bob: { principal: string; keytab: string };
  /** Environment for a client: KRB5_CONFIG plus the given cache, no keytab. */
  clientEnv(ccache: string, extra?: Record<string, string>): Record<string, string>;
  /** kinit alice into `ccache` (FILE:...); `lifetime` like "150s". */
  kinit(ccache: string, lifetime?: string): void;
  stop(): Promise<void>;
  /** Proves the machine-wide winbindd pipe is not the DC's. Throws otherwise. */
  assertIsolated(): void;
  logTail(bytes?: number): string;
}

const ADMIN_PASSWORD = `Adm1n-${randomBytes(6).toString('hex')}`;
const NSS_WRAPPER_PKG = 'libnss-wrapper';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: string): string {
  const r = spawnSync(cmd, args, { env, input, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).slice(-1500)}`);
  }
  return r.stdout;
}

function nssWrapperPath(): string {
  for (const p of ['/usr/lib/x86_64-linux-gnu/libnss_wrapper.so', '/usr/lib/aarch64-linux-gnu/libnss_wrapper.so', '/usr/lib/libnss_wrapper.so']) {
    if (existsSync(p)) return p;
  }
  const listed = spawnSync('dpkg', ['-L', NSS_WRAPPER_PKG], { encoding: 'utf8' }).stdout?.split('\n').find((l) => l.endsWith('/libnss_wrapper.so'));
  if (listed) return listed;
  throw new Error(`libnss_wrapper.so not found: apt-get install ${NSS_WRAPPER_PKG} (or run test/setup-system.sh as root)`);
}

/**
 * One realm for a test file: started before its tests, stopped after them, with its set-up and
 * run times printed (the figures docs/kerberos.md quotes).
 */
export function useRealm(label: string, hooks: { beforeAll: (fn: () => Promise<void>, timeout: number) => void; afterAll: (fn: () => Promise<void>) => void }): () => Realm {
  let realm: Realm | undefined;
  let start = 0;
  hooks.beforeAll(async () => {
    start = Date.now();
    realm = await startRealm();
  }, 420_000);
  hooks.afterAll(async () => {
    await realm?.stop();
    const t = timings.at(-1);
    if (t) console.log(`${label}: DC provision ${t.provisionMs} ms, start ${t.startMs} ms, whole file ${Date.now() - start} ms`);
  });
  return () => {
    if (!realm) throw new Error('the realm did not start (see the beforeAll error)');
    return realm;
  };
}

export function krb5ConfText(kdcPort: number, opts: { kdc?: string } = {}): string {
  const kdc = opts.kdc ?? `127.0.0.1:${kdcPort}`;
  return [
    '[libdefaults]',
    `  default_realm = ${REALM}`,
    '  dns_lookup_realm = false',
    '  dns_lookup_kdc = false',
    '  dns_canonicalize_hostname = false',
    '  rdns = false',
    '  udp_preference_limit = 1',
    '  kdc_timeout = 2000',
    '  max_retries = 1',
    '[realms]',
    `  ${REALM} = {`,
    `    kdc = ${kdc}`,
    '  }',
    '[domain_realm]',
    `  .test.lan = ${REALM}`,
    `  test.lan = ${REALM}`,
    '',
  ].join('\n');
}

/** Provision the domain and start the DC; resolves when KDC and SMB accept connections. */
export async function startRealm(): Promise<Realm> {
  if (process.getuid?.() !== 0) {
    throw new Error('the Kerberos tests provision a Samba AD DC, which needs root: run them as root (CI does)');
  }
  const sambaTool = requireTool('samba-tool', 'samba-ad-provision');
  const samba = requireTool('samba', 'samba-ad-dc');
  requireTool('kinit', 'krb5-user');
  requireTool('winbindd', 'winbind');
  const nssWrapper = nssWrapperPath();

  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-realm-'));
  chmodSync(dir, 0o755);
  const [smbPort, kdcPort, kpasswdPort] = [await freePort(), await freePort(), await freePort()];
  const dcDir = join(dir, 'dc');
  const wbDir = join(dir, 'wb');
  const sharePath = join(dir, 'share');
  const encSharePath = join(dir, 'enc');
  for (const d of [dcDir, wbDir, sharePath, encSharePath]) mkdirSync(d, { recursive: true });
  chmodSync(sharePath, 0o777);
  chmodSync(encSharePath, 0o777);
  const emptyConf = join(dir, 'empty.conf');
  writeFileSync(emptyConf, '');
  const options = [
    'interfaces=lo',
    'bind interfaces only=yes',
    `smb ports=${smbPort}`,
    `krb5 port=${kdcPort}`,
    `kpasswd port=${kpasswdPort}`,
    'server services=s3fs kdc winbindd',
    'disable netbios=yes',
    `pid directory=${dcDir}/run`,
    `ncalrpc dir=${dcDir}/ncalrpc`,
    `ntp signd socket directory=${dcDir}/ntp_signd`,
    `winbindd socket directory=${wbDir}`,
    `log file=${dcDir}/log.%m`,
    'load printers=no',
    'printing=bsd',
    'printcap name=/dev/null',
    'disable spoolss=yes',
  ];
  const stopHook = { stop: (): void => undefined };
  const unregister = atExit(() => stopHook.stop());
  const provisionStart = Date.now();
  run(sambaTool, [
    'domain', 'provision', '-s', emptyConf, `--realm=${REALM}`, '--domain=TEST', '--server-role=dc', '--dns-backend=NONE',
    '--use-rfc2307', `--targetdir=${dcDir}`, '--host-name=dc', '--host-ip=127.0.0.1', `--adminpass=${ADMIN_PASSWORD}`,
    ...options.map((o) => `--option=${o}`),
  ]);
  const conf = join(dcDir, 'etc', 'smb.conf');
  // `ntlm auth` at provision time is dropped; signing is mandatory on a DC anyway.
  const text = readFileSync(conf, 'utf8').replace('[global]', '[global]\n\tntlm auth = disabled\n\tserver signing = mandatory\n\trpcd_classic:idle_seconds = 2\n\trpcd_winreg:idle_seconds = 2');
  writeFileSync(conf, `${text}\n[share]\n\tpath = ${sharePath}\n\tread only = no\n\n[enc]\n\tpath = ${encSharePath}\n\tread only = no\n\tsmb encrypt = required\n`);

  const alice = { principal: `alice@${REALM}`, password: `Al1ce-${randomBytes(6).toString('hex')}` };
  const bob = { principal: `bob@${REALM}`, keytab: join(dir, 'bob.keytab') };
  run(sambaTool, ['user', 'add', 'alice', alice.password, '-s', conf]);
  run(sambaTool, ['user', 'add', 'bob', `B0b-${randomBytes(6).toString('hex')}`, '-s', conf]);
  run(sambaTool, ['domain', 'exportkeytab', bob.keytab, `--principal=${bob.principal}`, '-s', conf]);
  const provisionMs = Date.now() - provisionStart;

  const krb5Conf = join(dir, 'krb5.conf');
  writeFileSync(krb5Conf, krb5ConfText(kdcPort));

  const logPath = join(dir, 'samba.log');
  const env = {
    ...process.env,
    LD_PRELOAD: nssWrapper,
    NSS_WRAPPER_PASSWD: '/etc/passwd',
    NSS_WRAPPER_GROUP: '/etc/group',
    SELFTEST_WINBINDD_SOCKET_DIR: wbDir,
    KRB5_CONFIG: krb5Conf,
  };
  const globalPipe = '/run/samba/winbindd/pipe';
  const pipeBefore = pipeIdentity(globalPipe);
  const startedAt = Date.now();
  // Own process group (detached), so that stop() ends samba and all its children at once.
  const { openSync, closeSync } = await import('node:fs');
  const logFd = openSync(logPath, 'a');
  const child: ChildProcess = spawn(samba, ['-i', '-M', 'single', '--debug-stdout', '-d1', '-s', conf], {
    env, detached: true, stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pgid = child.pid!;
  let stopped = false;
  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // already gone
    }
  };
  stopHook.stop = () => {
    if (!stopped) killGroup('SIGKILL');
    stopped = true;
    rmSync(dir, { recursive: true, force: true });
  };
  const logTail = (bytes = 3000): string => {
    try {
      return readFileSync(logPath, 'utf8').slice(-bytes);
    } catch {
      return '';
    }
  };

  const realm: Realm = {
    dir, realm: REALM, host: DC_HOST, smbPort, kdcPort, krb5Conf, sharePath, encSharePath, alice, bob,
    clientEnv(ccache, extra = {}) {
      return { KRB5_CONFIG: krb5Conf, KRB5CCNAME: ccache, ...extra };
    },
    kinit(ccache, lifetime) {
      run('kinit', [...(lifetime ? ['-l', lifetime] : []), alice.principal], { ...process.env, ...realm.clientEnv(ccache) }, `${alice.password}\n`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      killGroup('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
      if (!done) killGroup('SIGKILL');
      await Promise.race([exited, sleep(2000)]);
      killGroup('SIGKILL'); // children that outlived the parent
      unregister();
      rmSync(dir, { recursive: true, force: true });
    },
    assertIsolated() {
      const now = pipeIdentity(globalPipe);
      if (now !== pipeBefore) {
        throw new Error(`the DC touched the machine-wide winbindd pipe ${globalPipe} (before: ${pipeBefore}, now: ${now}): isolation failed`);
      }
      if (!existsSync(join(wbDir, 'pipe'))) throw new Error(`the DC's winbindd pipe is not in ${wbDir}`);
    },
    logTail,
  };

  try {
    const deadline = Date.now() + 30_000;
    while (!((await probe(kdcPort)) && (await probe(smbPort)) && existsSync(join(wbDir, 'pipe')))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`samba exited at start-up: ${logTail()}`);
      if (Date.now() > deadline) throw new Error(`samba not ready within 30 s: ${logTail()}`);
      await sleep(100);
    }
    realm.assertIsolated();
  } catch (err) {
    await realm.stop();
    throw err;
  }
  timings.push({ provisionMs, startMs: Date.now() - startedAt });
  return realm;
}

/** Provision and start times of each realm this process started, for the tests' report. */
export const timings: { provisionMs: number; startMs: number }[] = [];

/** "inode:mtime" of a socket path, or "absent": enough to see whether someone re-created it. */
function pipeIdentity(path: string): string {
  try {
    const st = lstatSync(path);
    return `${st.ino}:${st.mtimeMs}`;
  } catch {
    return 'absent';
  }
}

/**
 * A KDC that never answers: it accepts TCP connections and UDP datagrams on one loopback port and
 * keeps silent, as a KDC behind a dropping firewall or a hung one does. libkrb5 then waits its
 * whole timeout (MIT 1.20 with krb5ConfText: about 10 s on TCP, then UDP retries, 27 s in all)
 * before "Cannot contact any KDC".
 */
export interface SilentKdc {
  readonly port: number;
  /** Requests received so far (TCP connections with data, UDP datagrams). */
  readonly requests: number;
  /** TCP connections the client still holds open: a KDC request is pending. */
  readonly open: number;
  close(): Promise<void>;
}

export async function startSilentKdc(): Promise<SilentKdc> {
  const { createServer } = await import('node:net');
  const { createSocket } = await import('node:dgram');
  const port = await freePort();
  const sockets = new Set<import('node:net').Socket>();
  let requests = 0;
  const tcp = createServer((s) => {
    sockets.add(s);
    s.once('data', () => requests++);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  const udp = createSocket('udp4');
  udp.on('message', () => requests++);
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    get requests() {
      return requests;
    },
    get open() {
      return sockets.size;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}

/** A keytab for `principal` made locally with ktutil (no KDC needed; the key is made up). */
export function makeKeytab(path: string, principal: string): void {
  run(requireTool('ktutil', 'krb5-user'), [], process.env, `addent -password -p ${principal} -k 1 -e aes256-cts-hmac-sha1-96\nsecret\nwkt ${path}\nquit\n`);
}

/**
 * Heimdal's KCM daemon (package heimdal-kcm) on a socket of `dir`, for the KCM cache tests.
 * Debian's kcm ignores --socket-path and always listens on /run/.heim_org.h5l.kcm-socket: it runs
 * in a mount namespace of its own where `dir` is bind mounted on /run, so its socket is dir's and
 * no machine-wide KCM is started or touched. Point MIT's client at it with kcmConf().
 */
export async function startKcm(dir: string): Promise<{ socket: string; stop(): void }> {
  const { spawn: spawnChild } = await import('node:child_process');
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, '.heim_org.h5l.kcm-socket');
  const [cmd, args] = withParentDeathSignal(requireTool('unshare', 'util-linux'), [
    '--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$1" /run && exec "$2"', 'sh', dir, requireTool('kcm', 'heimdal-kcm'),
  ]);
  const kcm = spawnChild(cmd, args, { stdio: 'ignore' });
  const stop = (): void => void kcm.kill('SIGKILL');
  for (let i = 0; i < 200 && !existsSync(socket); i++) await sleep(50);
  if (!existsSync(socket)) {
    stop();
    throw new Error(`kcm did not create ${socket} within 10 s`);
  }
  return { socket, stop };
}

/** krb5ConfText with more [libdefaults] lines (kcm_socket, default_ccache_name…). */
export function krb5ConfWith(kdcPort: number, libdefaults: string[]): string {
  return krb5ConfText(kdcPort).replace('[libdefaults]\n', `[libdefaults]\n${libdefaults.map((l) => `  ${l}\n`).join('')}`);
}
