/**
 * FILE_NOTIFY_INFORMATION (MS-FSCC 2.7.1) to normalized events, exactly once, against the
 * snapshot: a CREATE of a known name or a DELETE of an unknown one is a duplicate (a listing
 * already told us). Renames are paired, also across responses (docs/protocol.md, "Renames": Samba can split a
 * pair), and a removal from one folder followed by an addition of the same name in another
 * (which is how Samba reports a move between folders) becomes one MOVED_FROM / MOVED_TO pair.
 */
import { FileAction, type FileNotifyInformation } from '../smb/change-notify.js';
import type { ChangeFields, ChangeKind, EventFactory, EventSource } from './events.js';
import { baseName, joinPath, parentOf, safeComponent } from './paths.js';
import type { EventOutbox, OutItem } from './outbox.js';
import { UNKNOWN_ENTRY, deletionOrder, type Detached, type Difference, type EntryState, type Removed, type Snapshot } from './snapshot.js';

/** What the change processor works on: the watch's snapshot, its folder handles, its queue. */
export interface ChangeContext {
  readonly snapshot: Snapshot;
  readonly events: EventFactory;
  /** Run a task on the watch's serial queue. */
  enqueue(task: () => Promise<void> | void): void;
  /** Forget (and close) the folder handles at or below `path`. */
  closeFolders(path: string): void;
  /** Re-key the folder handles below a renamed folder. */
  moveFolders(from: string, to: string): void;
  /** Whether a folder has a handle. */
  isWatched(path: string): boolean;
  /** Whether the server refused to open this folder for us (no access): it has no handle. */
  refusedToUs(path: string): boolean;
  /**
   * Open a notified name: `item` waits in the outbox until the server says what it is (or that it
   * does not serve that name); `watch`: a new folder in a recursive watch is watched too.
   * `companion` (a rename's MOVED_FROM) goes out with `item`.
   */
  confirmName(path: string, item: OutItem | null, watch: boolean, companion?: OutItem): void;
  /** List a folder soon (debounced): a notified name it holds could not be placed. */
  verifyFolder(path: string): void;
  /**
   * A known file's name added again: `replaced` is called if the file the server serves under it
   * now is not the one `known` describes, and the name still holds it in the snapshot.
   */
  recheckName(path: string, known: EntryState, replaced: () => void): void;
  /** A notified name the listing may show under another name (listed-names.ts). */
  listedOtherwise(name: string): boolean;
}

interface Held {
  path: string;
  detached: Detached | undefined;
  action: number;
  timer: NodeJS.Timeout;
  /** Its place in the outbox: what other folders report meanwhile goes out after the rename. */
  placeholder: OutItem;
}

export interface ChangeProcessorOptions {
  /** How long an old name waits for its new name before it goes out alone. */
  renameWindowMs: number;
  /** How long after a rename a MODIFIED of the new name is the rename's own echo. */
  echoWindowMs: number;
}

/**
 * How long a NEW_NAME that finds no old name waiting still names the one that went out alone
 * in the same folder. A same-folder rename is always an OLD_NAME and a NEW_NAME (a move between
 * folders is REMOVED and ADDED), so such a NEW_NAME is that rename's other half, come late.
 */
const LATE_PAIR_MS = 5000;

/**
 * How long an addition of a name already added is the server's repeat of it, not news. Samba
 * repeats an entry in its next response (docs/protocol.md); a file replaced from outside the
 * watched folders within this time of its creation is reported once.
 */
const REPEAT_WINDOW_MS = 1000;

export class ChangeProcessor {
  /** A RENAMED_OLD_NAME waiting for its RENAMED_NEW_NAME. */
  private heldOld: Held | null = null;
  /** New names of recent moves, until when MODIFIED of them is the move's own echo. */
  private readonly recentMoves = new Map<string, number>();
  /** The last old name that went out without its new name (MOVED_FROM alone), until when. */
  private leftAlone: { path: string; until: number } | null = null;
  /** Names added lately, until when an addition of one again is the server's repeat (oldest first). */
  private readonly recentlyAdded = new Map<string, number>();

  constructor(
    private readonly w: ChangeContext,
    private readonly outbox: EventOutbox,
    private readonly opts: ChangeProcessorOptions,
  ) {}

