/**
 * Message ids and the credit window (MS-SMB2 3.2.4.1.5, 3.2.5.1.4). Every request consumes as
 * many message ids and credits as its CreditCharge; responses (interim ones included) grant
 * credits back. A request that does not fit the window waits for credits instead of being sent.
 */

/** The number of credits the client tries to keep in hand, so that many requests can be in flight. */
const TARGET_CREDITS = 512;
/** MS-SMB2 3.2.4.1.5: one credit per 64 KiB of payload. */
const BYTES_PER_CREDIT = 65536;

export class CreditWindow {
  private available = 1;
  private nextMessageId = 0n;
  /** False for SMB 2.0.2 or a server without SMB2_GLOBAL_CAP_LARGE_MTU: every charge is one. */
  multiCredit = false;

  /**
   * CreditCharge of a request whose larger of request and expected response payload is
   * `payloadSize` bytes (MS-SMB2 3.2.4.1.5): 1 + (size - 1) / 65536, and 1 for size 0.
   */
  chargeFor(payloadSize: number): number {
    if (!this.multiCredit) return 1;
    return Math.max(1, Math.ceil(payloadSize / BYTES_PER_CREDIT));
  }

  /** The CreditCharge field to send: 0 before multi-credit support, as 2.0.2 requires. */
  chargeField(charge: number): number {
    return this.multiCredit ? charge : 0;
  }

  canSend(charge: number): boolean {
    return this.available >= charge;
  }

  /** Take `charge` credits and as many consecutive message ids; returns the first id. */
  take(charge: number): bigint {
    if (!this.canSend(charge)) throw new RangeError(`credit window of ${this.available} cannot take ${charge}`);
    this.available -= charge;
    const id = this.nextMessageId;
    this.nextMessageId += BigInt(charge);
    return id;
  }

  /** Credits to ask for with a request of `charge`, topping the window up towards the target. */
  requestFor(charge: number): number {
    const wanted = TARGET_CREDITS - this.available;
    return Math.min(Math.max(charge, wanted), 8192);
  }

  grant(credits: number): void {
    this.available += credits;
  }

  get credits(): number {
    return this.available;
  }
}
