// 5. Throughput: a burst of files created over SMB by another session, and the rate at which its
// events come out of each consumer: `smbnotify watch -m --json` stdout (with smbclient notify on
// the same folder for comparison), then the daemon's D-Bus signal and journal line. Plus the
// parser alone, in this process: FILE_NOTIFY_INFORMATION buffers decoded per second.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, Server } from './lib/context.js';
import { watchDbus } from './lib/context.js';
import { FileTail, type Spawned } from './lib/lines.js';
import { createOverSmb } from './lib/smb-writer.js';
import { ms, now, sleep } from './lib/stats.js';
import { scratchDir, smbclientNotify, smbnotifyDaemon, smbnotifyWatch, url } from './lib/tools.js';
import { createOnDisk, fileNames, type WriteResult } from './lib/writers.js';
import { decodeFileNotifyInformation, encodeFileNotifyInformation, FileAction } from '../../src/smb/wire/notify.js';
import { connectBus } from '../../src/sinks/bus.js';
import { DbusApi } from '../../src/sinks/dbus-api.js';
import { JournalSink } from '../../src/sinks/journal.js';
import type { DaemonControl, DaemonEvent } from '../../src/sinks/types.js';

export interface ConsumerRate {
  consumer: string;
  /** Distinct new names reported, of `files`. */
  names: number;
  /** Change events (all kinds) delivered. */
  events: number;
  overflows: number;
  /** Events per second between the first and the last event at this consumer. */
  eventsPerS: number;
  /** Seconds from the last file written to the last event here. */
  lagS: number;
}

export interface ThroughputResult {
  files: number;
  runs: Array<{ label: string; writeS: number; filesPerS: number; consumers: ConsumerRate[] }>;
  parser: { entriesPerBuffer: number; bytesPerBuffer: number; entriesPerS: number; mbPerS: number };
  /** The daemon's sinks alone, in this process: events published back to back. */
  sinks: Array<{ sink: string; events: number; eventsPerS: number; note: string }>;
}

export class Counter {
  names = new Set<string>();
  events = 0;
  overflows = 0;
  first = 0n;
  last = 0n;

  hit(at: bigint, kind: string, name: string | null): void {
    if (this.first === 0n) this.first = at;
    this.last = at;
    this.events++;
    if (kind === 'OVERFLOW') this.overflows++;
    if (name !== null && (kind === 'CREATE' || kind === 'MOVED_TO')) this.names.add(name);
  }

  rate(consumer: string, write: WriteResult): ConsumerRate {
    const span = this.last > this.first ? ms(this.first, this.last) / 1000 : Number.NaN;
    return { consumer, names: this.names.size, events: this.events, overflows: this.overflows, eventsPerS: this.events / span, lagS: this.last ? ms(write.end, this.last) / 1000 : Number.NaN };
  }
}

/** Counts `smbclient notify` lines: `0001`/`0005` (added, renamed to) are new names, NOTIFY_ENUM_DIR an overflow. */
export function smbclientCounter(sc: Spawned): Counter {
  const cs = new Counter();
  sc.stdout.onLine((line, at) => {
    if (line.includes('NOTIFY_ENUM_DIR')) return cs.hit(at, 'OVERFLOW', null);
    const m = /^([0-9a-f]{4}) (.*)$/.exec(line);
    if (m) cs.hit(at, m[1] === '0001' || m[1] === '0005' ? 'CREATE' : 'OTHER', m[2]!);
  });
  return cs;
}

/** Waits until no counter moved for `quietMs` after the write ended (bounded). */
export async function quiet(counters: Counter[], write: WriteResult, quietMs = 3000, capMs = 120_000): Promise<void> {
  const began = Date.now();
  for (;;) {
    const last = counters.reduce((a, c) => (c.last > a ? c.last : a), write.end);
    if (ms(last, now()) >= quietMs || Date.now() - began > capMs) return;
    await sleep(200);
  }
}

