// A child process whose output lines are timestamped (process.hrtime.bigint) as they arrive in
// this process's event loop, plus a tail of a growing file with the same interface.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { withParentDeathSignal } from '../../support/tools.js';

export type LineListener = (line: string, at: bigint) => void;

export interface LineSource {
  readonly name: string;
  /** Called for every complete line, in order. */
  onLine(fn: LineListener): () => void;
  /** Resolves with the first line (from now on) that matches; rejects after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<{ line: string; at: bigint }>;
  /** Lines seen so far (only when keepLines was asked for). */
  readonly lines: string[];
  /** Arrival time of the most recent line (0n before the first). */
  readonly lastAt: bigint;
  readonly count: number;
}

class LineHub {
  readonly lines: string[] = [];
  lastAt = 0n;
  count = 0;
  private readonly listeners = new Set<LineListener>();
  private partial = '';

  constructor(
    readonly name: string,
    private readonly keepLines: boolean,
  ) {}

  feed(chunk: string, at: bigint): void {
    this.partial += chunk;
    let nl: number;
    let start = 0;
    while ((nl = this.partial.indexOf('\n', start)) >= 0) {
      this.emit(this.partial.slice(start, nl), at);
      start = nl + 1;
    }
    this.partial = this.partial.slice(start);
  }

  private emit(line: string, at: bigint): void {
    this.count++;
    this.lastAt = at;
    if (this.keepLines) this.lines.push(line);
    for (const fn of this.listeners) fn(line, at);
  }

  onLine(fn: LineListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  waitFor(re: RegExp, timeoutMs = 15_000, context: () => string = () => ''): Promise<{ line: string; at: bigint }> {
    return new Promise((resolve, reject) => {
      const off = this.onLine((line, at) => {
        if (!re.test(line)) return;
        off();
        clearTimeout(timer);
        resolve({ line, at });
      });
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms${context()}`));
      }, timeoutMs);
    });
  }
}

export interface SpawnedOptions {
  env?: NodeJS.ProcessEnv;
  /** Keep every stdout line in memory (default true). */
  keepLines?: boolean;
  /** Run under `setpriv --pdeathsig KILL` (default true). */
  deathSignal?: boolean;
  cwd?: string;
}

/** A spawned process; `stdout` and `stderr` are line sources. */
export class Spawned {
  readonly child: ChildProcess;
  readonly stdout: LineSource;
  readonly stderr: LineSource;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly out: LineHub;
  private readonly err: LineHub;
  private stderrTail = '';

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    opts: SpawnedOptions = {},
  ) {
    const [c, a] = opts.deathSignal === false ? [cmd, args] : withParentDeathSignal(cmd, args);
    this.child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    this.out = new LineHub(`${name} stdout`, opts.keepLines !== false);
    this.err = new LineHub(`${name} stderr`, true);
    const ctx = () => `; stderr: ${this.stderrTail.slice(-600)}`;
    this.stdout = wrap(this.out, ctx);
    this.stderr = wrap(this.err, ctx);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => this.out.feed(d, process.hrtime.bigint()));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-4000);
      this.err.feed(d, process.hrtime.bigint());
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => resolve({ code, signal }));
      this.child.once('error', (err) => {
        this.stderrTail += String(err);
        resolve({ code: 127, signal: null });
      });
    });
  }

  /** The command's pid (setpriv and stdbuf exec it, so it is the same process). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get stderrText(): string {
    return this.stderrTail;
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) {
      await this.exited;
      return;
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

function wrap(hub: LineHub, ctx: () => string): LineSource {
  return {
    name: hub.name,
    onLine: (fn) => hub.onLine(fn),
    waitFor: (re, timeoutMs) => hub.waitFor(re, timeoutMs, ctx),
    get lines() {
      return hub.lines;
    },
    get lastAt() {
      return hub.lastAt;
    },
    get count() {
      return hub.count;
    },
  };
}

/**
 * Follows a file that another process appends to (the journal): inotify on its folder (so a
 * rotation or a late creation is noticed), reading from the last offset on every change.
 */
export class FileTail implements LineSource {
  private readonly hub: LineHub;
  private watcher: FSWatcher | null = null;
  private fd: number | null = null;
  private ino = -1;
  private offset = 0;
  private readonly buf = Buffer.alloc(1 << 20);
  private decoder = new TextDecoder();
  private poll: NodeJS.Timeout | null = null;

  constructor(
    readonly path: string,
    keepLines = true,
  ) {
    this.hub = new LineHub(`tail ${basename(path)}`, keepLines);
  }

  get name(): string {
    return this.hub.name;
  }

  get lines(): string[] {
    return this.hub.lines;
  }

  get lastAt(): bigint {
    return this.hub.lastAt;
  }

  get count(): number {
    return this.hub.count;
  }

  /** Start following; content already in the file is skipped when `fromEnd`. */
  start(fromEnd: boolean): void {
    if (fromEnd && existsSync(this.path)) {
      const st = statSync(this.path);
      this.ino = st.ino;
      this.offset = st.size;
    }
    this.watcher = watch(dirname(this.path), () => this.drain());
    // Belt and braces: inotify is immediate, this only catches a missed rotation.
    this.poll = setInterval(() => this.drain(), 250);
    this.drain();
  }

  private drain(): void {
    if (this.fd === null) {
      try {
        this.fd = openSync(this.path, 'r');
      } catch {
        return;
      }
      const st = fstatSync(this.fd);
      if (st.ino !== this.ino) {
        if (this.ino !== -1) this.offset = 0;
        this.ino = st.ino;
      }
    }
    const at = process.hrtime.bigint();
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      if (n <= 0) break;
      this.offset += n;
      this.hub.feed(this.decoder.decode(this.buf.subarray(0, n), { stream: true }), at);
    }
    // Rotated away? Re-open by name next time.
    try {
      const st = statSync(this.path);
      if (st.ino !== this.ino) {
        closeSync(this.fd);
        this.fd = null;
        this.offset = 0;
        this.ino = st.ino;
        this.decoder = new TextDecoder();
        this.drain();
      }
    } catch {
      // not there right now
    }
  }

  onLine(fn: LineListener): () => void {
    return this.hub.onLine(fn);
  }

  waitFor(re: RegExp, timeoutMs?: number): Promise<{ line: string; at: bigint }> {
    return this.hub.waitFor(re, timeoutMs);
  }

  stop(): void {
    this.watcher?.close();
    if (this.poll) clearInterval(this.poll);
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
