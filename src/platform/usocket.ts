/**
 * The optional native module `usocket` (Unix sockets with descriptor passing, SCM_RIGHTS).
 *
 * It is compiled from C++ at install time, so it is NOT a dependency: a plain `npm install` needs
 * no compiler. Features that need it (receiving a descriptor over a Unix socket, e.g. from
 * fusermount3, or connecting to an abstract-socket D-Bus address, which Node 20's own sockets
 * cannot reach) load it here, lazily, and say what is missing when it is absent.
 */
import { createRequire } from 'node:module';
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

/** usocket is not installed (or failed to load): the message says how to get it. */
export class OptionalModuleMissing extends Error {
  constructor(readonly module: string, readonly feature: string, cause?: unknown) {
    super(`${feature} needs the optional package ${module}, which is not installed: run \`npm install --no-save ${module}\` in ${PACKAGE_ROOT} (it compiles C++: needs python3, make and g++)`);
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
