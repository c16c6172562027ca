/**
 * `smbnotify monitor --mqtt URL`: the daemon's events as a broker delivers them, printed as
 * `monitor` prints its D-Bus signals. Subscribes (QoS 1) to `PREFIX/#`; the retained
 * `PREFIX/$status/CLIENT-ID` messages say on stderr whether each daemon is online.
 */
import mqtt from 'mqtt';
import { resolveMqtt } from '../../config/mqtt-config.js';
import { describeMqttError } from '../../sinks/mqtt.js';
import { eventPrinter } from '../../sinks/printer.js';
import { watchedTarget } from '../../sinks/terminal.js';
import type { DaemonEvent } from '../../sinks/types.js';
import { UsageError } from '../errors.js';
import type { CommandIO } from './info.js';
import type { MonitorOptions } from './monitor-run.js';
import { ExitStatus, stopSignals, type StopIO } from '../stop.js';

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
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
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
    client.on('error', (err) => io.err(`smbnotify: ${describeMqttError(err as Error & { code?: string | number }, r.url)}`));
    client.on('offline', () => io.err('smbnotify: lost the broker; reconnecting'));
    client.on('message', (topic, payload) => {
      const rest = topic.slice(prefix.length + 1);
      if (rest.startsWith('$status/')) {
        if (!opts.quiet) io.err(`smbnotify: daemon ${rest.slice('$status/'.length)} is ${payload.toString('utf8')}`);
        return;
      }
      if (rest.startsWith('$')) return;
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
    await client.endAsync(true).catch(() => undefined);
  }
}
