// A broker with TLS (certificates made by openssl here) and a password file: the daemon logs in
// with the password from a 0600 file, checks the broker's certificate against the configured CA;
// a wrong password is one clear log line, retried quietly, and the journal keeps being written.
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { makeCertificates, mosquittoSub, startMosquitto, stopAllMosquitto, subscribe, type Mosquitto } from '../support/mosquitto.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { until } from '../support/until.js';

const PASSWORD = 'tls pa$$word';
let samba: SambaServer;
let broker: Mosquitto;
let certs: ReturnType<typeof makeCertificates>;
let dir: string;
let cred: string;

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-mqtt-tls-'));
  certs = makeCertificates(dir);
  samba = await startSamba({});
  cred = credentialsFile(samba);
  mkdirSync(join(samba.sharePath, 'tls'), { recursive: true });
  broker = await startMosquitto({ tls: certs, users: { smbnotify: PASSWORD, reader: 'reader-pw' } });
});

afterAll(async () => {
  await stopAllMosquitto();
  await stopAllSamba();
  rmSync(dir, { recursive: true, force: true });
});

function journalLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function daemon(name: string, mqtt: string, env: Record<string, string> = {}): { d: Running; journal: string } {
  const journal = join(dir, `${name}.jsonl`);
  const config = join(dir, `${name}.conf`);
  writeFileSync(config, `[daemon]\nfollow-desktop = no\n[watch tls]\ntarget = smb://127.0.0.1:${samba.port}/data/tls\n[mqtt]\nurl = ${broker.url}\nqueue = ${join(dir, `queue-${name}`)}\nclient-id = ${name}\n${mqtt}`);
  return { d: runCli(['daemon', '--bus', 'none', '--journal', journal, '--config', config, '-A', cred], { XDG_STATE_HOME: dir, ...env }), journal };
}

async function stop(d: Running): Promise<void> {
  d.child.kill('SIGTERM');
  expect((await d.exit).code).toBe(0);
}

