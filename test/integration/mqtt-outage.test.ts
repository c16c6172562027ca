// A broker outage as an administrator sees it, against a real smbd, dbus-daemon and Mosquitto:
// the daemon's log names the queue's bound as it was set (200K, not "0 MiB"), and `status`
// (GetStatus) says whether MQTT is connected, why not, and what waits in the queue; two daemons
// with one client id are said as such; a queue that cannot be written loses nothing silently; a
// reload says an edited [mqtt] needs a restart; a frozen broker is said in words.
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startDbus, type DbusBus } from '../support/dbus.js';
import { startMosquitto, stopAllMosquitto, subscribe, type Mosquitto } from '../support/mosquitto.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { until } from '../support/until.js';

let samba: SambaServer;
let bus: DbusBus;
let broker: Mosquitto;
let dir: string;
let daemon: Running;
const journal = () => join(dir, 'events.jsonl');

async function status(json = false): Promise<string[]> {
  const r = runCli(['status', '--bus', bus.address, ...(json ? ['--json'] : [])]);
  const { code } = await r.exit;
  expect(code, r.stderr.join('\n')).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-mqtt-outage-'));
  samba = await startSamba();
  bus = await startDbus();
  broker = await startMosquitto();
  mkdirSync(join(samba.sharePath, 'docs'));
  const config = join(dir, 'config');
  writeFileSync(config, [
    '[daemon]', `bus = ${bus.address}`, `journal = ${journal()}`, `credentials = ${credentialsFile(samba)}`, 'follow-desktop = no',
    '[watch docs]', `target = //127.0.0.1:${samba.port}/data/docs`, 'recursive = yes',
    '[mqtt]', `url = ${broker.url}`, 'client-id = laptop-1', `queue = ${join(dir, 'queue')}`, 'queue-max-size = 200K', '',
  ].join('\n'));
  daemon = runCli(['daemon', '--config', config]);
  await daemon.waitLine(/docs: watching/, 20_000, 'stderr');
}, 90_000);

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exit;
  }
  await stopAllMosquitto();
  await bus?.stop();
  await stopAllSamba();
  rmSync(dir, { recursive: true, force: true });
});

