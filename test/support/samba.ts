// A throwaway smbd on loopback, one per test file (or per test), for integration tests.
//
// Everything a server writes lives in one mkdtemp directory; the server listens on a free high
// port of 127.0.0.1 (and ::1, `interfaces = lo`). See docs/testbench.md for the facts
// this file relies on. The traps, briefly:
// - smbd started with a piped stdin and without `--daemon` runs in inetd mode on the pipe.
// - `--daemon --foreground` makes smbd call setsid(): it leads its own session and process
//   group, so the SIGTERM its parent sends to "its" process group at exit never reaches the test
//   runner. Never pass `--no-process-group`, and never spawn with `detached: true` either: smbd's
//   own setsid() then fails ("Failed to create session") and smbd exits.
// - The piped stdin doubles as a lifeline: smbd exits when it reads EOF, i.e. when the test
//   process dies, even by SIGKILL.
// - samba-dcerpcd (started on demand for RPC, e.g. share listings) daemonizes into a session of
//   its own, outside smbd's process group. We find it, and every other process of a server, by
//   the unique `--configfile=<confPath>` on its command line.
// - smbd does not exit when it cannot bind its port ("open_socket_in failed: Address already in
//   use" in the log); it keeps serving on whatever it could bind. We therefore check that the
//   listening socket on 127.0.0.1:port belongs to our smbd (through /proc) before calling the
//   server ready, and pick another port when the log shows a bind failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { atExit, requireTool } from './tools.js';

export type SmbProtocol = 'SMB2_02' | 'SMB2_10' | 'SMB3_00' | 'SMB3_02' | 'SMB3_11';

export interface SambaOptions {
  maxProtocol?: SmbProtocol;
  minProtocol?: SmbProtocol;
  /** `server signing` */
  signing?: 'mandatory' | 'auto' | 'disabled';
  /** `server smb encrypt` in [global] */
  encrypt?: 'required' | 'desired' | 'off';
  /** `server smb encrypt = required` on the 'data' share only (share-level encryption). */
  encryptShare?: boolean;
  /** `server smb3 encryption algorithms`, e.g. 'AES-256-GCM' (SMB 3.1.1 negotiation only). */
  encryptionAlgorithms?: string;
  /** `server smb3 signing algorithms`, e.g. 'AES-128-GMAC' (exists in Samba 4.17; 3.1.1 only). */
  signingAlgorithms?: string;
  /** false => `change notify = no` (CHANGE_NOTIFY answers STATUS_NOT_IMPLEMENTED). */
  changeNotify?: boolean;
  /** `kernel change notify`; false => changes made on the server's disk are never reported. */
  kernelChangeNotify?: boolean;
  /**
   * Default true: both shares use `force user = <the test process's user>`, so files created
   * over SMB and files created by the test process can be changed and deleted by the other
   * whatever the umask (a root-created 0755 subdirectory would otherwise be read-only over SMB).
   * Set false to test permission errors: SMB operations then run as the session's own user
   * (smbnotify-test, or nobody for guests). Ignored when not root (smbd cannot switch users).
   */
  forceUser?: boolean;
  /**
   * The NAS set-up for Mac clients on both shares: `vfs objects = catia fruit streams_xattr`
   * (package samba-vfs-modules). vfs_fruit vetoes AppleDouble `._*` files: they exist on the disk
   * and are notified, but never listed.
   */
  fruit?: boolean;
  /** `veto files` on both shares, e.g. '/*.tmp/': such names are never listed. */
  vetoFiles?: string;
  /** `hide dot files` on both shares (dot names are listed with FILE_ATTRIBUTE_HIDDEN). */
  hideDotFiles?: boolean;
  /**
   * `mangled names` on both shares (Samba's default is yes: a name holding a character Windows
   * forbids, or ending in a dot or space, is listed under an 8.3 name such as MJXW7P~I.TXT).
   */
  mangledNames?: boolean;
  /**
   * Symlinks that leave the share or loop: `wide links = yes` on both shares, with the global
   * `allow insecure wide links = yes` and `unix extensions = no` that Samba requires for it.
   */
  wideLinks?: boolean;
  /** raw smb.conf lines for [global] */
  extraGlobal?: string[];
  /** raw smb.conf lines for the [data] share */
  extraShare?: string[];
}