function burst(server: Server, folder: string, names: string[], via: 'smb' | 'disk'): Promise<WriteResult> {
  return via === 'smb' ? createOverSmb(server, folder, names) : createOnDisk(join(server.samba.sharePath, folder), names);
}

async function watchRun(ctx: Context, server: Server, files: number, via: 'smb' | 'disk'): Promise<ThroughputResult['runs'][number]> {
  const { samba, creds } = server;
  const folder = `tp-watch-${via}`;
  mkdirSync(join(samba.sharePath, folder));
  const procs: Spawned[] = [];
  try {
    const w = smbnotifyWatch('watch', creds, url(samba, folder), ['-m', '--json'], ctx.nodeArgs('throughput-watch'), false);
    procs.push(w);
    const cw = new Counter();
    w.stdout.onLine((line, at) => {
      const e = JSON.parse(line) as { event: string; path: string };
      if (e.event !== 'STATE') cw.hit(at, e.event, e.path);
    });
    await w.stdout.waitFor(/"state":"watching"/, 20_000);
    const sc = smbclientNotify('smbclient', samba, creds, folder, false);
    procs.push(sc);
    const cs = smbclientCounter(sc);
    await sleep(1000); // smbclient has no ready signal; its session is up well within this
    ctx.log(`throughput: ${files} files ${via === 'smb' ? 'over SMB' : "on the server's disk"}, watched by smbnotify watch and smbclient notify`);
    const write = await burst(server, folder, fileNames('w', files), via);
    await quiet([cw, cs], write);
    const writeS = ms(write.start, write.end) / 1000;
    return { label: `watch, ${via} burst`, writeS, filesPerS: files / writeS, consumers: [cw.rate('smbnotify watch --json (stdout)', write), cs.rate('smbclient notify (stdout)', write)] };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

async function daemonRun(ctx: Context, server: Server, files: number, via: 'smb' | 'disk'): Promise<ThroughputResult['runs'][number]> {
  const { samba, creds } = server;
  const folder = `tp-daemon-${via}`;
  mkdirSync(join(samba.sharePath, folder));
  const bus = await ctx.bus();
  const procs: Spawned[] = [];
  const journal = join(scratchDir('journal'), 'events.jsonl');
  const tail = new FileTail(journal, false);
  try {
    const dbus = watchDbus(bus.address);
    procs.push(dbus.monitor);
    const cd = new Counter();
    dbus.onEvent((f, at) => {
      if (f['event'] !== 'STATE') cd.hit(at, f['event'] ?? '', f['path'] ?? null);
    });
    const d = smbnotifyDaemon('daemon', creds, { targets: [url(samba, folder)], bus: bus.address, journal, nodeArgs: ctx.nodeArgs('throughput-daemon') });
    procs.push(d);
    await d.stderr.waitFor(/^w\d+ .*: watching$/, 20_000);
    const cj = new Counter();
    tail.onLine((line, at) => {
      const e = JSON.parse(line) as { event: string; path: string };
      if (e.event !== 'STATE') cj.hit(at, e.event, e.path);
    });
    tail.start(false);
    await sleep(1000); // dbus-monitor has no ready signal of its own for this match rule
    ctx.log(`throughput: ${files} files ${via === 'smb' ? 'over SMB' : "on the server's disk"}, watched by the daemon (D-Bus, journal)`);
    const write = await burst(server, folder, fileNames('d', files), via);
    await quiet([cd, cj], write);
    const writeS = ms(write.start, write.end) / 1000;
    return { label: `daemon, ${via} burst`, writeS, filesPerS: files / writeS, consumers: [cd.rate('smbnotify daemon (D-Bus, dbus-monitor)', write), cj.rate('smbnotify daemon (journal)', write)] };
  } finally {
    tail.stop();
    await Promise.all(procs.map((p) => p.stop()));
    await bus.stop();
  }
}

/** The decoder alone: a 64 KiB-class response of CREATE entries, decoded over and over. */
function parserRate(): ThroughputResult['parser'] {
  const entries = fileNames('parser-', 1000).map((fileName) => ({ action: FileAction.ADDED, fileName }));
  const buf = encodeFileNotifyInformation(entries);
  for (let i = 0; i < 200; i++) decodeFileNotifyInformation(buf);
  let n = 0;
  const t0 = now();
  let elapsed = 0;
  while (elapsed < 1000) {
    for (let i = 0; i < 50; i++) n += decodeFileNotifyInformation(buf).length;
    elapsed = ms(t0, now());
  }
  return { entriesPerBuffer: entries.length, bytesPerBuffer: buf.length, entriesPerS: (n / elapsed) * 1000, mbPerS: ((n / entries.length) * buf.length) / 1e6 / (elapsed / 1000) };
}

function sampleEvent(i: number): DaemonEvent {
  return { seq: i, time: new Date().toISOString(), event: 'CREATE', server: '127.0.0.1', share: 'data', path: `tp/file-${i}.dat`, source: 'notify', action: 1, watch: 'tp', watchId: 'w1' };
}

/**
 * D-Bus: DbusApi.publish() back to back (yielding every 200 events so the socket drains), until
 * a dbus-monitor in another process has printed them all. Journal: JournalSink.publish() back to
 * back until the lines are in the file (flush()).
 */
async function sinkRates(ctx: Context, n: number): Promise<ThroughputResult['sinks']> {
  const out: ThroughputResult['sinks'] = [];
  const bus = await ctx.bus();
  const dbus = watchDbus(bus.address);
  const mb = await connectBus(bus.address);
  try {
    const control: DaemonControl = {
      addWatch: () => Promise.reject(new Error('not in the bench')),
      removeWatch: () => Promise.reject(new Error('not in the bench')),
      listWatches: () => [],
      status: () => ({ version: 'bench', pid: process.pid, startedAt: new Date().toISOString(), journal: null, watches: 0 }),
    };
    const api = await DbusApi.start(mb, control);
    // Warm up, and make sure dbus-monitor is listening.
    for (let tries = 0; dbus.count === 0 && tries < 50; tries++) {
      api.publish(sampleEvent(-1));
      await sleep(100);
    }
    await sleep(300);
    const seenBefore = dbus.count;
    const t0 = now();
    for (let i = 0; i < n; i++) {
      api.publish(sampleEvent(i));
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    const published = now();
    const deadline = Date.now() + 60_000;
    while (dbus.count - seenBefore < n && Date.now() < deadline) await sleep(5);
    const got = dbus.count - seenBefore;
    out.push({ sink: 'D-Bus Event signal (DbusApi.publish → dbus-daemon → dbus-monitor)', events: got, eventsPerS: got / (ms(t0, dbus.lastAt) / 1000), note: `publishing alone: ${Math.round(n / (ms(t0, published) / 1000)).toLocaleString('en-US')}/s` });
  } finally {
    mb.disconnect();
    await dbus.monitor.stop();
    await bus.stop();
  }
  const file = join(scratchDir('journal'), 'events.jsonl');
  const journal = await JournalSink.open(file);
  try {
    const t0 = now();
    for (let i = 0; i < n; i++) journal.publish(sampleEvent(i));
    await journal.flush();
    out.push({ sink: 'journal line (JournalSink.publish → file)', events: n, eventsPerS: n / (ms(t0, now()) / 1000), note: 'until written (not fsynced)' });
  } finally {
    await journal.close();
  }
  return out;
}

export async function throughput(ctx: Context): Promise<ThroughputResult> {
  const files = ctx.opts.quick ? 3000 : 10_000;
  const server = await ctx.server();
  try {
    const runs: ThroughputResult['runs'] = [];
    for (const via of ['smb', 'disk'] as const) {
      runs.push(await watchRun(ctx, server, files, via));
      if (ctx.daemonBuilt) runs.push(await daemonRun(ctx, server, files, via));
    }
    return { files, runs, parser: parserRate(), sinks: await sinkRates(ctx, files) };
  } finally {
    await server.samba.stop();
  }
}
