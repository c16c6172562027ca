/**
 * The daemon's own D-Bus API: name `io.github.smbnotify`, object `/io/github/smbnotify`,
 * interface `io.github.smbnotify.Watcher1`. The contract is io.github.smbnotify.Watcher1.xml next
 * to this file (a test checks the live object against it).
 *
 * Signals: `Event(a{sv})` for every event (the fields of `smbnotify watch --json`, each as a
 * variant, only those that are set) and `StateChanged(s watchId, s state, s message)` for STATE
 * events. Methods: AddWatch, RemoveWatch, ListWatches, GetStatus, calling into DaemonControl.
 *
 * dbus-next 0.10.2 notes: members are declared with `configureMembers` (no decorators); a method
 * that throws anything but a DBusError is answered with the JavaScript stack in the error text,
 * so every error is converted here; 64-bit values are sent from plain numbers and arrive as
 * native BigInt (do not call setBigIntCompat(true): it turns them into JSBI objects).
 */
import { isIP } from 'node:net';
import dbus from 'dbus-next';
import { EVENT_FIELDS } from '../watch/events.js';
import { BusNameTaken } from './bus-errors.js';
import { busString, EventSignalEncoder } from './dbus-event-signal.js';
import type { AddWatchOptions, DaemonControl, DaemonEvent, EventSink, WatchStatus, DaemonStatus } from './types.js';

type MessageBus = dbus.MessageBus;
type Variant = dbus.Variant;
const { Variant, DBusError } = dbus;

export const BUS_NAME = 'io.github.smbnotify';
export const OBJECT_PATH = '/io/github/smbnotify';
export const INTERFACE = 'io.github.smbnotify.Watcher1';

export const ERROR_FAILED = 'io.github.smbnotify.Error.Failed';
export const ERROR_NOT_FOUND = 'io.github.smbnotify.Error.NotFound';
export const ERROR_INVALID_ARGS = 'io.github.smbnotify.Error.InvalidArgs';
/** The bus's own error for arguments of the wrong types (D-Bus specification, standard errors). */
const DBUS_INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs';

// RequestName flags and replies (D-Bus specification, org.freedesktop.DBus.RequestName).
const DO_NOT_QUEUE = 4;
const PRIMARY_OWNER = 1;

/** Credentials never leave the daemon, even inside an error text. */
export function redact(text: string): string {
  return text
    .replace(/(\/\/[^/\s:@]*):[^@\s/]*@/g, '$1:***@')
    .replace(/(pass(?:word)?\s*[=:]\s*)\S+/gi, '$1***');
}

function oneLine(text: string, max = 500): string {
  // eslint-disable-next-line no-control-regex
  const folded = text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return folded.length > max ? `${folded.slice(0, max - 1)}…` : folded;
}

