/**
 * `smbnotify view [options] TARGET MOUNTPOINT`: a live view of TARGET at MOUNTPOINT, in the
 * foreground (like `sshfs -f`): every change the server reports shows up to inotify on the view.
 * Ctrl-C (or SIGTERM) unmounts. The view passes data through to a backing folder that shows the
 * share: the cifs mount of TARGET (found through mountinfo) or `--backing DIR`.
 */
import type { Command } from 'commander';
import type { Watcher } from '../../watch/watcher.js';
import type { LiveView } from '../../view/live-view.js';
import { CommandFailed, UsageError } from '../errors.js';
import { addConnectionOptions, LOCAL_TARGET_FORMS, parsePositive } from '../options.js';
import type { WatchCliConnection } from '../watch-targets.js';
import type { ShareConnection } from '../../smb/share-connection.js';
import { ExitStatus, stopSignals } from '../stop.js';
import type { CommandIO } from './info.js';
import { stateWords } from '../../watch/events.js';

export interface ViewOptions extends WatchCliConnection {
  backing?: string;
  allowOther?: boolean;
  /** false with --no-replay: a plain passthrough, as dead as the cifs mount (for comparison). */
  replay?: boolean;
  /** false with --no-passthrough: file data through the view's threads even as root. */
  passthrough?: boolean;
  quiet?: boolean;
  pollInterval?: number;
}

/**
 * Ctrl-C and SIGTERM end the view at any time, connecting included: it unmounts and the command
 * exits 0, as `sshfs -f` does (stopping is how a foreground file system is meant to end); an
 * error, the view unmounted from outside included, exits 1.
 */
export async function runView(targetText: string, mountPoint: string, opts: ViewOptions, io: CommandIO & { err: (line: string) => void }): Promise<void> {
  // Loaded when used: every other command starts faster without the watch and view code.
  const [{ resolveWatchTargets }, { Watcher }, { LiveView }, { MountError }, { leaveWithin }, { describePassthrough }, { describeCoveredWatcher }] = await Promise.all([
    import('../watch-targets.js'), import('../../watch/watcher.js'), import('../../view/live-view.js'), import('../../view/mount.js'),
    import('../../smb/share-connection.js'), import('../../view/passthrough.js'), import('../../view/covered-watchers.js'),
  ]);
  const stops = stopSignals({});
  let watcher: Watcher | null = null;
  let view: LiveView | null = null;
  let share: ShareConnection | null = null;
  try {
    const [t] = await stops.race(resolveWatchTargets([targetText], opts));
    const target = t!.target;
    share = t!.share;
    const backing = opts.backing ?? t!.localPathOf(target.path);
    if (!backing) {
      throw new UsageError(`no local folder shows ${t!.given}: mount the share with mount.cifs, or give --backing DIR (a folder with the share's files)`);
    }
    const ctx = { command: 'view', host: target.host, port: share.opts.port, share: target.share, path: target.path };
    try {
      await stops.race(share.connect());
      if (opts.backing) await stops.race(checkBacking(share, target.path, opts.backing));
    } catch (err) {
      if (err instanceof ExitStatus || err instanceof UsageError) throw err;
      throw new CommandFailed(err, ctx);
    }
    try {
      // Not raced: a view that mounted must be unmounted, and opening gives up within 10 s.
      view = await LiveView.open({
        mountPoint,
        backing,
        root: target.path,
        // The cifs mount shows names Windows forbids otherwise than the server reports them.
        ...(!opts.backing && t!.mountOf(target.path)?.names ? { names: t!.mountOf(target.path)!.names! } : {}),
        source: `${share.label}${target.path ? `/${target.path}` : ''}`,
        ...(opts.allowOther ? { allowOther: true } : {}),
        ...(opts.pollInterval ? { pollIntervalMs: opts.pollInterval * 1000 } : {}),
        ...(opts.passthrough === false ? { passthrough: false } : {}),
      });
    } catch (err) {
      if (err instanceof MountError) throw new UsageError(err.message);
      throw new UsageError(`cannot mount the view at ${mountPoint}: ${(err as Error).message}`);
    }
    const v = view;
    let ended!: (why: string) => void;
    const unmounted = new Promise<string>((resolve) => (ended = resolve));
    v.on('replayError', (msg) => {
      if (!opts.quiet) io.err(`smbnotify: view: replay failed: ${msg}`);
    });
    v.on('ended', (why) => ended(why ?? 'the view was unmounted'));
    watcher = new Watcher(share, {
      path: target.path,
      recursive: true,
      localPathOf: t!.localPathOf,
      ...(opts.pollInterval ? { pollIntervalMs: opts.pollInterval * 1000 } : {}),
    });
    watcher.on('event', (e) => {
      if (e.event === 'STATE' && e.state && !opts.quiet) io.err(`smbnotify: view: ${stateWords(e.state, e.message ?? '')}`);
      if (opts.replay !== false) v.handle(e);
    });
    try {
      await stops.race(watcher.start());
    } catch (err) {
      if (err instanceof ExitStatus) throw err;
      throw new CommandFailed(err, ctx);
    }
    const fileData = describePassthrough(v.passthrough);
    if (!opts.quiet) io.err(`smbnotify: view of ${t!.given} at ${v.opts.mountPoint} (backing ${v.opts.backing})${fileData ? `; ${fileData}` : ''}; Ctrl-C unmounts`);
    if (!opts.quiet) for (const w of v.programsWatchingBelow()) io.err(`smbnotify: view: ${describeCoveredWatcher(w, v.opts.mountPoint)}`);
    const why = await stops.race(unmounted);
    throw new UsageError(`view stopped: ${why}`);
  } catch (err) {
    // A signal: the view ends as asked.
    if (!(err instanceof ExitStatus)) throw err;
  } finally {
    stops.dispose();
    // The server's part of the stop waits LEAVE_GRACE_MS at most on a server that stopped
    // answering; unmounting the view is local and always waited for.
    const shares = () => (share ? [share] : []);
    await leaveWithin(async () => watcher?.stop(), shares);
    await view?.close();
    await leaveWithin(async () => share?.close(), shares);
  }
}

