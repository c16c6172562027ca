// `smbnotify monitor --mqtt` on an unreliable network, against a real Mosquitto and a real daemon
// watching a real smbd: its own connection drops while the daemon goes on publishing (a laptop's
// Wi-Fi), the broker is restarted wanting a login, then restarted as before. The monitor must
// miss nothing silently, keep retrying, and say a repeated failure at attempts 1, 2, 4, 8…
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startMosquitto, stopAllMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { freePort, startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { until } from '../support/until.js';

let samba: SambaServer;
let broker: Mosquitto;
let dir: string;
let daemon: Running;
const journal = () => join(dir, 'events.jsonl');

function touch(rel: string): void {
  closeSync(openSync(join(samba.sharePath, rel), 'w'));
}

/**
 * A TCP relay to the broker standing for the monitor's network: `down()` resets its connections
 * and stops listening (connection refused, as when the Wi-Fi is gone), `up()` listens again on
 * the same port. The broker itself, and the daemon's connection to it, carry on.
 */
async function networkTo(port: number): Promise<{ url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const local = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const up = () => new Promise<void>((resolve, reject) => {
    server = createServer((client) => {
      const upstream = connect(port, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    server.once('error', reject);
    server.listen(local, '127.0.0.1', () => resolve());
  });
  const down = async () => {
    for (const s of sockets) s.resetAndDestroy();
    const s = server as Server | null;
    server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await up();
  return { url: `mqtt://127.0.0.1:${local}`, up, down, close: down };
}

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-mqtt-monitor-'));
  samba = await startSamba();
  broker = await startMosquitto();
  mkdirSync(join(samba.sharePath, 'scans'));
  daemon = runCli(['daemon', '--bus', 'none', '--journal', journal(), '--watch', `smb://127.0.0.1:${samba.port}/data/scans`, '-r', '-A', credentialsFile(samba), '--mqtt', broker.url], { XDG_STATE_HOME: dir });
  await daemon.waitLine(/daemon running/, 20_000, 'stderr');
  await daemon.waitLine(/watching/, 20_000, 'stderr');
}, 90_000);

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exit;
  }
  await stopAllMosquitto();
  await stopAllSamba();
  rmSync(dir, { recursive: true, force: true });
});

describe('monitor --mqtt started after the daemon', () => {
  it("shows each watch's current state at once, from the retained $watch message, and once", { timeout: 60_000 }, async () => {
    const mon = runCli(['monitor', '--mqtt', broker.url, '--json']);
    try {
      await mon.waitLine(/listening/, 15_000, 'stderr');
      // The daemon said "watching" long before: only the broker's retained copy can tell.
      const state = JSON.parse(await mon.waitLine(/"event":"STATE"/, 15_000)) as Record<string, unknown>;
      expect(state).toMatchObject({ event: 'STATE', state: 'watching', share: 'data', path: 'scans', watchId: 'w1' });
      touch('scans/late monitor.pdf');
      await mon.waitLine(/"event":"CREATE".*late monitor\.pdf/, 15_000);
      // The live STATE events and the retained copies are the same events: each printed once.
      expect(mon.stdout.filter((l) => l.includes('"event":"STATE"'))).toHaveLength(1);
    } finally {
      mon.child.kill('SIGTERM');
      expect((await mon.exit).code).toBe(143);
    }
  });
});

describe('monitor --mqtt on an unreliable network', () => {
  it('its own connection drops while the daemon publishes: the events come when it is back, once; the failures are said at 1, 2, 4', { timeout: 90_000 }, async () => {
    const net = await networkTo(broker.port);
    const mon = runCli(['monitor', '--mqtt', net.url]);
    try {
      await mon.waitLine(/listening/, 15_000, 'stderr');
      touch('scans/before.pdf');
      await mon.waitLine(/CREATE +before\.pdf/, 15_000);
      await net.down();
      await mon.waitLine(/lost the broker/, 15_000, 'stderr');
      touch('scans/while away 1.pdf');
      touch('scans/while away 2.pdf');
      // The daemon, still connected, published them (MQTT sends before the journal is written).
      await until(() => readFileSync(journal(), 'utf8').includes('while away 2.pdf'), 'the daemon published the changes');
      // Five attempts or more at one every 2 s: said at the 1st, 2nd and 4th only.
      await until(() => mon.stderr.filter((l) => /cannot reach the broker/.test(l)).length >= 3, 'the 4th failure said', 30_000);
      await new Promise((r) => setTimeout(r, 4000));
      await net.up();
      await mon.waitLine(/connected to the broker again/, 20_000, 'stderr');
      await mon.waitLine(/CREATE +while away 2\.pdf/, 15_000);
      expect(mon.stdout.filter((l) => /CREATE +while away 1\.pdf/.test(l))).toHaveLength(1);
      const failures = mon.stderr.filter((l) => /cannot reach the broker/.test(l));
      expect(failures).toEqual([
        expect.stringMatching(/connection refused$/),
        expect.stringMatching(/2 times in a row, said again at 4$/),
        expect.stringMatching(/4 times in a row, said again at 8$/),
      ]);
      expect(mon.stderr.join('\n')).not.toMatch(/missed|EPIPE|ECONNRESET/);
    } finally {
      mon.child.kill('SIGTERM');
      expect((await mon.exit).code).toBe(143);
      await net.close();
    }
  });

  it('the broker restarted wanting a login, then as before: said once, retried, missed events said, then printed again', { timeout: 90_000 }, async () => {
    const mon = runCli(['monitor', '--mqtt', broker.url]);
    try {
      await mon.waitLine(/listening/, 15_000, 'stderr');
      await broker.stop();
      await broker.start({ users: { someone: 'else' } });
      await mon.waitLine(/refused the connection: Not authorized/, 20_000, 'stderr');
      // Retried (a monitor that gave up would have exited here).
      await new Promise((r) => setTimeout(r, 5000));
      expect(mon.child.exitCode).toBeNull();
      await broker.stop();
      await broker.start({ users: undefined });
      // This broker keeps no sessions across a restart: what was published meanwhile is lost to
      // the monitor, and it says so.
      await mon.waitLine(/connected to the broker again, but .*missed/, 20_000, 'stderr');
      await until(() => daemon.stderr.filter((l) => /mqtt: connected/.test(l)).length >= 2, 'the daemon connected again');
      touch('scans/after the restarts.pdf');
      await mon.waitLine(/CREATE +after the restarts\.pdf/, 20_000);
      expect(mon.stderr.filter((l) => /Not authorized/.test(l)).length).toBeLessThanOrEqual(3);
    } finally {
      mon.child.kill('SIGTERM');
      expect((await mon.exit).code).toBe(143);
    }
  });
});
