// The daemon's MQTT sink against a real Mosquitto: every event arrives once, with the journal
// line as payload and the escaped topic, for names that could break a topic tree; wildcard
// subscriptions; retained watch states and "online"/"offline" (the last will); the same stream
// seen by the independent mosquitto_sub; `smbnotify monitor --mqtt`.
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { dbusMonitor, monitorReady, startDbus } from '../support/dbus.js';
import { mosquittoSub, startMosquitto, stopAllMosquitto, subscribe, type Mosquitto, type Subscriber } from '../support/mosquitto.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { unescapeTopicLevel } from '../../src/sinks/mqtt-topic.js';
import { until } from '../support/until.js';

/** Names that must not break the topic tree, with the topic level each must become. */
const HARD: Array<[string, string]> = [
  ['#hash', '%23hash'],
  ['plus+name', 'plus%2Bname'],
  ['a\u2215b division slash', 'a\u2215b division slash'],
  ['new\nline', 'new%0Aline'],
  ['emoji \u{1f389}', 'emoji \u{1f389}'],
  ['100%', '100%25'],
  ['%2F not a slash', '%252F not a slash'],
  ['$dollar', '%24dollar'],
  ['tab\there', 'tab%09here'],
  ['back\\slash', 'back\\slash'],
  ['Ж ü', 'Ж ü'],
];

let samba: SambaServer;
let broker: Mosquitto;
let dir: string;
let cred: string;
let daemon: Running;
let all: Subscriber;
let plus: Subscriber;
let deep: Subscriber;
let sub: ReturnType<typeof mosquittoSub>;
const journal = () => join(dir, 'events.jsonl');

const isEventTopic = (t: string) => !t.includes('/$');
const journalLines = () => readFileSync(journal(), 'utf8').split('\n').filter(Boolean);
const topicOf = (name: string) => `smbnotify/127.0.0.1:${samba.port}/data/hard/${name}`;

function touch(rel: string): void {
  closeSync(openSync(join(samba.sharePath, rel), 'w'));
}

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-mqtt-'));
  samba = await startSamba({ extraShare: ['mangled names = no'] });
  cred = credentialsFile(samba);
  broker = await startMosquitto();
  mkdirSync(join(samba.sharePath, 'hard', 'sub'), { recursive: true });
  all = await subscribe(broker.url, ['smbnotify/#']);
  plus = await subscribe(broker.url, ['smbnotify/+/data/hard/+']);
  deep = await subscribe(broker.url, ['smbnotify/+/+/hard/sub/#']);
  sub = mosquittoSub(['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', 'smbnotify/#', '-F', '%t\t%p']);
  // mosquitto_sub says nothing when it is subscribed: wait until it prints a probe.
  for (let i = 0; i < 100 && !sub.lines.some((l) => l.startsWith('smbnotify/probe')); i++) {
    await all.client.publishAsync('smbnotify/probe', 'x', { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
  }
  daemon = runCli(['daemon', '--bus', 'none', '--journal', journal(), '--watch', `smb://127.0.0.1:${samba.port}/data/hard`, '-r', '-A', cred, '--mqtt', broker.url], { XDG_STATE_HOME: dir });
  await daemon.waitLine(/daemon running/, 20_000, 'stderr');
  await all.waitFor((m) => m.topic === `smbnotify/$watch/127.0.0.1:${samba.port}/data/hard` && m.payload.includes('"state":"watching"'), 20_000);
}, 90_000);

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exit;
  }
  await Promise.all([all?.end(), plus?.end(), deep?.end(), sub?.stop()]);
  await stopAllMosquitto();
  await stopAllSamba();
  rmSync(dir, { recursive: true, force: true });
});