  process(folder: string, entries: FileNotifyInformation[]): void {
    let previous = '';
    for (const e of entries) {
      // Every handle watches its own folder only (no WATCH_TREE): a name is one component, and a
      // `\` in it is part of the name (Samba serves Linux names holding one as they are), just as
      // in a listing of the folder.
      const raw = e.fileName;
      const path = joinPath(folder, safeComponent(raw));
      // Writes arrive as runs of MODIFIED for the same name; one event per run is enough.
      const key = `${e.action}:${path}`;
      if (e.action === FileAction.MODIFIED && key === previous) continue;
      previous = key;
      // Samba (4.17) reports a change once for every client watching the folder, repeating the
      // entries at the end of one response at the start of the next (docs/protocol.md): the old
      // name of a rename can come again before its new name. Seen once more, it is the same
      // rename (a name renamed away can be renamed away again only once something brought it back).
      if (e.action === FileAction.RENAMED_OLD_NAME && this.heldOld?.path === path) continue;
      if (e.action !== FileAction.RENAMED_NEW_NAME) this.flushOld();
      switch (e.action) {
        case FileAction.ADDED:
          this.added(path, e.action, 'CREATE', raw);
          break;
        case FileAction.REMOVED:
        case FileAction.REMOVED_BY_DELETE:
          this.removed(path, e.action);
          break;
        case FileAction.MODIFIED:
          this.modified(path, e.action);
          break;
        case FileAction.RENAMED_OLD_NAME:
          this.heldOld = this.hold(path, e.action, this.opts.renameWindowMs);
          break;
        case FileAction.RENAMED_NEW_NAME:
          this.renamedTo(path, e.action, raw);
          break;
        case FileAction.ADDED_STREAM:
        case FileAction.REMOVED_STREAM:
        case FileAction.MODIFIED_STREAM:
          this.stream(path, e.action);
          break;
        default:
          // Unknown actions are kept and reported raw (action carries the code).
          this.push('MODIFY', path, { source: 'notify', action: e.action });
      }
    }
  }

  private hold(path: string, action: number, windowMs: number): Held {
    const detached = this.w.snapshot.detach(path);
    const placeholder: OutItem = { event: this.w.events.change('MOVED_FROM', path, { source: 'notify', action, isDir: detached?.entry.isDir }), awaiting: true };
    this.outbox.push(placeholder);
    // The expiry is queued behind what arrived before it; it flushes this old name only.
    const held: Held = {
      path,
      detached,
      action,
      placeholder,
      timer: expireAfter(windowMs, () => this.w.enqueue(() => {
        if (this.heldOld === held) this.flushOld();
      })),
    };
    return held;
  }

  private added(path: string, action: number, kind: 'CREATE' | 'MOVED_TO', raw: string, oldPath?: string): void {
    const repeated = this.justAdded(path);
    // Listed under another name (an 8.3 one): only a listing can say what the stream should.
    if (this.w.listedOtherwise(raw)) {
      this.w.verifyFolder(parentOf(path));
      return;
    }
    // A removal of the same name from another folder, still in the outbox: a move.
    const removal = this.outbox.findOtherHalf('delete', path);
    if (removal) {
      const detached = removal.detached!;
      this.placeMoved(detached, path);
      this.outbox.replace(removal.item, this.movePair(removal.item.event.path, path, detached.entry, removal.item.event.action, action));
      return;
    }
    const known = this.w.snapshot.get(path);
    if (known) {
      // Known already: old news (a listing made after the change showed it) or the server
      // repeating an entry (Samba repeats the end of one response at the start of the next). But
      // a file renamed over a known name from outside the watched folders (`mv /elsewhere/f f`:
      // an editor's or a download's temporary file kept elsewhere) comes as an addition alone: the
      // name stays, the file is another. An open tells which (NameCheck.recheck); the stream does
      // not wait for it (after an overflow the additions a listing already showed come by the
      // thousand).
      if (!repeated && known.isDir === false) this.w.recheckName(path, known, () => this.modified(path, action));
      return;
    }
    // A move between folders keeps the name: only a name some folder still holds can be the new
    // half of one whose removal has not arrived yet. Any other new name goes out without waiting.
    const mayBeMoved = kind === 'CREATE' && this.w.snapshot.holdsName(baseName(path));
    this.w.snapshot.add(path, { ...UNKNOWN_ENTRY });
    // Out once the server confirmed the name (a listing may hide it) and said what it is.
    const item: OutItem = { event: this.w.events.change(kind, path, { source: 'notify', action, oldPath }), half: mayBeMoved ? 'create' : undefined, awaiting: true };
    this.outbox.push(item);
    this.w.confirmName(path, item, true);
  }

  /**
   * Whether `path` was added (or renamed to) within REPEAT_WINDOW_MS, and note that it is now. The
   * map is kept in the order of the additions, so that the expired ones are cut from its front.
   */
  private justAdded(path: string): boolean {
    const now = Date.now();
    const repeated = (this.recentlyAdded.get(path) ?? 0) > now;
    this.recentlyAdded.delete(path);
    this.recentlyAdded.set(path, now + REPEAT_WINDOW_MS);
    for (const [name, until] of this.recentlyAdded) {
      if (until > now) break;
      this.recentlyAdded.delete(name);
    }
    return repeated;
  }

