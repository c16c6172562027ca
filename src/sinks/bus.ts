/**
 * Connecting to a D-Bus bus with dbus-next, with failures as one-line rejected promises.
 *
 * dbus-next 0.10.2 facts this relies on (checked against its source):
 * - `sessionBus({ busAddress })` is the generic "connect to this address" entry point;
 *   `systemBus()` only differs in the default address, so both go through it here.
 * - Without an address, dbus-next falls back to X11 lookups and throws about DISPLAY; so the
 *   session address is read here and a missing one is our own clear error.
 * - A malformed address throws synchronously (even a TypeError for `foo` without a colon).
 * - Socket and authentication errors are emitted as 'error' on the MessageBus; an EventEmitter
 *   'error' with no listener kills the process, so a listener stays attached for the bus's life.
 * - Method calls pending when the connection dies never settle: callers that await a reply on
 *   an unreliable bus (close paths) should race it against a timeout.
 * - 'connect' is emitted once the Hello reply (our unique name) arrived: the bus is usable.
 * - For `unix:path=` it uses the native module usocket when that happens to be installed, and
 *   `unix:abstract=` works ONLY through usocket; `unix:socket=PATH` always takes Node's own
 *   socket. So `unix:path=` is rewritten to `unix:socket=` (nodeSocketAddress) and needs nothing
 *   native. Node 20 cannot reach another program's abstract socket (libuv passes the whole
 *   sun_path, NUL padding included, as the name: measured ECONNREFUSED against dbus-daemon), so
 *   an abstract address needs the optional usocket, and says so when it is missing.
 */
import dbus from 'dbus-next';
import { existsSync } from 'node:fs';
import { OptionalModuleMissing, tryLoadUsocket } from '../platform/usocket.js';
import { BusUnavailable } from './bus-errors.js';
import { isBusAddress } from '../config/bus-spec.js';

export { BusUnavailable };

export type MessageBus = dbus.MessageBus;

export interface ConnectOptions {
  /** Give up when the bus has not answered Hello within this time (default 5000 ms). */
  timeoutMs?: number;
  /** Errors of the connection after it was established (the bus went away, ...). */
  onError?: (err: Error) => void;
  /**
   * The connection is closed (its dbus-daemon stopped: the session ended; or disconnect()).
   * dbus-next says so only by an error at the next message sent, if one ever is.
   */
  onClose?: () => void;
}

const SYSTEM_BUS_DEFAULT = 'unix:path=/run/dbus/system_bus_socket';

/** The address a bus spec stands for: 'session', 'system', or a D-Bus address. */
export function busAddress(spec: 'session' | 'system' | string): string {
  if (spec === 'session') {
    const addr = process.env['DBUS_SESSION_BUS_ADDRESS'];
    if (!addr) throw new BusUnavailable(noSessionBus());
    return addr;
  }
  if (spec === 'system') return process.env['DBUS_SYSTEM_BUS_ADDRESS'] || SYSTEM_BUS_DEFAULT;
  return spec;
}

/** Why there is no session bus, and what to do about it (one line). */
function noSessionBus(): string {
  const runtime = process.env['XDG_RUNTIME_DIR'] || (process.getuid ? `/run/user/${process.getuid()}` : '');
  if (runtime && existsSync(`${runtime}/bus`)) {
    return `no session bus: DBUS_SESSION_BUS_ADDRESS is not set, but ${runtime}/bus exists: run \`export DBUS_SESSION_BUS_ADDRESS=unix:path=${runtime}/bus\` or give --bus unix:path=${runtime}/bus`;
  }
  return 'no session bus: DBUS_SESSION_BUS_ADDRESS is not set (this is not a desktop session): run inside your desktop session, give --bus ADDRESS, or use --bus system for the system service';
}

/** What to try when a bus could not be reached (only for errors that mean "nobody there"). */
function adviceFor(spec: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ENOENT' && code !== 'ECONNREFUSED') return '';
  if (spec === 'system') return ' (is the system bus running? `systemctl status dbus`)';
  if (spec === 'session') return ' (is your desktop session running? or give --bus ADDRESS)';
  return ' (is the bus running?)';
}

function describeSpec(spec: string, address: string): string {
  if (spec === 'session') return `the session bus (${address})`;
  if (spec === 'system') return `the system bus (${address})`;
  return `D-Bus at ${address}`;
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such socket',
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTSOCK: 'not a socket',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
};

