/**
 * Files opened for writing through a view in FUSE passthrough: the kernel writes them itself, so
 * the view never sees the writes and cannot mark each one as the user's own change. While such a
 * file is open, it is marked again every second (as the view marks a file it sees written), so
 * the server's reports of those writes keep finding it in the own-change window however long the
 * writing lasts; its close marks it once more (Replayer, LiveView).
 */
const REMARK_MS = 1000;

export class HeldForWriting {
  /** The path of each hold: an open for writing, from its request to its close (file-handles.ts). */
  private readonly held = new Map<bigint, string[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly remark: (paths: string[]) => void) {}

  hold(handle: bigint, paths: string[]): void {
    this.held.set(handle, paths);
    this.timer ??= setInterval(() => this.remark([...this.held.values()].flat()), REMARK_MS);
  }

  /** A file handle written through the view was closed (whether or not it was held). */
  release(handle: bigint): void {
    if (this.held.delete(handle) && this.held.size === 0) this.close();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
