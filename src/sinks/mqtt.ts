/**
 * The MQTT sink: every event to a broker, as the journal line's JSON on `PREFIX/SERVER/SHARE/PATH…`
 * (src/sinks/mqtt-topic.ts), with retained per-watch states and a retained "online"/"offline"
 * (the last will) so that a subscriber knows whether it is being told everything.
 *
 * The protocol is the `mqtt` package's (MQTT.js): reconnection, QoS 1/2 acknowledgements and
 * re-sending what was in flight when a connection broke (its in-memory store, re-sent in order
 * before it reports 'connect') are its job. Ours is never to hold up the other sinks and never to
 * lose an event silently:
 * - publish() never waits: while the broker is connected and nothing is queued, an event goes to
 *   MQTT.js at once (at most WINDOW unacknowledged); otherwise it goes to the queue on disk
 *   (mqtt-queue.ts) and the drain loop sends the queue, oldest first, once the broker is back.
 *   Events are therefore delivered in the order they were published.
 * - When the queue is full, events are dropped and counted per watch; as soon as there is room
 *   again, an OVERFLOW event for each watch concerned is queued (after what was queued before the
 *   loss, before what comes after), telling subscribers to list those folders again.
 * - At shutdown, events sent but not acknowledged are written to the queue ahead of the rest, and
 *   the next run sends them first (QoS 1 is at least once: a subscriber may see an event twice
 *   across a restart or a broken connection; `seq` per watch tells repeats apart).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { eventJson, type WatchEvent } from '../watch/events.js';
import { RepeatedFailure } from '../watch/repeated-failure.js';
import { DroppedEvents } from './dropped-events.js';
import { DiskQueue } from './mqtt-queue.js';
import { eventTopic, statusTopic, watchStateTopic } from './mqtt-topic.js';
import { sizeText } from './size-text.js';
import { urlForDisplay } from './mqtt-errors.js';
import { BrokerLog } from './mqtt-connection-log.js';
import type { DaemonEvent, EventSink, SinkStatus } from './types.js';
import { within } from '../platform/within.js';

export interface MqttSinkOptions {
  /** mqtt://, mqtts://, ws:// or wss://, without a password. */
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** PEM contents for mqtts:// and wss:// (a private CA, a client certificate and its key). */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  qos: 0 | 1 | 2;
  prefix: string;
  queueDir: string;
  queueMaxBytes: number;
  log: (line: string) => void;
  /** Delay between connection attempts (default 2000 ms). */
  reconnectMs?: number;
}

/** Unacknowledged messages allowed at once; past it, events wait in the queue. */
const WINDOW = 1000;

export class MqttSink implements EventSink {
  private readonly client: MqttClient;
  private readonly onlineTopic: string;
  private inflight = 0;
  private nextId = 0;
  /** Events sent directly and not yet acknowledged, by send number (written to disk at shutdown). */
  private readonly unacked = new Map<number, string>();
  /** True while events must go through the queue (it holds some, or the broker is away). */
  private queued = true;
  private draining: Promise<void> | null = null;
  /** Called when a slot frees up or the connection is back (the drain loop waiting). */
  private wake: (() => void) | null = null;
  /** Latest STATE event per watch-state topic, re-published (retained) on every connect. */
  private readonly states = new Map<string, string>();
  private readonly dropped = new DroppedEvents();
  /** "The queue is full" was said for the events being dropped now. */
  private fullSaid = false;
  /** Failed queue writes (disk full): said at the 1st, 2nd, 4th… until one succeeds. */
  private readonly writeFailures = new RepeatedFailure();
  private closed = false;
  /** Set when close() stops waiting for acknowledgements: the drain loop leaves the rest on disk. */
  private givenUp = false;
  private closing: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private wasConnected = false;
  /** What is said about the connection (log, status): mqtt-connection-log.ts. */
  private readonly brokerLog: BrokerLog;

