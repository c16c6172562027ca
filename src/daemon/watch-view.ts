/**
 * The live view of one daemon watch (`view =` in its config section): where it goes, what backs
 * it, and its life. It starts once the watch is running and says in the watch's status why it
 * could not, rather than stopping the watch.
 */
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import type { WatchEvent, WatchState } from '../watch/events.js';
import { LiveView } from '../view/live-view.js';
import type { CifsNameMap } from '../platform/cifs-names.js';
import { describePassthrough } from '../view/passthrough.js';
import { backingMismatch } from '../view/backing-check.js';
import { describeCoveredWatcher } from '../view/covered-watchers.js';
import { errnoWords } from '../platform/errno-words.js';

export interface WatchViewSpec {
  /** 'yes' (default place), 'over' (over the backing cifs mount point) or a folder. */
  where: string;
  /** Name of the watch, for the default folder. */
  name: string;
  backing?: string;
  allowOther?: boolean;
  /** The watch's polling interval (where the server has no change notification). */
  pollIntervalMs?: number;
}

/** $XDG_RUNTIME_DIR/smbnotify (or /run/user/UID/smbnotify; /run/smbnotify for root services). */
export function defaultViewRoot(): string {
  const uid = process.getuid?.() ?? 0;
  const runtime = process.env['XDG_RUNTIME_DIR'] || (uid === 0 ? '/run' : `/run/user/${uid}`);
  return join(runtime, 'smbnotify');
}

/**
 * The view's folder at the default place. With view-allow-other the folder holding the views must
 * let other users pass (a root service's /run/smbnotify), else theirs only.
 */
function makeDefaultPlace(mountPoint: string, allowOther: boolean): void {
  const root = dirname(mountPoint);
  try {
    fs.mkdirSync(root, { recursive: true, mode: allowOther ? 0o755 : 0o700 });
    if (allowOther) {
      const st = fs.statSync(root);
      if ((st.mode & 0o001) === 0 && st.uid === process.getuid?.()) fs.chmodSync(root, 0o755);
    }
    fs.mkdirSync(mountPoint, { recursive: true, mode: 0o700 });
  } catch (err) {
    // Outside a login session (su, ssh without pam_systemd) /run/user/UID is not there to make.
    const unset = process.env['XDG_RUNTIME_DIR'] ? '' : ' (XDG_RUNTIME_DIR is not set: no login session)';
    throw new Error(`cannot make the view's folder ${mountPoint}: ${errnoWords(err, 'folder')}${unset}; give view = a folder of your own, e.g. view = ~/Projects`);
  }
}

/** The first folder above `path` that other users cannot pass through, or null. */
function closedToOthers(path: string): string | null {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    try {
      if ((fs.statSync(dir).mode & 0o001) === 0) return dir;
    } catch {
      return null;
    }
    if (dir === dirname(dir)) return null;
  }
}

function modeOf(path: string): string {
  try {
    return (fs.statSync(path).mode & 0o7777).toString(8).padStart(4, '0');
  } catch {
    return '?';
  }
}

export class WatchView {
  view: LiveView | null = null;
  state: 'starting' | 'mounted' | 'stopped' | 'failed' = 'starting';
  /** Failed for want of a local folder showing the share: a cifs mount appearing starts it. */
  waitsForBacking = false;
  message = '';
  /** Where the view goes and what backs it; '' while not known (over a backing not found yet). */
  mountPoint: string;
  backing: string;
  private stopped = false;

  /** `log` lines start with the watch's id. */
  constructor(readonly spec: WatchViewSpec, private readonly log: (line: string) => void) {
    this.backing = spec.backing ?? '';
    this.mountPoint = spec.where === 'over' ? this.backing : spec.where === 'yes' ? join(defaultViewRoot(), spec.name) : spec.where;
  }

  /**
   * Mounts the view; `local` is the watched folder's cifs mount path, if any, and how that mount
   * shows names Windows forbids; `watchState` the watch's state (read once mounted: its STATE
   * events before that are not seen by the view); `shareNames` the names the watch listed in the
   * watched folder, which a configured backing folder must show some of (backing-check.ts).
   */
  async start(root: string, local: { path: string | undefined; names: CifsNameMap | undefined }, source: string, watchState: () => WatchState, shareNames?: readonly string[]): Promise<void> {
    this.state = 'starting';
    this.message = '';
    const backing = this.spec.backing ?? local.path;
    const names = this.spec.backing === undefined ? local.names : undefined;
    this.waitsForBacking = !backing;
    if (!backing) return this.fail('no local folder shows this share: mount it (mount.cifs) or set view-backing; the view starts once it is mounted');
    if (this.spec.backing !== undefined && shareNames) {
      const held = await fs.promises.readdir(backing).catch(() => null);
      const why = held && backingMismatch(shareNames, held, `view-backing ${backing}`);
      if (why) return this.fail(why);
    }
    const mountPoint = this.spec.where === 'over' ? backing : this.mountPoint;
    this.backing = backing;
    this.mountPoint = mountPoint;
    try {
      if (this.spec.where === 'yes') makeDefaultPlace(mountPoint, this.spec.allowOther === true);
      const view = await LiveView.open({
        mountPoint, backing, root, source,
        ...(names ? { names } : {}),
        ...(this.spec.allowOther ? { allowOther: true } : {}),
        ...(this.spec.pollIntervalMs ? { pollIntervalMs: this.spec.pollIntervalMs } : {}),
      });
      if (this.stopped) {
        await view.close();
        return;
      }
      this.view = view;
      view.watchState(watchState());
      this.state = 'mounted';
      this.mountPoint = view.opts.mountPoint;
      this.backing = view.opts.backing;
      const closed = this.spec.allowOther ? closedToOthers(this.mountPoint) : null;
      this.message = closed ? `other users cannot reach it: ${closed} is private (mode ${modeOf(closed)}); give view = a folder they can reach` : '';
      const fileData = describePassthrough(view.passthrough);
      this.log(`view of ${source} at ${this.mountPoint} (backing ${this.backing})${fileData ? `; ${fileData}` : ''}${this.message ? `: ${this.message}` : ''}`);
      for (const w of view.programsWatchingBelow()) this.log(`view: ${describeCoveredWatcher(w, this.mountPoint)}`);
      view.on('replayError', (m) => this.log(`view ${this.mountPoint}: replay failed: ${m}`));
      view.on('ended', (why) => {
        this.state = 'failed';
        this.message = why ?? 'unmounted from outside';
        this.log(`view ${this.mountPoint} ended: ${this.message} (SIGHUP tries again)`);
      });
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  private fail(message: string): void {
    this.state = 'failed';
    this.message = message;
    this.log(`view failed: ${message}`);
  }

  /** A view that failed (unmounted from outside, no backing yet): ready to be started again. */
  async reset(): Promise<boolean> {
    if (this.stopped || this.state !== 'failed') return false;
    await this.view?.close();
    this.view = null;
    this.state = 'starting';
    return true;
  }

  handle(e: WatchEvent): void {
    this.view?.handle(e);
  }

  /**
   * Unmounts. The folder made at the default place goes too (when empty, as it is once unmounted):
   * a bookmark to it then says the location is gone, rather than showing the share as empty.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const mounted = this.view !== null;
    await this.view?.close();
    this.view = null;
    this.state = 'stopped';
    if (mounted && this.spec.where === 'yes') {
      try {
        fs.rmdirSync(this.mountPoint);
      } catch {
        // not empty (something was put there by hand), or already gone
      }
    }
  }
}
