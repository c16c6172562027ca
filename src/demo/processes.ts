/**
 * What `smbnotify demo` starts and always cleans up: a throwaway smbd with a guest share on a
 * free loopback port, and a private dbus-daemon. Everything lives in one temporary folder.
 * Each is returned as soon as it is spawned, with its readiness as a promise: a demo stopped by
 * a signal while one is still starting must be able to stop it too.
 * (smbd facts: docs/testbench.md. From Node with a piped stdin smbd needs --daemon, or it runs
 * in inetd mode on the pipe; it exits when its stdin closes, so it never outlives us.)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { DemoSetupError } from './demo-error.js';

const PACKAGES = ['samba', 'smbclient', 'dbus-daemon', 'dbus-bin'];

export function findTool(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin'])) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** smbd and dbus-daemon, installed with apt-get when run as root and missing. */
export function ensureTools(log: (line: string) => void): { smbd: string; dbusDaemon: string } {
  let smbd = findTool('smbd');
  let dbusDaemon = findTool('dbus-daemon');
  if (!smbd || !dbusDaemon) {
    const cmd = `apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}`;
    if (process.getuid?.() !== 0) throw new DemoSetupError(`the demo needs Samba and D-Bus: run "sudo ${cmd}"`);
    log(`installing ${PACKAGES.join(', ')} (${cmd})`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...PACKAGES]]) {
      const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
      if (r.status !== 0) throw new DemoSetupError(`apt-get ${args[0]} failed: ${(r.stderr ?? '').trim().split('\n').pop() ?? 'unknown error'}`);
    }
    smbd = findTool('smbd');
    dbusDaemon = findTool('dbus-daemon');
    if (!smbd || !dbusDaemon) throw new DemoSetupError('smbd or dbus-daemon still missing after apt-get install');
  }
  return { smbd, dbusDaemon };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) throw new DemoSetupError(`smbd exited before it listened on port ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new DemoSetupError(`smbd did not listen on port ${port} within ${timeoutMs} ms`);
}

/**
 * Stop a child: SIGTERM, then SIGKILL after `graceMs`. Resolves once it has exited, at once if
 * it already had or never started.
 */
export async function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface DemoSamba {
  port: number;
  share: string;
  sharePath: string;
  /** Resolves when smbd listens. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export function spawnDemoSamba(smbd: string, dir: string, port: number): DemoSamba {
  chmodSync(dir, 0o755);
  for (const sub of ['private', 'lock', 'state', 'cache', 'pid', 'ncalrpc', 'log', 'nowb']) mkdirSync(join(dir, sub), { recursive: true });
  const sharePath = join(dir, 'share');
  mkdirSync(sharePath);
  chmodSync(sharePath, 0o777);
  const conf = join(dir, 'smb.conf');
  const root = process.getuid?.() === 0;
  writeFileSync(conf, [
    '[global]',
    'server role = standalone server', `smb ports = ${port}`, 'interfaces = lo', 'bind interfaces only = yes',
    'disable netbios = yes', 'load printers = no', 'printing = bsd', 'printcap name = /dev/null', 'disable spoolss = yes',
    'usershare path =', `private dir = ${dir}/private`, `lock directory = ${dir}/lock`, `state directory = ${dir}/state`,
    `cache directory = ${dir}/cache`, `pid directory = ${dir}/pid`, `ncalrpc dir = ${dir}/ncalrpc`,
    `log file = ${dir}/log/samba.log`, `passdb backend = tdbsam:${dir}/private/passdb.tdb`,
    `winbindd socket directory = ${dir}/nowb`, 'map to guest = Bad User', 'guest account = nobody',
    'rpcd_classic:idle_seconds = 2', 'rpcd_winreg:idle_seconds = 2',
    '[demo]', `path = ${sharePath}`, 'read only = no', 'guest ok = yes', ...(root ? ['force user = root'] : []),
    '',
  ].join('\n'));
  const child: ChildProcess = spawn(smbd, ['--foreground', '--daemon', '--debug-stdout', '-d0', `--configfile=${conf}`], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.once('error', () => undefined);
  const ready = waitForPort(port, 10_000, () => child.pid === undefined || child.exitCode !== null || child.signalCode !== null);
  // Nobody may be waiting any more when the demo is stopped during the start.
  ready.catch(() => undefined);
  return {
    port,
    share: 'demo',
    sharePath,
    ready,
    async stop() {
      await stopProcess(child, 3000);
      // samba-dcerpcd helpers daemonize on their own; end them by their unique config path.
      spawnSync('pkill', ['-f', `--configfile=${conf}`]);
    },
  };
}

export interface DemoBus {
  /** Resolves with the bus address once dbus-daemon listens. */
  address: Promise<string>;
  stop(): Promise<void>;
}

export function spawnDemoBus(dbusDaemon: string, dir: string): DemoBus {
  const child = spawn(dbusDaemon, ['--session', `--address=unix:path=${join(dir, 'bus')}`, '--nofork', '--nopidfile', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const address = new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('dbus-daemon did not start')), 5000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error('dbus-daemon exited before it printed its address'));
    });
  });
  // Nobody may be waiting any more when the demo is stopped during the start.
  address.catch(() => undefined);
  return {
    address,
    stop: () => stopProcess(child, 3000),
  };
}
