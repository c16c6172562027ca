/**
 * The optional native module `usocket` (Unix sockets with descriptor passing, SCM_RIGHTS).
 *
 * It is compiled from C++ at install time, so it is NOT a dependency: a plain `npm install` needs
 * no compiler. Features that need it (receiving a descriptor over a Unix socket, e.g. from
 * fusermount3, or connecting to an abstract-socket D-Bus address, which Node 20's own sockets
 * cannot reach) load it here, lazily, and say what is missing when it is absent.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

/** The part of usocket's API (1.x) a caller is likely to need; see its README for the rest. */
export interface UsocketModule {
  /** A Unix stream socket; `read(size, fdCount)` returns `{ data, fds }` when descriptors came. */
  USocket: new (opts?: { path?: string; fd?: number }) => Duplex & {
    read(size?: number, fdCount?: number): Buffer | { data?: Buffer; fds?: number[] } | null;
  };
  UServer: new () => EventEmitter & { listen(path: string, cb?: () => void): void; close(): void };
}

/** smbnotify's own folder (src/platform or dist/platform, two levels down), where npm installs. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/**
 * The command that installs `module` into PACKAGE_ROOT, a clone or a global install alike.
 * - `--omit=dev`: in a global install npm would otherwise add smbnotify's own development tools
 *   (vitest, typescript: 65 MB) beside it.
 * - `npm_config_nodedir`: node-gyp builds against this Node's own headers (Debian's and
 *   NodeSource's packages and nodejs.org's tarballs ship them in PREFIX/include/node) instead of
 *   downloading them, which needs the internet, and with the node-gyp usocket 1.1 takes needs
 *   Node 22 as well (on Node 20 it stops with "Cannot read properties of undefined (reading
 *   'bind')").
 */
export function installCommand(module: string): string {
  const prefix = resolve(process.execPath, '..', '..');
  const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? `npm_config_nodedir=${prefix} ` : '';
  return `${nodedir}npm install --no-save --omit=dev ${module}`;
}

/** usocket is not installed (or failed to load): the message says how to get it. */
export class OptionalModuleMissing extends Error {
  constructor(readonly module: string, readonly feature: string, cause?: unknown) {
    super(`${feature} needs the optional package ${module}, which is not installed: run \`${installCommand(module)}\` in ${PACKAGE_ROOT} (it compiles C++: needs python3, make and g++)`);
    this.name = 'OptionalModuleMissing';
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

let cached: UsocketModule | null | undefined;

/** usocket, or null when it is not installed or cannot load (built for another Node). */
export function tryLoadUsocket(): UsocketModule | null {
  if (cached !== undefined) return cached;
  try {
    cached = createRequire(import.meta.url)('usocket') as UsocketModule;
  } catch {
    cached = null;
  }
  return cached;
}

/** usocket, or an OptionalModuleMissing error naming `feature` (what the user asked for). */
export function loadUsocket(feature: string): UsocketModule {
  const mod = tryLoadUsocket();
  if (!mod) throw new OptionalModuleMissing('usocket', feature);
  return mod;
}
