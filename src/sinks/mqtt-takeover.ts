/**
 * A broker that ends our connection right after accepting it, again and again: almost always
 * another client connecting with the same client id (two daemons given one `client-id`, or two
 * daemons of one user on one machine with the default id). MQTT 3.1.1 §3.1.4: the server
 * disconnects the existing client with that id, without a word to it. The two then push each
 * other off every reconnect period, for good; each loss alone reads like a broker restart.
 *
 * A loss counts as quick when the connection ended within HOLD_MS of its CONNACK with no error
 * (a keep-alive timeout or a reset is a network problem, not a takeover). Two quick losses in a
 * row are said as a takeover, at the 2nd, 4th, 8th… (as every repeated failure); the usual
 * "lost"/"connected" lines are not repeated meanwhile, and a connection that then holds for
 * HOLD_MS is said once.
 */
export const HOLD_MS = 30_000;

export class QuickLosses {
  private connectedAt = 0;
  private errored = false;
  private inARow = 0;

  constructor(private readonly holdMs = HOLD_MS) {}

  /** A CONNACK came. True while losses are being said as a takeover (do not say "connected"). */
  connected(now = Date.now()): boolean {
    this.connectedAt = now;
    this.errored = false;
    return this.inARow >= 2;
  }

  /** An error on the current connection: its end is not a takeover. */
  error(): void {
    this.errored = true;
  }

  /**
   * The connection ended. Null: an ordinary loss (say it as such); else how many quick losses in
   * a row, and whether to say it now (at 2, 4, 8…) or stay quiet.
   */
  lost(now = Date.now()): { times: number; say: boolean } | null {
    const quick = !this.errored && now - this.connectedAt < this.holdMs;
    this.inARow = quick ? this.inARow + 1 : 0;
    if (this.inARow < 2) return null;
    return { times: this.inARow, say: (this.inARow & (this.inARow - 1)) === 0 };
  }

  /** The connection held for holdMs: the takeovers stopped. True when they had been said. */
  held(): boolean {
    const said = this.inARow >= 2;
    this.inARow = 0;
    return said;
  }
}
