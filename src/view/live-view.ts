/**
 * A live view: a FUSE file system at `mountPoint` that passes everything through to `backing` (the
 * share's cifs mount, or any folder showing the share) and replays each change the watch engine
 * reports as a real operation on itself, so that inotify (GNOME Files, GIO, editors, build
 * watchers, inotifywait) sees the share change. Threads and their rules: docs/live-view.md.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import { resolve, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WatchEvent } from '../watch/events.js';
import { MountError, mountView, type Mounted } from './mount.js';
import { ReplayChannel } from './replay-job.js';
import { Replayer, type ReplayWork } from './replayer.js';
import type { ServeWorkerData, ServeWorkerMessage } from './serve-worker.js';
import type { ReplayResult, ReplayWorkerData } from './replay-worker.js';

export interface LiveViewOptions {
  mountPoint: string;
  /** The folder the view shows. Equal to mountPoint: mount over it (e.g. over the cifs mount). */
  backing: string;
  /** Share-relative folder the backing folder shows (the watch's root); '' for the share root. */
  root: string;
  /** Shown as the mount's source, e.g. //server/share/path. */
  source: string;
  allowOther?: boolean;
}

export type ViewState = 'mounted' | 'stopped' | 'failed';

export interface LiveViewEvents {
  /** A replay that failed (the view keeps going). */
  replayError: [string];
  /** The view ended by itself (unmounted from outside, or the serving thread failed). */
  ended: [string | undefined];
}

export class LiveView extends EventEmitter<LiveViewEvents> {
  state: ViewState = 'mounted';
  replayFailures = 0;
  private readonly replayer: Replayer;
  private nextId = 1;
  private readonly inFlight = new Set<number>();
  private idleWaiters: (() => void)[] = [];
  private serveEnded: Promise<void>;
  private closing = false;

  private constructor(
    readonly opts: LiveViewOptions,
    private readonly mounted: Mounted,
    private readonly serve: Worker,
    private readonly replay: Worker,
    private readonly coveredFd: number | null,
    private readonly device: number,
  ) {
    super();
    this.replayer = new Replayer(opts.root, (work) => this.post(work));
    this.serveEnded = new Promise((done) => {
      serve.on('message', (m: ServeWorkerMessage) => {
        if (m.type === 'local') this.replayer.noteOwn(m.paths);
        else {
          done();
          if (!this.closing) {
            this.state = m.error ? 'failed' : 'stopped';
            this.emit('ended', m.error);
          }
        }
      });
      serve.on('error', (err) => {
        done();
        if (!this.closing) {
          this.state = 'failed';
          this.emit('ended', err.message);
        }
      });
    });
    replay.on('message', (r: ReplayResult) => {
      this.inFlight.delete(r.id);
      if (r.error) {
        this.replayFailures++;
        this.emit('replayError', r.error);
      }
      if (this.inFlight.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
    replay.on('error', (err) => this.emit('replayError', err.message));
  }

  static async open(opts: LiveViewOptions): Promise<LiveView> {
    const mountPoint = resolve(opts.mountPoint);
    const backing = resolve(opts.backing);
    const over = mountPoint === backing;
    for (const [what, dir] of [['mount point', mountPoint], ['backing folder', backing]] as const) {
      let st: fs.Stats;
      try {
        st = fs.statSync(dir);
      } catch (err) {
        throw new MountError(`${what} ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      if (!st.isDirectory()) throw new MountError(`${what} ${dir} is not a folder`);
    }
    if (!over) {
      // A mount point inside the backing folder would make the serving thread list itself.
      const realMount = fs.realpathSync(mountPoint);
      const realBacking = fs.realpathSync(backing);
      if (realMount === realBacking || realMount.startsWith(realBacking + sep) || realBacking.startsWith(realMount + sep)) {
        throw new MountError(`the mount point ${mountPoint} must not be inside the backing folder ${backing} (or hold it)`);
      }
    }
    // Over-mount: keep the covered folder open, reach it through /proc/self/fd/N once covered.
    const coveredFd = over ? fs.openSync(backing, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY) : null;
    const root = coveredFd !== null ? `/proc/self/fd/${coveredFd}` : backing;
    let mounted: Mounted;
    try {
      mounted = await mountView({ mountPoint, source: opts.source, ...(opts.allowOther ? { allowOther: true } : {}) });
    } catch (err) {
      if (coveredFd !== null) fs.closeSync(coveredFd);
      throw err;
    }
    const channel = ReplayChannel.create();
    const serve = new Worker(new URL('./serve-worker.js', import.meta.url), {
      workerData: { fd: mounted.fd, root, shared: channel.shared } satisfies ServeWorkerData,
    });
    const replay = new Worker(new URL('./replay-worker.js', import.meta.url), {
      workerData: { fd: mounted.fd, mountPoint, backing: root, shared: channel.shared } satisfies ReplayWorkerData,
    });
    await new Promise<void>((ok, fail) => {
      replay.once('online', ok);
      replay.once('error', fail);
    });
    // From this thread, never the serving one: the answer comes from the serving thread.
    const device = fs.statSync(mountPoint).dev;
    return new LiveView({ ...opts, mountPoint, backing }, mounted, serve, replay, coveredFd, device);
  }

  get stats(): { replayed: number; ownSkipped: number; unsafeSkipped: number; failed: number; queued: number } {
    return { ...this.replayer.stats, failed: this.replayFailures, queued: this.inFlight.size };
  }

  /** Replays one event of the watch whose root the view shows. */
  handle(e: WatchEvent): void {
    if (this.state !== 'mounted') return;
    this.replayer.handle(e);
  }

  private post(work: ReplayWork): void {
    const id = this.nextId++;
    this.inFlight.add(id);
    this.replay.postMessage({ id, job: work });
  }

  /** Resolves when every replay handed over so far is done. */
  whenIdle(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((done) => this.idleWaiters.push(done));
  }

  /** Unmounts (lazily: programs inside keep working until they leave) and stops the threads. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.replayer.close();
    await this.replay.terminate();
    this.mounted.unmount();
    const ended = await Promise.race([this.serveEnded.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref())]);
    if (!ended) abortConnection(this.device);
    await this.serve.terminate();
    try {
      fs.closeSync(this.mounted.fd);
    } catch {
      // already closed
    }
    if (this.coveredFd !== null) fs.closeSync(this.coveredFd);
    for (const w of this.idleWaiters.splice(0)) w();
    this.state = 'stopped';
  }
}

/**
 * Still in use after a lazy unmount (a shell inside it): end the FUSE connection through fusectl
 * so that the serving thread's read returns. Best effort: fusectl may not be mounted here.
 */
function abortConnection(device: number): void {
  // Anonymous devices have major 0; fusectl names a connection by its minor number.
  const minor = (device & 0xff) | ((device >>> 12) & ~0xff);
  try {
    fs.writeFileSync(`/sys/fs/fuse/connections/${minor}/abort`, '1');
  } catch {
    // no fusectl: the process still exits; the kernel ends the connection when the fd closes
  }
}
