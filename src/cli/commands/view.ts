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
import { addConnectionOptions } from '../options.js';
import type { WatchCliConnection } from '../watch-targets.js';
import type { CommandIO } from './info.js';

export interface ViewOptions extends WatchCliConnection {
  backing?: string;
  allowOther?: boolean;
  /** false with --no-replay: a plain passthrough, as dead as the cifs mount (for comparison). */
  replay?: boolean;
  quiet?: boolean;
  pollInterval?: number;
}

export async function runView(targetText: string, mountPoint: string, opts: ViewOptions, io: CommandIO & { err: (line: string) => void }): Promise<void> {
  // Loaded when used: every other command starts faster without the watch and view code.
  const [{ resolveWatchTargets }, { Watcher }, { LiveView }, { MountError }] = await Promise.all([
    import('../watch-targets.js'), import('../../watch/watcher.js'), import('../../view/live-view.js'), import('../../view/mount.js'),
  ]);
  const [t] = await resolveWatchTargets([targetText], opts);
  const { target, share } = t!;
  const backing = opts.backing ?? t!.localPathOf(target.path);
  if (!backing) {
    throw new UsageError(`no local folder shows ${targetText}: mount the share with mount.cifs, or give --backing DIR (a folder with the share's files)`);
  }
  let watcher: Watcher | null = null;
  let view: LiveView | null = null;
  let finish!: (why: string | null) => void;
  const done = new Promise<string | null>((resolve) => (finish = resolve));
  const onSignal = () => finish(null);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const ctx = { command: 'view', host: target.host, port: share.opts.port, share: target.share, path: target.path };
  try {
    try {
      await share.connect();
    } catch (err) {
      throw new CommandFailed(err, ctx);
    }
    try {
      view = await LiveView.open({
        mountPoint,
        backing,
        root: target.path,
        source: `//${target.host}/${target.share}${target.path ? `/${target.path}` : ''}`,
        ...(opts.allowOther ? { allowOther: true } : {}),
      });
    } catch (err) {
      if (err instanceof MountError) throw new UsageError(err.message);
      throw new UsageError(`cannot mount the view at ${mountPoint}: ${(err as Error).message}`);
    }
    const v = view;
    v.on('replayError', (msg) => {
      if (!opts.quiet) io.err(`smbnotify: view: replay failed: ${msg}`);
    });
    v.on('ended', (why) => finish(why ?? 'the view was unmounted'));
    watcher = new Watcher(share, {
      path: target.path,
      recursive: true,
      localPathOf: t!.localPathOf,
      ...(opts.pollInterval ? { pollIntervalMs: opts.pollInterval * 1000 } : {}),
    });
    watcher.on('event', (e) => {
      if (e.event === 'STATE' && !opts.quiet) io.err(`smbnotify: view: ${e.state}${e.message ? `: ${e.message}` : ''}`);
      if (opts.replay !== false) v.handle(e);
    });
    try {
      await watcher.start();
    } catch (err) {
      throw new CommandFailed(err, ctx);
    }
    if (!opts.quiet) io.err(`smbnotify: view of ${targetText} at ${v.opts.mountPoint} (backing ${backing}); Ctrl-C unmounts`);
    const why = await done;
    if (why) throw new UsageError(`view stopped: ${why}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await watcher?.stop();
    await view?.close();
    await share.close();
  }
}

export function registerView(program: Command, io: CommandIO & { err: (line: string) => void }): Command {
  const cmd = program
    .command('view')
    .description('show TARGET at MOUNTPOINT as a live folder: every server-side change reaches inotify (GNOME Files, editors, inotifywait); Ctrl-C unmounts')
    .argument('<TARGET>', 'smb://[DOMAIN;]USER@HOST[:PORT]/SHARE[/PATH], //HOST/SHARE[/PATH], or a local path in a cifs/smb3 mount')
    .argument('<MOUNTPOINT>', 'an empty folder for the view, or the cifs mount point itself to make it live in place')
    .option('--backing <DIR>', 'the local folder that shows TARGET (default: its cifs mount, from mountinfo)')
    .option('--allow-other', 'let other users enter the view (as a user: needs user_allow_other in /etc/fuse.conf)')
    .option('--no-replay', 'pass through only, without replaying changes (to compare: as dead as the cifs mount)')
    .option('-q, --quiet', 'do not print state messages on stderr')
    .option('--mountinfo <FILE>', 'read mounts from FILE instead of /proc/self/mountinfo');
  addConnectionOptions(cmd, 'watch');
  cmd.action(async (target: string, mountPoint: string, opts: ViewOptions) => {
    await runView(target, mountPoint, opts, io);
  });
  return cmd;
}
