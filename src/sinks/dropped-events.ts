/**
 * Events a sink could not keep, counted per watch until an OVERFLOW for each can go out: the MQTT
 * queue was full (its bound), or a disk failed a write (full, read-only, ...) of the MQTT queue or
 * of the journal, which loses the lines of that write. Readers learn from the OVERFLOW which
 * folders to list again.
 */
import { EventFactory, eventJson } from '../watch/events.js';
import type { DaemonEvent } from './types.js';

export type DropCause = 'full' | 'unwritable' | 'journal';

interface Dropped {
  origin: { server: string; share: string; watch: string; watchId: string };
  /** The last dropped event's seq: the OVERFLOW takes it. */
  seq: number;
  count: number;
  cause: DropCause;
}

const WORDS: Record<DropCause, (n: number) => string> = {
  full: (n) => `MQTT queue full: ${n} events were not sent`,
  unwritable: (n) => `MQTT queue could not be written: ${n} events were not sent`,
  journal: (n) => `the journal could not be written: ${n} events are missing from it`,
};

export class DroppedEvents {
  private readonly byWatch = new Map<string, Dropped>();
  /** Events dropped since the last OVERFLOWs went out (for the log and status). */
  total = 0;

  get size(): number {
    return this.byWatch.size;
  }

  add(e: Pick<DaemonEvent, 'watchId' | 'server' | 'share' | 'watch' | 'seq' | 'event'>, cause: DropCause): void {
    const d = this.byWatch.get(e.watchId) ?? { origin: { server: e.server, share: e.share, watch: e.watch ?? '', watchId: e.watchId }, seq: e.seq, count: 0, cause };
    d.seq = Math.max(d.seq, e.seq);
    d.cause = cause;
    // A lost OVERFLOW is made again from this entry; it is not one more event lost.
    if (e.event !== 'OVERFLOW') {
      d.count++;
      this.total++;
    }
    this.byWatch.set(e.watchId, d);
  }

  /** A line of a failed write; one that is not an event is left out. */
  addLine(line: string, cause: DropCause): void {
    let e: Partial<DaemonEvent> | null;
    try {
      e = JSON.parse(line) as Partial<DaemonEvent> | null;
    } catch {
      return;
    }
    if (typeof e?.watchId !== 'string' || typeof e.server !== 'string' || typeof e.share !== 'string' || typeof e.seq !== 'number' || typeof e.event !== 'string') return;
    this.add({ watchId: e.watchId, server: e.server, share: e.share, seq: e.seq, event: e.event, ...(typeof e.watch === 'string' ? { watch: e.watch } : {}) }, cause);
  }

  /** The OVERFLOW for each watch concerned, built like every other event, numbered after the last one lost. */
  overflows(): Array<{ watchId: string; event: DaemonEvent; line: string }> {
    return [...this.byWatch].map(([watchId, d]) => {
      const overflow = new EventFactory(d.origin).change('OVERFLOW', d.origin.watch, { message: `${WORDS[d.cause](d.count)}; list the folder again` });
      overflow.seq = d.seq;
      overflow.time = new Date().toISOString();
      return { watchId, event: overflow as DaemonEvent, line: eventJson(overflow) };
    });
  }

  /** Its OVERFLOW is on its way. */
  settle(watchId: string): void {
    this.byWatch.delete(watchId);
    if (this.byWatch.size === 0) this.total = 0;
  }
}
