// A loopback TCP proxy between the code under test and smbd that breaks the connection on
// purpose: the reliability and security suites put it in the path (point the client at
// `proxy.port` instead of `samba.port`) and then, on demand:
//
//   delay(ms)              hold every frame `ms` before forwarding it (both directions)
//   stall() / resume()     stop forwarding (sockets stay open, frames are queued) / go on
//   cut(opts)              RST (socket.resetAndDestroy) in the middle of the next frame in a
//                          direction: half of it is forwarded, then both sides are reset
//   cutNow()               RST every live connection at once (wherever it is in the stream)
//   truncate(opts)         forward the first bytes of the next frame, then close both sides
//                          with a normal FIN (the receiver sees a frame that never completes)
//   flip(opts)             XOR one byte (or a few) of the next matching frame (server->client
//                          by default) at chosen offsets (or a random one); the rest unchanged
//   replace(opts)          send another payload in place of the next matching frame (forgery)
//   rewrite(fn)            rewrite every frame from now on (a hostile server), until rewrite(null)
//   refuse(true)           accept new connections and reset them at once (a server that is
//                          "there" but broken); refuse(false) to undo
//   (nothing armed)        pass through, frame by frame
//
// It understands the direct-TCP framing of MS-SMB2 2.1 (a zero byte and a 24-bit big-endian
// length before each message): bytes are re-assembled into whole frames per direction, so "the
// middle of a message" and "the next frame" mean exactly that. Frames are forwarded whole, in
// order; a stream that breaks the framing (non-zero first byte) is passed through raw from there
// on. With `capture: true` every frame is recorded as forwarded (direction, connection number,
// bytes), which lets a test check what a client sent: see `smb2Command()` and friends below.
//
// Every armed fault is one-shot and returns a promise that resolves with what was done (or
// rejects after `timeoutMs` when no frame came). Only loopback: it listens on 127.0.0.1 and
// connects to 127.0.0.1.
import { Command } from '../../src/smb/wire/header.js';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomInt } from 'node:crypto';

export type Direction = 'c2s' | 's2c';

export interface Frame {
  dir: Direction;
  /** 1-based number of the proxied connection this frame travelled on. */
  conn: number;
  /** The frame payload (the 4-byte transport header stripped). */
  payload: Buffer;
}

export interface FlipOptions {
  dir?: Direction;
  /** Only frames for which this returns true are considered (default: every frame). */
  match?: (payload: Buffer) => boolean;
  /**
   * Offset into the payload (transport header excluded), or several (each is flipped); a
   * function may compute them from the payload. Default: one random offset. Negative counts
   * from the end.
   */
  offset?: number | number[] | ((payload: Buffer) => number | number[]);
  /** XOR mask (default 0x01: a flipped low bit); must not be 0. */
  mask?: number;
  /** Reject when no matching frame came within this time (default 10 s). */
  timeoutMs?: number;
}

export interface FlipResult {
  conn: number;
  offsets: number[];
  /** The bytes at `offsets` before the flip. */
  before: number[];
  /** The payload as sent on (after the flip). */
  payload: Buffer;
}

export interface ReplaceOptions {
  dir?: Direction;
  match?: (payload: Buffer) => boolean;
  /** The payload to send instead (the transport header is recomputed). */
  with: (payload: Buffer) => Buffer;
  timeoutMs?: number;
}

export interface ReplaceResult {
  conn: number;
  original: Buffer;
  payload: Buffer;
}

export interface CutOptions {
  dir?: Direction;
  match?: (payload: Buffer) => boolean;
  /** Bytes of the frame (transport header included) forwarded before the break; default half. */
  keepBytes?: number;
  timeoutMs?: number;
}

export interface CutResult {
  conn: number;
  frameLength: number;
  forwarded: number;
}

export interface FaultProxyOptions {
  /** Where smbd listens (127.0.0.1). */
  targetPort: number;
  /** Record every frame (default false). */
  capture?: boolean;
}