/** Any failure of the daemon as a D-Bus error: a fitting name, one line, no stack, no secret. */
export function toDbusError(err: unknown): InstanceType<typeof DBusError> {
  if (err instanceof DBusError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  const type = name === 'NotFoundError' ? ERROR_NOT_FOUND : name === 'UsageError' ? ERROR_INVALID_ARGS : ERROR_FAILED;
  const message = err instanceof Error ? err.message : String(err);
  return new DBusError(type, busString(oneLine(redact(message))) || 'failed');
}

const invalid = (text: string) => new DBusError(ERROR_INVALID_ARGS, text);

const INTEGER_SIGNATURES = new Set(['y', 'n', 'q', 'i', 'u', 'x', 't']);
const OPTION_KEYS = ['recursive', 'credentialsFile', 'guest', 'pollInterval', 'kerberos', 'krb5Ccache', 'ipAddress'];
const KERBEROS_USES = ['required', 'desired', 'off'] as const;

/** AddWatch's a{sv} options, checked key by key (unknown keys are an error, not ignored). */
export function parseAddWatchOptions(options: Record<string, Variant>): AddWatchOptions {
  const out: AddWatchOptions = {};
  for (const [key, v] of Object.entries(options ?? {})) {
    const sig = v?.signature;
    const value: unknown = v?.value;
    switch (key) {
      case 'recursive':
      case 'guest':
        if (sig !== 'b') throw invalid(`option ${key} must be a boolean (b), got ${sig}`);
        out[key] = value === true;
        break;
      case 'credentialsFile':
        if (sig !== 's' || typeof value !== 'string' || value === '') throw invalid(`option credentialsFile must be a file name (s), got ${sig}`);
        // The daemon's working folder is not the caller's: a relative name would be looked up elsewhere.
        if (!value.startsWith('/')) throw invalid(`option credentialsFile must be an absolute path (the daemon does not know the caller's folder), got ${JSON.stringify(busString(value))}`);
        out.credentialsFile = value;
        break;
      case 'pollInterval': {
        // 'u' is documented; gdbus writes <30> as int32, busctl lets you pick: any integer type.
        const n = typeof value === 'bigint' ? Number(value) : value;
        if (!INTEGER_SIGNATURES.has(sig) || typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 86_400) {
          throw invalid(`option pollInterval must be a number of seconds from 1 to 86400 (u)`);
        }
        out.pollIntervalSeconds = n;
        break;
      }
      // The config file's kerberos, krb5-ccache and ip-address (docs/kerberos.md).
      case 'kerberos': {
        const use = KERBEROS_USES.find((u) => u === value);
        if (sig !== 's' || !use) throw invalid(`option kerberos must be required, desired or off (s)`);
        out.kerberos = use;
        break;
      }
      case 'krb5Ccache':
        if (sig !== 's' || typeof value !== 'string' || value === '') throw invalid(`option krb5Ccache must be a credential cache name (s), got ${sig}`);
        out.krb5Ccache = value;
        break;
      case 'ipAddress':
        if (sig !== 's' || typeof value !== 'string' || isIP(value) === 0) throw invalid(`option ipAddress must be an IPv4 or IPv6 address (s)`);
        out.ipAddress = value;
        break;
      default:
        throw invalid(`unknown option ${JSON.stringify(busString(key))} (known: ${OPTION_KEYS.join(', ')})`);
    }
  }
  return out;
}

// Types of the status dictionaries' fields that are not plain strings or booleans.
const NUMBER_TYPES: Record<string, string> = {
  eventsSeen: 't',
  mqttDropped: 't',
  mqttQueued: 't',
  pid: 'u',
  watches: 'u',
};

function variantOf(key: string, value: unknown): Variant | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return new Variant('s', busString(value));
  if (typeof value === 'boolean') return new Variant('b', value);
  if (typeof value === 'bigint') return value >= 0n ? new Variant('t', value) : new Variant('x', value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    const sig = NUMBER_TYPES[key] ?? (Number.isInteger(value) ? 'x' : 'd');
    if (sig === 'd') return new Variant('d', value);
    if (!Number.isSafeInteger(value)) return undefined;
    if ((sig === 't' || sig === 'u') && value < 0) return undefined;
    if (sig === 'u' && value > 0xffffffff) return undefined;
    return new Variant(sig, value);
  }
  return undefined;
}

/** A flat record as a{sv}: null and undefined fields left out. */
export function toDict(record: object): Record<string, Variant> {
  const out: Record<string, Variant> = {};
  for (const [key, value] of Object.entries(record)) {
    const v = variantOf(key, value);
    if (v) out[key] = v;
  }
  return out;
}

/** The Event signal's dictionary: the event's record (the journal's fields, in its order), typed. */
export function eventDict(e: DaemonEvent): Record<string, Variant> {
  const out: Record<string, Variant> = {};
  for (const [key, type] of EVENT_FIELDS) {
    const v = e[key];
    if (v === undefined) continue;
    out[key] = new Variant(type, type === 's' ? busString(v as string) : v);
  }
  return out;
}

