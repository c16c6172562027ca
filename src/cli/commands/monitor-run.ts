/**
 * `smbnotify monitor` prints the daemon's event signals as `watch` does, and says when the daemon
 * leaves the bus and comes back; `smbnotify status` shows each of its watches and exits 1 when no
 * daemon runs on the bus.
 */
import dbus from 'dbus-next';
import type { DaemonEvent, WatchStatus } from '../../sinks/types.js';
import { connectBus } from '../../sinks/bus.js';
import { BUS_NAME as NAME, INTERFACE as IFACE, OBJECT_PATH as PATH } from '../../sinks/dbus-api.js';
import { sizeText } from '../../sinks/size-text.js';
import { eventPrinter } from '../../sinks/printer.js';
import { watchedTarget } from '../../sinks/terminal.js';
import { UsageError } from '../errors.js';
import { escapeForTerminal, jsonLine } from '../../watch/safe-text.js';
import type { CommandIO } from './info.js';
import { ExitStatus, stopSignals, type StopIO } from '../stop.js';

/** A D-Bus a{sv} as dbus-next hands it over: values wrapped in Variants, 64-bit as BigInt. */
export function unwrapDict(dict: Record<string, { value: unknown } | unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(dict ?? {})) {
    const value = v instanceof dbus.Variant ? v.value : v;
    out[k] = typeof value === 'bigint' ? Number(value) : value;
  }
  return out;
}

async function callDaemon(bus: dbus.MessageBus, member: string): Promise<unknown> {
  const reply = await bus.call(new dbus.Message({ destination: NAME, path: PATH, interface: IFACE, member }));
  return reply?.body?.[0];
}

function notRunning(err: unknown, busName: string): Error {
  const name = (err as { type?: string }).type ?? '';
  const where = busName === 'session' || busName === 'system' ? `${busName} bus` : `bus ${busName.replace(/,guid=.*$/, '')}`;
  if (/ServiceUnknown|NameHasNoOwner/.test(name)) return new UsageError(`the smbnotify daemon is not running on the ${where}`);
  return err as Error;
}

export interface MonitorOptions {
  bus?: string;
  quiet?: boolean;
  json?: boolean;
  format?: string;
  timefmt?: string;
  mqtt?: string;
  topicPrefix?: string;
  mqttUser?: string;
  mqttPasswordFile?: string;
  mqttCa?: string;
}

/** Says when the daemon leaves the bus and when it comes back (NameOwnerChanged of its name). */
function followDaemon(bus: dbus.MessageBus, say: (line: string) => void): void {
  bus.on('message', (msg: dbus.Message) => {
    if (msg.type !== dbus.MessageType.SIGNAL || msg.interface !== 'org.freedesktop.DBus' || msg.member !== 'NameOwnerChanged') return;
    const [name, oldOwner, newOwner] = (msg.body ?? []) as string[];
    if (name !== NAME) return;
    if (oldOwner && !newOwner) say('smbnotify: the daemon stopped (it left the bus); waiting for it to come back');
    else if (newOwner) say('smbnotify: the daemon is back; listening to its events');
  });
}

/**
 * What monitor's %w shows: the watch's label from ListWatches (`//host[:port]/share/folder`, the
 * port when it is not 445, so that two servers on one host are told apart), asked for once per
 * watch id; for a watch already gone, the folder the event names (its `server` has the port
 * too when it is not 445).
 */
function watchLabels(bus: dbus.MessageBus): { of: (e: DaemonEvent) => Promise<string>; forget: () => void } {
  const labels = new Map<string, string>();
  return {
    async of(e) {
      if (!labels.has(e.watchId)) {
        const watches = await callDaemon(bus, 'ListWatches').catch(() => []) as Array<Record<string, unknown>>;
        for (const w of watches.map(unwrapDict)) if (typeof w['id'] === 'string' && typeof w['label'] === 'string') labels.set(w['id'], w['label']);
      }
      return labels.get(e.watchId) ?? watchedTarget(e);
    },
    forget: () => labels.clear(),
  };
}