export interface FaultProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open right now. */
  readonly live: number;
  /** Every frame seen, when `capture` is on. */
  readonly frames: Frame[];
  /** Exceptions thrown by a rewriter or a fault's offset function (the link was reset). */
  readonly errors: Error[];
  /** Change the upstream port (smbd restarted elsewhere); new connections use it. */
  setTarget(port: number): void;
  delay(ms: number): void;
  stall(): void;
  resume(): void;
  readonly stalled: boolean;
  cut(opts?: CutOptions): Promise<CutResult>;
  cutNow(): number;
  truncate(opts?: CutOptions): Promise<CutResult>;
  flip(opts?: FlipOptions): Promise<FlipResult>;
  /**
   * Rewrite every frame in `dir` (default s2c) from now on, until called with null: a hostile
   * server or a man in the middle on an unprotected session. See replaceUtf16().
   */
  rewrite(fn: ((payload: Buffer) => Buffer) | null, dir?: Direction): void;
  /** Send something else in place of the next matching frame (a forgery). */
  replace(opts: ReplaceOptions): Promise<ReplaceResult>;
  refuse(on: boolean): void;
  /** Disarm every pending fault (their promises reject). */
  disarm(): void;
  close(): Promise<void>;
}

interface Armed {
  kind: 'cut' | 'truncate' | 'flip' | 'replace';
  dir: Direction;
  match: (payload: Buffer) => boolean;
  apply(link: Link, pipe: Pipe, frame: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** One direction of one connection: re-assembles frames and forwards them in order. */
class Pipe {
  private buf: Buffer = Buffer.alloc(0);
  private raw = false;
  private readonly queue: Buffer[] = [];
  private pumping = false;

  constructor(
    readonly dir: Direction,
    private readonly link: Link,
    private readonly from: Socket,
    readonly to: Socket,
  ) {}

  push(chunk: Buffer): void {
    if (this.raw) {
      this.queue.push(chunk);
    } else {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      while (this.buf.length >= 4) {
        if (this.buf[0] !== 0) {
          // Not SMB2 direct-TCP framing (or already broken): pass the rest through as it comes.
          this.raw = true;
          this.queue.push(this.buf);
          this.buf = Buffer.alloc(0);
          break;
        }
        const len = this.buf.readUInt32BE(0);
        if (this.buf.length < 4 + len) break;
        this.queue.push(this.buf.subarray(0, 4 + len));
        this.buf = this.buf.subarray(4 + len);
      }
    }
    // Backpressure: a stalled or slow pipe does not buffer without bound.
    if (this.queue.length > 256) this.from.pause();
    void this.pump();
  }

  async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.link.halted && !this.link.proxy.isStalled) {
        const delay = this.link.proxy.delayMs;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (this.link.halted || this.link.proxy.isStalled) break;
        const frame = this.queue.shift()!;
        if (this.queue.length < 64) this.from.resume();
        try {
          this.forward(frame);
        } catch (err) {
          // A broken rewriter or fault (a test bug): end the link, keep the error for the test.
          this.link.proxy.errors.push(err as Error);
          this.link.close(true);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private forward(frame: Buffer): void {
    const rewrite = this.raw ? null : this.link.proxy.rewriter(this.dir);
    if (rewrite) {
      const out = rewrite(Buffer.from(frame.subarray(4)));
      const head = Buffer.alloc(4);
      head.writeUInt32BE(out.length, 0);
      frame = Buffer.concat([head, out]);
    }
    const payload = frame.subarray(4);
    this.link.proxy.record(this.dir, this.link.id, payload);
    const armed = this.raw ? undefined : this.link.proxy.takeArmed(this.dir, payload);
    if (armed) armed.apply(this.link, this, frame);
    else this.to.write(frame);
  }
}

class Link {
  closed = false;
  /** Set by a fault that ends the link: nothing more is forwarded in either direction. */
  private haltedByFault = false;
  readonly c2s: Pipe;
  readonly s2c: Pipe;

  constructor(
    readonly proxy: FaultProxyImpl,
    readonly id: number,
    readonly client: Socket,
    readonly server: Socket,
  ) {
    this.c2s = new Pipe('c2s', this, client, server);
    this.s2c = new Pipe('s2c', this, server, client);
    client.on('data', (d: Buffer) => this.c2s.push(d));
    server.on('data', (d: Buffer) => this.s2c.push(d));
    const end = () => this.close(false);
    for (const s of [client, server]) {
      s.on('error', end);
      s.on('close', end);
      s.on('end', end);
    }
  }

  get halted(): boolean {
    return this.closed || this.haltedByFault;
  }

  halt(): void {
    this.haltedByFault = true;
  }

  pump(): void {
    void this.c2s.pump();
    void this.s2c.pump();
  }

  /** rst: reset both sockets (RST); else end them normally (FIN) once written. */
  close(rst: boolean): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [this.client, this.server]) {
      if (s.destroyed) continue;
      if (!rst) {
        s.end(() => s.destroy());
        continue;
      }
      try {
        s.resetAndDestroy();
      } catch {
        s.destroy(); // not connected yet: nothing to reset
      }
    }
    this.proxy.links.delete(this);
  }
}

class FaultProxyImpl implements FaultProxy {
  readonly host = '127.0.0.1' as const;
  port = 0;
  accepted = 0;
  readonly frames: Frame[] = [];
  readonly errors: Error[] = [];
  readonly links = new Set<Link>();
  delayMs = 0;
  isStalled = false;
  private refusing = false;
  private readonly rewriters: Record<Direction, ((payload: Buffer) => Buffer) | null> = { c2s: null, s2c: null };
  private armed: Armed[] = [];
  private server: Server | null = null;
  private targetPort: number;