export interface SmbclientResult {
  /** Exit code; 124 (like timeout(1)) when the timeout or the abort signal killed it. */
  code: number;
  stdout: string;
  stderr: string;
  /** True when the timeout (not the abort signal) killed it. */
  timedOut: boolean;
}

export interface SmbclientOptions {
  /** Default 15 s. On expiry smbclient is killed and the result has timedOut = true. */
  timeoutMs?: number;
  /** 'user' (default): the password user, through an authentication file. 'guest': -N. */
  user?: 'user' | 'guest';
  /**
   * Default: 'data' for the user, 'public' for the guest. null: no service argument, for
   * commands that name the server themselves (`['-L', '//127.0.0.1']`).
   */
  share?: string | null;
  /** Kills smbclient when aborted, e.g. to end a `notify` that holds a session open. */
  signal?: AbortSignal;
}

export interface SambaServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The server's temp directory (config, runtime state, logs, shares). */
  readonly dir: string;
  readonly confPath: string;
  /** The password user's share (path sharePath, writable). */
  readonly share: 'data';
  /** The guest share (`guest ok = yes`, path guestSharePath, writable). */
  readonly guestShare: 'public';
  readonly sharePath: string;
  readonly guestSharePath: string;
  readonly user: string;
  readonly password: string;
  /** The workgroup name. */
  readonly domain: string;
  /** smbd's stdout/stderr (`--debug-stdout`). */
  readonly logPath: string;
  /** smbd's pid while running, else undefined. */
  readonly pid: number | undefined;
  /** Last `bytes` of the smbd log, for error messages. */
  logTail(bytes?: number): string;
  /** `smbclient -s /dev/null -p PORT //127.0.0.1/<share> <auth> ...args`; credentials via a file. */
  smbclient(args: string[], opts?: SmbclientOptions): Promise<SmbclientResult>;
  /** `smbstatus -s CONF ...args` (default ['-b']); throws on a non-zero exit. */
  smbstatus(args?: string[]): Promise<string>;
  /** SIGTERM, wait for exit, SIGKILL after 3 s, then end leftover helpers; idempotent. */
  stop(): Promise<void>;
  /** Start again on the same port and directories; resolves when the port accepts connections. */
  start(): Promise<void>;
  /** SIGKILL smbd and all its processes (crash simulation); resolves when they are gone. */
  kill(): Promise<void>;
}

const HOST = '127.0.0.1';
const WORKGROUP = 'SMBNOTIFYTEST';
const NETBIOS_NAME = 'SMBNOTIFYSRV';
/** Unix account used as the password user when the tests run as root. */
const TEST_UNIX_USER = 'smbnotify-test';
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const BIND_FAILURE = 'Address already in use';
const SMBD_PKG = 'samba';

// One registry per process, shared by every copy of this module (vitest may evaluate it more
// than once in a worker), so that a single exit hook reaches every server.
interface Registry {
  servers: Set<SambaServerImpl>;
  exitHookInstalled: boolean;
}
const REGISTRY_KEY = Symbol.for('smbnotify.test.samba.registry');
const registry: Registry = ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] as
  | Registry
  | undefined) ?? { servers: new Set(), exitHookInstalled: false };
(globalThis as Record<symbol, unknown>)[REGISTRY_KEY] = registry;

function installExitHook(): void {
  if (registry.exitHookInstalled) return;
  registry.exitHookInstalled = true;
  // Runs on 'exit' and on SIGTERM (how vitest ends its workers); must be synchronous: SIGKILL
  // everything, then drop the temp dirs. (If this process is SIGKILLed, smbd still exits on
  // EOF of its stdin and the RPC helpers idle out; only the temp dir is left behind.)
  atExit(() => {
    for (const server of registry.servers) server.killSync();
    for (const server of registry.servers) server.removeDirSync();
  });
}

class StartError extends Error {
  constructor(
    message: string,
    readonly bindFailure: boolean,
  ) {
    super(message);
  }
}

class SambaServerImpl implements SambaServer {
  readonly host = HOST;
  readonly share = 'data' as const;
  readonly guestShare = 'public' as const;
  readonly confPath: string;
  readonly sharePath: string;
  readonly guestSharePath: string;
  readonly logPath: string;
  readonly domain = WORKGROUP;
  readonly password: string;
  port = 0;

  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private disposed = false;
  private readonly authPath: string;
  private readonly smbdPath: string;

