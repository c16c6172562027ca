/**
 * `smbnotify watch [options] TARGET...`: inotifywait for SMB shares, and the replacement for
 * `smbinfo notify`. Exit status 0 after events, 1 on error, 2 when `--timeout` passed with
 * nothing to report, 130 after Ctrl-C and 143 after SIGTERM (at once, also while connecting);
 * a closed stdout (`| head`) ends it quietly with 0. Requests are cancelled and handles closed
 * before leaving.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { CHANGE_KINDS, type ChangeKind } from '../../watch/events.js';
import type { Watcher } from '../../watch/watcher.js';
import { CommandFailed, UsageError } from '../errors.js';
import { ExitStatus, stopSignals, type StopIO } from '../stop.js';
import { addConnectionOptions, checkFormatOptions, LOCAL_TARGET_FORMS, parsePositive } from '../options.js';
import type { ResolvedTarget, WatchCliConnection } from '../watch-targets.js';
import type { CommandIO } from './info.js';

export interface WatchOptions extends WatchCliConnection {
  recursive?: boolean;
  monitor?: boolean;
  event?: Set<string>;
  timeout?: number;
  quiet?: boolean;
  include?: RegExp;
  exclude?: RegExp;
  format?: string;
  timefmt?: string;
  json?: boolean;
  pollInterval?: number;
  /** Seconds; 0: off. */
  safetyNet?: number;
  bufferSize?: number;
}

const ALIASES: Record<string, ChangeKind[]> = { MOVE: ['MOVED_FROM', 'MOVED_TO'], MOVED: ['MOVED_FROM', 'MOVED_TO'] };

export function parseEventList(text: string, previous?: Set<string>): Set<string> {
  const out = new Set(previous ?? []);
  for (const raw of text.split(',')) {
    const name = raw.trim().toUpperCase();
    if (!name) continue;
    const kinds = ALIASES[name] ?? (CHANGE_KINDS.includes(name as ChangeKind) || name === 'STATE' ? [name] : null);
    if (!kinds) throw new InvalidArgumentError(`unknown event "${raw.trim()}": use ${[...CHANGE_KINDS, 'MOVE', 'STATE'].join(', ')}`);
    for (const k of kinds) out.add(k);
  }
  // `-e ""` (an empty shell variable) would show nothing, ever: refused as inotifywait does.
  if (out.size === 0) throw new InvalidArgumentError(`no event named: use ${[...CHANGE_KINDS, 'MOVE', 'STATE'].join(', ')}`);
  return out;
}

function parseRegex(text: string): RegExp {
  try {
    return new RegExp(text);
  } catch (err) {
    throw new InvalidArgumentError(`bad regular expression: ${(err as Error).message}`);
  }
}

/** `-t 0` means no timeout, as in inotifywait. */
function parseWatchTimeout(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('--timeout must be a number of seconds (0: no timeout).');
  return n;
}

function parseSafetyNet(text: string): number {
  if (['off', 'no', '0'].includes(text.trim().toLowerCase())) return 0;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('--safety-net must be a positive number of seconds, or off.');
  return n;
}

export type WatchIO = CommandIO & { err: (line: string) => void } & StopIO;