  constructor(private readonly opts: FaultProxyOptions) {
    this.targetPort = opts.targetPort;
  }

  async listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('fault proxy: no port');
    this.port = addr.port;
  }

  private accept(client: Socket): void {
    this.accepted++;
    client.setNoDelay(true);
    if (this.refusing) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    // Client bytes that arrive before the upstream connects are queued by the Pipe.
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    upstream.setNoDelay(true);
    const link = new Link(this, this.accepted, client, upstream);
    this.links.add(link);
  }

  get live(): number {
    return this.links.size;
  }

  get stalled(): boolean {
    return this.isStalled;
  }

  rewriter(dir: Direction): ((payload: Buffer) => Buffer) | null {
    return this.rewriters[dir];
  }

  rewrite(fn: ((payload: Buffer) => Buffer) | null, dir: Direction = 's2c'): void {
    this.rewriters[dir] = fn;
  }

  setTarget(port: number): void {
    this.targetPort = port;
  }

  record(dir: Direction, conn: number, payload: Buffer): void {
    if (this.opts.capture) this.frames.push({ dir, conn, payload: Buffer.from(payload) });
  }

  takeArmed(dir: Direction, payload: Buffer): Armed | undefined {
    const i = this.armed.findIndex((a) => a.dir === dir && a.match(payload));
    if (i < 0) return undefined;
    const [a] = this.armed.splice(i, 1);
    clearTimeout(a!.timer);
    return a;
  }

  delay(ms: number): void {
    this.delayMs = Math.max(0, ms);
  }

  stall(): void {
    this.isStalled = true;
  }

  resume(): void {
    this.isStalled = false;
    for (const l of this.links) l.pump();
  }

  cutNow(): number {
    const n = this.links.size;
    for (const l of [...this.links]) l.close(true);
    return n;
  }

  refuse(on: boolean): void {
    this.refusing = on;
  }