  constructor(
    readonly dir: string,
    readonly user: string,
    private readonly opts: SambaOptions,
  ) {
    this.smbdPath = requireTool('smbd', SMBD_PKG);
    this.confPath = join(dir, 'smb.conf');
    this.sharePath = join(dir, 'data');
    this.guestSharePath = join(dir, 'public');
    this.logPath = join(dir, 'log', 'smbd.log');
    this.authPath = join(dir, 'auth.txt');
    // Distinctive, so that security tests can grep logs and outputs for it.
    this.password = `Pw-${randomBytes(8).toString('hex')}-sEcReT`;
  }

  get pid(): number | undefined {
    return this.isRunning() ? this.child?.pid : undefined;
  }

  isRunning(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Creates the directories, the config, the password user and the auth file. */
  async prepare(): Promise<void> {
    chmodSync(this.dir, 0o755); // mkdtemp gives 0700: smbd's user processes must traverse it
    for (const sub of ['private', 'lock', 'state', 'cache', 'pid', 'ncalrpc', 'log', 'nowb']) {
      mkdirSync(join(this.dir, sub), { recursive: true });
    }
    for (const share of [this.sharePath, this.guestSharePath]) {
      mkdirSync(share, { recursive: true });
      chmodSync(share, 0o777); // explicit: mkdir's mode is filtered by the umask
    }
    this.port = await freePort();
    this.writeConfig();
    await this.addPasswordUser();
    writeFileSync(
      this.authPath,
      `username = ${this.user}\npassword = ${this.password}\ndomain = ${this.domain}\n`,
      { mode: 0o600 },
    );
  }

  private writeConfig(): void {
    const o = this.opts;
    const d = this.dir;
    const root = process.getuid?.() === 0;
    const forceUser = (o.forceUser ?? true) && root ? [`force user = ${userInfo().username}`] : [];
    const global = [
      `workgroup = ${WORKGROUP}`,
      `netbios name = ${NETBIOS_NAME}`,
      'server role = standalone server',
      'security = user',
      `smb ports = ${this.port}`,
      'interfaces = lo',
      'bind interfaces only = yes',
      'disable netbios = yes',
      'load printers = no',
      'printing = bsd',
      'printcap name = /dev/null',
      'disable spoolss = yes',
      'usershare path =',
      `private dir = ${d}/private`,
      `lock directory = ${d}/lock`,
      `state directory = ${d}/state`,
      `cache directory = ${d}/cache`,
      `pid directory = ${d}/pid`,
      `ncalrpc dir = ${d}/ncalrpc`,
      // smbd itself logs to stdout (logPath); this is for samba-dcerpcd and the rpcd helpers.
      `log file = ${d}/log/samba.log`,
      'max log size = 0',
      `passdb backend = tdbsam:${d}/private/passdb.tdb`,
      // Keep away from any winbindd already running on the machine.
      `winbindd socket directory = ${d}/nowb`,
      'map to guest = Bad User',
      'guest account = nobody',
      'unix charset = UTF-8',
      'obey pam restrictions = no',
      // RPC helpers otherwise outlive smbd by about 60 s.
      'rpcd_classic:idle_seconds = 2',
      'rpcd_winreg:idle_seconds = 2',
      // Without a range smbd logs "idmap range not specified for domain '*'" on every login.
      'idmap config * : backend = tdb',
      'idmap config * : range = 100000-199999',
    ];
    if (o.maxProtocol) global.push(`server max protocol = ${o.maxProtocol}`);
    if (o.minProtocol) global.push(`server min protocol = ${o.minProtocol}`);
    if (o.signing) global.push(`server signing = ${o.signing}`);
    if (o.encrypt) global.push(`server smb encrypt = ${o.encrypt}`);
    if (o.encryptionAlgorithms) {
      global.push(`server smb3 encryption algorithms = ${o.encryptionAlgorithms}`);
    }
    if (o.signingAlgorithms) global.push(`server smb3 signing algorithms = ${o.signingAlgorithms}`);
    if (o.changeNotify === false) global.push('change notify = no');
    if (o.kernelChangeNotify !== undefined) {
      global.push(`kernel change notify = ${o.kernelChangeNotify ? 'yes' : 'no'}`);
    }
    if (o.wideLinks) global.push('allow insecure wide links = yes', 'unix extensions = no');
    global.push(...(o.extraGlobal ?? []));

    // Server set-ups that change what a listing shows, for both shares.
    const setup: string[] = [];
    if (o.fruit) setup.push('vfs objects = catia fruit streams_xattr', 'fruit:metadata = stream', 'fruit:veto_appledouble = yes');
    if (o.vetoFiles) setup.push(`veto files = ${o.vetoFiles}`);
    if (o.hideDotFiles !== undefined) setup.push(`hide dot files = ${o.hideDotFiles ? 'yes' : 'no'}`);
    if (o.mangledNames !== undefined) setup.push(`mangled names = ${o.mangledNames ? 'yes' : 'no'}`);
    if (o.wideLinks) setup.push('wide links = yes', 'follow symlinks = yes');

    const data = [
      `path = ${this.sharePath}`,
      'read only = no',
      'guest ok = no',
      `valid users = ${this.user}`,
      'create mask = 0666',
      'directory mask = 0777',
      ...forceUser,
      ...setup,
    ];
    if (o.encryptShare) data.push('server smb encrypt = required');
    data.push(...(o.extraShare ?? []));

    const pub = [
      `path = ${this.guestSharePath}`,
      'read only = no',
      'guest ok = yes',
      'create mask = 0666',
      'directory mask = 0777',
      ...forceUser,
      ...setup,
    ];

    const section = (name: string, lines: string[]): string =>
      `[${name}]\n${lines.map((l) => `\t${l}\n`).join('')}`;
    writeFileSync(
      this.confPath,
      `# generated by test/support/samba.ts\n${section('global', global)}\n` +
        `${section('data', data)}\n${section('public', pub)}`,
    );
  }

  private async addPasswordUser(): Promise<void> {
    const input = `${this.password}\n${this.password}\n`;
    if (process.getuid?.() === 0) {
      await ensureUnixUser(this.user);
      const smbpasswd = requireTool('smbpasswd', 'samba-common-bin');
      const r = await run(smbpasswd, ['-c', this.confPath, '-a', '-s', this.user], { input });
      if (r.code !== 0) throw new Error(`smbpasswd -a ${this.user} failed: ${r.stderr}${r.stdout}`);
    } else {
      const pdbedit = requireTool('pdbedit', SMBD_PKG);
      const r = await run(pdbedit, ['-s', this.confPath, '-a', '-u', this.user, '-t'], { input });
      if (r.code !== 0) throw new Error(`pdbedit -a ${this.user} failed: ${r.stderr}${r.stdout}`);
    }
  }

  /** Starts smbd; with allowNewPort, a bind failure moves the server to another free port. */
  async launch(allowNewPort: boolean): Promise<void> {
    if (this.disposed) throw new Error('this Samba server was disposed by stopAllSamba()');
    if (this.isRunning()) return;
    const attempts = 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.launchOnce();
        return;
      } catch (err) {
        if (!(err instanceof StartError) || !err.bindFailure || attempt >= attempts) throw err;
        if (allowNewPort) {
          this.port = await freePort();
          this.writeConfig();
        } else {
          await sleep(200 * attempt); // same port (restart): give its previous owner time
        }
      }
    }
  }

  private async launchOnce(): Promise<void> {
    const logOffset = existsSync(this.logPath) ? statSync(this.logPath).size : 0;
    const level = process.env['SMBNOTIFY_SMBD_DEBUG'] ?? '1';
    // stdout/stderr go straight to a file: nothing to drain, and the log survives for debugging.
    const logFd = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        this.smbdPath,
        // --daemon: no inetd mode on the piped stdin, and setsid() (see the header comment).
        ['--foreground', '--daemon', '--debug-stdout', `-d${level}`, `--configfile=${this.confPath}`],
        { cwd: this.dir, stdio: ['pipe', logFd, logFd] },
      );
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    // Never written to; kept open only so that smbd sees EOF when this process dies. Unref'd so
    // that a server a test forgot to stop does not keep the worker alive (the exit hook kills it).
    child.stdin?.on('error', () => undefined);
    (child.stdin as Socket | null)?.unref();
    child.unref();
    let spawnError: Error | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        resolve();
      });
      child.once('exit', () => resolve());
    });
    installExitHook();
    registry.servers.add(this);

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const log = this.readLog(logOffset);
      if (!this.isRunning() || spawnError) {
        await this.exited;
        throw new StartError(
          `smbd exited during startup (${spawnError?.message ?? `code ${child.exitCode}, signal ${child.signalCode}`})` +
            `\n--- ${this.logPath} ---\n${tail(log, 4000)}`,
          log.includes(BIND_FAILURE),
        );
      }
      if (log.includes(BIND_FAILURE)) {
        await this.killAll();
        throw new StartError(`smbd could not bind port ${this.port}:\n${tail(log, 2000)}`, true);
      }
      if (child.pid !== undefined && ownsListener(child.pid, this.port) && (await probe(this.port))) {
        this.checkPidFile(child.pid);
        return;
      }
      if (Date.now() > deadline) {
        await this.killAll();
        throw new StartError(
          `smbd did not listen on ${HOST}:${this.port} within ${READY_TIMEOUT_MS} ms` +
            `\n--- ${this.logPath} ---\n${tail(log, 4000)}`,
          false,
        );
      }
      await sleep(20);
    }
  }

  /** With --foreground the pid we spawned is smbd itself; the pid file must agree. */
  private checkPidFile(pid: number): void {
    const file = join(this.dir, 'pid', 'smbd.pid');
    if (!existsSync(file)) return; // written asynchronously on some versions; not a failure
    const filePid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    if (Number.isInteger(filePid) && filePid !== pid) {
      throw new Error(`smbd pid file says ${filePid} but we spawned ${pid}: did smbd fork?`);
    }
  }

  private readLog(offset: number): string {
    try {
      const fd = openSync(this.logPath, 'r');
      try {
        const size = statSync(this.logPath).size;
        const buf = Buffer.alloc(Math.max(0, size - offset));
        readSync(fd, buf, 0, buf.length, offset);
        return buf.toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      return '';
    }
  }

  logTail(bytes = 4000): string {
    const size = existsSync(this.logPath) ? statSync(this.logPath).size : 0;
    return this.readLog(Math.max(0, size - bytes));
  }

  async smbclient(args: string[], opts: SmbclientOptions = {}): Promise<SmbclientResult> {
    const smbclient = requireTool('smbclient', 'smbclient');
    const guest = opts.user === 'guest';
    const share = opts.share === undefined ? (guest ? this.guestShare : this.share) : opts.share;
    // Guests: an unknown user name with no password; `map to guest = Bad User` makes it a
    // guest. (Plain -N would send $USER, which is the password user when not root.)
    const auth = guest ? ['-N', '-U', 'smbnotify-guest'] : ['-A', this.authPath];
    const env = { ...process.env };
    // smbclient reads these; keep them from overriding the authentication file.
    for (const k of ['PASSWD', 'PASSWD_FD', 'PASSWD_FILE', 'USER', 'LOGNAME']) delete env[k];
    const service = share === null ? [] : [`//${HOST}/${share}`];
    const runOpts: RunOptions = { timeoutMs: opts.timeoutMs ?? 15_000, env };
    if (opts.signal) runOpts.signal = opts.signal;
    return run(
      smbclient,
      ['-s', '/dev/null', '-p', String(this.port), ...service, ...auth, ...args],
      runOpts,
    );
  }

  async smbstatus(args: string[] = ['-b']): Promise<string> {
    const smbstatus = requireTool('smbstatus', SMBD_PKG);
    const r = await run(smbstatus, ['-s', this.confPath, ...args], { timeoutMs: 15_000 });
    if (r.code !== 0) throw new Error(`smbstatus ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  async start(): Promise<void> {
    await this.stopping;
    await this.launch(false);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && this.isRunning() && child.pid !== undefined) {
      signal(child.pid, 'SIGTERM'); // smbd then sends SIGTERM to its own process group
      if (!(await within(this.exited, STOP_GRACE_MS))) signal(-child.pid, 'SIGKILL');
      await within(this.exited, 2_000);
    }
    // Whatever is left (samba-dcerpcd, rpcd helpers, children still exiting): TERM, then KILL.
    let left = serverPids(this.confPath);
    for (const pid of left) signal(pid, 'SIGTERM');
    const deadline = Date.now() + 1_000;
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(20);
      left = serverPids(this.confPath);
    }
    if (left.length > 0) await this.killAll();
  }

  async kill(): Promise<void> {
    await this.killAll();
  }

  /** SIGKILL every process of this server and wait (bounded) until none is left. */
  private async killAll(): Promise<void> {
    this.killSync();
    await within(this.exited, 2_000);
    const deadline = Date.now() + 2_000;
    while (serverPids(this.confPath).length > 0 && Date.now() < deadline) {
      this.killSync();
      await sleep(20);
    }
  }

  killSync(): void {
    const child = this.child;
    // smbd leads its own process group (setsid), which holds its per-connection children.
    if (child?.pid !== undefined && this.isRunning()) signal(-child.pid, 'SIGKILL');
    for (const pid of serverPids(this.confPath)) signal(pid, 'SIGKILL');
  }

  removeDirSync(): void {
    if (process.env['SMBNOTIFY_KEEP_SAMBA'] === '1') return;
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.disposed = true;
    registry.servers.delete(this);
    this.removeDirSync();
  }
}

/** Starts a fresh smbd; see SambaOptions. Call stopAllSamba() in afterAll. */
export async function startSamba(opts: SambaOptions = {}): Promise<SambaServer> {
  const root = process.getuid?.() === 0;
  const user = root ? TEST_UNIX_USER : userInfo().username;
  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-samba-'));
  const server = new SambaServerImpl(dir, user, opts);
  try {
    await server.prepare();
    await server.launch(true);
  } catch (err) {
    await server.dispose().catch(() => undefined);
    throw err;
  }
  return server;
}

/**
 * Stops every server this process started and deletes their temp directories (set
 * SMBNOTIFY_KEEP_SAMBA=1 to keep them for debugging). The servers cannot be started again.
 */
export async function stopAllSamba(): Promise<void> {
  await Promise.all([...registry.servers].map((s) => s.dispose()));
}

// ---------------------------------------------------------------------------------------------

/** Creates the unix account once per machine; parallel workers may race on /etc/passwd. */
async function ensureUnixUser(name: string): Promise<void> {
  const useradd = requireTool('useradd', 'passwd');
  let last = '';
  for (let attempt = 0; attempt < 40; attempt++) {
    if (unixUserExists(name)) return;
    // Exit 9: created meanwhile by another worker; 1 or 10: passwd/group file locked by it.
    const r = await run(useradd, ['-M', '-s', '/usr/sbin/nologin', name], { timeoutMs: 10_000 });
    if (r.code === 0 || unixUserExists(name)) return;
    last = r.stderr;
    await sleep(50 + Math.floor(Math.random() * 100));
  }
  throw new Error(`could not create unix user ${name}: ${last}`);
}

function unixUserExists(name: string): boolean {
  return readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .some((line) => line.startsWith(`${name}:`));
}

/** A port that was free a moment ago (smbd binds it itself; launch() retries on a race). */
/** A port of 127.0.0.1 free right now (the listener is closed again). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Does `pid` own a socket listening on port `port` (tcp, any local address)? */
function ownsListener(pid: number, port: number): boolean {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return true; // no /proc/net: fall back on the TCP probe alone
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // f[1] = local "ADDR:PORT", f[3] = state (0A = LISTEN), f[9] = inode
    if (f.length > 9 && f[1]?.endsWith(`:${portHex}`) && f[3] === '0A' && f[9] !== undefined) {
      inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return false;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m?.[1] !== undefined && inodes.has(m[1])) return true;
    }
  } catch {
    return false;
  }
  return false;
}

/** One TCP connection to the port, closed at once: whether something accepts there. */
export function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: HOST, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1_000);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Live (non-zombie) processes whose argv contains `--configfile=<confPath>`. */
function serverPids(confPath: string): number[] {
  const needle = `--configfile=${confPath}`;
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // A zombie's cmdline reads empty, so zombies never match.
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Resolves true when `p` settles within `ms`, false otherwise; never leaves a timer behind. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function tail(s: string, n: number): string {
  return s.length > n ? `...${s.slice(-n)}` : s;
}

interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** Runs a short-lived command; on timeout or abort SIGKILLs it and reports code 124. */
function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<SmbclientResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let killed = false;
    const onAbort = (): void => {
      killed = true;
      child.kill('SIGKILL');
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      killed = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.input);
    }
    const cleanup = (): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err) => {
      cleanup();
      resolve({ code: 127, stdout, stderr: `${stderr}${err.message}`, timedOut });
    });
    child.once('close', (code) => {
      cleanup();
      resolve({ code: killed ? 124 : (code ?? 128), stdout, stderr, timedOut });
    });
  });
}
