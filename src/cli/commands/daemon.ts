/**
 * `smbnotify daemon` options. The implementation (D-Bus, journal, desktop) loads only when the
 * command runs, so `ls`, `info` and `watch` start without it.
 */
import type { Command } from 'commander';
import { addConnectionOptions } from '../options.js';
import type { DaemonCliOptions } from './daemon-run.js';
import type { CommandIO } from './info.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerDaemon(program: Command, io: CommandIO & { err: (line: string) => void }, version: string): Command {
  const cmd = program
    .command('daemon')
    .description('run the service: watches from the config and --watch, events on D-Bus, KDirNotify, the journal and MQTT')
    .option('--config <FILE>', 'config file (default: ~/.config/smbnotify/config, or /etc/smbnotify/config with --bus system)')
    .option('--watch <TARGET>', 'watch TARGET (smb:// URL without a password, //HOST[:PORT]/SHARE[/PATH] or a folder in a cifs mount); repeatable', collect)
    .option('-r, --recursive', 'watch the --watch targets recursively')
    .option('--mountinfo <FILE>', 'read mounts from FILE instead of /proc/self/mountinfo')
    .option('--bus <BUS>', 'session, system, none, or a D-Bus address (default session)')
    .option('--journal <PATH>', 'event journal file, or "off" (default $XDG_RUNTIME_DIR/smbnotify/events.jsonl)')
    .option('--mqtt <URL>', 'also publish events to this MQTT broker (mqtt://HOST[:PORT], mqtts://, ws://, wss://); password from SMBNOTIFY_MQTT_PASSWORD, more in [mqtt] of the config');
  addConnectionOptions(cmd);
  cmd.action(async (opts: DaemonCliOptions) => {
    const { runDaemon } = await import('./daemon-run.js');
    await runDaemon(opts, io, version);
  });
  return cmd;
}
