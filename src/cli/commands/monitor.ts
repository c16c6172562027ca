/** `smbnotify monitor` and `smbnotify status` options; the D-Bus client loads when they run. */
import type { Command } from 'commander';
import type { CommandIO } from './info.js';
import type { MonitorOptions } from './monitor-run.js';

export function registerMonitor(program: Command, io: CommandIO & { err: (line: string) => void }): void {
  program
    .command('monitor')
    .description("print the daemon's events as they are signalled on D-Bus, like watch does")
    .option('--bus <BUS>', 'session, system, or a D-Bus address (default session)')
    .option('--json', 'one JSON object per event per line')
    .option('-q, --quiet', 'no watch-state lines on stderr')
    .option('--format <FMT>', 'print events as FMT (see watch --format)')
    .option('--timefmt <FMT>', 'strftime format for %T')
    .action(async (opts: MonitorOptions) => (await import('./monitor-run.js')).runMonitor(opts, io));
  program
    .command('status')
    .description("show the daemon's watches; exit status 1 when the daemon is not running")
    .option('--bus <BUS>', 'session, system, or a D-Bus address (default session)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { bus?: string; json?: boolean }) => (await import('./monitor-run.js')).runStatus(opts, io));
}
