// A broker outage as an administrator sees it, against a real smbd, dbus-daemon and Mosquitto:
// the daemon's log names the queue's bound as it was set (200K, not "0 MiB").
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startDbus, type DbusBus } from '../support/dbus.js';
import { startMosquitto, stopAllMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';

let samba: SambaServer;
let bus: DbusBus;
let broker: Mosquitto;
let dir: string;
let daemon: Running;
const journal = () => join(dir, 'events.jsonl');

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
});
