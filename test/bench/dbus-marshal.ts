// Micro-benchmark: the cost of turning one event into the bytes of its D-Bus `Event` signal, in
// this process, no bus: dbus-next's generic path (the a{sv} of Variants, Message.newSignal, its
// marshaller, as DbusApi used it) against the fixed-shape encoder (src/sinks/dbus-event-signal.ts).
// Run after `npm run bench` built it: `node dist-bench/test/bench/dbus-marshal.js`.
import { createRequire } from 'node:module';
import dbus from 'dbus-next';
import { eventDict, INTERFACE, OBJECT_PATH } from '../../src/sinks/dbus-api.js';
import { EventSignalEncoder } from '../../src/sinks/dbus-event-signal.js';
import type { DaemonEvent } from '../../src/sinks/types.js';
import { fmt, ms, now } from './lib/stats.js';

const require = createRequire(import.meta.url);
const { marshallMessage } = require('dbus-next/lib/marshall-compat.js') as { marshallMessage(msg: dbus.Message): [Buffer, number[]] };

const event = (seq: number): DaemonEvent => ({
  seq, time: new Date(1_700_000_000_000 + seq).toISOString(), event: 'CREATE', server: 'nas', share: 'data',
  path: `projects/2026/report-${seq}.txt`, localPath: `/mnt/data/projects/2026/report-${seq}.txt`, source: 'notify',
  action: 1, isDir: false, watch: 'projects/2026', watchId: 'w1',
});

function perEvent(label: string, n: number, fn: (i: number) => Buffer): number {
  let bytes = 0;
  for (let i = 0; i < 2000; i++) bytes += fn(i).length; // warm-up: the JIT, the allocator
  const t0 = now();
  for (let i = 0; i < n; i++) bytes += fn(i).length;
  const us = (ms(t0, now()) * 1000) / n;
  process.stdout.write(`${label.padEnd(58)} ${fmt(us, 2).padStart(7)} µs per event (${bytes > 0 ? 'ok' : ''})\n`);
  return us;
}

const n = Number(process.argv[2] ?? 50_000);
const encoder = new EventSignalEncoder(OBJECT_PATH, INTERFACE);
let serial = 1;
const generic = perEvent('dbus-next: eventDict + newSignal + marshallMessage', n, (i) => {
  const msg = dbus.Message.newSignal(OBJECT_PATH, INTERFACE, 'Event', 'a{sv}', [eventDict(event(i))]);
  msg.serial = serial++;
  return marshallMessage(msg)[0];
});
const fixed = perEvent('fixed shape: EventSignalEncoder.encode', n, (i) => encoder.encode(event(i), serial++));
const base = perEvent('(the event object alone, for reference)', n, (i) => Buffer.from(event(i).path));
process.stdout.write(`fixed shape ÷ generic: ${fmt(fixed / generic, 3)}× (${fmt(generic / fixed, 1)} times faster); ${n} events each\n`);
void base;