describe('events on MQTT', () => {
  it('hard names: each event once, escaped topic, the journal line as payload (MQTT.js and mosquitto_sub)', async () => {
    for (const [name] of HARD) touch(join('hard', name));
    for (const [name] of HARD) touch(join('hard', 'sub', name));
    touch('hard/zz-end');
    await all.waitFor((m) => m.topic === topicOf('zz-end'), 20_000);
    await until(() => journalLines().some((l) => l.includes('zz-end')), 'zz-end in the journal');
    await all.quiet(1000);

    // Every journal line exactly once, in the same order, on the event topics.
    const events = all.messages.filter((m) => isEventTopic(m.topic) && m.topic !== 'smbnotify/probe');
    expect(events.map((m) => m.payload)).toEqual(journalLines());
    for (const m of events) expect(m.retain).toBe(false);

    // Topics: escaped as documented, and unescaping gives the exact names back.
    for (const [name, level] of HARD) {
      const creates = events.filter((m) => m.topic === topicOf(level));
      expect(creates.map((m) => JSON.parse(m.payload) as Record<string, unknown>), name).toEqual([expect.objectContaining({ event: 'CREATE', path: `hard/${name}` })]);
      expect(events.filter((m) => m.topic === topicOf(`sub/${level}`)), name).toHaveLength(1);
      expect(unescapeTopicLevel(level)).toBe(name);
    }
    for (const m of events) {
      const e = JSON.parse(m.payload) as { server: string; share: string; path: string };
      const levels = m.topic.split('/');
      expect(levels.slice(1).map(unescapeTopicLevel).join('/')).toBe([e.server, e.share, e.path].filter(Boolean).join('/'));
    }

    // The independent client saw the same stream.
    await until(() => sub.lines.some((l) => l.startsWith(`${topicOf('zz-end')}\t`)), 'mosquitto_sub: zz-end');
    const fromSub = sub.lines.map((l) => l.split('\t')).filter(([t]) => isEventTopic(t!) && t !== 'smbnotify/probe');
    expect(fromSub.map(([, p]) => p)).toEqual(journalLines());
    expect(fromSub.map(([t]) => t)).toEqual(events.map((m) => m.topic));
  });

  it('wildcards: + matches one level, # a subtree; nothing else', async () => {
    touch('hard/zz-end-2');
    await plus.waitFor((m) => m.topic === topicOf('zz-end-2'));
    await plus.quiet(500);
    const direct = HARD.map(([, level]) => topicOf(level));
    const plusTopics = plus.messages.map((m) => m.topic);
    for (const t of direct) expect(plusTopics.filter((x) => x === t), t).toHaveLength(1);
    expect(plusTopics.every((t) => t.split('/').length === 5)).toBe(true);
    const deepTopics = deep.messages.map((m) => m.topic);
    for (const [, level] of HARD) expect(deepTopics.filter((x) => x === topicOf(`sub/${level}`)), level).toHaveLength(1);
    expect(deepTopics.every((t) => t.startsWith(`smbnotify/127.0.0.1:${samba.port}/data/hard/sub`))).toBe(true);
  });

  it('retained: the watch state and "online" reach a subscriber that comes later', async () => {
    const late = await subscribe(broker.url, ['smbnotify/$watch/#', 'smbnotify/$status/+']);
    try {
      const state = await late.waitFor((m) => m.topic === `smbnotify/$watch/127.0.0.1:${samba.port}/data/hard`);
      expect(state.retain).toBe(true);
      expect(JSON.parse(state.payload)).toMatchObject({ event: 'STATE', state: 'watching', watchId: 'w1', path: 'hard' });
      const online = await late.waitFor((m) => m.topic.startsWith('smbnotify/$status/'));
      expect(online).toMatchObject({ payload: 'online', retain: true });
    } finally {
      await late.end();
    }
  });

  it('monitor --mqtt prints the stream like monitor does, and ends as it does (130, 143)', async () => {
    const mon = runCli(['monitor', '--mqtt', broker.url, '--json']);
    try {
      await mon.waitLine(/listening/, 15_000, 'stderr');
      touch('hard/from-monitor #1');
      const line = await mon.waitLine(/from-monitor #1/, 15_000);
      expect(JSON.parse(line)).toMatchObject({ event: 'CREATE', path: 'hard/from-monitor #1', watchId: 'w1' });
      // The same line as the journal's (which may be written a moment after MQTT sent it).
      await until(() => journalLines().includes(line), 'the monitor line in the journal');
    } finally {
      // Ends as monitor on D-Bus and watch do (stopping.test.ts): 130 after Ctrl-C.
      mon.child.kill('SIGINT');
      expect((await mon.exit).code).toBe(130);
    }
    const term = runCli(['monitor', '--mqtt', broker.url]);
    await term.waitLine(/listening/, 15_000, 'stderr');
    term.child.kill('SIGTERM');
    expect((await term.exit).code).toBe(143);
  });

  it('last will: "offline" when the daemon dies; a clean stop says "offline" once', async () => {
    const status = await subscribe(broker.url, ['smbnotify/$status/+']);
    let mon: Running | null = null;
    try {
      await status.waitFor((m) => m.payload === 'online');
      daemon.child.kill('SIGKILL');
      await daemon.exit;
      await status.waitFor((m) => m.payload === 'offline' && !m.retain, 15_000);
      // Restarted: online again, then a clean stop publishes offline itself.
      daemon = runCli(['daemon', '--bus', 'none', '--journal', journal(), '--watch', `smb://127.0.0.1:${samba.port}/data/hard`, '-A', cred, '--mqtt', broker.url], { XDG_STATE_HOME: dir });
      await daemon.waitLine(/mqtt: connected/, 20_000, 'stderr');
      const seen = status.messages.length;
      await status.waitFor((m) => status.messages.indexOf(m) >= seen && m.payload === 'online');
      mon = runCli(['monitor', '--mqtt', broker.url]);
      await mon.waitLine(/is online$/, 15_000, 'stderr');
      daemon.child.kill('SIGTERM');
      expect((await daemon.exit).code).toBe(0);
      await status.waitFor((m) => status.messages.indexOf(m) >= seen && m.payload === 'offline');
      // The second one was the broker's will, sent when the daemon closed its socket without a
      // DISCONNECT: the daemon has exited, so it would be here by the time this marker is (the
      // broker handled that close first) and the messages have been quiet for a second.
      await status.client.publishAsync('smbnotify/$status/marker', 'after the stop', { qos: 1 });
      await status.waitFor((m) => m.topic === 'smbnotify/$status/marker');
      await status.quiet(1000, 10_000);
      const after = status.messages.slice(seen).filter((m) => m.topic !== 'smbnotify/$status/marker');
      expect(after.map((m) => m.payload)).toEqual(['online', 'offline']);
      await mon.waitLine(/^smbnotify: daemon .* is offline$/, 5_000, 'stderr');
      expect(mon.stderr.filter((l) => / is offline$/.test(l))).toHaveLength(1);
    } finally {
      if (mon) {
        mon.child.kill('SIGINT');
        await mon.exit;
      }
      await status.end();
    }
  });
});

describe('over WebSockets', () => {
  it('publishes through a ws:// listener; a tcp subscriber gets the same payload', async () => {
    const ws = await startMosquitto({ websockets: true });
    const s = await subscribe(ws.url, [`smbnotify/127.0.0.1:${samba.port}/data/#`]);
    const j = join(dir, 'ws.jsonl');
    const d = runCli(['daemon', '--bus', 'none', '--journal', j, '--watch', `smb://127.0.0.1:${samba.port}/data/hard`, '-A', cred, '--mqtt', ws.wsUrl], { XDG_STATE_HOME: join(dir, 'ws-state') });
    try {
      await d.waitLine(/mqtt: connected to ws:\/\/127\.0\.0\.1:\d+\/mqtt/, 20_000, 'stderr');
      await s.waitFor((m) => m.payload.includes('"state":"watching"'));
      touch('hard/over websockets.txt');
      const m = await s.waitFor((x) => x.topic === topicOf('over websockets.txt'));
      await until(() => readFileSync(j, 'utf8').includes('over websockets.txt'), 'journal');
      expect(readFileSync(j, 'utf8').split('\n')).toContain(m.payload);
    } finally {
      d.child.kill('SIGTERM');
      expect((await d.exit).code).toBe(0);
      await s.end();
    }
  });
});

describe('a broker that accepts connections and never answers', () => {
  it('holds up neither D-Bus nor the journal', async () => {
    const sockets = new Set<Socket>();
    const hole = createServer((sock) => {
      sockets.add(sock);
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', () => resolve()));
    const port = (hole.address() as { port: number }).port;
    const bus = await startDbus();
    const signals = dbusMonitor(bus.address, "type='signal',interface='io.github.smbnotify.Watcher1',member='Event'");
    await monitorReady(signals);
    const j = join(dir, 'hole.jsonl');
    const d = runCli(['daemon', '--bus', bus.address, '--journal', j, '--watch', `smb://127.0.0.1:${samba.port}/data/hard`, '-A', cred, '--mqtt', `mqtt://127.0.0.1:${port}`], { XDG_STATE_HOME: join(dir, 'hole-state') });
    try {
      await d.waitLine(/daemon running/, 20_000, 'stderr');
      await until(() => sockets.size > 0, 'the daemon connected to the silent broker');
      // Said in words that point at the cause, not MQTT.js's "connack timeout" (10 s).
      const said = await d.waitLine(/^mqtt: /, 20_000, 'stderr');
      expect(said).toMatch(/^mqtt: the broker mqtt:\/\/127\.0\.0\.1:\d+ accepted the connection but never answered it \(is that port an MQTT broker's\? is it overloaded\?\); retrying every 2 s/);
      await until(() => readFileSync(j, 'utf8').includes('"state":"watching"'), 'watching');
      touch('hard/while the broker is silent.txt');
      await signals.waitFor(/while the broker is silent\.txt/, 10_000);
      await until(() => readFileSync(j, 'utf8').includes('while the broker is silent.txt'), 'journal');
    } finally {
      d.child.kill('SIGTERM');
      expect((await d.exit).code).toBe(0);
      await signals.stop();
      await bus.stop();
      for (const sock of sockets) sock.destroy();
      hole.close();
    }
  });
});
