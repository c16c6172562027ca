/** `smbnotify monitor` and `smbnotify status` options; the D-Bus client loads when they run. */
import type { Command } from 'commander';
import type { CommandIO } from './info.js';
import type { MonitorOptions } from './monitor-run.js';
import { UsageError } from '../errors.js';
import { checkFormatOptions } from '../options.js';

export function registerMonitor(program: Command, io: CommandIO & { err: (line: string) => void }): void {
  program
    .command('monitor')
    .description("print the daemon's events as they are signalled on D-Bus (or published to MQTT), like watch does")
    .option('--bus <BUS>', 'session, system, or a D-Bus address (default session)')
    .option('--json', 'one JSON object per event per line')
    .option('-q, --quiet', 'no watch-state lines on stderr')
    .option('--format <FMT>', 'print events as FMT (see watch --format)')
    .option('--timefmt <FMT>', 'strftime format for %T (default "%F %T")')
    .option('--mqtt <URL>', 'read the events from this MQTT broker instead of D-Bus (mqtt://, mqtts://, ws://, wss://)')
    .option('--topic-prefix <PREFIX>', 'with --mqtt: the daemon\'s topic prefix (default smbnotify)')
    .option('--mqtt-user <NAME>', 'with --mqtt: user name (password from --mqtt-password-file or SMBNOTIFY_MQTT_PASSWORD)')
    .option('--mqtt-password-file <FILE>', 'with --mqtt: file holding the password (mode 600)')
    .option('--mqtt-ca <FILE>', 'with --mqtt: CA certificate (PEM) of an mqtts:// or wss:// broker')
    .action(async (opts: MonitorOptions) => {
      await checkFormatOptions(opts);
      if (opts.mqtt !== undefined) return (await import('./monitor-mqtt.js')).runMqttMonitor({ ...opts, mqtt: opts.mqtt }, io);
      if (opts.topicPrefix ?? opts.mqttUser ?? opts.mqttPasswordFile ?? opts.mqttCa) throw new UsageError('--topic-prefix and --mqtt-* options need --mqtt URL');
      return (await import('./monitor-run.js')).runMonitor(opts, io);
    });
  program
    .command('status')
    .description("show the daemon's watches; exit status 1 when the daemon is not running")
    .option('--bus <BUS>', 'session, system, or a D-Bus address (default session)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { bus?: string; json?: boolean }) => (await import('./monitor-run.js')).runStatus(opts, io));
}
