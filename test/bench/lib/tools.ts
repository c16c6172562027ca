// The processes the benchmarks drive: smbnotify (watch, daemon), smbclient notify, dbus-monitor.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SambaServer } from '../../support/samba.js';
import { atExit, requireTool } from '../../support/tools.js';
import { Spawned } from './lines.js';

export const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
/** The CLI under test; SMBNOTIFY_BENCH_CLI points the bench at another build (to try a fix). */
export const CLI = process.env['SMBNOTIFY_BENCH_CLI'] ?? join(ROOT, 'dist', 'cli', 'main.js');

const scratchDirs = new Set<string>();
atExit(() => {
  for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
});

/** A temp dir removed at exit. */
export function scratchDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `smbnotify-bench-${prefix}-`));
  scratchDirs.add(d);
  return d;
}

export interface Creds {
  /** For smbnotify -A (username=...). */
  smbnotify: string;
  /** For smbclient -A (username = ...). */
  smbclient: string;
  /** HOME for the smbnotify processes: empty, so no user config is picked up. */
  home: string;
}

export function credentials(samba: SambaServer): Creds {
  const dir = scratchDir('cred');
  const smbnotify = join(dir, 'cred');
  writeFileSync(smbnotify, `username=${samba.user}\npassword=${samba.password}\ndomain=${samba.domain}\n`, { mode: 0o600 });
  const smbclient = join(dir, 'smbclient-auth');
  writeFileSync(smbclient, `username = ${samba.user}\npassword = ${samba.password}\ndomain = ${samba.domain}\n`, { mode: 0o600 });
  const home = join(dir, 'home');
  mkdirSync(home);
  return { smbnotify, smbclient, home };
}

function cliEnv(creds: Creds, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: creds.home, XDG_RUNTIME_DIR: creds.home, ...extra };
}

export function url(samba: SambaServer, path: string, port = samba.port): string {
  return `smb://${samba.host}:${port}/${samba.share}${path ? `/${path}` : ''}`;
}

/** `node [nodeArgs] dist/cli/main.js watch ARGS TARGET -A cred` */
export function smbnotifyWatch(name: string, creds: Creds, target: string, args: string[], nodeArgs: string[] = [], keepLines = true): Spawned {
  return new Spawned(name, process.execPath, [...nodeArgs, CLI, 'watch', ...args, target, '-A', creds.smbnotify], { env: cliEnv(creds), keepLines });
}

export interface DaemonOptions {
  targets: string[];
  recursive?: boolean;
  bus: string;
  journal: string;
  nodeArgs?: string[];
  /** More daemon options, e.g. ['--mqtt', URL]. */
  extraArgs?: string[];
}

/** `smbnotify daemon --watch T... --bus ADDR --journal PATH -A cred` */
export function smbnotifyDaemon(name: string, creds: Creds, o: DaemonOptions): Spawned {
  const args = [...(o.nodeArgs ?? []), CLI, 'daemon', ...o.targets.flatMap((t) => ['--watch', t]), ...(o.recursive ? ['-r'] : []), '--bus', o.bus, '--journal', o.journal, ...(o.extraArgs ?? []), '-A', creds.smbnotify];
  return new Spawned(name, process.execPath, args, { env: cliEnv(creds), keepLines: false });
}

/**
 * `smbclient -c 'notify DIR'`: one CHANGE_NOTIFY at a time, 1000-byte buffer, WATCH_TREE, prints
 * `%04x name` per change and `NOTIFY_ENUM_DIR` on an overflow. Its stdout is a pipe here: stdbuf
 * makes it line-buffered, as it is on a terminal.
 */
export function smbclientNotify(name: string, samba: SambaServer, creds: Creds, dir: string, keepLines = true, port = samba.port, lineBuffered = true, extraArgs: string[] = []): Spawned {
  const smbclient = requireTool('smbclient', 'smbclient');
  const args = ['-s', '/dev/null', '-p', String(port), ...extraArgs, `//${samba.host}/${samba.share}`, '-A', creds.smbclient, '-c', `notify "${dir}"`];
  if (!lineBuffered) return new Spawned(name, smbclient, args, { keepLines });
  const stdbuf = requireTool('stdbuf', 'coreutils');
  return new Spawned(name, stdbuf, ['-oL', smbclient, ...args], { keepLines });
}

/**
 * dbus-monitor for smbnotify's Event signal. Each signal prints a header line
 * (`signal time=... member=Event`) and then the a{sv} dict, one line per key and value.
 */
export function dbusMonitor(name: string, address: string): Spawned {
  const monitor = requireTool('dbus-monitor', 'dbus-bin');
  return new Spawned(name, monitor, ['--address', address, "type='signal',interface='io.github.smbnotify.Watcher1',member='Event'"], { keepLines: false });
}

/**
 * Turns dbus-monitor's lines into events: calls `fn(fields, at)` once per Event signal with its
 * string-valued dict entries, when the next header (or a flush) ends it.
 */
export class DbusEventParser {
  private current: Record<string, string> | null = null;
  private currentAt = 0n;
  private key: string | null = null;

  constructor(private readonly fn: (fields: Record<string, string>, at: bigint) => void) {}

  line(line: string, at: bigint): void {
    if (line.startsWith('signal ')) {
      this.flush();
      if (line.includes('member=Event')) {
        this.current = {};
        this.currentAt = at;
      }
      return;
    }
    if (!this.current) return;
    // The message's one argument, the a{sv} array, closes at the top indentation: that ends it,
    // flushed eagerly so that the last signal of a burst is not held until the next header.
    if (line === '   ]') {
      this.flush();
      return;
    }
    const t = line.trim();
    if (this.key === null) {
      const k = /^string "(.*)"$/.exec(t);
      if (k && t.startsWith('string')) this.key = k[1]!;
      return;
    }
    const v = /^variant\s+(\S+)\s+(.*)$/.exec(t);
    if (v) {
      let value = v[2]!;
      if (v[1] === 'string') value = unquote(value);
      this.current[this.key] = value;
    }
    this.key = null;
  }

  flush(): void {
    if (this.current) this.fn(this.current, this.currentAt);
    this.current = null;
    this.key = null;
  }
}

function unquote(s: string): string {
  const m = /^"(.*)"$/.exec(s);
  if (!m) return s;
  return m[1]!.replace(/\\(.)/g, '$1');
}
