/**
 * Renewing a Kerberos session before its ticket ends. The server ends the session at the service
 * ticket's end time (the next request gets STATUS_NETWORK_SESSION_EXPIRED); re-authenticating
 * before that (MS-SMB2 3.2.4.2.3, SESSION_SETUP on the same SessionId) moves the end to the new
 * ticket's, so no request ever meets the expiry. That needs a fresher ticket in the cache (kinit,
 * SSSD's renewal, kinit -R): when there is none yet, this looks again later, and once the end has
 * come the expiry path of the connection takes over.
 */

/** A new ticket counts as fresher when it ends at least this much later than the one in use. */
export const FRESHER_BY_MS = 30_000;
/** Looks for a fresher ticket at most this often, and not at all in the last seconds. */
const RECHECK_MIN_MS = 5_000;
const RECHECK_MAX_MS = 5 * 60_000;
const RECHECK_STOP_MS = 20_000;
/** setTimeout's limit (about 24.8 days); a longer ticket is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How long before the ticket's end to renew: 10 % of its life or 5 minutes, whichever is more
 * (at 90 % of a 10-hour ticket, 5 minutes before the end of a 30-minute one), but never in the
 * first half of its life (a 150 s ticket is renewed after 75 s).
 */
export function renewalLeadMs(lifetimeMs: number): number {
  return Math.min(lifetimeMs / 2, Math.max(lifetimeMs / 10, 5 * 60_000));
}

/** After a look that found no fresher ticket, when to look again (null: leave it to the expiry). */
export function recheckDelayMs(leftMs: number): number | null {
  if (leftMs <= RECHECK_STOP_MS) return null;
  return Math.max(RECHECK_MIN_MS, Math.min(RECHECK_MAX_MS, leftMs / 2));
}

/**
 * Re-authenticates with a ticket that ends after `endsAfter` (Unix ms) and returns its lifetime in
 * seconds, or null when the cache has none fresher (nothing sent). May reject: a failed attempt
 * is simply tried again later.
 */
export type RenewSession = (endsAfter: number) => Promise<number | null>;

export class SessionRenewal {
  private timer: NodeJS.Timeout | null = null;
  private ticketEnd = 0;
  private stopped = false;

  constructor(
    private readonly renew: RenewSession,
    /** A renewal before the end succeeded; the new ticket is valid `lifetime` seconds. */
    private readonly renewed: (lifetime: number) => void,
  ) {}

  /** The session now runs on a ticket valid `lifetime` seconds more: plan its renewal. */
  ticket(lifetime: number): void {
    if (this.stopped || lifetime <= 0) return;
    const lifetimeMs = lifetime * 1000;
    this.ticketEnd = Date.now() + lifetimeMs;
    this.plan(lifetimeMs - renewalLeadMs(lifetimeMs));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private plan(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    const dueAt = Date.now() + Math.max(0, delayMs);
    // A timer alone never keeps the process alive: the connection's socket does.
    this.timer = setTimeout(() => {
      this.timer = null;
      // A ticket longer than a timer can wait (24.8 days) is waited for in several goes.
      if (Date.now() < dueAt - 1000) this.plan(dueAt - Date.now());
      else this.attempt().catch(() => undefined);
    }, Math.min(MAX_TIMER_MS, Math.max(0, delayMs)));
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    let lifetime: number | null = null;
    try {
      lifetime = await this.renew(this.ticketEnd + FRESHER_BY_MS);
    } catch {
      // No ticket to be had right now (an expired TGT, a KDC down) or a refused renewal: the
      // session runs on until its end, and the next look or the expiry path tries again.
    }
    if (this.stopped) return;
    if (lifetime !== null) {
      this.renewed(lifetime);
      this.ticket(lifetime);
      return;
    }
    const again = recheckDelayMs(this.ticketEnd - Date.now());
    if (again !== null) this.plan(again);
  }
}