describe('a broker outage', () => {
  it('the log names the queue bound as set (200K is 200 KiB, not 0 MiB)', async () => {
    await broker.stop();
    const line = await daemon.waitLine(/^mqtt: lost the broker/, 20_000, 'stderr');
    expect(line).toMatch(/; queueing events in .*queue \(up to 200 KiB\)$/);
  });

  it('status says MQTT is away, why, and what is queued; then connected again with nothing queued', async () => {
    await daemon.waitLine(/^mqtt: cannot reach the broker/, 20_000, 'stderr');
    closeSync(openSync(join(samba.sharePath, 'docs', 'written while the broker is away.odt'), 'w'));
    await until(() => readFileSync(journal(), 'utf8').includes('written while the broker is away.odt'), 'the change in the journal');
    const away = await status();
    expect(away[1]).toMatch(/^MQTT mqtt:\/\/127\.0\.0\.1:\d+: disconnected \(cannot reach the broker mqtt:\/\/127\.0\.0\.1:\d+: connection refused\); \d+ KiB of events queued$/);
    const json = JSON.parse((await status(true))[0]!) as Record<string, unknown>;
    expect(json).toMatchObject({ mqtt: broker.url, mqttState: 'disconnected', mqttMessage: expect.stringMatching(/connection refused/) });
    expect(json['mqttQueued']).toBeGreaterThan(0);

    await broker.start();
    await until(async () => (await status())[1] === `MQTT ${broker.url}: connected`, 'status: connected, nothing queued');
  });

  it('a second daemon with the same client id: said as such at 2, 4, 8 (not a "lost"/"connected" pair every 2 s), and when it is over', { timeout: 120_000 }, async () => {
    await until(async () => (await status())[1] === `MQTT ${broker.url}: connected`, 'connected');
    const from = daemon.stderr.length;
    const since = () => daemon.stderr.slice(from);
    const config = join(dir, 'twin.conf');
    writeFileSync(config, [
      '[daemon]', 'bus = none', 'journal = off', `credentials = ${credentialsFile(samba)}`,
      '[watch docs]', `target = //127.0.0.1:${samba.port}/data/docs`,
      '[mqtt]', `url = ${broker.url}`, 'client-id = laptop-1', `queue = ${join(dir, 'twin-queue')}`, '',
    ].join('\n'));
    const twin = runCli(['daemon', '--config', config]);
    try {
      await daemon.waitLine(/client id "laptop-1"\? \(each daemon needs its own client-id\)/, 30_000, 'stderr');
      // Pushed off every 2 s or so, 12 s more: 4 or 5 more losses, said at most twice more. The
      // first loss or two (before two quick ones in a row) are said as usual.
      await new Promise((r) => setTimeout(r, 12_000));
      const mqttLines = since().filter((l) => l.startsWith('mqtt: '));
      expect(mqttLines.filter((l) => /lost the broker/.test(l)).length).toBeLessThanOrEqual(2);
      expect(mqttLines.filter((l) => /^mqtt: connected/.test(l)).length).toBeLessThanOrEqual(2);
      const said = mqttLines.filter((l) => /client id "laptop-1"/.test(l));
      expect(said[0]).toMatch(/^mqtt: the broker mqtt:\/\/127\.0\.0\.1:\d+ ends the connection right after accepting it, 2 times in a row: is another client using the client id "laptop-1"\? \(each daemon needs its own client-id\); events are queued meanwhile; said again at 4$/);
      expect(said.length).toBeLessThanOrEqual(3);
    } finally {
      twin.child.kill('SIGTERM');
      await twin.exit;
    }
    await daemon.waitLine(/^mqtt: the connection to mqtt:\/\/127\.0\.0\.1:\d+ has held for 30 s again$/, 60_000, 'stderr');
    await until(async () => (await status())[1] === `MQTT ${broker.url}: connected`, 'connected, nothing queued');
  });

  it('the queue cannot be written (a disk full): said at 1, 2, 4, 8, not once per write; an OVERFLOW tells subscribers what was lost', { timeout: 120_000 }, async () => {
    const away = await startMosquitto({ persistence: true });
    const sub = await subscribe(away.url, ['smbnotify/#'], { clean: false, clientId: 'overflow-reader' });
    const queue = join(dir, 'unwritable-queue');
    const config = join(dir, 'unwritable.conf');
    mkdirSync(join(samba.sharePath, 'full'));
    writeFileSync(config, [
      '[daemon]', 'bus = none', 'journal = off', `credentials = ${credentialsFile(samba)}`,
      '[watch full]', `target = //127.0.0.1:${samba.port}/data/full`,
      '[mqtt]', `url = ${away.url}`, 'client-id = disk-full', `queue = ${queue}`, '',
    ].join('\n'));
    const d = runCli(['daemon', '--config', config]);
    try {
      await d.waitLine(/full: watching/, 20_000, 'stderr');
      await sub.waitFor((m) => m.topic === `smbnotify/$watch/127.0.0.1:${samba.port}/data/full`);
      // The segment the queue will write first (nothing was queued yet: the broker took every
      // event directly) made a folder: every write to it fails, as on a full disk.
      mkdirSync(join(queue, '0001000000000001.jsonl'));
      await away.stop();
      await d.waitLine(/^mqtt: lost the broker/, 20_000, 'stderr');
      for (let i = 0; i < 10; i++) {
        closeSync(openSync(join(samba.sharePath, 'full', `lost ${i}.pdf`), 'w'));
        await new Promise((r) => setTimeout(r, 400));
      }
      // One queue write per change or so, each failing: about ten.
      await d.waitLine(/^mqtt: MQTT queue .*EISDIR/, 20_000, 'stderr');
      await new Promise((r) => setTimeout(r, 2000));
      const said = d.stderr.filter((l) => /^mqtt: MQTT queue .*EISDIR/.test(l));
      expect(said.length).toBeLessThanOrEqual(4);
      expect(said[0]).toMatch(/; events that could not be written are dropped, an OVERFLOW event will tell subscribers which folders to list again$/);
      expect(said.at(-1)).toMatch(/\d+ times in a row, said again at \d+$/);
      await away.start();
      const overflow = await sub.waitFor((m) => m.topic === `smbnotify/127.0.0.1:${samba.port}/data/full` && m.payload.includes('"OVERFLOW"'), 30_000);
      expect(JSON.parse(overflow.payload)).toMatchObject({ event: 'OVERFLOW', path: 'full', watchId: 'w1', message: expect.stringMatching(/^MQTT queue could not be written: \d+ events were not sent; list the folder again$/) });
      await d.waitLine(/^mqtt: the broker took the queue; \d+ events had been dropped, OVERFLOW sent for the watches concerned$/, 20_000, 'stderr');
    } finally {
      d.child.kill('SIGTERM');
      expect((await d.exit).code).toBe(0);
      await sub.end();
    }
  });

  it('SIGHUP after [mqtt] was edited says that only a restart applies it; an unchanged [mqtt] says nothing', async () => {
    const config = join(dir, 'config');
    const text = readFileSync(config, 'utf8');
    const lineOf = async () => {
      const from = daemon.stderr.length;
      daemon.child.kill('SIGHUP');
      await until(() => daemon.stderr.slice(from).some((l) => /^reloaded config: /.test(l)), 'reloaded');
      return daemon.stderr.slice(from).find((l) => /^reloaded config: /.test(l))!;
    };
    try {
      expect(await lineOf()).toBe('reloaded config: 1 watch');
      writeFileSync(config, text.replace('client-id = laptop-1', 'client-id = laptop-2'));
      expect(await lineOf()).toBe('reloaded config: 1 watch; [mqtt] changed: it is read at start only, restart the daemon to apply it (it still publishes with the settings it started with)');
    } finally {
      writeFileSync(config, text);
    }
  });

  it('a broker that freezes with its sockets open (SIGSTOP, like a Wi-Fi drop): the loss is said in words, and the events sent meanwhile arrive', { timeout: 150_000 }, async () => {
    await until(async () => (await status())[1] === `MQTT ${broker.url}: connected`, 'connected');
    const sub = await subscribe(broker.url, ['smbnotify/#']);
    const from = daemon.stderr.length;
    broker.signal('SIGSTOP');
    try {
      closeSync(openSync(join(samba.sharePath, 'docs', 'sent to a frozen broker.odt'), 'w'));
      // Keep-alive 30 s: the ping goes unanswered, MQTT.js gives up on the connection.
      await until(() => daemon.stderr.slice(from).some((l) => /^mqtt: lost the broker/.test(l)), 'the loss said', 90_000);
    } finally {
      broker.signal('SIGCONT');
    }
    const said = daemon.stderr.slice(from).filter((l) => l.startsWith('mqtt: '));
    expect(said[0]).toMatch(/^mqtt: lost the broker mqtt:\/\/127\.0\.0\.1:\d+: it stopped answering \(no reply to a keep-alive ping\); queueing events in /);
    expect(said.join('\n')).not.toMatch(/Keepalive timeout/);
    await sub.waitFor((m) => m.payload.includes('sent to a frozen broker.odt'), 60_000);
    await sub.end();
  });
});