  private arm<T>(
    kind: Armed['kind'],
    dir: Direction,
    match: ((p: Buffer) => boolean) | undefined,
    timeoutMs: number,
    apply: (link: Link, pipe: Pipe, frame: Buffer, resolve: (v: T) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Armed = {
        kind,
        dir,
        match: match ?? (() => true),
        apply: (link, pipe, frame) => apply(link, pipe, frame, resolve),
        reject,
        timer: setTimeout(() => {
          this.armed = this.armed.filter((a) => a !== entry);
          reject(new Error(`fault proxy: no ${dir} frame for the armed ${kind} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.armed.push(entry);
    });
  }

  cut(opts: CutOptions = {}): Promise<CutResult> {
    return this.arm<CutResult>('cut', opts.dir ?? 's2c', opts.match, opts.timeoutMs ?? 10_000, (link, pipe, frame, resolve) => {
      const keep = clampKeep(opts.keepBytes ?? Math.floor(frame.length / 2), frame.length);
      // Write the first part, then reset once it is on its way: the peer gets half a message
      // followed by an RST. Nothing else is forwarded meanwhile.
      link.halt();
      pipe.to.write(frame.subarray(0, keep), () => link.close(true));
      resolve({ conn: link.id, frameLength: frame.length, forwarded: keep });
    });
  }

  truncate(opts: CutOptions = {}): Promise<CutResult> {
    return this.arm<CutResult>('truncate', opts.dir ?? 's2c', opts.match, opts.timeoutMs ?? 10_000, (link, pipe, frame, resolve) => {
      const keep = clampKeep(opts.keepBytes ?? Math.floor(frame.length / 2), frame.length);
      link.halt();
      pipe.to.write(frame.subarray(0, keep));
      link.close(false);
      resolve({ conn: link.id, frameLength: frame.length, forwarded: keep });
    });
  }

  flip(opts: FlipOptions = {}): Promise<FlipResult> {
    const mask = opts.mask ?? 0x01;
    if ((mask & 0xff) === 0) throw new Error('fault proxy: a flip mask of 0 changes nothing');
    return this.arm<FlipResult>('flip', opts.dir ?? 's2c', opts.match, opts.timeoutMs ?? 10_000, (link, pipe, frame, resolve) => {
      const payload = Buffer.from(frame.subarray(4));
      const chosen = typeof opts.offset === 'function' ? opts.offset(payload) : opts.offset ?? randomInt(payload.length);
      const offsets = (Array.isArray(chosen) ? chosen : [chosen]).map((o) => (o < 0 ? o + payload.length : o));
      const before: number[] = [];
      for (const o of offsets) {
        if (o < 0 || o >= payload.length) throw new Error(`fault proxy: flip offset ${o} outside a ${payload.length}-byte frame`);
        before.push(payload[o]!);
        payload[o] = payload[o]! ^ (mask & 0xff);
      }
      pipe.to.write(Buffer.concat([frame.subarray(0, 4), payload]));
      resolve({ conn: link.id, offsets, before, payload });
    });
  }

  replace(opts: ReplaceOptions): Promise<ReplaceResult> {
    return this.arm<ReplaceResult>('replace', opts.dir ?? 's2c', opts.match, opts.timeoutMs ?? 10_000, (link, pipe, frame, resolve) => {
      const original = Buffer.from(frame.subarray(4));
      const payload = opts.with(original);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(payload.length, 0);
      pipe.to.write(Buffer.concat([head, payload]));
      resolve({ conn: link.id, original, payload });
    });
  }

  disarm(): void {
    for (const a of this.armed.splice(0)) {
      clearTimeout(a.timer);
      a.reject(new Error(`fault proxy: ${a.kind} disarmed`));
    }
  }

  async close(): Promise<void> {
    for (const a of this.armed.splice(0)) clearTimeout(a.timer);
    this.cutNow();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function clampKeep(keep: number, length: number): number {
  // At least one byte and never the whole frame: the point is a frame that does not complete.
  return Math.max(1, Math.min(length - 1, keep));
}

/** Start a proxy in front of 127.0.0.1:targetPort. Close it in afterAll/finally. */
export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new FaultProxyImpl(opts);
  await proxy.listen();
  return proxy;
}

// ---------------------------------------------------------------------------------------------
// Reading captured frames (plain SMB2 only: an encrypted frame starts with 0xFD 'SMB').

export const SMB2_MAGIC = 0x424d53fe;
export const TRANSFORM_MAGIC = 0x424d53fd;

/** SMB2 command codes, as the client itself names them. */
export const Cmd = Command;

export function isSmb2(payload: Buffer): boolean {
  return payload.length >= 64 && payload.readUInt32LE(0) === SMB2_MAGIC;
}

export function isEncrypted(payload: Buffer): boolean {
  return payload.length >= 52 && payload.readUInt32LE(0) === TRANSFORM_MAGIC;
}

/** Command of the first message of a plain SMB2 frame, else undefined. */
export function smb2Command(payload: Buffer): number | undefined {
  return isSmb2(payload) ? payload.readUInt16LE(12) : undefined;
}

/** NTSTATUS of the first message of a plain SMB2 frame (responses). */
export function smb2Status(payload: Buffer): number | undefined {
  return isSmb2(payload) ? payload.readUInt32LE(8) : undefined;
}

/** Flags of the first message of a plain SMB2 frame. */
export function smb2Flags(payload: Buffer): number | undefined {
  return isSmb2(payload) ? payload.readUInt32LE(16) : undefined;
}

/** Every command of a (possibly compound) plain SMB2 frame. */
export function smb2Commands(payload: Buffer): number[] {
  const out: number[] = [];
  let at = 0;
  while (at + 64 <= payload.length && payload.readUInt32LE(at) === SMB2_MAGIC) {
    out.push(payload.readUInt16LE(at + 12));
    const next = payload.readUInt32LE(at + 20);
    if (next === 0) break;
    at += next;
  }
  return out;
}

/**
 * A successful CHANGE_NOTIFY response with at least one FILE_NOTIFY_INFORMATION entry: returns
 * the payload offset of the first entry's FileName, else undefined.
 */
export function notifyNameOffset(payload: Buffer): number | undefined {
  if (smb2Command(payload) !== Cmd.CHANGE_NOTIFY || smb2Status(payload) !== 0) return undefined;
  if (payload.length < 64 + 8) return undefined;
  const outOffset = payload.readUInt16LE(64 + 2);
  const outLength = payload.readUInt32LE(64 + 4);
  if (outLength < 12 + 2 || outOffset + outLength > payload.length) return undefined;
  const nameLength = payload.readUInt32LE(outOffset + 8);
  if (nameLength < 2) return undefined;
  return outOffset + 12;
}

/** The UTF-16LE FileName of the first entry of a CHANGE_NOTIFY response (see notifyNameOffset). */
export function notifyFirstName(payload: Buffer): string | undefined {
  const at = notifyNameOffset(payload);
  if (at === undefined) return undefined;
  const outOffset = payload.readUInt16LE(64 + 2);
  const nameLength = payload.readUInt32LE(outOffset + 8);
  return payload.subarray(at, at + nameLength).toString('utf16le');
}

/** NTLMSSP message types inside a SESSION_SETUP request's security buffer (1, 3), if any. */
export function ntlmMessageType(payload: Buffer): number | undefined {
  if (smb2Command(payload) !== Cmd.SESSION_SETUP) return undefined;
  const sig = payload.indexOf(Buffer.from('NTLMSSP\0', 'latin1'));
  if (sig < 0 || sig + 12 > payload.length) return undefined;
  return payload.readUInt32LE(sig + 8);
}

/**
 * Replace every occurrence of `from` by `to` (UTF-16LE, the same number of code units, so no
 * length field changes) in a payload: a file name as sent in QUERY_DIRECTORY and CHANGE_NOTIFY
 * responses becomes another. `to` may hold what no file system can: `/`, `..`, lone surrogates.
 */
export function replaceUtf16(payload: Buffer, from: string, to: string): Buffer {
  const a = Buffer.from(from, 'utf16le');
  const b = Buffer.alloc(to.length * 2);
  for (let i = 0; i < to.length; i++) b.writeUInt16LE(to.charCodeAt(i), i * 2);
  if (a.length !== b.length) throw new Error('replaceUtf16: names must have the same length in UTF-16 code units');
  let at = payload.indexOf(a);
  while (at >= 0) {
    b.copy(payload, at);
    at = payload.indexOf(a, at + a.length);
  }
  return payload;
}