function watchDict(w: WatchStatus): Record<string, Variant> {
  return toDict({ ...w, target: redact(w.target) });
}

function statusDict(s: DaemonStatus): Record<string, Variant> {
  return toDict(s);
}

class WatcherInterface extends dbus.interface.Interface {
  /** The sender of the AddWatch call being dispatched (dbus-next does not hand it to methods). */
  currentSender: string | undefined;
  /** Calls are answered once this settles: the daemon has started its watches (answerAfter). */
  started: Promise<void> = Promise.resolve();

  constructor(
    private readonly control: DaemonControl,
    private readonly uidOf: (sender: string) => Promise<number>,
  ) {
    super(INTERFACE);
  }

  async AddWatch(target: string, options: Record<string, Variant>): Promise<string> {
    // Taken synchronously: the method handler set it just before dbus-next called us.
    const sender = this.currentSender;
    this.currentSender = undefined;
    await this.started;
    if (target.trim() === '') throw invalid('the target is empty');
    try {
      const opts = parseAddWatchOptions(options);
      if (opts.credentialsFile !== undefined || opts.krb5Ccache !== undefined) {
        const what = opts.credentialsFile !== undefined ? 'credentialsFile' : 'krb5Ccache';
        if (!sender) throw new DBusError(ERROR_FAILED, `cannot tell who is calling: ${what} refused`);
        opts.callerUid = await this.uidOf(sender);
      }
      return await this.control.addWatch(target, opts);
    } catch (err) {
      throw toDbusError(err);
    }
  }

  async RemoveWatch(id: string): Promise<void> {
    await this.started;
    try {
      await this.control.removeWatch(id);
    } catch (err) {
      throw toDbusError(err);
    }
  }

  async ListWatches(): Promise<Record<string, Variant>[]> {
    await this.started;
    try {
      return this.control.listWatches().map(watchDict);
    } catch (err) {
      throw toDbusError(err);
    }
  }

  async GetStatus(): Promise<Record<string, Variant>> {
    await this.started;
    try {
      return statusDict(this.control.status());
    } catch (err) {
      throw toDbusError(err);
    }
  }

  // Signals: the returned value is the signal's body (configureMembers wraps these).
  Event(dict: Record<string, Variant>): Record<string, Variant> {
    return dict;
  }

  StateChanged(watchId: string, state: string, message: string): string[] {
    return [watchId, state, message];
  }

  /**
   * dbus-next's introspection leaves out argument names; add them (as in the XML contract) so
   * that `gdbus introspect`, busctl and d-feet show what each argument is.
   */
  $introspect(): IntrospectXml {
    const xml = (dbus.interface.Interface.prototype as unknown as { $introspect(this: unknown): IntrospectXml }).$introspect.call(this);
    for (const member of [...(xml.method ?? []), ...(xml.signal ?? [])]) {
      const names = ARG_NAMES[member.$.name];
      member.arg?.forEach((arg, i) => {
        const name = names?.[i];
        if (name) arg.$ = { name, ...arg.$ };
      });
    }
    return xml;
  }
}

/** The shape dbus-next's `$introspect` returns (xml2js builder input). */
interface IntrospectXml {
  method?: Array<{ $: { name: string }; arg?: Array<{ $: Record<string, string> }> }>;
  signal?: Array<{ $: { name: string }; arg?: Array<{ $: Record<string, string> }> }>;
}

/** Argument names, in signature order (in, then out), as in io.github.smbnotify.Watcher1.xml. */
const ARG_NAMES: Record<string, string[]> = {
  AddWatch: ['target', 'options', 'id'],
  RemoveWatch: ['id'],
  ListWatches: ['watches'],
  GetStatus: ['status'],
  Event: ['event'],
  StateChanged: ['watchId', 'state', 'message'],
};