export async function runMonitor(opts: MonitorOptions, io: CommandIO & { err: (line: string) => void } & StopIO): Promise<void> {
  if (opts.json && opts.format) throw new UsageError('--json and --format cannot be used together');
  const stops = stopSignals(io);
  let bus: dbus.MessageBus | null = null;
  try {
    bus = await stops.race(connectBus(opts.bus ?? 'session'));
    const addMatch = (rule: string) => bus!.call(new dbus.Message({
      destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
      member: 'AddMatch', signature: 's', body: [rule],
    }));
    await stops.race(addMatch(`type='signal',interface='${IFACE}',member='Event'`));
    await stops.race(addMatch(`type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${NAME}'`));
    const print = eventPrinter(opts, io, true);
    const labels = opts.format === undefined ? null : watchLabels(bus);
    // Events are printed in the order they came, also while a watch's label is being asked for.
    let printed = Promise.resolve();
    bus.on('message', (msg: dbus.Message) => {
      if (msg.type !== dbus.MessageType.SIGNAL || msg.interface !== IFACE || msg.member !== 'Event') return;
      const e = unwrapDict(msg.body?.[0] as Record<string, unknown>) as unknown as DaemonEvent;
      if (!labels) return void print(e, e.watchId, watchedTarget(e));
      printed = printed
        .then(async () => {
          print(e, e.watchId, await labels.of(e));
        })
        .catch((err: unknown) => io.err(`smbnotify: ${(err as Error).message}`));
    });
    followDaemon(bus, (line) => {
      // A daemon that comes back numbers its watches from w1 again.
      labels?.forget();
      io.err(line);
    });
    const running = await stops.race(callDaemon(bus, 'GetStatus').then(() => true, (err: unknown) => {
      io.err(`smbnotify: ${notRunning(err, opts.bus ?? 'session').message}; waiting for its signals`);
      return false;
    }));
    if (running && !opts.quiet) io.err('smbnotify: listening to the daemon\'s events (Ctrl-C to stop)');
    const status = await stops.stopped;
    if (status !== 0) throw new ExitStatus(status);
  } finally {
    stops.dispose();
    bus?.disconnect();
  }
}

/** `MQTT URL: STATE[: why]`, with what waits in the queue and what was dropped, when anything. */
function mqttLine(status: Record<string, unknown>): string {
  const queued = Number(status['mqttQueued'] ?? 0);
  const dropped = Number(status['mqttDropped'] ?? 0);
  return `MQTT ${String(status['mqtt'])}: ${String(status['mqttState'])}${status['mqttMessage'] ? ` (${String(status['mqttMessage'])})` : ''}`
    + (queued > 0 ? `; ${sizeText(queued)} of events queued` : '')
    + (dropped > 0 ? `; ${dropped} events dropped (queue full), an OVERFLOW will follow` : '');
}

export async function runStatus(opts: { bus?: string; json?: boolean }, io: CommandIO): Promise<void> {
  const busName = opts.bus ?? 'session';
  const bus = await connectBus(busName);
  try {
    let status: Record<string, unknown>;
    let watches: WatchStatus[];
    try {
      status = unwrapDict((await callDaemon(bus, 'GetStatus')) as Record<string, unknown>);
      watches = ((await callDaemon(bus, 'ListWatches')) as Array<Record<string, unknown>>).map((w) => unwrapDict(w) as unknown as WatchStatus);
    } catch (err) {
      throw notRunning(err, busName);
    }
    if (opts.json) {
      io.out(jsonLine({ ...status, watches }));
      return;
    }
    // Targets, messages and view paths may hold names from a server or a D-Bus caller: escaped
    // as the event stream escapes them, so that none moves the cursor or fakes a line.
    const text = (v: unknown) => escapeForTerminal(String(v));
    io.out(`smbnotify ${text(status['version'])} daemon, pid ${text(status['pid'])}, since ${text(status['startedAt'])}${status['journal'] ? `, journal ${text(status['journal'])}` : ''}`);
    if (status['mqtt']) io.out(text(mqttLine(status)));
    if (watches.length === 0) {
      io.out('no watches');
      return;
    }
    const rows = watches.map((w) => [
      w.id, w.state, w.label, w.dialect ?? '-', w.encryption ?? (w.signing ? `signed ${w.signing}` : '-'), String(w.eventsSeen ?? 0), w.lastEventTime ?? '-',
    ].map(text));
    const head = ['ID', 'STATE', 'TARGET', 'DIALECT', 'PROTECTION', 'EVENTS', 'LAST EVENT'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
    io.out(line(head));
    for (const r of rows) io.out(line(r));
    for (const w of watches) if (w.state === 'stopped' || w.state === 'reconnecting') io.out(`${text(w.id)}: ${text(w.message)}`);
    for (const w of watches) {
      if (w.viewState) io.out(text(`${w.id}: view ${w.viewState}${w.view ? ` at ${w.view}` : ''}${w.viewBacking ? ` (backing ${w.viewBacking})` : ''}${w.viewMessage ? `: ${w.viewMessage}` : ''}`));
    }
  } finally {
    bus.disconnect();
  }
}