  private constructor(private readonly opts: MqttSinkOptions, private readonly queue: DiskQueue) {
    this.onlineTopic = statusTopic(opts.prefix, opts.clientId);
    this.brokerLog = new BrokerLog(urlForDisplay(opts.url), opts.url, opts.clientId, Math.round((opts.reconnectMs ?? 2000) / 1000), opts.log);
    const options: IClientOptions = {
      clientId: opts.clientId,
      clean: true,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: opts.reconnectMs ?? 2000,
      // A refused login (wrong password) is retried too: the broker's password file may be fixed
      // without restarting us. It is said once, not at every attempt.
      reconnectOnConnackError: true,
      will: { topic: this.onlineTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      ...(opts.ca ? { ca: opts.ca } : {}),
      ...(opts.cert ? { cert: opts.cert } : {}),
      ...(opts.key ? { key: opts.key } : {}),
      rejectUnauthorized: true,
    };
    this.client = mqtt.connect(opts.url, options);
    this.client.on('connect', () => this.onConnect());
    this.client.on('close', () => this.onClose());
    this.client.on('error', (err) => this.brokerLog.error(err as Error & { code?: string | number }, this.client.connected));
  }

  /** Opens the queue and starts connecting (in the background: the broker may be down). */
  static async start(opts: MqttSinkOptions): Promise<MqttSink> {
    let sink: MqttSink | null = null;
    const queue = await DiskQueue.open(opts.queueDir, {
      maxBytes: opts.queueMaxBytes,
      onError: (err, lost) => (sink ? sink.queueFailed(err, lost) : opts.log(`mqtt: ${err.message}`)),
      onWritable: () => sink?.queueWritable(),
    });
    sink = new MqttSink(opts, queue);
    return sink;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  status(): SinkStatus {
    return {
      ...this.brokerLog.status(this.client.connected),
      mqttQueued: this.queue.bytes,
      ...(this.dropped.total > 0 ? { mqttDropped: this.dropped.total } : {}),
    };
  }

  publish(e: DaemonEvent): void {
    if (this.closed) return;
    const line = eventJson(e);
    if (e.event === 'STATE') {
      const topic = watchStateTopic(this.opts.prefix, e);
      this.states.set(topic, line);
      if (this.client.connected) this.client.publish(topic, line, { qos: this.opts.qos, retain: true });
    }
    if (!this.queued && this.client.connected && this.inflight < WINDOW) {
      this.send(eventTopic(this.opts.prefix, e), line, true);
      return;
    }
    this.queued = true;
    this.queueOverflows();
    if (!this.queue.append(line)) this.drop(e);
    this.kickDrain();
  }

  /** Sends what can be sent within a grace time, keeps the rest on disk, says "offline", disconnects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.brokerLog.end();
      const deadline = Date.now() + 3000;
      while (this.client.connected && (this.inflight > 0 || this.draining) && Date.now() < deadline) {
        this.wake?.();
        await new Promise((r) => setTimeout(r, 20));
      }
      this.givenUp = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.wake?.();
      await this.draining;
      this.queueOverflows();
      await this.queue.prepend([...this.unacked.values()]);
      await this.queue.flush();
      const said = this.client.connected && await resolvesWithin(this.client.publishAsync(this.onlineTopic, 'offline', { qos: 1, retain: true }), 1000);
      // Ending with force closes the socket without a DISCONNECT, which the broker takes for a
      // lost client: it published the will, a second retained "offline" after ours. A DISCONNECT
      // makes it discard the will, so it is sent once ours is acknowledged and nothing else is
      // pending (MQTT.js would wait for that, unbounded); otherwise the will says it for us.
      const clean = said && Object.keys(this.client.outgoing).length === 0;
      if (!(await resolvesWithin(this.client.endAsync(!clean), 1000))) this.client.stream?.destroy();
    })();
    return this.closing;
  }

  private send(topic: string, line: string, direct: boolean, done?: () => void): void {
    this.inflight++;
    const id = this.nextId++;
    if (direct) this.unacked.set(id, line);
    try {
      this.client.publish(topic, line, { qos: this.opts.qos }, (err) => {
        this.inflight--;
        // An error means MQTT.js gave the message up (the client is ending): an unacknowledged
        // direct event stays in `unacked` and is written to the queue by close().
        if (!err && direct) this.unacked.delete(id);
        done?.();
        this.wake?.();
      });
    } catch (err) {
      // MQTT.js throws on a packet it cannot encode. Never retried (it would fail again and
      // hold the queue up); said in the log, counted as done.
      this.inflight--;
      this.unacked.delete(id);
      this.opts.log(`mqtt: cannot publish an event on ${topic.slice(0, 200)}: ${(err as Error).message}`);
      done?.();
    }
  }

  private onConnect(): void {
    this.wasConnected = true;
    this.brokerLog.connected(this.queue.empty ? '' : `; sending ${sizeText(this.queue.bytes)} of queued events`);
    this.client.publish(this.onlineTopic, 'online', { qos: 1, retain: true });
    for (const [topic, line] of this.states) this.client.publish(topic, line, { qos: this.opts.qos, retain: true });
    this.wake?.();
    this.kickDrain();
  }

  private onClose(): void {
    if (this.closed || !this.wasConnected) return;
    this.wasConnected = false;
    this.queued = true;
    this.brokerLog.lost(`queueing events in ${this.queue.dir} (up to ${sizeText(this.queue.maxBytes)})`);
  }

  private drop(e: DaemonEvent): void {
    if (!this.fullSaid) {
      this.fullSaid = true;
      this.opts.log(`mqtt: the queue in ${this.queue.dir} is full (${sizeText(this.queue.maxBytes)}): events are dropped until the broker takes them; an OVERFLOW event will tell subscribers which folders to list again`);
    }
    this.dropped.add(e, 'full');
  }

  /** A queue write failed (disk full, ...): its events count as dropped; said at 1, 2, 4, 8…. */
  private queueFailed(err: Error, lost: string[]): void {
    for (const line of lost) this.dropped.addLine(line, 'unwritable');
    const more = this.writeFailures.next(err.message);
    if (more === null) return;
    this.opts.log(`mqtt: ${err.message}${lost.length > 0 ? '; events that could not be written are dropped, an OVERFLOW event will tell subscribers which folders to list again' : ''}${more}`);
  }

  private queueWritable(): void {
    this.writeFailures.reset();
    this.opts.log(`mqtt: the queue in ${this.queue.dir} can be written again`);
  }

  /**
   * An OVERFLOW per watch that lost events, in stream order: queued once there is room. While the
   * queue's disk fails, queueing would lose them again: they are sent directly once nothing
   * queued is left before them.
   */
  private queueOverflows(): void {
    if (this.dropped.size === 0) return;
    const direct = this.queue.failing;
    if (direct && !(this.client.connected && this.queue.empty)) return;
    const total = this.dropped.total;
    for (const o of this.dropped.overflows()) {
      if (direct) this.send(eventTopic(this.opts.prefix, o.event), o.line, true);
      else if (!this.queue.append(o.line)) return;
      this.dropped.settle(o.watchId);
    }
    this.fullSaid = false;
    this.opts.log(`mqtt: ${direct ? 'the broker took the queue' : 'the queue has room again'}; ${total} events had been dropped, OVERFLOW ${direct ? 'sent' : 'queued'} for the watches concerned`);
  }

  private kickDrain(): void {
    if (this.draining || !this.client.connected) return;
    let failed = false;
    this.draining = this.drain()
      .catch((err: unknown) => {
        failed = true;
        this.opts.log(`mqtt: sending the queue failed: ${(err as Error).message}; trying again in 1 s`);
      })
      .finally(() => {
        this.draining = null;
        if (!this.queued || this.givenUp || (this.queue.empty && this.dropped.size === 0)) return;
        // After a failure, not at once: the same failure would spin.
        if (failed) this.retryTimer ??= setTimeout(() => {
          this.retryTimer = null;
          this.kickDrain();
        }, 1000);
        else this.kickDrain();
      });
  }

  /** Sends the queue, oldest segment first; a segment is deleted once all of it is acknowledged. */
  private async drain(): Promise<void> {
    while (this.client.connected && !this.givenUp) {
      this.queueOverflows();
      const seg = await this.queue.takeOldest();
      if (!seg) {
        // Checked and switched in one go: an event published meanwhile went to the queue.
        if (this.queue.empty && this.dropped.size === 0) {
          this.queued = false;
          return;
        }
        continue;
      }
      const ok = await this.sendAll(seg.lines);
      if (!ok) return; // closing: the segment stays on disk for the next run
      await seg.remove();
    }
  }

  /** Sends lines in order within the window; resolves true when all are acknowledged. */
  private sendAll(lines: string[]): Promise<boolean> {
    return new Promise((resolve) => {
      let next = 0;
      let acked = 0;
      const pump = () => {
        if (this.givenUp && acked < lines.length) {
          this.wake = null;
          resolve(false);
          return;
        }
        while (next < lines.length && this.client.connected && this.inflight < WINDOW) {
          const line = lines[next++]!;
          const topic = topicOf(this.opts.prefix, line);
          if (topic === null) {
            this.opts.log('mqtt: skipped a line of the queue that is not an event');
            acked++;
            continue;
          }
          this.send(topic, line, false, () => void acked++);
        }
        if (acked === lines.length) {
          this.wake = null;
          resolve(true);
        }
      };
      this.wake = pump;
      pump();
    });
  }
}

/** True when `p` resolves within `ms`; false when it rejects or takes longer. */
function resolvesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return within(p.then(() => true, () => false), ms, false);
}

/** The topic of a queued line; null when the line is not an event (a damaged queue file). */
function topicOf(prefix: string, line: string): string | null {
  try {
    const e = JSON.parse(line) as Partial<WatchEvent> | null;
    if (typeof e?.server !== 'string' || typeof e.share !== 'string' || typeof e.path !== 'string') return null;
    return eventTopic(prefix, { server: e.server, share: e.share, path: e.path });
  } catch {
    return null;
  }
}
