/**
 * The MQTT sink's queue on disk: events that could not go to the broker yet (it is unreachable,
 * or earlier events are still queued), in order, bounded in bytes, surviving a restart of the
 * daemon.
 *
 * A folder of segment files `NNNNNNNNNNNNNNNN.jsonl` (numbered in order, mode 0600, folder 0700),
 * one event JSON per line. Appends go to the newest segment, batched (one write per batch, as the
 * journal does); a segment is rolled at `segmentBytes`. The reader takes the oldest segment whole
 * (rolling the writer off it first, so that a segment being read is never written) and removes it
 * once every line of it has been acknowledged by the broker: a crash re-sends, never loses.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export interface DiskQueueOptions {
  /** The bound: appends that would take the queue past it are refused. */
  maxBytes: number;
  /** Roll to a new segment past this size (default 1 MiB). */
  segmentBytes?: number;
  /**
   * Failures (disk full, ...). For a failed write, `lost` holds its lines: they may not be in the
   * queue (a part may have reached the file, and will still be read); the owner counts them as
   * dropped. Other failures lose nothing and give [].
   */
  onError?: (err: Error, lost: string[]) => void;
  /** A write succeeded after one failed (the disk has room again). */
  onWritable?: () => void;
}

export interface Segment {
  lines: string[];
  /** Deletes the segment: every line of it reached the broker. */
  remove(): Promise<void>;
}

const NAME = /^(\d{16})\.jsonl$/;
const FIRST = 1_000_000_000_000; // leaves room below for segments written before all others

function segmentName(n: number): string {
  return `${String(n).padStart(16, '0')}.jsonl`;
}

export class DiskQueue {
  /** Segment number -> bytes in it (written or being written). */
  private readonly segments = new Map<number, number>();
  private writeSeg: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  /** The one write in flight, if any: a single batch to a single segment. */
  private writing: Promise<void> | null = null;
  /** The last write failed (and none succeeded since). */
  private writeFailed = false;

  private constructor(readonly dir: string, private readonly opts: DiskQueueOptions & { segmentBytes: number }, existing: Map<number, number>) {
    for (const [n, size] of existing) this.segments.set(n, size);
    this.writeSeg = Math.max(FIRST, ...existing.keys()) + 1;
  }

  /** Creates the folder (0700) or takes up the segments a previous run left. */
  static async open(dir: string, opts: DiskQueueOptions): Promise<DiskQueue> {
    const abs = path.resolve(dir);
    try {
      await fsp.mkdir(abs, { recursive: true, mode: 0o700 });
      const st = await fsp.lstat(abs);
      if (!st.isDirectory()) throw new Error('not a directory');
      const uid = process.getuid?.();
      if (uid !== undefined && st.uid !== uid) throw new Error(`it belongs to another user (uid ${st.uid})`);
      const existing = new Map<number, number>();
      for (const name of await fsp.readdir(abs)) {
        const m = NAME.exec(name);
        if (m) existing.set(Number(m[1]), (await fsp.stat(path.join(abs, name))).size);
      }
      return new DiskQueue(abs, { segmentBytes: 1024 * 1024, ...opts }, existing);
    } catch (err) {
      throw new Error(`cannot use the MQTT queue folder ${abs}: ${(err as Error).message}`);
    }
  }

  /** Bytes queued: on disk, being written, and waiting to be written. */
  get bytes(): number {
    let n = this.pendingBytes;
    for (const size of this.segments.values()) n += size;
    return n;
  }

  get empty(): boolean {
    return this.segments.size === 0 && this.pending.length === 0 && !this.writing;
  }

  get maxBytes(): number {
    return this.opts.maxBytes;
  }

  /** True from a failed write until one succeeds: what is appended meanwhile may be lost. */
  get failing(): boolean {
    return this.writeFailed;
  }

  /** Queues one line (without newline); false, and nothing queued, when the bound would be passed. */
  append(line: string): boolean {
    const entry = `${line}\n`;
    const n = Buffer.byteLength(entry);
    if (this.bytes + n > this.opts.maxBytes) return false;
    this.pending.push(entry);
    this.pendingBytes += n;
    this.kick();
    return true;
  }

  /**
   * The oldest segment, once it is complete on disk; null when the queue is empty. Lines that do
   * not parse as JSON (the tail of a write cut short by a crash) are left out.
   */
  async takeOldest(): Promise<Segment | null> {
    for (;;) {
      if (this.segments.size === 0) {
        if (this.pending.length === 0 && !this.writing) return null;
        this.kick();
        await this.writing;
        continue;
      }
      const oldest = Math.min(...this.segments.keys());
      if (oldest === this.writeSeg) this.writeSeg++;
      // The write in flight may be to `oldest`; later ones go to the new segment.
      if (this.writing) await this.writing;
      const file = path.join(this.dir, segmentName(oldest));
      let text: string;
      try {
        text = await fsp.readFile(file, 'utf8');
      } catch (err) {
        // ENOENT: a write that failed before creating the file.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.report(err);
        text = '';
      }
      const lines = text.split('\n').filter((l) => {
        if (!l) return false;
        try {
          JSON.parse(l);
          return true;
        } catch {
          return false;
        }
      });
      return {
        lines,
        remove: async () => {
          this.segments.delete(oldest);
          await fsp.unlink(file).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') this.report(err);
          });
        },
      };
    }
  }

  /** Writes `lines` as a segment before every other (events sent but not acknowledged at shutdown). */
  async prepend(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const n = Math.min(this.writeSeg, ...this.segments.keys()) - 1;
    const text = lines.map((l) => `${l}\n`).join('');
    try {
      await fsp.writeFile(path.join(this.dir, segmentName(n)), text, { mode: 0o600, flag: 'wx' });
      this.segments.set(n, Buffer.byteLength(text));
    } catch (err) {
      this.report(err, lines);
    }
  }

  /** Resolves once everything appended so far is on disk. */
  async flush(): Promise<void> {
    while (this.writing || this.pending.length > 0) {
      this.kick();
      await this.writing;
    }
  }

  private kick(): void {
    if (this.writing || this.pending.length === 0) return;
    const batch = this.pending.join('');
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    const seg = this.writeSeg;
    this.segments.set(seg, (this.segments.get(seg) ?? 0) + bytes);
    if ((this.segments.get(seg) ?? 0) >= this.opts.segmentBytes) this.writeSeg++;
    this.writing = fsp.appendFile(path.join(this.dir, segmentName(seg)), batch, { mode: 0o600 })
      .then(() => {
        if (!this.writeFailed) return;
        this.writeFailed = false;
        this.opts.onWritable?.();
      }, (err: unknown) => {
        // Lost from the queue: the bytes no longer count (what reached the file will still be read).
        this.segments.set(seg, Math.max(0, (this.segments.get(seg) ?? bytes) - bytes));
        this.writeFailed = true;
        this.report(err, batch.split('\n').filter(Boolean));
      })
      .finally(() => {
        this.writing = null;
        this.kick();
      });
  }

  private report(err: unknown, lost: string[] = []): void {
    this.opts.onError?.(new Error(`MQTT queue ${this.dir}: ${err instanceof Error ? err.message : String(err)}`), lost);
  }
}
