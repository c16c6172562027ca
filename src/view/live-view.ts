/**
 * A live view: a FUSE file system at `mountPoint` that passes everything through to `backing` (the
 * share's cifs mount, or any folder showing the share) and replays each change the watch engine
 * reports as a real operation on itself, so that inotify (GNOME Files, GIO, editors, build
 * watchers, inotifywait) sees the share change. Threads and their rules: docs/live-view.md.
 */
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WatchEvent, WatchState } from '../watch/events.js';
import { encodeError } from './fuse-wire.js';
import { MAX_WRITE } from './fuse-server.js';
import { MountError, mountView, type Mounted } from './mount.js';
import { FUSE_TYPE, topMountAt, type MountLine } from './mountinfo.js';
import { PoolState } from './pool-state.js';
import type { CifsNameMap } from '../platform/cifs-names.js';
import { errnoWords } from '../platform/errno-words.js';
import { systemToolEnv } from '../platform/system-path.js';
import { within } from '../platform/within.js';
import { ReplayChannel } from './replay-job.js';
import { noteThreadLeftBehind } from './threads-left.js';
import { Replayer, type ReplayWork } from './replayer.js';
import type { ServeWorkerData, ServeWorkerMessage } from './serve-worker.js';
import type { ReplayResult, ReplayWorkerData } from './replay-worker.js';
import type { PassthroughUse } from './passthrough.js';
import { HeldForWriting } from './held-for-writing.js';
import { coveredFolder, programsWatching, type CoveredFolder, type CoveredWatcher } from './covered-watchers.js';

export interface LiveViewOptions {
  mountPoint: string;
  /** The folder the view shows. Equal to mountPoint: mount over it (e.g. over the cifs mount). */
  backing: string;
  /** Share-relative folder the backing folder shows (the watch's root); '' for the share root. */
  root: string;
  /** Shown as the mount's source, e.g. //server/share/path. */
  source: string;
  /** How the backing cifs mount shows names Windows forbids (platform/cifs-names.ts); replays name them so. */
  names?: CifsNameMap;
  allowOther?: boolean;
  /** The watch's polling interval, where the server has no change notification. */
  pollIntervalMs?: number;
  /** false: file data always goes through the view's threads, even where FUSE passthrough is possible. */
  passthrough?: boolean;
}

export type ViewState = 'mounted' | 'stopped' | 'failed';

/** How long a request may wait on a backing call once the view stops, before it is failed. */
const STOP_GRACE_MS = 500;
const EIO = 5;

/**
 * Where the backing folder is reached: over-mounted (the view covers it), only through the
 * descriptor opened on it before the mount.
 */
function backingRoot(backing: string, coveredFd: number | null): string {
  return coveredFd !== null ? `/proc/self/fd/${coveredFd}` : backing;
}

