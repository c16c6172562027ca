/**
 * A share that stays connected: the first connect reports its error to the caller (a wrong
 * password should stop the command at once); after that, a lost connection, a restarted server or
 * an expired session is retried with exponential backoff and jitter until it works or the share is
 * closed. ECHO keepalives find a dead server long before TCP would.
 */
import { EventEmitter } from 'node:events';
import { within } from '../platform/within.js';
import { SmbClient } from './client.js';
import type { SmbTree } from './tree.js';
import type { ConnectOptions } from './types.js';

export interface ShareConnectionOptions extends ConnectOptions {
  share: string;
  /** Interval between ECHO keepalives; 0 disables them. */
  keepaliveMs?: number;
  /** First retry delay; doubles up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface ShareConnectionEvents {
  /** A working tree, after the first connect and after every reconnect. */
  connected: [tree: SmbTree, reconnect: boolean];
  /** The connection is gone; reconnection starts. */
  lost: [err: Error];
  /** A reconnect attempt failed; the next one is in `delayMs`. */
  retrying: [err: Error, attempt: number, delayMs: number];
  /**
   * The Kerberos session ended and no fresh ticket is there yet: requests wait (handles stay
   * open) and the next re-authentication is in `delayMs`.
   */
  reauthFailed: [err: Error, delayMs: number];
  /**
   * The Kerberos session was re-authenticated with a fresh ticket valid `lifetime` seconds:
   * 'ahead' of its ticket's end, or after the server said it had 'expired'.
   */
  reauthenticated: [lifetime: number, when: 'ahead' | 'expired'];
}

export class ShareConnection extends EventEmitter<ShareConnectionEvents> {
  private client: SmbClient | null = null;
  private current: SmbTree | null = null;
  private closed = false;
  private keepalive: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryWake: (() => void) | null = null;
  private reconnecting: Promise<void> | null = null;
  private connecting: Promise<SmbTree> | null = null;
  private announced = false;

  constructor(readonly opts: ShareConnectionOptions) {
    super();
  }

  get tree(): SmbTree | null {
    return this.current;
  }

  /**
   * The server as a URL writes it: the host, with `:port` when the port is not SMB's 445 (an IPv6
   * address then in brackets, `[::1]:1445`), so that two servers on one host are told apart.
   * Events carry it as their `server`.
   */
  get server(): string {
    const { host, port } = this.opts;
    if (!port || port === 445) return host;
    return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** `//host[:port]/share`; an IPv6 address in brackets (`//[::1]:1445/share`), as a target writes it. */
  get label(): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `//${host}${this.opts.port && this.opts.port !== 445 ? `:${this.opts.port}` : ''}/${this.opts.share}`;
  }

  /**
   * Connect for the first time; errors are the caller's. Callers sharing the connection may all
   * call this: they get the same tree, and wait for a reconnect already under way.
   */
  async connect(): Promise<SmbTree> {
    if (this.current) return this.current;
    if (this.reconnecting) {
      await this.reconnecting;
      if (this.current) return this.current;
    }
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    const tree = await this.connecting;
    if (!this.announced) {
      this.announced = true;
      this.emit('connected', tree, false);
    }
    return tree;
  }

  private async open(): Promise<SmbTree> {
    const client = await SmbClient.connect(this.opts);
    try {
      const tree = await client.connectTree(this.opts.share);
      if (this.closed) throw new Error('share connection closed');
      this.client = client;
      this.current = tree;
      client.once('closed', (err: Error) => this.onLost(client, err));
      client.on('reauthFailed', (err: Error, delayMs: number) => this.emit('reauthFailed', err, delayMs));
      client.on('reauthenticated', (lifetime: number, when: 'ahead' | 'expired') => this.emit('reauthenticated', lifetime, when));
      this.startKeepalive(client);
      return tree;
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  private startKeepalive(client: SmbClient): void {
    const every = this.opts.keepaliveMs ?? 30_000;
    if (!every) return;
    this.keepalive = setInterval(() => {
      // A failed ECHO fails the connection itself (timeout), which triggers the reconnect.
      client.echo(Math.max(2000, Math.min(every, 10_000))).catch(() => undefined);
    }, every);
    this.keepalive.unref();
  }

  private stopKeepalive(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
  }

  /** Drop the current connection (for example after a protocol error) and reconnect. */
  reset(err: Error): void {
    const client = this.client;
    if (client) this.onLost(client, err);
  }

  private onLost(client: SmbClient, err: Error): void {
    if (client !== this.client || this.closed) return;
    this.stopKeepalive();
    this.client = null;
    this.current = null;
    client.connection.close();
    this.emit('lost', err);
    this.reconnecting = this.reconnectLoop().finally(() => {
      this.reconnecting = null;
    });
  }

  private async reconnectLoop(): Promise<void> {
    const min = this.opts.minBackoffMs ?? 500;
    const max = this.opts.maxBackoffMs ?? 30_000;
    for (let attempt = 1; !this.closed; attempt++) {
      const base = Math.min(max, min * 2 ** (attempt - 1));
      const delay = Math.round(base * (0.8 + Math.random() * 0.4)); // ±20 % jitter
      await this.sleep(attempt === 1 ? Math.min(delay, min) : delay);
      if (this.closed) return;
      try {
        const tree = await this.open();
        this.emit('connected', tree, true);
        return;
      } catch (err) {
        if (this.closed) return;
        this.emit('retrying', err as Error, attempt, Math.min(max, min * 2 ** attempt));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.retryWake = resolve;
      this.retryTimer = setTimeout(resolve, ms);
    });
  }

  /**
   * Give up on the server at once: every request still on its way fails now (a stop's CANCEL,
   * CLOSE and LOGOFF included) and no reconnect follows. For a stop that must not wait on a
   * server that has stopped answering (leaveWithin).
   */
  drop(): void {
    this.closed = true;
    this.stopKeepalive();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryWake?.();
    const client = this.client;
    this.client = null;
    this.current = null;
    client?.connection.close();
  }

  /** Close for good: no more reconnects; LOGOFF when connected. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopKeepalive();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryWake?.();
    await this.reconnecting;
    const client = this.client;
    this.client = null;
    this.current = null;
    await client?.close();
  }
}

/** How long a stop waits for a server to answer its goodbyes (CLOSE, LOGOFF) before dropping it. */
export const LEAVE_GRACE_MS = 2000;

/**
 * Runs a stop's `goodbye` (cancelling requests, closing handles, logging off). A server that has
 * not answered within `graceMs` (stopped, gone, or a network that dropped the connection without
 * a word) is dropped, which fails what still waits on it; the stop then waits `graceMs` more at
 * most for what is left. Resolves whether everything finished.
 */
export async function leaveWithin(goodbye: () => Promise<unknown>, shares: () => Iterable<ShareConnection>, graceMs = LEAVE_GRACE_MS): Promise<boolean> {
  const done = goodbye().then(() => true, () => true);
  if (await within(done, graceMs, false)) return true;
  for (const share of shares()) share.drop();
  return within(done, graceMs, false);
}
