// The fixed-shape encoder of the Event signal gives the same bytes as dbus-next's generic
// marshaller (the reference: Message.newSignal + its marshallMessage) for events of every shape;
// dbus-next's own parser reads them back to the same dictionary. What real D-Bus tools print for
// it is checked in test/integration/dbus-api.test.ts.
import { createRequire } from 'node:module';
import dbus from 'dbus-next';
import { describe, expect, it } from 'vitest';
import { eventDict } from '../../src/sinks/dbus-api.js';
import { EventSignalEncoder } from '../../src/sinks/dbus-event-signal.js';
import type { DaemonEvent } from '../../src/sinks/types.js';

const require = createRequire(import.meta.url);
// dbus-next 0.10.2 internals, as its connection uses them to write and read a message.
const { marshallMessage, messageToJsFmt } = require('dbus-next/lib/marshall-compat.js') as {
  marshallMessage(msg: dbus.Message): [Buffer, number[]];
  messageToJsFmt(msg: unknown): dbus.Message;
};
const { unmarshall } = require('dbus-next/lib/message.js') as { unmarshall(buf: Buffer): unknown };

const PATH = '/io/github/smbnotify';
const IFACE = 'io.github.smbnotify.Watcher1';

function reference(e: DaemonEvent, serial: number): Buffer {
  const msg = dbus.Message.newSignal(PATH, IFACE, 'Event', 'a{sv}', [eventDict(e)]);
  msg.serial = serial;
  return marshallMessage(msg)[0];
}

const base: DaemonEvent = {
  seq: 1, time: '2025-01-02T03:04:05.678Z', event: 'CREATE', server: 'nas', share: 'data',
  path: 'docs/My Report #1.txt', localPath: '/mnt/data/docs/My Report #1.txt', source: 'notify',
  action: 1, isDir: false, watch: 'docs', watchId: 'w1',
};

const cases: Array<[string, DaemonEvent]> = [
  ['a CREATE with every usual field', base],
  ['a MOVED_TO with oldPath and a stream, seq past 2^32', { ...base, seq: 2 ** 40 + 12345, event: 'MOVED_TO', oldPath: 'docs/old.txt', stream: 'Zone.Identifier', isDir: true }],
  ['a STATE event', { seq: 7, time: base.time, event: 'STATE', server: 'nas', share: 'data', path: 'docs', state: 'reconnecting', message: 'connection lost: ECONNRESET', watch: 'docs', watchId: 'w3' }],
  ['the fewest fields', { seq: 0, time: '', event: 'DELETE', server: '', share: '', path: '', watchId: '' }],
  ['names with two-, three- and four-byte UTF-8', { ...base, path: 'docs/ü Ж 漢 😀.txt', localPath: undefined }],
  ['a NUL and lone surrogates (replaced as on the generic path)', { ...base, path: 'bad\u0000name\ud800x\udc00.txt' }],
  ['an OVERFLOW with a message, seq at the uint64 safe-integer edge', { ...base, seq: Number.MAX_SAFE_INTEGER, event: 'OVERFLOW', message: 'the server dropped changes', action: 0xffffffff }],
];

describe('EventSignalEncoder', () => {
  const encoder = new EventSignalEncoder(PATH, IFACE);
  for (const [what, e] of cases) {
    it(`${what}: the same bytes as dbus-next's marshaller`, () => {
      const ours = encoder.encode(e, 4242);
      expect(ours.toString('hex')).toBe(reference(e, 4242).toString('hex'));
    });
  }

  it("reads back with dbus-next's parser to the event's dictionary", () => {
    const e = cases[1]![1];
    const msg = messageToJsFmt(unmarshall(encoder.encode(e, 9)));
    expect(msg.serial).toBe(9);
    expect(msg.member).toBe('Event');
    expect(msg.path).toBe(PATH);
    expect(msg.interface).toBe(IFACE);
    expect(msg.signature).toBe('a{sv}');
    const dict = msg.body[0] as Record<string, dbus.Variant>;
    expect(Object.keys(dict)).toEqual(Object.keys(eventDict(e)));
    expect(dict['seq']!.value).toBe(BigInt(e.seq));
    expect(dict['isDir']!.value).toBe(true);
    expect(dict['stream']!.value).toBe('Zone.Identifier');
  });

  it('every message stands alone: a serial per call, no shared buffer', () => {
    const a = encoder.encode(base, 1);
    const b = encoder.encode({ ...base, path: 'other' }, 2);
    expect(a.readUInt32LE(8)).toBe(1);
    expect(b.readUInt32LE(8)).toBe(2);
    expect(a.toString('hex')).toBe(reference(base, 1).toString('hex'));
  });
});