  private removed(path: string, action: number): void {
    const detached = this.w.snapshot.detach(path);
    if (!detached) {
      // A name the snapshot cannot place: listed under another name, or old news. Never dropped
      // unchecked: the folder's listing settles it.
      this.w.verifyFolder(parentOf(path));
      return;
    }
    // An addition of the same name in another folder, still in the outbox: a move.
    const creation = this.outbox.findOtherHalf('create', path);
    if (creation) {
      const to = creation.item.event.path;
      this.w.snapshot.remove(to);
      this.placeMoved(detached, to);
      this.outbox.replaceMove(creation.item, this.movePair(path, to, detached.entry, action, creation.item.event.action), path, to);
      return;
    }
    this.outbox.push({
      event: this.w.events.change('DELETE', path, { source: 'notify', action, isDir: detached.entry.isDir }),
      half: 'delete',
      detached,
      preceding: this.deletions(deletionOrder(detached.folders), 'notify'),
      onRelease: () => {
        if (detached.entry.isDir !== false) this.w.closeFolders(path);
      },
    });
  }

  /** Put a moved entry (and its subtree and folder handles) at its new path. */
  private placeMoved(detached: Detached, to: string): void {
    this.w.snapshot.attach(to, detached);
    if (detached.entry.isDir !== false) {
      this.outbox.settleUnder(detached.from);
      this.outbox.settleUnder(to);
      this.w.moveFolders(detached.from, to);
    }
    // A folder moved before it could be opened and listed has no watch: open and list it now,
    // or its contents and every later change in it are never reported.
    if (detached.entry.isDir === undefined || (detached.entry.isDir && !this.w.isWatched(to))) this.w.confirmName(to, null, true);
  }

  private movePair(from: string, to: string, entry: EntryState, fromAction: number | undefined, toAction: number | undefined): OutItem[] {
    this.justMoved(to);
    return [
      { event: this.w.events.change('MOVED_FROM', from, { source: 'notify', action: fromAction, isDir: entry.isDir }) },
      // The echo window runs again from when the pair goes out (it may wait for a confirmation).
      { event: this.w.events.change('MOVED_TO', to, { source: 'notify', action: toAction, oldPath: from, isDir: entry.isDir }), onRelease: () => this.justMoved(to) },
    ];
  }

  private emitDelete(path: string, entry: EntryState, action: number | undefined, source: EventSource, below: Removed[] = []): void {
    if (entry.isDir !== false) this.w.closeFolders(path);
    this.outbox.push({ event: this.w.events.change('DELETE', path, { source, action, isDir: entry.isDir }), preceding: this.deletions(below, source) });
  }

  /** DELETE events for what a removed folder held (deepest first). */
  private deletions(below: Removed[], source: EventSource) {
    return below.map((r) => this.w.events.change('DELETE', r.path, { source, isDir: r.entry.isDir }));
  }

  /**
   * Samba follows a rename with MODIFIED of the new name (its inotify mapping reports IN_MOVED_TO
   * as an attribute change, and an SMB rename touches the change time): not a content change.
   */
  private justMoved(path: string): void {
    const now = Date.now();
    if (this.recentMoves.size > 1000) for (const [p, until] of this.recentMoves) if (until < now) this.recentMoves.delete(p);
    this.recentMoves.set(path, now + this.opts.echoWindowMs);
  }

  private modified(path: string, action: number): void {
    if ((this.recentMoves.get(path) ?? 0) > Date.now() || this.outbox.holdsMoveTo(path)) return;
    const entry = this.w.snapshot.get(path);
    if (!entry) {
      // A name the snapshot does not hold (listed otherwise, hidden, or not known yet): its
      // folder's listing tells what there is to report.
      this.w.verifyFolder(parentOf(path));
      return;
    }
    // A folder's own time changes whenever its entries do; those entries are reported themselves.
    if (entry?.isDir) {
      // One the server would not open for us: its permissions changed, perhaps to let us in. If
      // so it is watched and listed from now on (its contents come as rescan events).
      if (this.w.refusedToUs(path)) this.w.confirmName(path, null, true);
      return;
    }
    if (entry) {
      entry.size = undefined;
      entry.mtime = undefined;
    }
    // A name whose type is still being found out (just created): a folder's MODIFY is dropped then.
    const dropIf = entry.isDir === undefined ? () => entry.isDir === true : undefined;
    this.outbox.push({ event: this.w.events.change('MODIFY', path, { source: 'notify', action, isDir: entry.isDir }), ...(dropIf ? { dropIf } : {}) });
  }

  private stream(path: string, action: number): void {
    // MS-FSCC 2.7.1: stream actions name `file:stream`; they are a MODIFY of the file.
    const colon = baseName(path).indexOf(':');
    const file = colon < 0 ? path : path.slice(0, path.length - baseName(path).length + colon);
    const stream = colon < 0 ? undefined : baseName(path).slice(colon + 1);
    this.push('MODIFY', file, { source: 'notify', action, stream: stream || undefined });
  }

