// 1. Latency: a file created on the server's disk until its event reaches each consumer.
//
// Four consumers run at once, each on its own folder (non-recursive): `smbnotify watch -m`
// (stdout), the daemon (a D-Bus signal seen by dbus-monitor, a separate process; and a journal
// line, read through inotify on the journal's folder) and `smbclient -c 'notify DIR'` (stdout).
// Samples alternate between the consumers in a new random order every round, so that a noisy
// moment of the machine hits all of them alike. t0 is taken right after close() of the new
// file; the arrival is the 'data' event of the line in this process.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, DbusWatch } from './lib/context.js';
import { watchDbus } from './lib/context.js';
import { FileTail, type LineSource, type Spawned } from './lib/lines.js';
import { ms, now, shuffle, sleep, summarize, type Summary } from './lib/stats.js';
import { scratchDir, smbclientNotify, smbnotifyDaemon, smbnotifyWatch, url } from './lib/tools.js';

export interface LatencyResult {
  samplesPerConsumer: number;
  warmupPerConsumer: number;
  consumers: Record<string, Summary & { misses: number; ratioP50: number; ratioP95: number; ratioP99: number }>;
  notes: string[];
}

export type Probe = (name: string, timeoutMs: number) => Promise<bigint | null>;

/**
 * A probe over any source of timestamped items: resolves with the arrival time of the first item
 * that `match` accepts for the file `name`, or null after `timeoutMs`.
 */
function firstArrival<T>(subscribe: (fn: (item: T, at: bigint) => void) => () => void, match: (item: T, name: string) => boolean): Probe {
  return (name, timeoutMs) =>
    new Promise((resolve) => {
      const off = subscribe((item, at) => {
        if (!match(item, name)) return;
        off();
        clearTimeout(timer);
        resolve(at);
      });
      const timer = setTimeout(() => {
        off();
        resolve(null);
      }, timeoutMs);
    });
}

/** Resolves with the arrival time of the first line for which `match(line)` holds. */
export function lineProbe(src: LineSource, match: (line: string, name: string) => boolean): Probe {
  return firstArrival<string>((fn) => src.onLine(fn), match);
}

function dbusProbe(d: DbusWatch, folder: string): Probe {
  return firstArrival<Record<string, unknown>>((fn) => d.onEvent(fn), (fields, name) => fields['path'] === `${folder}/${name}`);
}

interface Tool {
  key: string;
  folder: string;
  /** consumer name -> probe */
  probes: Record<string, Probe>;
}

export async function latency(ctx: Context): Promise<LatencyResult> {
  const samples = ctx.opts.quick ? 60 : 300;
  const warmup = 10;
  const notes: string[] = [];
  const { samba, creds } = await ctx.server();
  const procs: Spawned[] = [];
  const tails: FileTail[] = [];
  let bus: Awaited<ReturnType<Context['bus']>> | null = null;
  try {
    for (const f of ['watch', 'daemon', 'smbclient']) mkdirSync(join(samba.sharePath, 'lat', f), { recursive: true });
    const tools: Tool[] = [];

    // (a) smbnotify watch -m, human output.
    const w = smbnotifyWatch('watch', creds, url(samba, 'lat/watch'), ['-m'], ctx.nodeArgs('latency-watch'));
    procs.push(w);
    await w.stderr.waitFor(/WATCHING/, 20_000);
    tools.push({ key: 'watch', folder: 'lat/watch', probes: { 'smbnotify watch (stdout)': lineProbe(w.stdout, (l, n) => l.endsWith(`/${n}`)) } });

    // (b, c) the daemon: D-Bus signal to dbus-monitor, journal line.
    if (ctx.daemonBuilt) {
      bus = await ctx.bus();
      const dbus = watchDbus(bus.address);
      procs.push(dbus.monitor);
      const journal = join(scratchDir('journal'), 'events.jsonl');
      const d = smbnotifyDaemon('daemon', creds, { targets: [url(samba, 'lat/daemon')], bus: bus.address, journal, nodeArgs: ctx.nodeArgs('latency-daemon') });
      procs.push(d);
      await d.stderr.waitFor(/: watching: watching /, 20_000);
      const tail = new FileTail(journal, false);
      tails.push(tail);
      tail.start(false);
      tools.push({
        key: 'daemon',
        folder: 'lat/daemon',
        probes: {
          'smbnotify daemon (D-Bus signal)': dbusProbe(dbus, 'lat/daemon'),
          'smbnotify daemon (journal line)': lineProbe(tail, (l, n) => l.includes(`"path":"lat/daemon/${n}"`)),
        },
      });
    } else {
      notes.push('daemon not built (dist/cli/commands/daemon-run.js or dist/sinks/dbus-api.js missing): no D-Bus or journal figures');
    }

    // smbclient notify.
    const sc = smbclientNotify('smbclient', samba, creds, 'lat/smbclient');
    procs.push(sc);
    tools.push({ key: 'smbclient', folder: 'lat/smbclient', probes: { 'smbclient notify (stdout)': lineProbe(sc.stdout, (l, n) => l.endsWith(` ${n}`)) } });

    // Readiness: every consumer has seen a probe file (retried: dbus-monitor and smbclient
    // become ready on their own time and say nothing when they are).
    for (const t of tools) {
      let ok = false;
      for (let attempt = 0; attempt < 20 && !ok; attempt++) {
        const name = `ready-${attempt}.txt`;
        const arrivals = Object.values(t.probes).map((p) => p(name, 1000));
        closeSync(openSync(join(samba.sharePath, t.folder, name), 'w'));
        ok = (await Promise.all(arrivals)).every((a) => a !== null);
      }
      if (!ok) throw new Error(`latency: ${t.key} never reported a probe file`);
    }

    const values: Record<string, number[]> = {};
    const misses: Record<string, number> = {};
    for (const t of tools) for (const c of Object.keys(t.probes)) {
      values[c] = [];
      misses[c] = 0;
    }
    ctx.log(`latency: ${samples} samples per consumer (+${warmup} warm-up), ${tools.length} tools interleaved`);
    for (let round = -warmup; round < samples; round++) {
      for (const t of shuffle([...tools])) {
        const name = `${t.key}-${round + warmup}.txt`;
        const consumers = Object.entries(t.probes);
        const arrivals = consumers.map(([, p]) => p(name, 3000));
        const fd = openSync(join(samba.sharePath, t.folder, name), 'w');
        closeSync(fd);
        const t0 = now();
        const got = await Promise.all(arrivals);
        consumers.forEach(([c], i) => {
          const at = got[i];
          if (round < 0) return;
          if (at === null || at === undefined) misses[c]!++;
          else values[c]!.push(ms(t0, at));
        });
        await sleep(5 + Math.random() * 10);
      }
    }

    const base = summarize(values['smbclient notify (stdout)'] ?? []);
    const consumers: LatencyResult['consumers'] = {};
    for (const [c, v] of Object.entries(values)) {
      const s = summarize(v);
      consumers[c] = { ...s, misses: misses[c]!, ratioP50: s.p50 / base.p50, ratioP95: s.p95 / base.p95, ratioP99: s.p99 / base.p99 };
    }
    return { samplesPerConsumer: samples, warmupPerConsumer: warmup, consumers, notes };
  } finally {
    for (const t of tails) t.stop();
    await Promise.all(procs.map((p) => p.stop()));
    await bus?.stop();
    await samba.stop();
  }
}
