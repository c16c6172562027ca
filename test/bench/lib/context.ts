// What every benchmark section gets: the options of the run and a way to start its servers.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDbus, type DbusBus } from '../../support/dbus.js';
import { startSamba, type SambaOptions, type SambaServer } from '../../support/samba.js';
import { DbusEventParser, credentials, dbusMonitor, type Creds } from './tools.js';
import { ROOT } from './tools.js';
import type { Spawned } from './lines.js';

export interface BenchOptions {
  /** Smaller sample counts and bursts, for trying the bench out (not for the README). */
  quick: boolean;
  /** Sections to run (all when empty). */
  only: Set<string>;
  /** Cases to run within a section, by label (all when empty): `--case=disk-100k`. */
  cases: Set<string>;
  /** Write CPU profiles of the smbnotify processes to this folder. */
  cpuProfDir: string | null;
  /** Latency samples per consumer (--samples=N), instead of the section's default. */
  samples?: number;
}

export interface Server {
  samba: SambaServer;
  creds: Creds;
}

let profileCount = 0;

export class Context {
  constructor(readonly opts: BenchOptions) {}

  log(line: string): void {
    process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  }

  async server(opts: SambaOptions = {}): Promise<Server> {
    const samba = await startSamba(opts);
    return { samba, creds: credentials(samba) };
  }

  async bus(): Promise<DbusBus> {
    return startDbus();
  }

  /** node arguments for the smbnotify processes (a CPU profile per process when asked). */
  nodeArgs(tag: string): string[] {
    if (!this.opts.cpuProfDir) return [];
    return ['--cpu-prof', `--cpu-prof-dir=${this.opts.cpuProfDir}`, `--cpu-prof-name=${tag}-${++profileCount}.cpuprofile`];
  }

  get daemonBuilt(): boolean {
    return existsSync(join(ROOT, 'dist', 'cli', 'commands', 'daemon-run.js')) && existsSync(join(ROOT, 'dist', 'sinks', 'dbus-api.js'));
  }
}

/** dbus-monitor parsed into Event dictionaries, with the arrival time of each. */
export interface DbusWatch {
  monitor: Spawned;
  onEvent(fn: (fields: Record<string, string>, at: bigint) => void): () => void;
  count: number;
  lastAt: bigint;
}

export function watchDbus(address: string): DbusWatch {
  const monitor = dbusMonitor('dbus-monitor', address);
  const listeners = new Set<(fields: Record<string, string>, at: bigint) => void>();
  const w: DbusWatch = {
    monitor,
    onEvent(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    count: 0,
    lastAt: 0n,
  };
  const parser = new DbusEventParser((fields, at) => {
    w.count++;
    w.lastAt = at;
    for (const fn of listeners) fn(fields, at);
  });
  monitor.stdout.onLine((line, at) => parser.line(line, at));
  return w;
}
