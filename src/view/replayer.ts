/**
 * Turns the watch engine's events into replay jobs for the view: paths made relative to the
 * view's root and checked, MOVED_FROM + MOVED_TO joined into one rename, and changes the user
 * made through the view itself left out (the kernel reported those already, from its own path).
 */
import { localNames, type CifsNameMap } from '../platform/cifs-names.js';
import type { WatchEvent, WatchState } from '../watch/events.js';
import { DEFAULT_POLL_INTERVAL_MS } from '../watch/watcher.js';
import type { BackingVersion, ReplayJob } from './replay-job.js';

export type ReplayWork = ReplayJob | { kind: 'invalidate'; path: string };

/** How long a change made through the view masks the server's report of the same path. */
export const OWN_CHANGE_WINDOW_MS = 3000;

/** What the user did to a path through the view. */
export type OwnChange = 'created' | 'changed' | 'removed' | 'moved-away' | 'moved-in';

/**
 * The replays the server's report of an own change can ask for: only those are its echo. A
 * colleague's change of another kind to the same path in the window (a file the user just
 * deleted, created again; a folder the user just made, removed) is replayed. A rename may come
 * as a pair or as a removal and an addition; a rename over a file also removes that file.
 */
const ECHOES: Record<OwnChange, readonly ReplayJob['kind'][]> = {
  created: ['create', 'modify'],
  changed: ['modify'],
  removed: ['delete'],
  'moved-away': ['rename', 'delete'],
  'moved-in': ['rename', 'create', 'modify', 'delete'],
};

interface OwnMark {
  until: number;
  echoes: Set<ReplayJob['kind']>;
}

/** How long a MOVED_FROM waits for its MOVED_TO before it counts as a removal. */
const PAIR_WINDOW_MS = 200;

export interface ReplayerStats {
  replayed: number;
  ownSkipped: number;
  unsafeSkipped: number;
}

/**
 * A share-relative path under `root`, relative to it and named as the backing folder shows it
 * (`names`: a cifs mount's map of characters Windows forbids), or null when outside or unsafe.
 */
export function viewPath(path: string, root: string, names?: CifsNameMap): string | null {
  let rel: string;
  if (root === '') rel = path;
  else if (path === root) rel = '';
  else if (path.startsWith(`${root}/`)) rel = path.slice(root.length + 1);
  else return null;
  if (rel === '') return rel;
  rel = localNames(rel, names);
  for (const part of rel.split('/')) {
    if (part === '' || part === '.' || part === '..' || part.includes('\0')) return null;
  }
  return rel;
}

export class Replayer {
  readonly stats: ReplayerStats = { replayed: 0, ownSkipped: 0, unsafeSkipped: 0 };
  private readonly own = new Map<string, OwnMark>();
  /**
   * Files whose last change through the view was a write, closed since: the backing file as the
   * close left it. A MODIFY of one in the own-change window is replayed when the backing file is
   * no longer that version (a colleague's change right after the user's save), not skipped.
   */
  private readonly savedAs = new Map<string, BackingVersion>();
  private pendingFrom: { path: string; isDir?: boolean; timer: NodeJS.Timeout } | null = null;
  /**
   * The watch has lost its connection: the server's reports of changes made through the view
   * meanwhile come only with the listing diff after it reconnects, however long that takes, so own
   * changes are kept (until Infinity) and their window starts once the watch is back.
   */
  private offline = false;
  /**
   * How long an own change masks the server's report of it. Polling, the report comes with the
   * next listing, up to a poll interval later: the interval is added.
   */
  private windowMs = OWN_CHANGE_WINDOW_MS;

  constructor(
    private readonly root: string,
    private readonly send: (work: ReplayWork) => void,
    private readonly pollIntervalMs = DEFAULT_POLL_INTERVAL_MS,
    private readonly names?: CifsNameMap,
  ) {}

  /** Paths the user changed through the view (reported by the serving thread), and how. */
  noteOwn(paths: string[], change: OwnChange): void {
    const now = Date.now();
    for (const p of paths) {
      const mark = this.own.get(p);
      // The kinds add up within the window: create, write and delete all make echoes.
      const echoes = mark && mark.until >= now ? mark.echoes : new Set<ReplayJob['kind']>();
      for (const kind of ECHOES[change]) echoes.add(kind);
      this.own.set(p, { until: this.offline ? Infinity : now + this.windowMs, echoes });
      this.savedAs.delete(p);
    }
    if (this.own.size > 10_000) {
      for (const [p, mark] of this.own) {
        if (mark.until < now) {
          this.own.delete(p);
          this.savedAs.delete(p);
        }
      }
    }
  }

  /**
   * A file written through the view was closed, and `version` read from the backing file after
   * that (null: it could not be read). Kept only while nothing else was changed through the view
   * since the close (`mark`: the own-change mark the close left, from `ownMark`).
   */
  noteSaved(path: string, mark: number | undefined, version: BackingVersion | null): void {
    if (version && mark !== undefined && this.own.get(path)?.until === mark) this.savedAs.set(path, version);
  }