/** A --backing folder that holds none of the share folder's names is refused before mounting. */
async function checkBacking(share: ShareConnection, path: string, backing: string): Promise<void> {
  const [{ backingMismatch }, { readdir }] = await Promise.all([import('../../view/backing-check.js'), import('node:fs/promises')]);
  const tree = share.tree;
  if (!tree) return;
  const shareNames = (await tree.listEntries(path)).map((e) => e.name);
  let backingNames: string[];
  try {
    backingNames = await readdir(backing);
  } catch {
    return; // not readable: LiveView.open says so in its words
  }
  const why = backingMismatch(shareNames, backingNames, `--backing ${backing}`);
  if (why) throw new UsageError(why);
}

export function registerView(program: Command, io: CommandIO & { err: (line: string) => void }): Command {
  const cmd = program
    .command('view')
    .description('show TARGET at MOUNTPOINT as a live folder: every server-side change reaches inotify (GNOME Files, editors, inotifywait); Ctrl-C unmounts')
    .argument('<TARGET>', LOCAL_TARGET_FORMS)
    .argument('<MOUNTPOINT>', 'an empty folder for the view, or the cifs mount point itself to make it live in place')
    .option('--backing <DIR>', 'the local folder that shows TARGET (default: its cifs mount, from mountinfo)')
    .option('--allow-other', 'let other users enter the view (as a user: needs user_allow_other in /etc/fuse.conf)')
    .option('--no-replay', 'pass through only, without replaying changes (to compare: as dead as the cifs mount)')
    .option('--no-passthrough', 'as root too, pass file data through the view instead of letting the kernel read and write the backing files (FUSE passthrough)')
    .option('--poll-interval <SECONDS>', 'polling interval where the server has no change notification (default 2)', parsePositive('--poll-interval', false))
    .option('-q, --quiet', 'do not print state messages on stderr')
    .option('--mountinfo <FILE>', 'read mounts from FILE instead of /proc/self/mountinfo');
  addConnectionOptions(cmd, 'watch');
  cmd.action(async (target: string, mountPoint: string, opts: ViewOptions) => {
    await runView(target, mountPoint, opts, io);
  });
  return cmd;
}
