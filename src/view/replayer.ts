/**
 * Turns the watch engine's events into replay jobs for the view: paths made relative to the
 * view's root and checked, MOVED_FROM + MOVED_TO joined into one rename, and changes the user
 * made through the view itself left out (the kernel reported those already, from its own path).
 */
import type { WatchEvent } from '../watch/events.js';
import type { BackingVersion, ReplayJob } from './replay-job.js';

export type ReplayWork = ReplayJob | { kind: 'invalidate'; path: string };

/** How long a change made through the view masks the server's report of the same path. */
export const OWN_CHANGE_WINDOW_MS = 3000;
/** How long a MOVED_FROM waits for its MOVED_TO before it counts as a removal. */
const PAIR_WINDOW_MS = 200;

export interface ReplayerStats {
  replayed: number;
  ownSkipped: number;
  unsafeSkipped: number;
}

/** A share-relative path under `root`, relative to it, or null when outside or unsafe. */
export function viewPath(path: string, root: string): string | null {
  let rel: string;
  if (root === '') rel = path;
  else if (path === root) rel = '';
  else if (path.startsWith(`${root}/`)) rel = path.slice(root.length + 1);
  else return null;
  if (rel === '') return rel;
  for (const part of rel.split('/')) {
    if (part === '' || part === '.' || part === '..' || part.includes('\0')) return null;
  }
  return rel;
}

export class Replayer {
  readonly stats: ReplayerStats = { replayed: 0, ownSkipped: 0, unsafeSkipped: 0 };
  private readonly own = new Map<string, number>();
  /**
   * Files whose last change through the view was a write, closed since: the backing file as the
   * close left it. A MODIFY of one in the own-change window is replayed when the backing file is
   * no longer that version (a colleague's change right after the user's save), not skipped.
   */
  private readonly savedAs = new Map<string, BackingVersion>();
  private pendingFrom: { path: string; isDir?: boolean; timer: NodeJS.Timeout } | null = null;

  constructor(private readonly root: string, private readonly send: (work: ReplayWork) => void) {}

  /** Paths the user changed through the view (reported by the serving thread). */
  noteOwn(paths: string[]): void {
    const until = Date.now() + OWN_CHANGE_WINDOW_MS;
    for (const p of paths) {
      this.own.set(p, until);
      this.savedAs.delete(p);
    }
    if (this.own.size > 10_000) {
      const now = Date.now();
      for (const [p, t] of this.own) {
        if (t < now) {
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
    if (version && mark !== undefined && this.own.get(path) === mark) this.savedAs.set(path, version);
  }

  /** The own-change mark of a path right now (compared by noteSaved). */
  ownMark(path: string): number | undefined {
    return this.own.get(path);
  }

  private isOwn(path: string): boolean {
    const until = this.own.get(path);
    if (until === undefined) return false;
    if (until >= Date.now()) return true;
    this.own.delete(path);
    this.savedAs.delete(path);
    return false;
  }

  handle(e: WatchEvent): void {
    if (e.event === 'STATE') return;
    if (e.event !== 'MOVED_TO') this.flushFrom();
    if (e.event === 'OVERFLOW') {
      this.send({ kind: 'invalidate', path: '' });
      return;
    }
    const rel = viewPath(e.path, this.root);
    if (rel === null) {
      if (e.path === this.root || e.path.startsWith(this.root === '' ? '' : `${this.root}/`)) this.stats.unsafeSkipped++;
      if (e.event === 'MOVED_TO') this.flushFrom();
      return;
    }
    if (rel === '') return; // the view's own root: DELETE_SELF / MODIFY of the root cannot be replayed
    const isDir = e.isDir !== undefined ? { isDir: e.isDir } : {};
    switch (e.event) {
      case 'CREATE':
        this.job({ kind: 'create', path: rel, ...isDir }, [rel]);
        return;
      case 'DELETE':
        this.job({ kind: 'delete', path: rel, ...isDir }, [rel]);
        return;
      case 'MODIFY': {
        const saved = this.isOwn(rel) ? this.savedAs.get(rel) : undefined;
        if (saved) {
          // Replayed only if the backing file changed since the user's save (the replaying
          // thread compares): the server's report of the save itself finds it unchanged.
          this.stats.replayed++;
          this.send({ kind: 'modify', path: rel, ...isDir, unlessStill: saved });
          return;
        }
        this.job({ kind: 'modify', path: rel, ...isDir }, [rel]);
        return;
      }
      case 'MOVED_FROM':
        this.pendingFrom = { path: rel, ...isDir, timer: setTimeout(() => this.flushFrom(), PAIR_WINDOW_MS) };
        return;
      case 'MOVED_TO': {
        const from = this.pendingFrom;
        const old = e.oldPath !== undefined ? viewPath(e.oldPath, this.root) : null;
        if (from && old !== null && from.path === old) {
          clearTimeout(from.timer);
          this.pendingFrom = null;
          this.job({ kind: 'rename', oldPath: old, path: rel, ...isDir }, [old, rel]);
          return;
        }
        this.flushFrom();
        this.job({ kind: 'create', path: rel, ...isDir }, [rel]);
        return;
      }
      case 'DELETE_SELF':
        return;
    }
  }

  /** A MOVED_FROM whose MOVED_TO did not come: the item left the view. */
  private flushFrom(): void {
    const from = this.pendingFrom;
    if (!from) return;
    clearTimeout(from.timer);
    this.pendingFrom = null;
    this.job({ kind: 'delete', path: from.path, ...(from.isDir !== undefined ? { isDir: from.isDir } : {}) }, [from.path]);
  }

  private job(job: ReplayJob, paths: string[]): void {
    if (paths.some((p) => this.isOwn(p))) {
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
