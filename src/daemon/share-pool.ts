/**
 * One connection per share and identity, shared by every watch on that share: a server sees one
 * session from the daemon however many folders it watches there.
 */
import type { Credentials, DialectName, Protection } from '../smb/types.js';
import { ShareConnection } from '../smb/share-connection.js';

export interface ShareKey {
  host: string;
  address?: string;
  port: number;
  share: string;
  credentials: Credentials;
  protect: Protection;
  maxDialect?: DialectName;
}

interface Pooled {
  share: ShareConnection;
  users: number;
}

export class SharePool {
  private readonly shares = new Map<string, Pooled>();

  constructor(private readonly keepaliveMs = 30_000, private readonly timeoutMs = 15_000) {}

  private keyOf(k: ShareKey): string {
    return JSON.stringify([k.host.toLowerCase(), k.address ?? null, k.port, k.share.toLowerCase(), k.credentials, k.protect, k.maxDialect ?? null]);
  }

  acquire(k: ShareKey): ShareConnection {
    const key = this.keyOf(k);
    let pooled = this.shares.get(key);
    if (!pooled) {
      pooled = {
        share: new ShareConnection({
          host: k.host,
          ...(k.address ? { address: k.address } : {}),
          port: k.port,
          share: k.share,
          credentials: k.credentials,
          protect: k.protect,
          ...(k.maxDialect ? { maxDialect: k.maxDialect } : {}),
          keepaliveMs: this.keepaliveMs,
          timeoutMs: this.timeoutMs,
        }),
        users: 0,
      };
      this.shares.set(key, pooled);
    }
    pooled.users++;
    return pooled.share;
  }

  /** Give a connection back; the last user closes it. */
  async release(share: ShareConnection): Promise<void> {
    for (const [key, pooled] of this.shares) {
      if (pooled.share !== share) continue;
      if (--pooled.users > 0) return;
      this.shares.delete(key);
      await share.close();
      return;
    }
  }

  get size(): number {
    return this.shares.size;
  }

  /** Every pooled connection (a stop drops those whose server no longer answers). */
  all(): ShareConnection[] {
    return [...this.shares.values()].map((p) => p.share);
  }

  async closeAll(): Promise<void> {
    const all = [...this.shares.values()];
    this.shares.clear();
    await Promise.all(all.map((p) => p.share.close()));
  }
}
