// The broker goes away in the middle of a burst: events wait on disk and arrive in order once it
// is back, so that the MQTT stream applied to the starting listing gives the final listing. And
// when the queue's bound is hit: said in the log, an OVERFLOW for the watch once there is room,
// and the daemon keeps going.
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startMosquitto, stopAllMosquitto, subscribe, type Mosquitto, type Subscriber } from '../support/mosquitto.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { applyStream, diskTree, setDiff } from '../support/stream.js';
import type { WatchEvent } from '../../src/watch/events.js';
import { until } from '../support/until.js';

let samba: SambaServer;
let cred: string;
let dir: string;

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  cred = credentialsFile(samba);
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-mqtt-burst-'));
});

afterAll(async () => {
  await stopAllMosquitto();
  await stopAllSamba();
  rmSync(dir, { recursive: true, force: true });
});

function createFiles(sub: string, from: number, to: number, prefix: string): void {
  mkdirSync(join(samba.sharePath, sub), { recursive: true });
  for (let i = from; i < to; i++) closeSync(openSync(join(samba.sharePath, sub, `${prefix}-${i}.dat`), 'w'));
}

function lines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Payloads of event topics, each once (QoS 1 may repeat one across a broken connection), in arrival order. */
function eventPayloads(s: Subscriber): { unique: string[]; repeats: number } {
  const seen = new Set<string>();
  const unique: string[] = [];
  let repeats = 0;
  for (const m of s.messages) {
    if (m.topic.includes('/$')) continue;
    if (seen.has(m.payload)) repeats++;
    else {
      seen.add(m.payload);
      unique.push(m.payload);
    }
  }
  return { unique, repeats };
}

function startDaemon(journal: string, config: string): Running {
  return runCli(['daemon', '--bus', 'none', '--journal', journal, '--config', config, '-A', cred], { XDG_STATE_HOME: dir });
}

/**
 * A broker that is down, with a persistent subscriber session waiting on it (the broker keeps
 * what arrives for it), and a daemon config watching `folder` with `mqtt` extra keys.
 */
async function brokerAway(name: string, folder: string, mqtt = ''): Promise<{ broker: Mosquitto; sub: Subscriber; journal: string; config: string; queue: string }> {
  const broker = await startMosquitto({ persistence: true });
  const sub = await subscribe(broker.url, [`smbnotify/127.0.0.1:${samba.port}/data/#`], { clean: false, clientId: `${name}-subscriber` });
  await broker.stop();
  const journal = join(dir, `${name}.jsonl`);
  const config = join(dir, `${name}.conf`);
  const queue = join(dir, `queue-${name}`);
  writeFileSync(config, `[daemon]\nfollow-desktop = no\n[watch ${name}]\ntarget = smb://127.0.0.1:${samba.port}/data/${folder}\n[mqtt]\nurl = ${broker.url}\nqueue = ${queue}\n${mqtt}`);
  mkdirSync(join(samba.sharePath, folder), { recursive: true });
  return { broker, sub, journal, config, queue };
}

async function stopDaemon(d: Running): Promise<void> {
  d.child.kill('SIGTERM');
  expect((await d.exit).code).toBe(0);
}

describe('broker restarted during a 10,000-file burst', () => {
  it('the MQTT stream equals the journal, in order, and rebuilds the final listing', async () => {
    const broker = await startMosquitto({ persistence: true });
    // A persistent session: the broker keeps what arrives for it while it is restarting.
    const sub = await subscribe(broker.url, [`smbnotify/127.0.0.1:${samba.port}/data/#`], { clean: false, clientId: 'burst-subscriber' });
    const journal = join(dir, 'burst.jsonl');
    const config = join(dir, 'burst.conf');
    writeFileSync(config, `[daemon]\nfollow-desktop = no\n[watch share]\ntarget = smb://127.0.0.1:${samba.port}/data\nrecursive = yes\n[mqtt]\nurl = ${broker.url}\nqueue = ${join(dir, 'queue-burst')}\n`);
    createFiles('pre', 0, 10, 'old');
    const d = startDaemon(journal, config);
    try {
      await d.waitLine(/mqtt: connected/, 20_000, 'stderr');
      await sub.waitFor((m) => m.payload.includes('"state":"watching"'), 20_000);
      const start = diskTree(samba.sharePath);

      createFiles('burst', 0, 5000, 'f');
      await broker.stop();
      createFiles('burst', 5000, 10_000, 'f');
      for (let i = 0; i < 100; i++) rmSync(join(samba.sharePath, 'burst', `f-${i}.dat`));
      for (let i = 100; i < 200; i++) renameSync(join(samba.sharePath, 'burst', `f-${i}.dat`), join(samba.sharePath, 'burst', `f-${i}.renamed`));
      await d.waitLine(/mqtt: lost the broker/, 20_000, 'stderr');
      await new Promise((r) => setTimeout(r, 2000));
      await broker.start();
      await until(() => d.stderr.filter((l) => /mqtt: connected/.test(l)).length >= 2, 'daemon reconnected', 30_000);
      // Events made while the broker was away did wait on disk.
      expect(d.stderr.filter((l) => /mqtt: connected/.test(l))[1]).toMatch(/sending [\d.]+ [KM]iB of queued events/);
      createFiles('after', 0, 100, 'b');

      // Done: the journal has stopped growing and every line of it arrived.
      let size = -1;
      await until(() => {
        const n = lines(journal).length;
        const stable = n === size;
        size = n;
        return stable && eventPayloads(sub).unique.length >= n && lines(journal).some((l) => l.includes('after/b-99.dat'));
      }, 'every journal line on MQTT', 240_000);

      const { unique, repeats } = eventPayloads(sub);
      expect(unique).toEqual(lines(journal));
      const events = unique.map((p) => JSON.parse(p) as WatchEvent);
      const seqs = events.map((e) => e.seq);
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
      const rebuilt = applyStream(start, events);
      const disk = diskTree(samba.sharePath);
      expect(setDiff(rebuilt, disk)).toEqual({ missing: [], extra: [] });
      expect(rebuilt.size).toBe(disk.size);
      expect(readdirSync(join(dir, 'queue-burst'))).toEqual([]);
      console.log(`mqtt burst: ${events.length} events, ${repeats} repeated by QoS 1 across the restart, ${events.filter((e) => e.event === 'OVERFLOW').length} server overflows`);
    } finally {
      await stopDaemon(d);
      await sub.end();
    }
  }, 300_000);
});

