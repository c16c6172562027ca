/**
 * What the MQTT sink says about its connection to the broker, in the daemon's log and in its
 * status: a problem once per distinct wording (an unreachable broker, a refused login: retried
 * every reconnect period), the loss of a working connection, two clients with one id pushing
 * each other off (mqtt-takeover.ts), and the return.
 */
import { describeMqttError } from './mqtt-errors.js';
import { HOLD_MS, QuickLosses } from './mqtt-takeover.js';
import type { SinkStatus } from './types.js';

export class BrokerLog {
  private lastProblem = '';
  /** Why the broker is away, for status: the last problem, or the loss itself. */
  private awayBecause = '';
  private everConnected = false;
  private readonly quick = new QuickLosses();
  private holdTimer: NodeJS.Timeout | null = null;
  private ended = false;
  /** Why the working connection is ending, when MQTT.js said it first (a keep-alive timeout). */
  private lossReason = '';

  constructor(
    /** The broker's URL without user information. */
    private readonly where: string,
    private readonly url: string,
    private readonly clientId: string,
    private readonly retrySeconds: number,
    private readonly log: (line: string) => void,
  ) {}

  /** A CONNACK came; `queued` is what the line adds about the queue ('' when empty). */
  connected(queued: string): void {
    this.everConnected = true;
    this.lastProblem = '';
    this.awayBecause = '';
    if (!this.quick.connected()) {
      this.log(`mqtt: connected to ${this.where}${queued}`);
      return;
    }
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      if (this.quick.held()) this.log(`mqtt: the connection to ${this.where} has held for ${HOLD_MS / 1000} s again`);
    }, HOLD_MS);
  }

  /** MQTT.js's 'error', while connected or not. */
  error(err: Error & { code?: string | number }, connected: boolean): void {
    if (connected) this.quick.error();
    // A working connection reset (the broker died, the network went): lost() says it.
    if (connected && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return;
    // Only a working connection times out this way: lost() says it, with this reason.
    if (/^keepalive timeout$/i.test(err.message)) {
      this.lossReason = 'it stopped answering (no reply to a keep-alive ping)';
      return;
    }
    this.problem(describeMqttError(err, this.url));
  }

  /** A working connection ended; `queueing` says where events wait meanwhile. */
  lost(queueing: string): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    const takeover = this.quick.lost();
    if (takeover) {
      this.awayBecause = `the broker ${this.where} ends the connection right after accepting it, ${takeover.times} times in a row: is another client using the client id "${this.clientId}"? (each daemon needs its own client-id)`;
      if (takeover.say) this.log(`mqtt: ${this.awayBecause}; events are queued meanwhile; said again at ${takeover.times * 2}`);
      return;
    }
    const why = this.lossReason ? `: ${this.lossReason}` : '';
    this.lossReason = '';
    this.awayBecause = `lost the broker at ${new Date().toISOString()}${why}`;
    this.log(`mqtt: lost the broker ${this.where}${why}; ${queueing}`);
  }

  status(connected: boolean): SinkStatus {
    return {
      mqtt: this.where,
      mqttState: connected ? 'connected' : this.everConnected ? 'disconnected' : 'connecting',
      ...(!connected && this.awayBecause ? { mqttMessage: this.awayBecause } : {}),
    };
  }

  /** The sink is closing: nothing more is said, the timer is cleared. */
  end(): void {
    this.ended = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
  }

  private problem(message: string): void {
    if (message === this.lastProblem || this.ended) return;
    this.lastProblem = message;
    this.awayBecause = message;
    this.log(`mqtt: ${message}; retrying every ${this.retrySeconds} s, events are queued meanwhile`);
  }
}