describe('MQTT over TLS with a password', () => {
  it('publishes with the password from a 0600 file, the broker checked against the CA', async () => {
    const pw = join(dir, 'mqtt-password');
    writeFileSync(pw, `${PASSWORD}\n`, { mode: 0o600 });
    const sub = await subscribe(broker.url, ['smbnotify/#'], { ca: readFileSync(certs.ca), username: 'reader', password: 'reader-pw' });
    const cli = mosquittoSub(['-h', '127.0.0.1', '-p', String(broker.port), '--cafile', certs.ca, '-u', 'reader', '-P', 'reader-pw', '-q', '1', '-t', `smbnotify/127.0.0.1:${samba.port}/data/tls/#`, '-F', '%t\t%p']);
    const { d, journal } = daemon('good', `username = smbnotify\npassword-file = ${pw}\nca = ${certs.ca}\n`);
    try {
      await d.waitLine(/mqtt: connected to mqtts:\/\/127\.0\.0\.1/, 20_000, 'stderr');
      await sub.waitFor((m) => m.topic === `smbnotify/$watch/127.0.0.1:${samba.port}/data/tls` && m.payload.includes('"watching"'));
      // mosquitto_sub says nothing when subscribed: create files until it prints one.
      for (let i = 0; i < 50 && !cli.lines.some((l) => l.includes('probe-')); i++) {
        closeSync(openSync(join(samba.sharePath, 'tls', `probe-${i}.txt`), 'w'));
        await new Promise((r) => setTimeout(r, 200));
      }
      closeSync(openSync(join(samba.sharePath, 'tls', 'secret report.pdf'), 'w'));
      const m = await sub.waitFor((x) => x.topic === `smbnotify/127.0.0.1:${samba.port}/data/tls/secret report.pdf`);
      await until(() => journalLines(journal).includes(m.payload), 'the same line in the journal');
      await until(() => cli.lines.some((l) => l === `smbnotify/127.0.0.1:${samba.port}/data/tls/secret report.pdf\t${m.payload}`), 'mosquitto_sub over TLS');
      const status = await sub.waitFor((x) => x.topic === 'smbnotify/$status/good');
      expect(status.payload).toBe('online');
      expect(d.stderr.join('\n')).not.toContain(PASSWORD);
    } finally {
      await stop(d);
      await cli.stop();
      await sub.end();
    }
  });

  it('a wrong password: one clear line, retried without flooding the log, journal still written', async () => {
    const { d, journal } = daemon('wrong', `username = smbnotify\nca = ${certs.ca}\n`, { SMBNOTIFY_MQTT_PASSWORD: 'not the password' });
    try {
      const line = await d.waitLine(/mqtt: the broker mqtts:\/\/127\.0\.0\.1:\d+ refused the connection/, 20_000, 'stderr');
      expect(line).toMatch(/Not authorized \(check the user name and the password file\); retrying every 2 s, events are queued meanwhile/);
      await until(() => journalLines(journal).some((l) => l.includes('"state":"watching"')), 'watching');
      closeSync(openSync(join(samba.sharePath, 'tls', 'while refused.txt'), 'w'));
      await until(() => journalLines(journal).some((l) => l.includes('while refused.txt')), 'journal written while the broker refuses');
      await new Promise((r) => setTimeout(r, 5000)); // two more attempts at least
      expect(d.stderr.filter((l) => /refused the connection/.test(l))).toHaveLength(1);
      expect(d.stderr.join('\n')).not.toContain('not the password');
      expect(broker.log()).toMatch(/not authori[sz]ed/i);
    } finally {
      await stop(d);
    }
  });

  it('a broker certificate the CA did not sign: a clear TLS error', async () => {
    const other = mkdtempSync(join(dir, 'other-ca-'));
    const otherCerts = makeCertificates(other);
    const { d } = daemon('untrusted', `username = smbnotify\nca = ${otherCerts.ca}\n`, { SMBNOTIFY_MQTT_PASSWORD: PASSWORD });
    try {
      const line = await d.waitLine(/mqtt: TLS with the broker/, 20_000, 'stderr');
      expect(line).toMatch(/TLS with the broker mqtts:\/\/127\.0\.0\.1:\d+ failed: self[- ]signed certificate in certificate chain; retrying/);
    } finally {
      await stop(d);
    }
  });

  it('a client certificate: accepted by a broker that requires one; without it, a clear TLS error', async () => {
    const strict = await startMosquitto({ tls: certs, requireCertificate: true });
    const sub = await subscribe(strict.url, ['smbnotify/#'], { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
    const withCert = daemon('cert', `url = ${strict.url}\nca = ${certs.ca}\ncert = ${certs.clientCert}\nkey = ${certs.clientKey}\n`);
    const without = daemon('nocert', `url = ${strict.url}\nca = ${certs.ca}\n`);
    try {
      await withCert.d.waitLine(/mqtt: connected to mqtts:/, 20_000, 'stderr');
      await sub.waitFor((m) => m.topic === 'smbnotify/$status/cert' && m.payload === 'online');
      const line = await without.d.waitLine(/mqtt: TLS with the broker/, 20_000, 'stderr');
      expect(line).toMatch(/TLS with the broker mqtts:\/\/127\.0\.0\.1:\d+ failed: tlsv13 alert certificate required \(the broker wants a client certificate: set cert and key in \[mqtt\]\)/);
      expect(without.d.stderr.some((l) => /mqtt: connected/.test(l))).toBe(false);
    } finally {
      await stop(withCert.d);
      await stop(without.d);
      await sub.end();
    }
  });

  it('TLS on one side only (mqtt:// to the TLS port, mqtts:// to a plain one): a line that asks about it, not "read ECONNRESET"', async () => {
    const plain = await startMosquitto();
    const tcpToTls = daemon('tcp-to-tls', `url = mqtt://127.0.0.1:${broker.port}\n`);
    const tlsToTcp = daemon('tls-to-tcp', `url = mqtts://127.0.0.1:${plain.port}\nca = ${certs.ca}\n`);
    try {
      const a = await tcpToTls.d.waitLine(/^mqtt: /, 20_000, 'stderr');
      expect(a).toMatch(/^mqtt: the broker mqtt:\/\/127\.0\.0\.1:\d+ closed the connection before answering \(does that port want TLS: mqtts:\/\/ or wss:\/\/\?\); retrying every 2 s/);
      const b = await tlsToTcp.d.waitLine(/^mqtt: /, 20_000, 'stderr');
      expect(b).toMatch(/^mqtt: the broker mqtts:\/\/127\.0\.0\.1:\d+ closed the connection before answering \(does that port want plain MQTT: mqtt:\/\/ or ws:\/\/\?\); retrying every 2 s/);
      const mon = runCli(['monitor', '--mqtt', `mqtt://127.0.0.1:${broker.port}`]);
      expect((await mon.exit).code).toBe(1);
      expect(mon.stderr).toEqual([expect.stringMatching(/^smbnotify: the broker mqtt:\/\/127\.0\.0\.1:\d+ closed the connection before answering \(does that port want TLS/)]);
    } finally {
      await stop(tcpToTls.d);
      await stop(tlsToTcp.d);
    }
  });

  it('refuses a password in the URL before starting, without repeating it', async () => {
    const r = runCli(['daemon', '--bus', 'none', '--journal', 'off', '--watch', `smb://127.0.0.1:${samba.port}/data`, '-A', cred, '--mqtt', `mqtts://smbnotify:${encodeURIComponent(PASSWORD)}@127.0.0.1:${broker.port}`]);
    const { code } = await r.exit;
    expect(code).toBe(1);
    expect(r.stderr.filter(Boolean)).toEqual([expect.stringMatching(/^smbnotify: a password in the MQTT URL would be readable by others/)]);
    expect(r.stderr.join('\n')).not.toContain('pa$$');
  });
});