export async function runWatch(texts: string[], opts: WatchOptions, io: WatchIO): Promise<void> {
  let targets: ResolvedTarget[] = [];
  const watchers: Watcher[] = [];
  let finish!: (status: number) => void;
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let changesSeen = 0;
  let finished = false;
  let timer: NodeJS.Timeout | null = null;
  const armTimeout = () => {
    if (!opts.timeout) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => finish(changesSeen > 0 ? 0 : 2), opts.timeout * 1000);
  };
  // Loaded when used: `ls` and `info`, which scripts call in loops, start without the watch code.
  const [{ Watcher }, { eventPrinter }, { notifyTraceLine, traceEnabled }, { resolveWatchTargets, outermostTargets }, { leaveWithin }] = await Promise.all([
    import('../../watch/watcher.js'), import('../../sinks/printer.js'), import('../../watch/trace.js'), import('../watch-targets.js'),
    import('../../smb/share-connection.js'),
  ]);
  // Signals and a closed stdout end the watch at once, also while it is still connecting.
  const stops = stopSignals(io);
  void stops.stopped.then(finish);
  try {
    targets = await stops.race(resolveWatchTargets(texts, opts));
    if (opts.recursive) targets = outermostTargets(targets);
    // Say which credentials were borrowed from a mount (smbinfo notify needed none: it rode on
    // the kernel's session, which we cannot).
    if (!opts.quiet) for (const from of new Set(targets.map((t) => t.credentialsFrom).filter((f) => f !== undefined))) io.err(`smbnotify: using ${from}`);
    const shares = [...new Set(targets.map((t) => t.share))];
    for (const share of shares) {
      try {
        await stops.race(share.connect());
      } catch (err) {
        if (err instanceof ExitStatus) throw err;
        const t = targets.find((x) => x.share === share)!.target;
        throw new CommandFailed(err, { command: 'watch', host: t.host, port: share.opts.port, share: t.share, path: t.path });
      }
    }
    for (const t of targets) {
      // One printer per TARGET: with -e, --include or --exclude, each TARGET's seq counts what it printed.
      const printer = eventPrinter(opts, io, targets.length > 1, true);
      const w = new Watcher(t.share, {
        path: t.target.path,
        recursive: opts.recursive === true,
        localPathOf: t.localPathOf,
        ...(opts.bufferSize ? { bufferSize: opts.bufferSize } : {}),
        ...(opts.pollInterval ? { pollIntervalMs: opts.pollInterval * 1000 } : {}),
        ...(opts.safetyNet !== undefined ? { safetyNetMs: opts.safetyNet * 1000 } : {}),
      });
      if (traceEnabled('notify')) w.on('notified', (folder, entries) => io.err(`smbnotify: ${notifyTraceLine(folder, entries)}`));
      w.on('event', (e) => {
        // Without --monitor only the first event counts, like inotifywait: nothing after it.
        if (finished) return;
        if (!printer(e, t.given)) return;
        if (e.event === 'STATE') return;
        changesSeen++;
        armTimeout();
        if (!opts.monitor) {
          finished = true;
          finish(0);
        }
      });
      watchers.push(w);
      try {
        await stops.race(w.start());
      } catch (err) {
        if (err instanceof ExitStatus) throw err;
        throw new CommandFailed(err, { command: 'watch', host: t.target.host, port: t.share.opts.port, share: t.target.share, path: t.target.path });
      }
    }
    armTimeout();
    const status = await done;
    if (status !== 0) throw new ExitStatus(status);
  } finally {
    finished = true;
    if (timer) clearTimeout(timer);
    stops.dispose();
    // A server that stopped answering holds the stop up for LEAVE_GRACE_MS at most, not for the
    // requests' own timeouts.
    const shares = [...new Set(targets.map((t) => t.share))];
    await leaveWithin(async () => {
      await Promise.all(watchers.map((w) => w.stop()));
      await Promise.all(shares.map((s) => s.close()));
    }, () => shares);
  }
}

/** OutputBufferLength is a 32-bit field (MS-SMB2 2.2.35); the watch asks for the server's maximum at most. */
function parseBufferSize(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > 0xffffffff) throw new InvalidArgumentError('--buffer-size must be a whole number of bytes from 1 to 4294967295.');
  return n;
}

export function registerWatch(program: Command, io: WatchIO): Command {
  const cmd = program
    .command('watch')
    .description('print changes on SMB shares as they happen, like inotifywait (replaces smbinfo notify)')
    .argument('<TARGET...>', LOCAL_TARGET_FORMS)
    .option('-r, --recursive', 'watch every folder below the target too')
    .option('-m, --monitor', 'keep going (default: exit after the first event)')
    .option('-e, --event <LIST>', 'only these events, comma-separated: CREATE, DELETE, MODIFY, MOVED_FROM, MOVED_TO, MOVE, OVERFLOW, DELETE_SELF, STATE (repeatable)', parseEventList)
    .option('-t, --timeout <SECONDS>', 'exit with status 2 when no event came within SECONDS (0: no timeout)', parseWatchTimeout)
    .option('-q, --quiet', 'do not print watch-state messages on stderr')
    .option('--include <REGEX>', 'only paths matching REGEX', parseRegex)
    .option('--exclude <REGEX>', 'no paths matching REGEX', parseRegex)
    .option('--format <FMT>', 'print events as FMT: %w target, %f path, %e event, %T time, %o old path, %l local path, %s source, %n newline, %% percent')
    .option('--timefmt <FMT>', 'strftime format for %T (default "%F %T")')
    .option('--json', 'one JSON object per event per line')
    .option('--poll-interval <SECONDS>', 'polling interval where the server has no change notification (default 2)', parsePositive('--poll-interval', false))
    .option('--safety-net <SECONDS|off>', "base interval of the check for changes the server does not report (default 2; grows with the number of folders)", parseSafetyNet)
    .option('--buffer-size <BYTES>', 'CHANGE_NOTIFY output buffer (default 1 MiB; never more than the server allows)', parseBufferSize)
    .option('--mountinfo <FILE>', 'read mounts from FILE instead of /proc/self/mountinfo')
    .option('--fstab <FILE>', "where a mount's credentials= file is looked up (default /etc/fstab)");
  addConnectionOptions(cmd, 'watch');
  cmd.action(async (targets: string[], opts: WatchOptions) => {
    if (opts.json && opts.format) throw new UsageError('--json and --format cannot be used together');
    await checkFormatOptions(opts);
    await runWatch(targets, opts, io);
  });
  return cmd;
}