describe('queue bound', () => {
  it('says so, drops, then sends an OVERFLOW for the watch once there is room, and keeps going', async () => {
    const { broker, sub, journal, config } = await brokerAway('bound', 'small', 'queue-max-size = 16K\n');
    const d = startDaemon(journal, config);
    try {
      await d.waitLine(/cannot reach the broker .*connection refused/, 20_000, 'stderr');
      await until(() => lines(journal).some((l) => l.includes('"state":"watching"')), 'watching', 20_000);
      createFiles('small', 0, 300, 'q');
      await d.waitLine(/mqtt: the queue in .* is full/, 20_000, 'stderr');
      await until(() => lines(journal).some((l) => l.includes('q-299.dat')), 'journal complete', 30_000);
      await broker.start();
      const overflow = await sub.waitFor((m) => m.payload.includes('"event":"OVERFLOW"'), 30_000);
      const e = JSON.parse(overflow.payload) as WatchEvent & { watchId: string };
      expect(e).toMatchObject({ event: 'OVERFLOW', server: `127.0.0.1:${samba.port}`, share: 'data', path: 'small', watchId: 'w1' });
      expect(e.message).toMatch(/MQTT queue full: \d+ events were not sent; list the folder again/);
      expect(overflow.topic).toBe(`smbnotify/127.0.0.1:${samba.port}/data/small`);
      // Keeps going: a later change arrives after the OVERFLOW.
      touchLater();
      const after = await sub.waitFor((m) => m.payload.includes('after-overflow.dat'), 20_000);
      expect(sub.messages.indexOf(after)).toBeGreaterThan(sub.messages.indexOf(overflow));
      // What did arrive before it is the journal's beginning, in order; the OVERFLOW counts the rest.
      const delivered = eventPayloads(sub).unique;
      const before = delivered.slice(0, delivered.indexOf(overflow.payload));
      // The journal is written on its own schedule: MQTT may deliver a line before it is there.
      await until(() => lines(journal).some((l) => l.includes('after-overflow.dat')), 'after-overflow in the journal', 20_000);
      const all = lines(journal);
      expect(before).toEqual(all.slice(0, before.length));
      const lost = all.indexOf(all.find((l) => l.includes('after-overflow.dat'))!) - before.length;
      expect(e.message).toContain(`${lost} events were not sent`);
      expect(d.stderr.some((l) => /the queue has room again/.test(l))).toBe(true);
    } finally {
      await stopDaemon(d);
      await sub.end();
    }
  }, 120_000);
});

describe('queue on disk across a daemon restart', () => {
  it('events queued while the broker was away are sent by the next run, first and in order', async () => {
    const { broker, sub, journal, config, queue } = await brokerAway('restart', 'restart');
    const first = startDaemon(journal, config);
    try {
      await until(() => lines(journal).some((l) => l.includes('"state":"watching"')), 'watching', 20_000);
      createFiles('restart', 0, 50, 'r');
      await until(() => lines(journal).some((l) => l.includes('r-49.dat')), 'journal', 20_000);
    } finally {
      await stopDaemon(first);
    }
    const queued = lines(journal);
    expect(readdirSync(queue).length).toBeGreaterThan(0);
    await broker.start();
    const second = startDaemon(journal, config);
    try {
      await second.waitLine(/mqtt: connected to .*; sending [\d.]+ [KM]iB of queued events/, 20_000, 'stderr');
      await until(() => lines(journal).filter((l) => l.includes('"state":"watching"')).length >= 2, 'the second run watching', 20_000);
      createFiles('restart', 50, 51, 'r');
      await sub.waitFor((m) => m.payload.includes('r-50.dat'), 20_000);
      const got = eventPayloads(sub).unique;
      // The first run's events (its whole journal so far) come first, in order.
      expect(got.slice(0, queued.length)).toEqual(queued);
      expect(got.indexOf(got.find((p) => p.includes('r-50.dat'))!)).toBeGreaterThanOrEqual(queued.length);
    } finally {
      await stopDaemon(second);
      await sub.end();
    }
  }, 120_000);
});

function touchLater(): void {
  closeSync(openSync(join(samba.sharePath, 'small', 'after-overflow.dat'), 'w'));
}
