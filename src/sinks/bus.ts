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
 */
import dbus from 'dbus-next';

export type MessageBus = dbus.MessageBus;

export interface ConnectOptions {
  /** Give up when the bus has not answered Hello within this time (default 5000 ms). */
  timeoutMs?: number;
  /** Errors of the connection after it was established (the bus went away, ...). */
  onError?: (err: Error) => void;
}

const SYSTEM_BUS_DEFAULT = 'unix:path=/run/dbus/system_bus_socket';

/** The address a bus spec stands for: 'session', 'system', or a D-Bus address. */
export function busAddress(spec: 'session' | 'system' | string): string {
  if (spec === 'session') {
    const addr = process.env['DBUS_SESSION_BUS_ADDRESS'];
    if (!addr) throw new Error('no session bus: DBUS_SESSION_BUS_ADDRESS is not set');
    return addr;
  }
  if (spec === 'system') return process.env['DBUS_SYSTEM_BUS_ADDRESS'] || SYSTEM_BUS_DEFAULT;
  return spec;
}

function describeSpec(spec: string, address: string): string {
  if (spec === 'session') return `the session bus (${address})`;
  if (spec === 'system') return `the system bus (${address})`;
  return `D-Bus at ${address}`;
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such socket (is the bus running?)',
  ECONNREFUSED: 'connection refused (is the bus running?)',
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
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ERRNO_TEXT[code]) return ERRNO_TEXT[code];
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim() || 'unknown error';
}

/** Every `;`-separated element must look like `transport:key=value,...`. */
function checkAddressSyntax(address: string): void {
  for (const part of address.split(';')) {
    if (!/^[A-Za-z][A-Za-z0-9-]*:/.test(part)) {
      throw new Error(`"${address}" is not a D-Bus address (expected e.g. unix:path=/run/user/1000/bus)`);
    }
  }
}

/**
 * Connects to 'session' (DBUS_SESSION_BUS_ADDRESS), 'system' (DBUS_SYSTEM_BUS_ADDRESS or
 * /run/dbus/system_bus_socket) or any D-Bus address, and resolves once the bus is usable.
 */
export async function connectBus(spec: 'session' | 'system' | string, opts: ConnectOptions = {}): Promise<MessageBus> {
  const address = busAddress(spec);
  const what = describeSpec(spec, address);
  checkAddressSyntax(address);
  let bus: MessageBus;
  try {
    bus = dbus.sessionBus({ busAddress: address });
  } catch (err) {
    throw new Error(`cannot connect to ${what}: ${oneLine(err)}`);
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
      reject(new Error(`cannot connect to ${what}: ${oneLine(err)}`));
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
  return bus;
}
