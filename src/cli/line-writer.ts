/**
 * Output lines for stdout. While the reader keeps up they are written as they come. While it
 * does not (the pipe is full, as after a burst of 100,000 events released at once), they wait
 * here as plain strings and go out in pieces of about PIECE_BYTES, one piece per 'drain'. Written
 * one by one into a full stream instead, each line would wait there as its own chunk with its own
 * bookkeeping, and be copied into a Buffer on the way out: about twice the memory, all of it
 * surviving long enough to reach V8's old generation.
 */

/** What is written at once after a 'drain': enough to fill a pipe (64 KiB on Linux). */
const PIECE_BYTES = 64 * 1024;

export class LineWriter {
  private waiting: string[] = [];
  /** The first line of `waiting` not yet written. */
  private next = 0;
  private blocked = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly stream: NodeJS.WritableStream) {}

  write(text: string): void {
    if (this.closed) return;
    if (this.blocked) {
      this.waiting.push(text);
      return;
    }
    if (!this.stream.write(text)) this.block();
  }

  /** The stream is gone (EPIPE): what waits is dropped. */
  close(): void {
    this.closed = true;
    this.waiting = [];
    this.next = 0;
    this.settleIdle();
  }

  /** Resolves once every line was handed to the stream (or the stream closed). */
  idle(): Promise<void> {
    if (!this.blocked || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private block(): void {
    this.blocked = true;
    this.stream.once('drain', () => this.resume());
  }

  private resume(): void {
    while (!this.closed && this.next < this.waiting.length) {
      const end = this.pieceEnd();
      const piece = this.waiting.slice(this.next, end).join('');
      this.next = end;
      if (this.next === this.waiting.length) {
        this.waiting = [];
        this.next = 0;
      } else if (this.next > 4096 && this.next * 2 > this.waiting.length) {
        this.waiting.splice(0, this.next);
        this.next = 0;
      }
      if (!this.stream.write(piece)) {
        this.stream.once('drain', () => this.resume());
        return;
      }
    }
    this.blocked = false;
    this.settleIdle();
  }

  /** Where the piece starting at `next` ends: about PIECE_BYTES of lines, at least one. */
  private pieceEnd(): number {
    let bytes = 0;
    let end = this.next;
    while (end < this.waiting.length && (end === this.next || bytes + this.waiting[end]!.length <= PIECE_BYTES)) {
      bytes += this.waiting[end]!.length;
      end++;
    }
    return end;
  }

  private settleIdle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