/** The methods' signatures (as in the XML contract). */
const METHODS: Record<string, { inSignature: string; outSignature: string }> = {
  AddWatch: { inSignature: 'sa{sv}', outSignature: 's' },
  RemoveWatch: { inSignature: 's', outSignature: '' },
  ListWatches: { inSignature: '', outSignature: 'aa{sv}' },
  GetStatus: { inSignature: '', outSignature: 'a{sv}' },
};

/**
 * A call of one of our methods with other argument types: dbus-next would answer UnknownMethod
 * ("does not exist"), which sends a user of dbus-send (which cannot write a{sv} of variants) or
 * busctl looking for a missing method. It is the standard InvalidArgs, naming the signature.
 */
function wrongSignature(msg: dbus.Message): string | undefined {
  const member = msg.member ?? '';
  if (!Object.hasOwn(METHODS, member)) return undefined;
  const { inSignature: want, outSignature } = METHODS[member]!;
  const got = msg.signature ?? '';
  if (got === want) return undefined;
  // ARG_NAMES lists the in-arguments, then the one out-argument when there is one.
  const inNames = ARG_NAMES[member]!.slice(0, outSignature ? -1 : undefined);
  const args = want ? `(${want}): ${inNames.join(', ')}` : 'no arguments';
  const hint = member === 'AddWatch' ? ' (dbus-send cannot write a{sv} of variants: use gdbus call or busctl call)' : '';
  return `${member} takes ${args}; this call has (${got})${hint}`;
}

WatcherInterface.configureMembers({
  methods: METHODS,
  signals: {
    Event: { signature: 'a{sv}' },
    StateChanged: { signature: 'sss' },
  },
});

/** The caller's uid, as the bus daemon knows it from the connection (SO_PEERCRED), not as told. */
async function callerUid(bus: MessageBus, sender: string): Promise<number> {
  const reply = await bus.call(new dbus.Message({
    destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
    member: 'GetConnectionUnixUser', signature: 's', body: [sender],
  }));
  const uid = reply?.body?.[0] as unknown;
  if (typeof uid !== 'number') throw new DBusError(ERROR_FAILED, 'cannot tell who is calling: credentialsFile refused');
  return uid;
}

/** The parts of dbus-next 0.10.2's connection (lib/connection.js) that send a marshalled message. */
interface ConnectionInternals {
  state?: string;
  stream?: { writable?: boolean; supportsUnixFd?: boolean; write(data: unknown): unknown };
}

/**
 * Writes complete messages on the bus's socket, as dbus-next's own connected `message()` does
 * after marshalling (the same stream, so the order with everything else the bus sends holds),
 * or null when this dbus-next does not look like 0.10.2 inside: then the generic path is used.
 */
function rawSender(bus: MessageBus): RawSender | null {
  const conn = (bus as unknown as { _connection?: ConnectionInternals })._connection;
  const stream = conn?.stream;
  if (conn?.state !== 'connected' || !stream || typeof stream.write !== 'function') return null;
  return {
    // A closed socket: the generic path reports it the way dbus-next does (an 'error' event).
    get open() {
      return stream.writable === true;
    },
    // With usocket and fd passing negotiated, the stream takes {data, fds}.
    send: (data) => void stream.write(stream.supportsUnixFd ? { data, fds: [] } : data),
  };
}

interface RawSender {
  readonly open: boolean;
  send(data: Buffer): void;
}

/** Buses on which this process already exports the API (dbus-next allows one per path). */
const exportedOn = new WeakSet<MessageBus>();

const ALREADY_OWNED = `another smbnotify daemon owns ${BUS_NAME} on this bus`;

export class DbusApi implements EventSink {
  private closed = false;
  /** Signals the bus refused (it went away); the daemon keeps going. */
  sendErrors = 0;
  private readonly encoder = new EventSignalEncoder(OBJECT_PATH, INTERFACE);
  private readonly raw: RawSender | null;