  /** The own-change mark of a path right now (compared by noteSaved). */
  ownMark(path: string): number | undefined {
    return this.own.get(path)?.until;
  }

  /** Whether a replay of one of `kinds` at `path` would be the echo of the user's own change there. */
  private isEcho(path: string, ...kinds: ReplayJob['kind'][]): boolean {
    const mark = this.own.get(path);
    if (mark === undefined) return false;
    if (mark.until >= Date.now()) return kinds.some((kind) => mark.echoes.has(kind));
    this.own.delete(path);
    this.savedAs.delete(path);
    return false;
  }

  handle(e: WatchEvent): void {
    if (e.event === 'STATE') {
      if (e.state) this.watchState(e.state);
      return;
    }
    if (e.event !== 'MOVED_TO') this.flushFrom();
    if (e.event === 'OVERFLOW') {
      this.send({ kind: 'invalidate', path: '' });
      return;
    }
    const rel = viewPath(e.path, this.root, this.names);
    if (rel === null) {
      if (e.path === this.root || e.path.startsWith(this.root === '' ? '' : `${this.root}/`)) this.stats.unsafeSkipped++;
      if (e.event === 'MOVED_TO') this.flushFrom();
      return;
    }
    if (rel === '') return; // the view's own root: DELETE_SELF / MODIFY of the root cannot be replayed
    const isDir = e.isDir !== undefined ? { isDir: e.isDir } : {};
    switch (e.event) {
      case 'CREATE':
        this.job({ kind: 'create', path: rel, ...isDir });
        return;
      case 'DELETE':
        this.job({ kind: 'delete', path: rel, ...isDir });
        return;
      case 'MODIFY': {
        const saved = this.isEcho(rel, 'modify') ? this.savedAs.get(rel) : undefined;
        if (saved) {
          // Replayed only if the backing file changed since the user's save (the replaying
          // thread compares): the server's report of the save itself finds it unchanged.
          this.stats.replayed++;
          this.send({ kind: 'modify', path: rel, ...isDir, unlessStill: saved });
          return;
        }
        this.job({ kind: 'modify', path: rel, ...isDir });
        return;
      }
      case 'MOVED_FROM':
        this.pendingFrom = { path: rel, ...isDir, timer: setTimeout(() => this.flushFrom(), PAIR_WINDOW_MS) };
        return;
      case 'MOVED_TO': {
        const from = this.pendingFrom;
        const old = e.oldPath !== undefined ? viewPath(e.oldPath, this.root, this.names) : null;
        if (from && old !== null && from.path === old) {
          clearTimeout(from.timer);
          this.pendingFrom = null;
          this.job({ kind: 'rename', oldPath: old, path: rel, ...isDir });
          return;
        }
        this.flushFrom();
        this.job({ kind: 'create', path: rel, ...isDir });
        return;
      }
      case 'DELETE_SELF':
        return;
    }
  }

  /**
   * The watch's state (its STATE events; the daemon tells the one it had before the view started).
   * Own changes not reported yet when the watch goes offline wait for its return (`offline`).
   */
  watchState(state: WatchState): void {
    this.windowMs = OWN_CHANGE_WINDOW_MS + (state === 'polling' ? this.pollIntervalMs : 0);
    const offline = state === 'reconnecting';
    if (offline === this.offline) return;
    this.offline = offline;
    const now = Date.now();
    for (const mark of this.own.values()) {
      if (mark.until >= now) mark.until = offline ? Infinity : now + this.windowMs;
    }
  }

  /** A MOVED_FROM whose MOVED_TO did not come: the item left the view. */
  private flushFrom(): void {
    const from = this.pendingFrom;
    if (!from) return;
    clearTimeout(from.timer);
    this.pendingFrom = null;
    this.job({ kind: 'delete', path: from.path, ...(from.isDir !== undefined ? { isDir: from.isDir } : {}) });
  }

  /**
   * Whether the job replays the user's own change. A rename is also the removal of its old name
   * and the addition of its new one: the watch pairs a removal and an addition of one name in two
   * folders into a move (the user's `rm d2/f; mkdir d1/f` comes back as d2/f -> d1/f).
   */
  private isOwnJob(job: ReplayJob): boolean {
    if (job.kind !== 'rename') return this.isEcho(job.path, job.kind);
    return this.isEcho(job.oldPath, 'rename', 'delete') || this.isEcho(job.path, 'rename', 'create');
  }

  private job(job: ReplayJob): void {
    if (this.isOwnJob(job)) {
      this.stats.ownSkipped++;
      return;
    }
    this.stats.replayed++;
    this.send(job);
  }

  close(): void {
    if (this.pendingFrom) clearTimeout(this.pendingFrom.timer);
    this.pendingFrom = null;
  }
}
