// A private D-Bus session bus per test, and an independent observer (dbus-monitor) to check
// what the code under test really put on the bus.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atExit, requireTool, withParentDeathSignal } from './tools.js';

export interface DbusBus {
  /** e.g. `unix:path=/tmp/smbnotify-dbus-XXXX/bus,guid=...` */
  readonly address: string;
  readonly dir: string;
  /** Stops the daemon and removes its directory; idempotent. */
  stop(): Promise<void>;
}

export interface DbusMonitor {
  /** Every line dbus-monitor printed so far. */
  readonly lines: string[];
  /**
   * Resolves with the first line (past or future) matching `re`; rejects after timeoutMs
   * (default 5 s) with the lines seen so far.
   */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 5_000;

// Processes still running when this process exits (or gets SIGTERM, as vitest workers do) are
// killed here; they also run under `setpriv --pdeathsig KILL`, for when this process is
// SIGKILLed. So no dbus-daemon outlives the test runner.
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    atExit(() => {
      for (const c of live) c.kill('SIGKILL');
      for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
    });
  }
}

export interface StartDbusOptions {
  /**
   * A bus configuration of your own (`dbus-daemon --config-file`), e.g. a system-bus policy: it
   * receives the bus directory and returns the XML, which must <listen> somewhere in that
   * directory. Default: a session bus listening on DIR/bus.
   */
  config?: (dir: string) => string;
  /** Where a session bus listens (default `unix:path=DIR/bus`), e.g. `unix:abstract=NAME`. */
  listen?: (dir: string) => string;
}

export async function startDbus(opts: StartDbusOptions = {}): Promise<DbusBus> {
  const daemon = requireTool('dbus-daemon', 'dbus-daemon');
  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-dbus-'));
  liveDirs.add(dir);
  let busArgs = ['--session', `--address=${opts.listen ? opts.listen(dir) : `unix:path=${dir}/bus`}`];
  if (opts.config) {
    chmodSync(dir, 0o755); // other users must reach the socket
    writeFileSync(join(dir, 'bus.conf'), opts.config(dir));
    busArgs = [`--config-file=${join(dir, 'bus.conf')}`];
  }
  const [cmd, args] = withParentDeathSignal(daemon, [...busArgs, '--nofork', '--nopidfile', '--print-address=1']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });

  let stderr = '';
  // Kept for error messages only; capped because the daemon lives for the whole test.
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  let address: string;
  try {
    address = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`dbus-daemon printed no address within ${STARTUP_TIMEOUT_MS} ms: ${stderr}`)),
        STARTUP_TIMEOUT_MS,
      );
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, nl).trim());
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`dbus-daemon exited (${code ?? sig}) during startup: ${stderr}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
    throw err;
  }
  // Keep draining stdout so the daemon can never block on a full pipe.
  child.stdout?.resume();

  let stopping: Promise<void> | undefined;
  return {
    address,
    dir,
    stop(): Promise<void> {
      stopping ??= (async () => {
        await terminate(child, exited);
        rmSync(dir, { recursive: true, force: true });
        liveDirs.delete(dir);
      })();
      return stopping;
    },
  };
}

export function dbusMonitor(address: string, match: string): DbusMonitor {
  const monitor = requireTool('dbus-monitor', 'dbus-bin');
  const [cmd, args] = withParentDeathSignal(monitor, ['--address', address, match]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });

  const lines: string[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (line: string) => void }>();
  let partial = '';
  const onLine = (line: string): void => {
    lines.push(line);
    for (const w of waiters) {
      if (w.re.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  const onData = (d: string): void => {
    partial += d;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
  };
  child.stdout?.setEncoding('utf8').on('data', onData);
  child.stderr?.setEncoding('utf8').on('data', onData); // errors show up in waitFor's message

  let stopping: Promise<void> | undefined;
  return {
    lines,
    waitFor(re: RegExp, timeoutMs = 5_000): Promise<string> {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const waiter = {
          re,
          resolve: (line: string): void => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `dbus-monitor: no line matching ${re} within ${timeoutMs} ms; saw:\n${lines.join('\n')}`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    stop(): Promise<void> {
      stopping ??= terminate(child, exited);
      return stopping;
    },
  };
}

/**
 * Readiness for dbus-monitor: it prints a NameAcquired / NameLost pair for itself once it has
 * become a monitor, so events sent after this resolves are seen.
 */
export async function monitorReady(mon: DbusMonitor, timeoutMs = 5_000): Promise<void> {
  await mon.waitFor(/member=NameLost/, timeoutMs);
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 2_000);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
  await exited;
}
