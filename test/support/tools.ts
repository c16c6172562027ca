// Locating the system tools the test bench drives (smbd, smbclient, dbus-daemon, ...).
//
// A missing tool must fail loudly with the command that installs it, never skip a test
// silently: CI runs `npm test` on a fresh Debian machine, where test/setup-system.sh installs
// them when running as root.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// Non-root shells on Debian have no sbin directories on PATH, yet smbd lives in /usr/sbin.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

const cache = new Map<string, string | undefined>();

/** Absolute path of an executable found on PATH (or in the sbin directories), else undefined. */
export function findTool(cmd: string): string | undefined {
  if (cache.has(cmd)) return cache.get(cmd);
  let found: string | undefined;
  if (cmd.includes('/')) {
    found = isExecutable(cmd) ? cmd : undefined;
  } else {
    const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
    for (const dir of [...dirs, ...EXTRA_DIRS]) {
      const candidate = join(dir, cmd);
      if (isExecutable(candidate)) {
        found = candidate;
        break;
      }
    }
  }
  cache.set(cmd, found);
  return found;
}

/**
 * Throws with the install command when `cmd` is missing; returns its absolute path otherwise
 * (spawn that path: /usr/sbin may not be on a non-root user's PATH).
 */
export function requireTool(cmd: string, pkg: string): string {
  const path = findTool(cmd);
  if (path === undefined) {
    throw new Error(
      `missing ${cmd}: run "sudo apt-get install -y ${pkg}" (or npm test as root, which installs it)`,
    );
  }
  return path;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Clean-up when the test process ends. vitest ends its workers with SIGTERM, which skips
// 'exit' handlers unless someone listens for the signal; so listen for it, clean up, and then
// die of the same signal as before (unless another listener has taken charge of it).

interface ExitRegistry {
  fns: Set<() => void>;
  installed: boolean;
  ran: boolean;
}
const EXIT_KEY = Symbol.for('smbnotify.test.atExit');
const exitRegistry: ExitRegistry = ((globalThis as Record<symbol, unknown>)[EXIT_KEY] as
  | ExitRegistry
  | undefined) ?? { fns: new Set(), installed: false, ran: false };
(globalThis as Record<symbol, unknown>)[EXIT_KEY] = exitRegistry;

function runExitFns(): void {
  if (exitRegistry.ran) return;
  exitRegistry.ran = true;
  for (const fn of exitRegistry.fns) {
    try {
      fn();
    } catch {
      // best effort: the process is going away
    }
  }
}

/**
 * Runs `fn` (synchronously) when this process exits or gets SIGTERM/SIGINT/SIGHUP. Returns a
 * function that unregisters it.
 */
export function atExit(fn: () => void): () => void {
  exitRegistry.fns.add(fn);
  if (!exitRegistry.installed) {
    exitRegistry.installed = true;
    process.on('exit', runExitFns);
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const onSignal = (): void => {
        runExitFns();
        process.removeListener(sig, onSignal);
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      };
      process.on(sig, onSignal);
    }
  }
  return () => {
    exitRegistry.fns.delete(fn);
  };
}

/**
 * Wraps a command in `setpriv --pdeathsig KILL` (util-linux, always on Debian) so that the
 * kernel kills it when this process dies, even by SIGKILL. For daemons that have no lifeline of
 * their own (dbus-daemon); smbd has one already (it exits on EOF of its piped stdin).
 */
export function withParentDeathSignal(cmd: string, args: string[]): [string, string[]] {
  const setpriv = findTool('setpriv');
  return setpriv === undefined ? [cmd, args] : [setpriv, ['--pdeathsig', 'KILL', '--', cmd, ...args]];
}

/**
 * Collects every unhandled rejection from now until `stop()`, so that a suite can assert there
 * was none (vitest only reports them after the run).
 */
export function trackUnhandledRejections(): { readonly seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => void seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  return { seen, stop: () => void process.off('unhandledRejection', onUnhandled) };
}
