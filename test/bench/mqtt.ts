// 6. MQTT: the daemon publishing to a Mosquitto on loopback, with `mosquitto_sub` (a separate
// process) as the subscriber, next to `smbclient notify` measured in the same run.
//
// Latency: a file created on the server's disk until its message is printed by mosquitto_sub;
// the daemon and smbclient each watch their own folder, samples interleaved in a new random order
// every round (as in section 1). Burst: N files created on the server's disk (and over SMB) in one
// folder watched by the daemon and by smbclient; the messages' rate at the subscriber between its
// first and last, and whether the stream has every name (OVERFLOW then listing, as the journal).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, Server } from './lib/context.js';
import { Spawned } from './lib/lines.js';
import { lineProbe } from './latency.js';
import { interleavedLatency, type LatencyConsumer, type LatencyFigures } from './lib/interleaved.js';
import { Counter, quiet, smbclientCounter, type ConsumerRate } from './throughput.js';
import { createOverSmb } from './lib/smb-writer.js';
import { ms, now, sleep, until } from './lib/stats.js';
import { scratchDir, smbclientNotify, smbnotifyDaemon, url } from './lib/tools.js';
import mqtt from 'mqtt';
import { MqttSink } from '../../src/sinks/mqtt.js';
import type { DaemonEvent } from '../../src/sinks/types.js';
import { createOnDisk, fileNames } from './lib/writers.js';
import { startMosquitto, stopAllMosquitto } from '../support/mosquitto.js';
import { requireTool } from '../support/tools.js';

export interface MqttBenchResult {
  samplesPerConsumer: number;
  latency: Record<string, LatencyFigures>;
  bursts: Array<{
    label: string;
    files: number;
    filesPerS: number;
    consumers: ConsumerRate[];
  }>;
  /** The sink alone, in this process: MqttSink.publish() back to back until a subscriber has them all. */
  stage: { events: number; eventsPerS: number; publishPerS: number };
  notes: string[];
}

/** mosquitto_sub printing `TOPIC<TAB>PAYLOAD` per message, line-buffered through stdbuf. */
function mosquittoSub(port: number, filter: string): Spawned {
  const sub = requireTool('mosquitto_sub', 'mosquitto-clients');
  const stdbuf = requireTool('stdbuf', 'coreutils');
  return new Spawned('mosquitto_sub', stdbuf, ['-oL', sub, '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', filter, '-F', '%t\t%p'], { keepLines: false });
}

async function latency(ctx: Context, server: Server, brokerPort: number, procs: Spawned[], samples: number, warmup: number): Promise<MqttBenchResult['latency']> {
  const { samba, creds } = server;
  for (const f of ['mqtt', 'smbclient']) mkdirSync(join(samba.sharePath, 'lat', f), { recursive: true });
  const sub = mosquittoSub(brokerPort, 'smbnotify/+/+/lat/mqtt/+');
  procs.push(sub);
  const sc = smbclientNotify('smbclient', samba, creds, 'lat/smbclient');
  procs.push(sc);
  const tools: LatencyConsumer[] = [
    { consumer: 'smbnotify daemon → Mosquitto → mosquitto_sub', dir: join(samba.sharePath, 'lat/mqtt'), probe: lineProbe(sub.stdout, (l, n) => l.startsWith(`smbnotify/${samba.host}:${samba.port}/${samba.share}/lat/mqtt/${n}\t`)) },
    { consumer: 'smbclient notify (stdout)', dir: join(samba.sharePath, 'lat/smbclient'), probe: lineProbe(sc.stdout, (l, n) => l.endsWith(` ${n}`)) },
  ];
  return interleavedLatency(ctx, 'mqtt latency', tools, samples, warmup);
}