/**
 * One line, no stack: the error's own message with newlines folded. usocket (used for every
 * unix: address) reports `ENOENT, USocket socket '../src/uwrap.cc:530'`: plain words instead.
 */
function oneLine(err: unknown): string {
  if ((err as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND' && /usocket/.test(String((err as Error).message))) {
    return new OptionalModuleMissing('usocket', 'this bus address').message;
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ERRNO_TEXT[code]) return ERRNO_TEXT[code];
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim() || 'unknown error';
}

/** Every `;`-separated element must look like `transport:key=value,...`. */
function checkAddressSyntax(address: string): void {
  if (!isBusAddress(address)) throw new BusUnavailable(`"${address}" is not a D-Bus address (expected e.g. unix:path=/run/user/1000/bus)`);
}

/** D-Bus address values escape bytes as %XX (D-Bus specification, "Server Addresses"). */
function unescapeValue(value: string): string {
  return decodeURIComponent(value.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
}

/**
 * The same address with every `unix:path=` element turned into dbus-next's `unix:socket=` form,
 * which it opens with Node's net module. dbus-next splits values on `,` and `=` without
 * unescaping: a path holding either keeps its original form (then usocket, if installed).
 */
export function nodeSocketAddress(address: string): string {
  return address.split(';').map((element) => {
    const m = /^unix:(.*)$/.exec(element);
    if (!m) return element;
    const params = new Map<string, string>();
    for (const kv of m[1]!.split(',')) {
      const eq = kv.indexOf('=');
      if (eq > 0) params.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
    const path = params.get('path');
    if (path === undefined) return element;
    let name: string;
    try {
      name = unescapeValue(path);
    } catch {
      return element;
    }
    if (name === '' || /[,=;\u0000]/.test(name)) return element;
    return `unix:socket=${name}`;
  }).join(';');
}

/** An abstract-socket address without usocket: a clear error instead of "Cannot find module". */
function checkAbstractSupport(address: string): void {
  if (!address.split(';').some((e) => /^unix:(.*,)?abstract=/.test(e))) return;
  if (tryLoadUsocket()) return;
  throw new BusUnavailable(`${new OptionalModuleMissing('usocket', `the abstract-socket bus address ${address.replace(/,guid=[0-9a-f]*/, '')}`).message}; or use a unix:path= address`);
}

/**
 * Connects to 'session' (DBUS_SESSION_BUS_ADDRESS), 'system' (DBUS_SYSTEM_BUS_ADDRESS or
 * /run/dbus/system_bus_socket) or any D-Bus address, and resolves once the bus is usable.
 */
export async function connectBus(spec: 'session' | 'system' | string, opts: ConnectOptions = {}): Promise<MessageBus> {
  const address = busAddress(spec);
  const what = describeSpec(spec, address);
  checkAddressSyntax(address);
  checkAbstractSupport(address);
  let bus: MessageBus;
  try {
    bus = dbus.sessionBus({ busAddress: nodeSocketAddress(address) });
  } catch (err) {
    throw new BusUnavailable(`cannot connect to ${what}: ${oneLine(err)}${adviceFor(spec, err)}`);
  }
  const timeoutMs = opts.timeoutMs ?? 5_000;
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      bus.removeListener('connect', onConnect);
      if (err === undefined) {
        resolve();
        return;
      }
      try {
        bus.disconnect();
      } catch {
        // the socket is already gone
      }
      reject(new BusUnavailable(`cannot connect to ${what}: ${oneLine(err)}${adviceFor(spec, err)}`));
    };
    const onConnect = (): void => finish();
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    bus.once('connect', onConnect);
    // Stays attached for the bus's life (see the header): before 'connect' it fails the
    // promise, afterwards it reports through onError, and it never lets an 'error' go unhandled.
    bus.on('error', (err: unknown) => {
      if (!settled) finish(err);
      else opts.onError?.(err instanceof Error ? err : new Error(String(err)));
    });
  });
  // The socket of dbus-next 0.10's connection: 'close' comes however it ended (a reset, when the
  // bus was killed with messages unread, gives no 'end').
  const socket = (bus as unknown as { _connection?: { stream?: { once?(event: 'close', cb: () => void): unknown } } })._connection?.stream;
  if (opts.onClose && typeof socket?.once === 'function') socket.once('close', opts.onClose);
  return bus;
}