  private constructor(
    private readonly bus: MessageBus,
    private readonly iface: WatcherInterface,
    private readonly noteSender: (msg: dbus.Message) => boolean,
  ) {
    this.raw = rawSender(bus);
  }

  /** Whether Event signals take the fixed-shape encoder (else dbus-next's generic marshaller). */
  get fastEvents(): boolean {
    return this.raw !== null;
  }

  /** Exports the object and takes the well-known name; fails if another daemon owns it. */
  static async start(bus: MessageBus, control: DaemonControl): Promise<DbusApi> {
    if (exportedOn.has(bus)) throw new Error(ALREADY_OWNED);
    const iface = new WatcherInterface(control, (sender) => callerUid(bus, sender));
    // dbus-next calls method handlers with the message before dispatching it to the interface;
    // this one answers a call with the wrong argument types itself (returning true: handled) and
    // notes who is calling AddWatch (returning false lets dispatch go on).
    const noteSender = (msg: dbus.Message): boolean => {
      if (msg.path !== OBJECT_PATH || msg.interface !== INTERFACE) return false;
      const wrong = wrongSignature(msg);
      if (wrong) {
        // dbus-next 0.10.2's types declare newError's first argument a string; it takes the call.
        bus.send((dbus.Message.newError as unknown as (m: dbus.Message, name: string, text: string) => dbus.Message)(msg, DBUS_INVALID_ARGS, wrong));
        return true;
      }
      if (msg.member === 'AddWatch') iface.currentSender = msg.sender;
      return false;
    };
    bus.addMethodHandler(noteSender);
    // Export first, so that the object answers as soon as the name is visible.
    bus.export(OBJECT_PATH, iface);
    exportedOn.add(bus);
    let reply: number;
    try {
      reply = await bus.requestName(BUS_NAME, DO_NOT_QUEUE);
    } catch (err) {
      bus.unexport(OBJECT_PATH, iface);
      bus.removeMethodHandler(noteSender);
      exportedOn.delete(bus);
      throw new Error(`cannot take the name ${BUS_NAME}: ${err instanceof Error ? oneLine(err.message) : String(err)}`);
    }
    if (reply !== PRIMARY_OWNER) {
      bus.unexport(OBJECT_PATH, iface);
      bus.removeMethodHandler(noteSender);
      exportedOn.delete(bus);
      throw new BusNameTaken(ALREADY_OWNED);
    }
    return new DbusApi(bus, iface, noteSender);
  }

  /**
   * The name is taken before the daemon starts its watches (a second daemon is refused before it
   * connects anywhere), but a call that came meanwhile, such as the one that started the daemon
   * by D-Bus activation (`smbnotify status`), would see none of them: calls wait for `started`.
   */
  answerAfter(started: Promise<unknown>): void {
    this.iface.started = started.then(() => undefined, () => undefined);
  }

  publish(e: DaemonEvent): void {
    if (this.closed) return;
    try {
      // The Event body has a fixed shape: encoded directly (dbus-event-signal.ts), which takes
      // dbus-next's generic marshaller, most of a signal's cost, off every event.
      if (this.raw?.open) this.raw.send(this.encoder.encode(e, this.bus.newSerial()));
      else this.iface.Event(eventDict(e));
      if (e.event === 'STATE') {
        this.iface.StateChanged(busString(e.watchId), e.state ?? '', busString(e.message ?? ''));
      }
    } catch {
      // dbus-next throws when the connection is gone; signals are best effort.
      this.sendErrors++;
    }
  }

  /** Stops answering, releases the name (without waiting more than a second on a dead bus). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.bus.unexport(OBJECT_PATH, this.iface);
    } catch {
      // not exported any more
    }
    this.bus.removeMethodHandler(this.noteSender);
    exportedOn.delete(this.bus);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.bus.releaseName(BUS_NAME).catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1_000);
      }),
    ]);
    clearTimeout(timer);
  }
}