/** True when `p` settles (either way) within `ms`. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return within(p.then(() => true, () => true), ms, false);
}

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
  private readonly heldForWriting: HeldForWriting;
  private nextId = 1;
  private readonly inFlight = new Set<number>();
  private idleWaiters: (() => void)[] = [];
  private serveEnded: Promise<void>;
  private closing = false;
  private closed: Promise<void> | null = null;

  private constructor(
    readonly opts: LiveViewOptions,
    private readonly mounted: Mounted,
    private readonly serve: Worker,
    private readonly replay: Worker,
    private readonly coveredFd: number | null,
    private readonly device: MountLine,
    private readonly pool: PoolState,
    /** Whether the kernel reads and writes the view's files itself (passthrough.ts), or why not. */
    readonly passthrough: PassthroughUse,
    private readonly covered: CoveredFolder,
  ) {
    super();
    this.replayer = new Replayer(opts.root, (work) => this.post(work), opts.pollIntervalMs, opts.names);
    this.heldForWriting = new HeldForWriting((paths) => this.replayer.noteOwn(paths, 'changed'));
    this.serveEnded = new Promise((done) => {
      serve.on('message', (m: ServeWorkerMessage) => {
        if (m.type === 'local') {
          this.replayer.noteOwn(m.paths, m.change);
          if (m.held !== undefined) this.heldForWriting.hold(m.held, m.paths);
          if (m.closed !== undefined) {
            this.heldForWriting.release(m.closed);
            for (const path of m.paths) this.readSaved(path);
          }
        } else if (m.type === 'ended') {
          done();
          this.endedByItself(m.error ? 'failed' : 'stopped', m.error);
        }
      });
      serve.on('error', (err) => {
        done();
        this.endedByItself('failed', err.message);
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
    // Real paths: mountinfo names the mount by its real path, and so must the checks, the
    // watchdog and the unmount (a mount point under a symbolic link, e.g. /home -> /var/home).
    const mountPoint = realFolder('mount point', resolve(opts.mountPoint));
    const backing = realFolder('backing folder', resolve(opts.backing));
    // A folder we cannot list would mount a view that answers everything with EACCES.
    try {
      fs.accessSync(backing, fs.constants.R_OK | fs.constants.X_OK);
    } catch (err) {
      throw new MountError(`backing folder ${backing}: ${errnoWords(err, 'folder')} (you cannot read it)`);
    }
    const over = mountPoint === backing;
    // Over a view (also over the cifs mount point that one covers), a second view would back onto
    // the first and replay every change twice.
    if (topMountAt(fs.readFileSync('/proc/self/mountinfo', 'utf8'), mountPoint)?.fstype === FUSE_TYPE) {
      throw new MountError(`${mountPoint} already shows a view: stop that one first`);
    }
    if (!over) {
      // A mount point inside the backing folder would make the serving thread list itself.
      if (mountPoint.startsWith(backing + sep) || backing.startsWith(mountPoint + sep)) {
        throw new MountError(`the mount point ${mountPoint} must not be inside the backing folder ${backing} (or hold it)`);
      }
      // Over-mounting hides a folder's files: meant only over the backing cifs mount itself.
      if (fs.readdirSync(mountPoint).length > 0) {
        throw new MountError(`the mount point ${mountPoint} is not empty (the view would hide its files); use an empty folder, or the cifs mount point itself to make it live in place`);
      }
    }
    // Over-mount: keep the covered folder open, reach it through /proc/self/fd/N once covered.
    const coveredFd = over ? fs.openSync(backing, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY) : null;
    const root = backingRoot(backing, coveredFd);
    const covered = coveredFolder(mountPoint);
    let mounted: Mounted;
    try {
      mounted = await mountView({ mountPoint, source: opts.source, ...(opts.allowOther ? { allowOther: true } : {}) });
    } catch (err) {
      if (coveredFd !== null) fs.closeSync(coveredFd);
      throw err;
    }
    const channel = ReplayChannel.create();
    const pool = PoolState.create();
    const serve = new Worker(new URL('./serve-worker.js', import.meta.url), {
      workerData: { fd: mounted.fd, root, shared: channel.shared, pool: pool.shared, passthrough: opts.passthrough !== false } satisfies ServeWorkerData,
    });
    const replay = new Worker(new URL('./replay-worker.js', import.meta.url), {
      workerData: { fd: mounted.fd, mountPoint, backing: root, shared: channel.shared, pool: pool.shared } satisfies ReplayWorkerData,
    });
    let passthrough: PassthroughUse = 'turned off';
    /** Null once INIT is answered, else why not. */
    const initialized = new Promise<string | null>((done) => {
      const timer = setTimeout(() => done(`the kernel did not start the view within ${INIT_TIMEOUT_MS / 1000} s`), INIT_TIMEOUT_MS);
      const onMessage = (m: ServeWorkerMessage) => {
        if (m.type === 'local') return;
        clearTimeout(timer);
        serve.off('message', onMessage);
        if (m.type === 'initialized') passthrough = m.passthrough;
        done(m.type === 'initialized' ? null : `the view ended before it started${m.error ? `: ${m.error}` : ''}`);
      };
      serve.on('message', onMessage);
    });
    await new Promise<void>((ok, fail) => {
      replay.once('online', ok);
      replay.once('error', fail);
    });
    // Waiting for the serving thread's word, not for a stat of the mount point: this thread must
    // never wait on the view. Had the serving thread died with that GETATTR read and unanswered,
    // this thread would wait for ever, beyond SIGKILL, and the process (and so the watchdog)
    // could never end. The device comes from mountinfo for the same reason.
    const device = topMountAt(fs.readFileSync('/proc/self/mountinfo', 'utf8'), mountPoint);
    const failed = (await initialized) ?? (device?.fstype === FUSE_TYPE ? null : 'the view is not in /proc/self/mountinfo');
    if (failed !== null || !device) {
      mounted.unmount();
      await settlesWithin(Promise.all([serve.terminate(), replay.terminate()]), 2000);
      fs.closeSync(mounted.fd);
      if (coveredFd !== null) fs.closeSync(coveredFd);
      throw new MountError(`mount ${mountPoint}: ${failed}`);
    }
    // After INIT: the kernel sets the readahead from INIT's answer, over anything set before.
    raiseReadahead(device);
    return new LiveView({ ...opts, mountPoint, backing }, mounted, serve, replay, coveredFd, device, pool, passthrough, covered);
  }

  /** Programs that watched the mount point before the view covered it (covered-watchers.ts). */
  programsWatchingBelow(): CoveredWatcher[] {
    return programsWatching(this.covered);
  }

  get stats(): { replayed: number; ownSkipped: number; unsafeSkipped: number; failed: number; queued: number } {
    return { ...this.replayer.stats, failed: this.replayFailures, queued: this.inFlight.size };
  }

  /** The watch's state when the view starts after it (later ones come as STATE events). */
  watchState(state: WatchState): void {
    this.replayer.watchState(state);
  }

  /** Replays one event of the watch whose root the view shows. */
  handle(e: WatchEvent): void {
    if (this.state !== 'mounted') return;
    this.replayer.handle(e);
  }

  /**
   * The backing file as a save through the view left it, read without waiting on this thread
   * (the backing folder may be a stalled mount): a colleague's change right after the save is
   * told from the save's own report by it (Replayer.noteSaved).
   */
  private readSaved(path: string): void {
    const mark = this.replayer.ownMark(path);
    const root = backingRoot(this.opts.backing, this.coveredFd);
    fs.promises.lstat(join(root, path), { bigint: true }).then(
      (st) => this.replayer.noteSaved(path, mark, st.isFile() ? { size: st.size, mtimeNs: st.mtimeNs } : null),
      () => undefined,
    );
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

  /**
   * The serving thread ended without close(): unmounted from outside, its connection aborted
   * (fusectl), or a failure of ours. A mount still there answers nobody ("Transport endpoint is
   * not connected"): it goes at once, as after a crash, so the folder below works again.
   */
  private endedByItself(state: 'failed' | 'stopped', why: string | undefined): void {
    if (this.closing) return;
    void this.close().finally(() => {
      this.state = state;
      this.emit('ended', why);
    });
  }

  /**
   * Unmounts (lazily: programs inside keep working until they leave) and stops the threads. A
   * request still waiting on a blocked backing call after STOP_GRACE_MS is failed with EIO, so
   * that its caller (who cannot even be killed while we hold its request) and the mount can go;
   * the thread blocked in that call is left behind (threadsLeftBehind).
   */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    this.closing = true;
    this.replayer.close();
    this.heldForWriting.close();
    // The replaying thread must be gone before the unmount: over a cifs mount point, its calls
    // would then reach the cifs mount. It may wait on a blocked backing call itself.
    const replayStopped = this.replay.terminate();
    if (!(await settlesWithin(replayStopped, STOP_GRACE_MS))) {
      await this.failWaiting();
      if (!(await settlesWithin(replayStopped, 2000))) noteThreadLeftBehind();
    }
    this.mounted.unmount();
    await this.failWaiting();
    if (!(await settlesWithin(this.serveEnded, 3000))) abortConnection(this.device);
    // The serving thread's end waits for its backing threads: one blocked stays behind.
    if (!(await settlesWithin(this.serve.terminate(), 2000))) noteThreadLeftBehind();
    try {
      fs.closeSync(this.mounted.fd);
    } catch {
      // already closed
    }
    if (this.coveredFd !== null) fs.closeSync(this.coveredFd);
    for (const w of this.idleWaiters.splice(0)) w();
    this.state = 'stopped';
  }

  /** Fails the requests that are still on a backing call after STOP_GRACE_MS. */
  private async failWaiting(): Promise<void> {
    const before = this.pool.inFlight().map(([u]) => u);
    if (before.length === 0) return;
    await new Promise((r) => setTimeout(r, STOP_GRACE_MS));
    const still = new Set(this.pool.inFlight().map(([u]) => u));
    for (const u of before) {
      if (!still.has(u)) continue;
      try {
        fs.writeSync(this.mounted.fd, encodeError(u, EIO));
      } catch {
        // answered meanwhile (ENOENT), or the connection is gone
      }
    }
  }
}

/** `dir`'s real path, or a MountError saying why it cannot be used as a folder. */
function realFolder(what: string, dir: string): string {
  try {
    const real = fs.realpathSync(dir);
    if (!fs.statSync(real).isDirectory()) throw new MountError(`${what} ${dir} is not a folder`);
    return real;
  } catch (err) {
    if (err instanceof MountError) throw err;
    throw new MountError(`${what} ${dir}: ${errnoWords(err, 'folder')}`);
  }
}

/**
 * The kernel reads ahead at most 128 KiB on a FUSE mount (it takes the smaller of its default and
 * ours), so sequential reads arrive as 128 KiB requests, each a round trip through two threads.
 * As root, raise this mount's own readahead to four requests of MAX_WRITE, as `blockdev --setra`
 * does for a disk: 1 MiB gave 2.6x the read rate; 4 MiB keeps requests in flight on both backing
 * threads while the reader copies (about 20 % more than 1 MiB in 8 runs each of a 1 GiB read from
 * tmpfs; 8 MiB measured no better than 4). Others cannot; no harm.
 */
const READAHEAD_KB = (4 * MAX_WRITE) / 1024;

function raiseReadahead(device: MountLine): void {
  try {
    fs.writeFileSync(`/sys/class/bdi/${device.major}:${device.minor}/read_ahead_kb`, String(READAHEAD_KB));
  } catch {
    // not root, or no sysfs: the kernel's 128 KiB
  }
}

/**
 * Still in use after a lazy unmount (a shell inside it): end the FUSE connection through fusectl
 * so that the serving thread's read returns. Best effort. systemd mounts fusectl; where nothing
 * did (a container, a minimal VM), root mounts it here first.
 */
function abortConnection(device: MountLine): void {
  // fusectl names a connection by its device's minor number (FUSE mounts have major 0).
  const abort = `${FUSECTL}/${device.minor}/abort`;
  if (!fs.existsSync(abort) && process.getuid?.() === 0) spawnSync('mount', ['-t', 'fusectl', 'none', FUSECTL], { stdio: 'ignore', env: systemToolEnv() });
  try {
    fs.writeFileSync(abort, '1');
  } catch {
    // no fusectl: the process still exits; the kernel ends the connection when the fd closes
  }
}

const FUSECTL = '/sys/fs/fuse/connections';
const INIT_TIMEOUT_MS = 10_000;
