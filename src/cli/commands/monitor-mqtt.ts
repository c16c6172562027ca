/**
 * `smbnotify monitor --mqtt URL`: the daemon's events as a broker delivers them, printed as
 * `monitor` prints its D-Bus signals. Subscribes (QoS 1) to `PREFIX/#`; the retained
 * `PREFIX/$status/CLIENT-ID` messages say on stderr whether each daemon is online, and the
 * retained `PREFIX/$watch/...` ones each watch's state at the time the monitor starts.
 *
 * The monitor's own connection may break (its Wi-Fi drops, the broker restarts) while the daemons
 * go on publishing. So it keeps a session on the broker (MQTT 5, clean start off, expiring
 * SESSION_EXPIRY_S after a disconnection): the broker queues the QoS 1 events for it meanwhile
 * and delivers them on reconnection. A reconnection without the session (the broker restarted
 * without persistence, or the gap outlasted the expiry) is said: events were missed. Once it has
 * been connected, it retries for good, a refused login included (the broker's password file may
 * be fixed), and says a repeated failure at attempts 1, 2, 4, 8… At exit it ends the session.
 */
import mqtt from 'mqtt';
import { resolveMqtt } from '../../config/mqtt-config.js';
import { describeMqttError } from '../../sinks/mqtt-errors.js';
import { eventPrinter } from '../../sinks/printer.js';
import { watchedTarget } from '../../sinks/terminal.js';
import type { DaemonEvent } from '../../sinks/types.js';
import { within } from '../../platform/within.js';
import { RepeatedFailure } from '../../watch/repeated-failure.js';
import { UsageError } from '../errors.js';
import type { CommandIO } from './info.js';
import type { MonitorOptions } from './monitor-run.js';
import { ExitStatus, stopSignals, type StopIO } from '../stop.js';

/** How long the broker keeps the monitor's session (and queues its events) after a disconnection. */
const SESSION_EXPIRY_S = 3600;

/** Ends as `monitor` on D-Bus and `watch` do: 130 after Ctrl-C, 143 after SIGTERM, 0 when the reader of stdout goes away. */
export async function runMqttMonitor(opts: MonitorOptions & { mqtt: string }, io: CommandIO & { err: (line: string) => void } & StopIO): Promise<void> {
  if (opts.json && opts.format) throw new UsageError('--json and --format cannot be used together');
  const prefix = opts.topicPrefix ?? 'smbnotify';
  const r = await resolveMqtt({
    url: opts.mqtt,
    topicPrefix: prefix,
    ...(opts.mqttUser !== undefined ? { username: opts.mqttUser } : {}),
    ...(opts.mqttPasswordFile !== undefined ? { passwordFile: opts.mqttPasswordFile } : {}),
    ...(opts.mqttCa !== undefined ? { ca: opts.mqttCa } : {}),
  }, false);
  const client = mqtt.connect(r.url, {
    clientId: `smbnotify-monitor-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    protocolVersion: 5,
    clean: false,
    properties: { sessionExpiryInterval: SESSION_EXPIRY_S },
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
    reconnectOnConnackError: true,
    ...(r.username !== undefined ? { username: r.username } : {}),
    ...(r.password !== undefined ? { password: r.password } : {}),
    ...(r.ca ? { ca: r.ca } : {}),
  });
  const print = eventPrinter(opts, io, true);
  const stops = stopSignals(io);
  try {
    await stops.race(new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      // Before the first connection, any failure is the user's to fix: one line, exit 1.
      client.once('error', (err) => reject(new UsageError(describeMqttError(err as Error & { code?: string | number }, r.url))));
    }));
    followConnection(client, r.url, io.err);
    client.on('message', (topic, payload, packet) => {
      const rest = topic.slice(prefix.length + 1);
      if (rest.startsWith('$status/')) {
        if (!opts.quiet) io.err(`smbnotify: daemon ${rest.slice('$status/'.length)} is ${payload.toString('utf8')}`);
        return;
      }
      if (rest.startsWith('$watch/')) {
        // The broker hands a new subscriber each watch's retained last STATE: its state now. One
        // published live repeats the STATE event of the event topic (MQTT 5 3.3.1.3: the retain
        // flag is set only on messages sent from the broker's store); an empty one is a cleared state.
        if (!packet.retain || payload.length === 0) return;
      } else if (rest.startsWith('$')) return;
      let e: DaemonEvent;
      try {
        e = JSON.parse(payload.toString('utf8')) as DaemonEvent;
      } catch {
        io.err(`smbnotify: not an event on ${topic}`);
        return;
      }
      print(e, e.watchId, watchedTarget(e));
    });
    await stops.race(client.subscribeAsync(`${prefix}/#`, { qos: 1 }));
    if (!opts.quiet) io.err(`smbnotify: listening to ${prefix}/# on ${r.url} (Ctrl-C to stop)`);
    const status = await stops.stopped;
    if (status !== 0) throw new ExitStatus(status);
  } finally {
    stops.dispose();
    await endSession(client);
  }
}

/** Says on stderr when the connection breaks, each failure to get it back (1, 2, 4, 8…), and its return. */
function followConnection(client: mqtt.MqttClient, url: string, say: (line: string) => void): void {
  const failures = new RepeatedFailure();
  let lost = false;
  client.on('error', (err) => {
    const e = err as Error & { code?: string | number };
    // A working connection reset: 'offline' says it; how the socket ended adds nothing.
    if (client.connected && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) return;
    const words = describeMqttError(e, url);
    const more = failures.next(words);
    if (more !== null) say(`smbnotify: ${words}${more}`);
  });
  client.on('offline', () => {
    if (lost) return;
    lost = true;
    say('smbnotify: lost the broker; reconnecting');
  });
  client.on('connect', (connack) => {
    failures.reset();
    lost = false;
    if (connack.sessionPresent) say('smbnotify: connected to the broker again');
    else say('smbnotify: connected to the broker again, but it had not kept this monitor\'s session (restarted without persistence?): events published meanwhile were missed; list the watched folders again');
  });
}

/** Disconnects, asking the broker to drop the session now (else it would queue for an hour); bounded. */
async function endSession(client: mqtt.MqttClient): Promise<void> {
  if (client.connected) {
    const ended = await within(client.endAsync(false, { properties: { sessionExpiryInterval: 0 } }).then(() => true, () => false), 1000, false);
    if (ended) return;
  }
  await client.endAsync(true).catch(() => undefined);
}
