// Latency of several consumers measured together: each has its own folder and a probe; every
// round creates one file per consumer, in a new random order, so that a noisy moment of the
// machine hits all of them alike. t0 is taken right after close() of the new file.
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from './context.js';
import { ms, now, shuffle, sleep, summarize, type Summary } from './stats.js';
import type { Probe } from '../latency.js';

export interface LatencyConsumer {
  consumer: string;
  /** Absolute folder whose new files this consumer reports. */
  dir: string;
  probe: Probe;
}

export type LatencyFigures = Summary & { misses: number; ratioP50: number; ratioP99: number };

/** Ratios are against the consumer named `baseline` (smbclient's notify line). */
export async function interleavedLatency(
  ctx: Context,
  what: string,
  consumers: LatencyConsumer[],
  samples: number,
  warmup: number,
  baseline = 'smbclient notify (stdout)',
): Promise<Record<string, LatencyFigures>> {
  // Readiness: each consumer has reported a probe file (retried: some say nothing when ready).
  for (const c of consumers) {
    let ok = false;
    for (let attempt = 0; attempt < 20 && !ok; attempt++) {
      const arrival = c.probe(`ready-${attempt}.txt`, 1000);
      closeSync(openSync(join(c.dir, `ready-${attempt}.txt`), 'w'));
      ok = (await arrival) !== null;
    }
    if (!ok) throw new Error(`${what}: ${c.consumer} never reported a probe file`);
  }
  const values: Record<string, number[]> = Object.fromEntries(consumers.map((c) => [c.consumer, []]));
  const misses: Record<string, number> = Object.fromEntries(consumers.map((c) => [c.consumer, 0]));
  ctx.log(`${what}: ${samples} samples per consumer (+${warmup} warm-up)`);
  for (let round = -warmup; round < samples; round++) {
    for (const c of shuffle([...consumers])) {
      const name = `s-${round + warmup}.txt`;
      const arrival = c.probe(name, 3000);
      closeSync(openSync(join(c.dir, name), 'w'));
      const t0 = now();
      const at = await arrival;
      if (round >= 0) {
        if (at === null) misses[c.consumer]!++;
        else values[c.consumer]!.push(ms(t0, at));
      }
      await sleep(5 + Math.random() * 10);
    }
  }
  const base = summarize(values[baseline] ?? []);
  const out: Record<string, LatencyFigures> = {};
  for (const [c, v] of Object.entries(values)) {
    const s = summarize(v);
    out[c] = { ...s, misses: misses[c]!, ratioP50: s.p50 / base.p50, ratioP99: s.p99 / base.p99 };
  }
  return out;
}
