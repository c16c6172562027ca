/**
 * The event journal: one JSON object per line (the event's record, `watchId` last), an API for scripts
 * (`tail -F`, jq, systemd .path units), not for desktops.
 *
 * - Appends; never truncates an existing journal. The file is created with mode 0600 (an existing
 *   one with a looser mode is tightened), parent directories we create get 0700; with a group,
 *   0640, and our `smbnotify*` folder and the folders we create 0750 with that group.
 * - Writes are ordered and batched: an idle journal writes an event at once; events published
 *   while a write is in flight go out together, one write per batch, not one syscall per event.
 * - A journal removed or renamed while the daemon runs (rm, a cleaner of /tmp, logrotate without
 *   copytruncate) is made again at its next write, or at once on SIGHUP (reopenIfMoved); one
 *   truncated under it (logrotate's copytruncate) is written from its new end.
 * - Rotation by size: when a write would take the file past `maxBytes`, events.jsonl becomes
 *   events.jsonl.1 (.1 becomes .2, ... up to `keep`, the oldest is dropped) and a new file is
 *   started. Rename-then-create is what `tail -F` follows. The journal's bound on disk is therefore
 *   (keep + 1) × maxBytes (a single event larger than maxBytes still gets written, alone).
 */
import { fstatSync, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { DaemonEvent, EventSink } from './types.js';
import { eventJson } from '../watch/events.js';
import { JournalError } from './journal-error.js';
import { errnoWords } from '../platform/errno-words.js';
import { RepeatedFailure } from '../watch/repeated-failure.js';
import { DroppedEvents } from './dropped-events.js';
import { ensureParent, lstatSafe, openJournal } from './journal-file.js';

export interface JournalOptions {
  /** Rotate before the file would exceed this size (default 8 MiB). */
  maxBytes?: number;
  /** Rotated files kept: events.jsonl.1 ... .keep (default 3). */
  keep?: number;
  /** File mode (default 0o600; 0o640 when `group` is given). */
  mode?: number;
  /** Group id that may read the journal (the system service's `journal-group`). */
  group?: number;
  /**
   * Write or rotation failures (disk full, ...); the journal keeps going. A failing write is said
   * at its 1st, 2nd, 4th… time, and once writes work again; the events it lost are followed by an
   * OVERFLOW line per watch.
   */
  onError?: (err: Error) => void;
}

/**
 * `$XDG_RUNTIME_DIR/smbnotify/events.jsonl` for a user's daemon (or
 * `/tmp/smbnotify-$UID/events.jsonl`, a 0700 directory, when XDG_RUNTIME_DIR is unset);
 * `/run/smbnotify/events.jsonl` for the system service.
 */
export function defaultJournalPath(system: boolean): string {
  if (system) return '/run/smbnotify/events.jsonl';
  const runtime = process.env['XDG_RUNTIME_DIR'];
  if (runtime) return path.join(runtime, 'smbnotify', 'events.jsonl');
  return `/tmp/smbnotify-${process.getuid?.() ?? 0}/events.jsonl`;
}

function checkedLimits(maxBytes = 8 * 1024 * 1024, keep = 3): { maxBytes: number; keep: number } {
  if (!(maxBytes > 0)) throw new Error(`journal maxBytes must be positive, got ${maxBytes}`);
  if (!Number.isInteger(keep) || keep < 0) throw new Error(`journal keep must be a whole number, got ${keep}`);
  return { maxBytes, keep };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class JournalSink implements EventSink {
  private queue: string[] = [];
  /** The write loop in progress, if any; there is never more than one. */
  private writing: Promise<void> | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  /** Failed writes, said at 1, 2, 4, 8…; and the events they lost, per watch. */
  private readonly failures = new RepeatedFailure();
  private readonly lost = new DroppedEvents();
  /** The last failed write ended inside a line. */
  private cutShort = false;
  /** reopen() asked for a check of the path before the next write, or alone. */
  private checkWanted = false;

  private constructor(
    readonly path: string,
    private fh: FileHandle,
    private size: number,
    private maxBytes: number,
    private keep: number,
    private readonly mode: number,
    private readonly onError: ((err: Error) => void) | undefined,
    private readonly group: number | undefined,
  ) {}

  static async open(file: string, opts: JournalOptions = {}): Promise<JournalSink> {
    const { maxBytes, keep } = checkedLimits(opts.maxBytes, opts.keep);
    const mode = opts.mode ?? (opts.group !== undefined ? 0o640 : 0o600);
    const abs = path.resolve(file);
    try {
      await ensureParent(path.dirname(abs), opts.group);
      const { fh, size } = await openJournal(abs, mode, opts.group);
      return new JournalSink(abs, fh, size, maxBytes, keep, mode, opts.onError, opts.group);
    } catch (err) {
      throw new JournalError(`cannot open the journal ${abs}: ${err instanceof JournalError ? err.message : errnoWords(err, 'folder')}`);
    }
  }

  /** A reloaded config's journal-max-size and journal-keep (undefined: the defaults), from the next write on. */
  setLimits(maxBytes: number | undefined, keep: number | undefined): void {
    ({ maxBytes: this.maxBytes, keep: this.keep } = checkedLimits(maxBytes, keep));
  }

  publish(e: DaemonEvent): void {
    if (this.closed) return;
    this.queue.push(`${eventJson(e)}\n`);
    // An idle journal writes at once (latency); while a write is in flight, events gather and
    // go out together when it completes (throughput).
    if (!this.writing) this.kick();
  }

  /** Writes everything queued, then fsyncs and closes the file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.kick();
      while (this.writing) await this.writing;
      try {
        await this.fh.sync();
      } catch (err) {
        this.report(err);
      }
      await this.fh.close();
    })();
    return this.closing;
  }

  /** Resolves once everything published so far is written (not fsynced). */
  async flush(): Promise<void> {
    this.kick();
    while (this.writing) await this.writing;
  }

  private kick(): void {
    if (this.writing || (this.queue.length === 0 && !this.checkWanted)) return;
    this.writing = this.writeLoop().finally(() => {
      this.writing = null;
      // Events published while the last write was in flight.
      if (this.queue.length > 0 || this.checkWanted) this.kick();
    });
  }

  private async writeLoop(): Promise<void> {
    if (this.checkWanted) {
      this.checkWanted = false;
      await this.reopenIfMoved();
    }
    while (this.queue.length > 0) {
      const lines = this.queue;
      this.queue = [];
      let chunk: string[] = [];
      let chunkBytes = 0;
      for (const line of lines) {
        const n = Buffer.byteLength(line);
        if (this.size + chunkBytes + n > this.maxBytes && this.size + chunkBytes > 0) {
          await this.write(chunk);
          chunk = [];
          chunkBytes = 0;
          await this.rotate();
        }
        chunk.push(line);
        chunkBytes += n;
      }
      await this.write(chunk);
    }
  }

  private async write(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    await this.reopenIfMoved();
    // After a failed write: a line it cut short is ended first, and the OVERFLOWs for what it
    // lost come before the new events.
    const overflows = this.lost.overflows();
    const head = `${this.cutShort ? '\n' : ''}${overflows.map((o) => `${o.line}\n`).join('')}`;
    const buf = Buffer.from(head + lines.join(''), 'utf8');
    let off = 0;
    try {
      while (off < buf.length) {
        const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      this.size += buf.length;
      this.cutShort = false;
      if (overflows.length > 0) {
        const total = this.lost.total;
        for (const o of overflows) this.lost.settle(o.watchId);
        this.failures.reset();
        this.report(new Error(`can be written again; ${total} events had been left out, an OVERFLOW line written for each watch concerned`));
      }
    } catch (err) {
      // Disk full or similar: the lines not wholly written are lost from the journal (they still
      // went to the other sinks); count what reached the file so rotation stays right.
      this.size = await this.fh.stat().then((s) => s.size, () => this.size);
      if (off > 0) this.cutShort = buf[off - 1] !== 0x0a;
      let end = Buffer.byteLength(head);
      for (const line of lines) {
        end += Buffer.byteLength(line);
        if (end > off) this.lost.addLine(line.trimEnd(), 'journal');
      }
      const words = describe(err);
      const more = this.failures.next(words);
      if (more !== null) this.report(new Error(`${words}; events that could not be written are left out, an OVERFLOW line will say which folders to list again${more}`));
    }
  }

  /**
   * The journal removed or renamed under us (rm, a cleaner of /tmp, logrotate's rename): lines
   * written to the open file would reach nobody, and no rotation would ever make a new one (its
   * rename fails, or moves the wrong file). Go on in a new file at the same path (logrotate's
   * `create` may have made it already), which `tail -F` picks up, and say so. A file truncated
   * under us (copytruncate) is written from its new end, and counted from there for rotation.
   * One fstat and one lstat per write (batch), synchronous: a few microseconds, no thread-pool
   * hop in front of the line.
   */
  private async reopenIfMoved(): Promise<void> {
    let open: { nlink: number; size: number; dev: number; ino: number };
    try {
      open = fstatSync(this.fh.fd);
    } catch {
      return;
    }
    const there = lstatSafe(this.path);
    if (open.nlink > 0 && there?.dev === open.dev && there.ino === open.ino) {
      if (open.size < this.size) this.size = open.size;
      return;
    }
    try {
      await ensureParent(path.dirname(this.path), this.group);
      const { fh, size } = await openJournal(this.path, this.mode, this.group);
      const old = this.fh;
      this.fh = fh;
      this.size = size;
      this.cutShort = false;
      await old.close().catch((err: unknown) => this.report(err));
      this.report(new Error(open.nlink === 0 ? 'was deleted; writing to a new one' : 'was renamed (rotated by another program?); writing to a new one at its path'));
    } catch (err) {
      this.report(err);
    }
  }

  /**
   * SIGHUP, as logrotate's postrotate sends it: a journal renamed away is replaced at once (not
   * at the next event), so that `tail -F` and path units see the new file. Runs in the write
   * loop's turn, never beside a write.
   */
  reopen(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.checkWanted = true;
    return this.flush();
  }

  /** events.jsonl -> .1 -> .2 ... -> .keep (dropped past keep); then a fresh events.jsonl. */
  private async rotate(): Promise<void> {
    try {
      if (this.keep === 0) {
        await fsp.unlink(this.path);
      } else {
        for (let i = this.keep - 1; i >= 1; i--) {
          await fsp.rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err;
          });
        }
        await fsp.rename(this.path, `${this.path}.1`);
      }
    } catch (err) {
      // Could not move the full file away: keep appending to it rather than lose events, and
      // try again only after another maxBytes (not before every line).
      this.report(err);
      this.size = 0;
      return;
    }
    const old = this.fh;
    try {
      const { fh, size } = await openJournal(this.path, this.mode, this.group);
      this.fh = fh;
      this.size = size;
      this.cutShort = false;
    } catch (err) {
      // Without a new file, go on writing to the renamed one: nothing is lost.
      this.report(err);
      this.size = 0;
      return;
    }
    await old.close().catch((err: unknown) => this.report(err));
  }

  private report(err: unknown): void {
    this.onError?.(new Error(`journal ${this.path}: ${describe(err)}`));
  }
}