  private renamedTo(path: string, action: number, raw: string): void {
    const held = this.heldOld;
    if (!held) {
      // The other half of a rename whose old name already went out alone, or moved in from
      // outside the watch.
      const late = this.leftAlone;
      this.leftAlone = null;
      const oldPath = late && late.until > Date.now() && parentOf(late.path) === parentOf(path) ? late.path : undefined;
      this.added(path, action, 'MOVED_TO', raw, oldPath);
      return;
    }
    this.heldOld = null;
    clearTimeout(held.timer);
    this.completeMove(held, path, action, raw);
  }

  private completeMove(held: Held, to: string, action: number, raw: string): void {
    // The new name came with this rename: the server's repeat of it is no news either.
    this.justAdded(to);
    // A new name that was already known (a rename over an existing file) replaces it.
    const replaced = this.w.snapshot.get(to);
    if (!held.detached) {
      // An unknown old name: a name listed otherwise (mangled, hidden), or old news (the resync
      // after a reconnect arms a folder before it lists it, so a rename in between comes both
      // ways; replacing would forget what is known below a renamed folder). The listings tell.
      this.outbox.cancel(held.placeholder);
      this.w.verifyFolder(parentOf(held.path));
      if (!replaced) this.w.verifyFolder(parentOf(to));
      return;
    }
    if (this.w.listedOtherwise(raw)) {
      // Renamed to a name listed otherwise: out of view under this name; the listing says which.
      this.releaseOld(held);
      this.w.verifyFolder(parentOf(to));
      return;
    }
    if (replaced) {
      this.w.snapshot.remove(to);
      if (replaced.isDir !== false) this.w.closeFolders(to);
    }
    const detached = held.detached;
    this.placeMoved(detached, to);
    const pair = this.movePair(held.path, to, detached.entry, held.action, action);
    // The new name may be one the listing hides (veto files): confirmed like a new name; the
    // pair goes out together.
    pair[0]!.awaiting = true;
    pair[1]!.awaiting = true;
    this.outbox.replace(held.placeholder, pair);
    this.w.confirmName(to, pair[1]!, false, pair[0]);
  }

  /** An unpaired old name: the item left the watched tree. */
  flushOld(): void {
    const held = this.heldOld;
    if (!held) return;
    this.heldOld = null;
    clearTimeout(held.timer);
    if (!held.detached) {
      // Never known here under this name: the folder's listing tells what left.
      this.outbox.cancel(held.placeholder);
      this.w.verifyFolder(parentOf(held.path));
      return;
    }
    this.releaseOld(held);
    this.leftAlone = { path: held.path, until: Date.now() + LATE_PAIR_MS };
  }

  /** The old name goes out as a MOVED_FROM on its own, in its place. */
  private releaseOld(held: Held): void {
    const entry = held.detached?.entry ?? UNKNOWN_ENTRY;
    if (entry.isDir !== false) this.w.closeFolders(held.path);
    this.outbox.settle(held.placeholder);
  }

  /** A difference found by listing (overflow, reconnect, polling). */
  emitDifference(d: Difference, source: EventSource): void {
    if (d.kind === 'DELETE') this.emitDelete(d.path, d.entry, undefined, source, d.below);
    else this.push(d.kind, d.path, { source, isDir: d.entry.isDir });
  }

  /** A change, in order behind those still in the outbox. */
  push(kind: ChangeKind, path: string, fields: ChangeFields): void {
    this.outbox.push({ event: this.w.events.change(kind, path, fields) });
  }

  /** Emit everything held back, now (shutdown). */
  flush(): void {
    this.flushOld();
    this.outbox.flush();
  }

  dispose(): void {
    if (this.heldOld) clearTimeout(this.heldOld.timer);
    this.heldOld = null;
    this.outbox.dispose();
  }
}

/**
 * Call `expire` once the event loop has run `windowMs` without hearing the rest of a pair. A timer
 * alone is not enough on a busy machine: when the loop was blocked, the timer runs before the
 * socket is read, so a NEW_NAME already waiting there would come too late. A late timer waits
 * one more window, and the expiry itself runs after the poll phase (setImmediate), by which time
 * any response already received has been decoded and queued ahead of it.
 */
function expireAfter(windowMs: number, expire: () => void): NodeJS.Timeout {
  let due = Date.now() + windowMs;
  const timer = setTimeout(() => {
    const now = Date.now();
    if (now > due + windowMs) {
      due = now + windowMs;
      timer.refresh();
      return;
    }
    setImmediate(expire);
  }, windowMs);
  return timer;
}

