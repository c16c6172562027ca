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