async function burst(ctx: Context, server: Server, brokerPort: number, files: number, via: 'disk' | 'smb'): Promise<MqttBenchResult['bursts'][number]> {
  const { samba, creds } = server;
  const folder = `tp-mqtt-${via}`; // made before the daemon started, which watches it
  const procs: Spawned[] = [];
  try {
    const sub = mosquittoSub(brokerPort, `smbnotify/+/+/${folder}/#`);
    procs.push(sub);
    const cm = new Counter();
    sub.stdout.onLine((line, at) => {
      const tab = line.indexOf('\t');
      const e = JSON.parse(line.slice(tab + 1)) as { event: string; path: string };
      if (e.event !== 'STATE') cm.hit(at, e.event, e.path);
    });
    const sc = smbclientNotify('smbclient', samba, creds, folder, false);
    procs.push(sc);
    const cs = smbclientCounter(sc);
    await sleep(1000); // neither says when it is subscribed
    ctx.log(`mqtt burst: ${files} files ${via === 'smb' ? 'over SMB' : "on the server's disk"}`);
    const names = fileNames(`m${via}`, files);
    const write = via === 'smb' ? await createOverSmb(server, folder, names) : await createOnDisk(join(samba.sharePath, folder), names);
    await quiet([cm, cs], write);
    // The stream's names are share-relative paths, smbclient's are folder-relative.
    const mqttNames = new Set([...cm.names].map((p) => p.slice(folder.length + 1)));
    const right = names.filter((n) => mqttNames.has(n)).length;
    const writeS = ms(write.start, write.end) / 1000;
    const rm = cm.rate('smbnotify daemon → Mosquitto → mosquitto_sub', write);
    return { label: `${via === 'smb' ? 'over SMB' : 'on disk'}`, files, filesPerS: files / writeS, consumers: [{ ...rm, names: right }, cs.rate('smbclient notify (stdout)', write)] };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

async function sinkStage(brokerUrl: string, n: number): Promise<MqttBenchResult['stage']> {
  const queueDir = scratchDir('mqtt-queue');
  const sink = await MqttSink.start({ url: brokerUrl, clientId: 'bench-sink', qos: 1, prefix: 'stage', queueDir, queueMaxBytes: 256 * 1024 * 1024, log: () => undefined });
  const sub = mqtt.connect(brokerUrl, { clientId: 'bench-stage-subscriber' });
  try {
    await new Promise<void>((resolve) => sub.once('connect', () => resolve()));
    await sub.subscribeAsync('stage/#', { qos: 1 });
    let got = 0;
    let lastAt = 0n;
    sub.on('message', (topic) => {
      if (topic.includes('/$')) return; // the retained online status
      got++;
      lastAt = now();
    });
    if (!(await until(() => sink.connected, 10_000))) throw new Error('the MQTT sink did not connect');
    const event = (i: number): DaemonEvent => ({ seq: i, time: new Date().toISOString(), event: 'CREATE', server: '127.0.0.1', share: 'data', path: `tp/file-${i}.dat`, source: 'notify', action: 1, watch: 'tp', watchId: 'w1' });
    const t0 = now();
    for (let i = 0; i < n; i++) sink.publish(event(i));
    const published = now();
    await until(() => got >= n, 120_000, 5);
    return { events: got, eventsPerS: got / (ms(t0, lastAt) / 1000), publishPerS: n / (ms(t0, published) / 1000) };
  } finally {
    await sub.endAsync(true);
    await sink.close();
  }
}

export async function mqttBench(ctx: Context): Promise<MqttBenchResult> {
  const samples = ctx.opts.quick ? 60 : 300;
  const warmup = 10;
  const files = ctx.opts.quick ? 3000 : 10_000;
  const notes: string[] = [];
  const server = await ctx.server();
  const broker = await startMosquitto();
  const procs: Spawned[] = [];
  try {
    const { samba, creds } = server;
    mkdirSync(join(samba.sharePath, 'lat'), { recursive: true });
    for (const via of ['disk', 'smb']) mkdirSync(join(samba.sharePath, `tp-mqtt-${via}`));
    // One daemon: the latency folder and the burst folders, each its own watch; no D-Bus, no journal.
    const d = smbnotifyDaemon('daemon-mqtt', creds, {
      targets: [url(samba, 'lat/mqtt'), url(samba, 'tp-mqtt-disk'), url(samba, 'tp-mqtt-smb')],
      bus: 'none',
      journal: 'off',
      nodeArgs: ctx.nodeArgs('mqtt-daemon'),
      extraArgs: ['--mqtt', broker.url],
    });
    procs.push(d);
    await d.stderr.waitFor(/mqtt: connected/, 30_000);
    const lat = await latency(ctx, server, broker.port, procs, samples, warmup);
    const bursts = [];
    for (const via of ['disk', 'smb'] as const) bursts.push(await burst(ctx, server, broker.port, files, via));
    const stage = await sinkStage(broker.url, files);
    notes.push('QoS 1; mosquitto_sub runs as its own process and reads with QoS 1, as a subscriber on another machine would.');
    return { samplesPerConsumer: samples, latency: lat, bursts, stage, notes };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await stopAllMosquitto();
    await server.samba.stop();
  }
}
