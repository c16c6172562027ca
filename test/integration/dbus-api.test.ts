// The daemon's D-Bus API driven the way users and scripts drive it: gdbus, busctl and
// dbus-monitor on a private dbus-daemon. The DaemonControl here is a small in-test daemon side
// (it records what reached it); D-Bus itself is real.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import dbus from 'dbus-next';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/config/errors.js';
import type { AddWatchOptions, DaemonControl, DaemonEvent, DaemonStatus, WatchStatus } from '../../src/sinks/types.js';
import { connectBus, type MessageBus } from '../../src/sinks/bus.js';
import { DbusApi, eventDict } from '../../src/sinks/dbus-api.js';
import { KDirNotifySink } from '../../src/sinks/kdirnotify.js';
import { dbusMonitor, monitorReady, startDbus, type DbusBus } from '../support/dbus.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);
const NAME = 'io.github.smbnotify';
const PATH = '/io/github/smbnotify';
const IFACE = 'io.github.smbnotify.Watcher1';

const gdbus = requireTool('gdbus', 'libglib2.0-bin');
const busctl = requireTool('busctl', 'systemd');

/** The daemon's side: remembers what it was asked, answers like the real one. */
class TestControl implements DaemonControl {
  calls: Array<{ op: string; target?: string; opts?: AddWatchOptions; id?: string }> = [];
  watches: WatchStatus[] = [
    {
      id: 'w1', target: '//nas/data/docs', label: '//nas/data/docs', origin: 'config', recursive: true,
      state: 'watching', message: 'connected', dialect: '3.1.1', encryption: null, signing: 'AES-128-GMAC',
      eventsSeen: 3, lastEventTime: null, localPath: '/mnt/data/docs',
    },
  ];
  private next = 2;

  async addWatch(target: string, opts: AddWatchOptions): Promise<string> {
    this.calls.push({ op: 'addWatch', target, opts });
    if (target.startsWith('//bad')) throw new UsageError(`${target}: no such host`);
    if (target.startsWith('//boom')) {
      throw new Error('session setup failed\n    at SmbClient.logon (client.ts:12)\n for smb://bob:hunter2@boom/x password=hunter2');
    }
    const id = `w${this.next++}`;
    this.watches.push({ ...this.watches[0]!, id, target, label: target, origin: 'dbus', recursive: opts.recursive === true, eventsSeen: 0, localPath: null });
    return id;
  }

  async removeWatch(id: string): Promise<void> {
    this.calls.push({ op: 'removeWatch', id });
    const i = this.watches.findIndex((w) => w.id === id);
    if (i < 0) {
      const err = new Error(`no watch ${id}`);
      err.name = 'NotFoundError';
      throw err;
    }
    this.watches.splice(i, 1);
  }

  listWatches(): WatchStatus[] {
    return this.watches;
  }

  status(): DaemonStatus {
    return { version: '0.1.0', pid: 4242, startedAt: '2025-01-02T03:04:05.000Z', journal: null, watches: this.watches.length };
  }
}

let dbusd: DbusBus;
let bus: MessageBus;
let control: TestControl;
let api: DbusApi;

beforeAll(async () => {
  dbusd = await startDbus();
  bus = await connectBus(dbusd.address);
  control = new TestControl();
  api = await DbusApi.start(bus, control);
});

afterAll(async () => {
  await api?.close();
  bus?.disconnect();
  await dbusd?.stop();
});

async function gdbusCall(method: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(gdbus, ['call', '--address', dbusd.address, '--dest', NAME, '--object-path', PATH, '--method', `${IFACE}.${method}`, ...args]);
  return stdout.trim();
}

async function busctlCall(method: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(busctl, [`--address=${dbusd.address}`, 'call', NAME, PATH, IFACE, method, ...args]);
  return stdout.trim();
}

/** Runs a command that must fail; returns its stderr. */
async function failing(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? '').trim();
  }
  throw new Error('the call succeeded');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `gdbus monitor` on the daemon's name, once it listens; `out` is what it printed so far. */
async function gdbusMonitor(): Promise<{ readonly out: string; stop(): void }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(gdbus, ['monitor', '--address', dbusd.address, '--dest', NAME], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  // gdbus monitor prints "Monitoring signals ... owned by :1.x" once it is listening
  for (let i = 0; i < 100 && !/owned by/.test(out); i++) await sleep(50);
  await sleep(100);
  return {
    get out() {
      return out;
    },
    stop: () => void child.kill('SIGTERM'),
  };
}

function event(seq: number, over: Partial<DaemonEvent> = {}): DaemonEvent {
  return {
    seq, time: '2025-01-02T03:04:05.678Z', event: 'CREATE', server: 'nas', share: 'data',
    path: 'docs/My Report #1.txt', localPath: '/mnt/data/docs/My Report #1.txt', source: 'notify',
    action: 1, isDir: false, watch: 'docs', watchId: 'w1', ...over,
  };
}

describe('methods', () => {
  it('ListWatches with gdbus: every status field, null ones left out', async () => {
    const out = await gdbusCall('ListWatches');
    expect(out).toMatch(/^\(\[\{.*\}\],\)$/);
    expect(out).toContain("'id': <'w1'>");
    expect(out).toContain("'label': <'//nas/data/docs'>");
    expect(out).toContain("'recursive': <true>");
    expect(out).toContain("'state': <'watching'>");
    expect(out).toContain("'signing': <'AES-128-GMAC'>");
    expect(out).toContain("'eventsSeen': <uint64 3>");
    expect(out).toContain("'localPath': <'/mnt/data/docs'>");
    expect(out).not.toContain("'encryption'");
    expect(out).not.toContain("'lastEventTime'");
  });

  it('AddWatch with busctl reaches the control with its options', async () => {
    const out = await busctlCall('AddWatch', 'sa{sv}', '//h/s', '1', 'recursive', 'b', 'true');
    expect(out).toBe('s "w2"');
    expect(control.calls.at(-1)).toEqual({ op: 'addWatch', target: '//h/s', opts: { recursive: true } });

    const out2 = await busctlCall('AddWatch', 'sa{sv}', 'smb://nas/data/x', '3', 'pollInterval', 'u', '30', 'credentialsFile', 's', '/etc/smbnotify/nas.cred', 'guest', 'b', 'false');
    expect(out2).toBe('s "w3"');
    expect(control.calls.at(-1)).toEqual({
      op: 'addWatch', target: 'smb://nas/data/x',
      // The caller's uid comes from the bus (busctl runs as this test's user), not from the options.
      opts: { pollIntervalSeconds: 30, credentialsFile: '/etc/smbnotify/nas.cred', guest: false, callerUid: process.getuid!() },
    });
  });

  it('AddWatch with gdbus (an int32 poll interval is accepted too)', async () => {
    const out = await gdbusCall('AddWatch', '//g/s/dir', "{'recursive': <false>, 'pollInterval': <15>}");
    expect(out).toBe("('w4',)");
    expect(control.calls.at(-1)).toEqual({ op: 'addWatch', target: '//g/s/dir', opts: { recursive: false, pollIntervalSeconds: 15 } });
  });

  it('AddWatch with the Kerberos options (the config keys kerberos, krb5-ccache, ip-address)', async () => {
    const out = await gdbusCall('AddWatch', '//dc.test.lan/s', "{'kerberos': <'required'>, 'krb5Ccache': <'FILE:/tmp/krb5cc_1000'>, 'ipAddress': <'10.0.0.5'>}");
    expect(out).toBe("('w5',)");
    expect(control.calls.at(-1)).toEqual({
      op: 'addWatch', target: '//dc.test.lan/s',
      // A cache is checked against the caller's rights, as a credentials file: the uid comes along.
      opts: { kerberos: 'required', krb5Ccache: 'FILE:/tmp/krb5cc_1000', ipAddress: '10.0.0.5', callerUid: process.getuid!() },
    });
    const out2 = await busctlCall('AddWatch', 'sa{sv}', '//dc.test.lan/s', '2', 'kerberos', 's', 'desired', 'ipAddress', 's', '::1');
    expect(out2).toBe('s "w6"');
    expect(control.calls.at(-1)).toEqual({ op: 'addWatch', target: '//dc.test.lan/s', opts: { kerberos: 'desired', ipAddress: '::1' } });
    const before = control.calls.length;
    expect(await failing(gdbusCall('AddWatch', '//h/s', "{'kerberos': <'yes'>}"))).toBe(
      'Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: option kerberos must be required, desired or off (s)');
    expect(await failing(gdbusCall('AddWatch', '//h/s', "{'ipAddress': <'dc.test.lan'>}"))).toBe(
      'Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: option ipAddress must be an IPv4 or IPv6 address (s)');
    expect(await failing(gdbusCall('AddWatch', '//h/s', "{'krb5Ccache': <''>}"))).toBe(
      'Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: option krb5Ccache must be a credential cache name (s), got s');
    expect(control.calls.length).toBe(before);
  });

  it('RemoveWatch and GetStatus', async () => {
    expect(await busctlCall('RemoveWatch', 's', 'w4')).toBe('');
    expect(control.calls.at(-1)).toEqual({ op: 'removeWatch', id: 'w4' });
    const status = await gdbusCall('GetStatus');
    expect(status).toContain("'version': <'0.1.0'>");
    expect(status).toContain("'pid': <uint32 4242>");
    expect(status).toContain("'startedAt': <'2025-01-02T03:04:05.000Z'>");
    expect(status).toContain("'watches': <uint32 5>");
    expect(status).not.toContain("'journal'");
  });

  it('a call with the wrong argument types is InvalidArgs naming the signature, not "does not exist"', async () => {
    const dbusSend = requireTool('dbus-send', 'dbus-bin');
    const send = (method: string, ...args: string[]) => failing(run(dbusSend, [`--bus=${dbusd.address}`, '--print-reply', `--dest=${NAME}`, PATH, `${IFACE}.${method}`, ...args]));
    const calls = control.calls.length;
    // dbus-send writes dict:string:string, never a{sv}: the first thing a dbus-send user tries.
    expect((await send('AddWatch', 'string://h/s', 'dict:string:string:recursive,true')).trim()).toBe(
      'Error org.freedesktop.DBus.Error.InvalidArgs: AddWatch takes (sa{sv}): target, options; this call has (sa{ss}) (dbus-send cannot write a{sv} of variants: use gdbus call or busctl call)');
    expect((await send('RemoveWatch', 'int32:3')).trim()).toBe('Error org.freedesktop.DBus.Error.InvalidArgs: RemoveWatch takes (s): id; this call has (i)');
    expect(await failing(busctlCall('GetStatus', 's', 'x'))).toBe('Call failed: GetStatus takes no arguments; this call has (s)');
    // A member that does not exist stays UnknownMethod.
    expect((await send('Frobnicate')).trim()).toMatch(/^Error org\.freedesktop\.DBus\.Error\.UnknownMethod: /);
    expect(control.calls.length).toBe(calls);
  });

  it('errors come back as D-Bus errors with fitting names and one-line messages', async () => {
    const notFound = await failing(gdbusCall('RemoveWatch', 'w99'));
    expect(notFound).toBe('Error: GDBus.Error:io.github.smbnotify.Error.NotFound: no watch w99');

    const unknown = await failing(gdbusCall('AddWatch', '//h/s', "{'recursiv': <true>}"));
    expect(unknown).toMatch(/^Error: GDBus\.Error:io\.github\.smbnotify\.Error\.InvalidArgs: unknown option "recursiv" \(known: recursive, credentialsFile, guest, pollInterval, kerberos, krb5Ccache, ipAddress\)$/);

    const relative = await failing(gdbusCall('AddWatch', '//h/s', "{'credentialsFile': <'.smbcred'>}"));
    expect(relative).toBe('Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: option credentialsFile must be an absolute path (the daemon does not know the caller\'s folder), got ".smbcred"');

    const wrongType = await failing(gdbusCall('AddWatch', '//h/s', "{'recursive': <'yes'>}"));
    expect(wrongType).toBe('Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: option recursive must be a boolean (b), got s');

    const usage = await failing(busctlCall('AddWatch', 'sa{sv}', '//bad/share', '0'));
    expect(usage).toBe('Call failed: //bad/share: no such host');

    const failed = await failing(gdbusCall('AddWatch', '//boom/x', '{}'));
    expect(failed.split('\n')).toHaveLength(1);
    expect(failed).toMatch(/^Error: GDBus\.Error:io\.github\.smbnotify\.Error\.Failed: session setup failed /);
    expect(failed).not.toContain('hunter2');
    expect(failed).toContain('smb://bob:***@boom/x');

    // a wrong signature never reaches the control
    const before = control.calls.length;
    const sig = await failing(busctlCall('AddWatch', 's', '//h/s'));
    expect(sig).toMatch(/AddWatch|does not exist/);
    expect(control.calls.length).toBe(before);
  });

  it('the live Introspect output has the members and signatures of the shipped XML', async () => {
    const client = await connectBus(dbusd.address);
    try {
      const reply = await client.call(new dbus.Message({
        destination: NAME, path: PATH, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect',
      }));
      const live = members(reply!.body[0] as string, IFACE);
      const shipped = members(readFileSync(new URL('../../src/sinks/io.github.smbnotify.Watcher1.xml', import.meta.url), 'utf8'), IFACE);
      expect(Object.keys(shipped).sort()).toEqual(['method AddWatch', 'method GetStatus', 'method ListWatches', 'method RemoveWatch', 'signal Event', 'signal StateChanged']);
      expect(live).toEqual(shipped);
    } finally {
      client.disconnect();
    }
  });
});

/** `{"method AddWatch": "in s target, in a{sv} options, out s id", ...}` of one interface. */
function members(xml: string, iface: string): Record<string, string> {
  const text = xml.replace(/<!--[\s\S]*?-->/g, '');
  const start = text.indexOf(`<interface name="${iface}">`);
  if (start < 0) throw new Error(`no interface ${iface} in:\n${xml}`);
  const body = text.slice(start, text.indexOf('</interface>', start));
  const out: Record<string, string> = {};
  const attr = (tag: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1];
  for (const m of body.matchAll(/<(method|signal)\b([^>]*?)(\/>|>([\s\S]*?)<\/\1>)/g)) {
    const args = [...(m[4] ?? '').matchAll(/<arg\b[^>]*>/g)].map((a) => {
      const tag = a[0];
      return [m[1] === 'method' ? attr(tag, 'direction') ?? 'in' : '', attr(tag, 'type'), attr(tag, 'name')].filter(Boolean).join(' ');
    });
    out[`${m[1]} ${attr(m[2]!, 'name')}`] = args.join(', ');
  }
  return out;
}

describe('signals', () => {
  it('Event: every field as a variant, readable with dbus-monitor', async () => {
    const mon = dbusMonitor(dbusd.address, `type='signal',interface='${IFACE}'`);
    try {
      await monitorReady(mon);
      api.publish(event(12345678901, { event: 'MOVED_TO', oldPath: 'docs/old.txt', stream: 'Zone.Identifier' }));
      await mon.waitFor(/member=Event/);
      await mon.waitFor(/string "watchId"/);
      await sleep(100);
      const text = mon.lines.join('\n');
      const field = (name: string, value: string) =>
        expect(text).toMatch(new RegExp(`string "${name}"\\n\\s+variant\\s+${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
      field('seq', 'uint64 12345678901');
      field('time', 'string "2025-01-02T03:04:05.678Z"');
      field('event', 'string "MOVED_TO"');
      field('server', 'string "nas"');
      field('share', 'string "data"');
      field('path', 'string "docs/My Report #1.txt"');
      field('oldPath', 'string "docs/old.txt"');
      field('localPath', 'string "/mnt/data/docs/My Report #1.txt"');
      field('source', 'string "notify"');
      field('action', 'uint32 1');
      field('isDir', 'boolean false');
      field('stream', 'string "Zone.Identifier"');
      field('watch', 'string "docs"');
      field('watchId', 'string "w1"');
      expect(text).toMatch(/path=\/io\/github\/smbnotify; interface=io\.github\.smbnotify\.Watcher1; member=Event/);
      expect(text).not.toContain('string "state"');
    } finally {
      await mon.stop();
    }
  });

  it('STATE events: an Event and a StateChanged', async () => {
    const mon = dbusMonitor(dbusd.address, `type='signal',interface='${IFACE}'`);
    try {
      await monitorReady(mon);
      api.publish(event(7, { event: 'STATE', state: 'reconnecting', message: 'connection lost: ECONNRESET', watchId: 'w3', path: 'docs' }));
      await mon.waitFor(/member=StateChanged/);
      // The monitor's lines come in pieces, and the Event carries the same message string: wait
      // for the whole StateChanged.
      const stateChanged = /member=StateChanged\n\s+string "w3"\n\s+string "reconnecting"\n\s+string "connection lost: ECONNRESET"/;
      for (let i = 0; i < 100 && !stateChanged.test(mon.lines.join('\n')); i++) await sleep(50);
      const text = mon.lines.join('\n');
      expect(text).toMatch(/member=Event[\s\S]*string "state"\n\s+variant\s+string "reconnecting"/);
      expect(text).toMatch(stateChanged);
    } finally {
      await mon.stop();
    }
  });

  it('gdbus monitor reads the Event too', async () => {
    const mon = await gdbusMonitor();
    try {
      api.publish(event(99, { path: 'docs/ü Ж 😀.txt' }));
      for (let i = 0; i < 100 && !/Watcher1\.Event/.test(mon.out); i++) await sleep(50);
      const out = mon.out;
      expect(out).toMatch(/io\.github\.smbnotify\.Watcher1\.Event \(\{.*'path': <'docs\/ü Ж 😀\.txt'>.*\},\)/);
      expect(out).toContain("'seq': <uint64 99>");
    } finally {
      mon.stop();
    }
  });

  // The Event signal is encoded for its fixed shape (dbus-event-signal.ts), not by dbus-next's
  // generic marshaller: both are sent for the same events, and the tools must print the same.
  const tricky = (seq: number): DaemonEvent[] => [
    event(seq),
    event(seq + 1, { seq: 2 ** 40 + 5, event: 'MOVED_TO', oldPath: 'docs/old.txt', stream: 'Zone.Identifier', isDir: true, action: 5 }),
    event(seq + 2, { path: 'docs/ü Ж 漢 😀 "q" \\ \n.txt', localPath: undefined, isDir: undefined }),
    event(seq + 3, { path: 'bad\u0000name\ud800.txt' }),
    event(seq + 4, { event: 'STATE', state: 'reconnecting', message: 'connection lost', path: 'docs', source: undefined, action: undefined, isDir: undefined, localPath: undefined }),
  ];
  const generic = (e: DaemonEvent) => bus.send(dbus.Message.newSignal(PATH, IFACE, 'Event', 'a{sv}', [eventDict(e)]));

  it('Event: dbus-monitor prints the fixed-shape encoding exactly as the generic one', async () => {
    expect(api.fastEvents).toBe(true);
    const mon = dbusMonitor(dbusd.address, `type='signal',interface='${IFACE}',member='Event'`);
    try {
      await monitorReady(mon);
      const events = tricky(500);
      for (const e of events) {
        api.publish(e);
        generic(e);
      }
      for (let i = 0; i < 100 && mon.lines.filter((l) => /member=Event/.test(l)).length < 2 * events.length; i++) await sleep(50);
      await sleep(200);
      // One block per signal, its header without what differs between two messages (time, serial).
      const blocks: string[] = [];
      for (const line of mon.lines) {
        if (/^signal /.test(line)) blocks.push(line.replace(/ time=\S+/, '').replace(/ serial=\d+/, ''));
        else if (blocks.length && !/^method call|^method return|^error /.test(line)) blocks[blocks.length - 1] += `\n${line}`;
      }
      const events2 = blocks.filter((b) => /member=Event/.test(b));
      expect(events2).toHaveLength(2 * events.length);
      for (let i = 0; i < events.length; i++) expect(events2[2 * i]).toBe(events2[2 * i + 1]);
      expect(events2[2]).toContain('uint64 1099511627781');
      expect(events2[4]).toContain('variant             string "docs/ü Ж 漢 😀 "q" \\ \n.txt"');
      expect(events2[6]).toContain('string "bad\ufffdname\ufffd.txt"');
    } finally {
      await mon.stop();
    }
  });

  it('Event: gdbus monitor prints the fixed-shape encoding exactly as the generic one', async () => {
    const mon = await gdbusMonitor();
    try {
      const events = tricky(600);
      for (const e of events) {
        api.publish(e);
        generic(e);
      }
      const lines = () => mon.out.split('\n').filter((l) => /Watcher1\.Event /.test(l));
      for (let i = 0; i < 100 && lines().length < 2 * events.length; i++) await sleep(50);
      const got = lines();
      expect(got).toHaveLength(2 * events.length);
      for (let i = 0; i < events.length; i++) expect(got[2 * i]).toBe(got[2 * i + 1]);
      expect(got[2]).toContain("'seq': <uint64 1099511627781>");
      expect(got[2]).toContain("'isDir': <true>");
    } finally {
      mon.stop();
    }
  });

  it('a NUL or a lone surrogate in a name cannot break the bus connection', async () => {
    const client = await connectBus(dbusd.address);
    try {
      await client.call(new dbus.Message({
        destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
        member: 'AddMatch', signature: 's', body: [`type='signal',interface='${IFACE}',member='Event'`],
      }));
      const got: Record<string, dbus.Variant>[] = [];
      client.on('message', (m: dbus.Message) => {
        if (m.member === 'Event') got.push(m.body[0] as Record<string, dbus.Variant>);
      });
      api.publish(event(1, { path: 'bad\u0000name\ud800.txt' }));
      api.publish(event(2));
      for (let i = 0; i < 100 && got.length < 2; i++) await sleep(20);
      expect(got.map((d) => d['path']!.value)).toEqual(['bad\ufffdname\ufffd.txt', 'docs/My Report #1.txt']);
      // and the API still answers
      expect(await gdbusCall('GetStatus')).toContain('0.1.0');
    } finally {
      client.disconnect();
    }
  });
});

describe('ownership', () => {
  it('a second daemon on the same bus fails with a clear message', async () => {
    const other = await connectBus(dbusd.address);
    try {
      await expect(DbusApi.start(other, new TestControl())).rejects.toThrow(
        /^another smbnotify daemon owns io\.github\.smbnotify on this bus$/,
      );
      // on the same connection too
      await expect(DbusApi.start(bus, new TestControl())).rejects.toThrow(/another smbnotify daemon owns/);
      // the first one still answers
      expect(await gdbusCall('GetStatus')).toContain('4242');
    } finally {
      other.disconnect();
    }
  });

  it('close releases the name: another daemon can take over', async () => {
    const other = await connectBus(dbusd.address);
    try {
      await api.close();
      const second = await DbusApi.start(other, new TestControl());
      expect(await gdbusCall('GetStatus')).toContain('4242');
      await second.close();
      api = await DbusApi.start(bus, control);
    } finally {
      other.disconnect();
    }
  });

  it('the bus going away: publish and close neither throw nor hang, every failed send is reported', async () => {
    const doomed = await startDbus();
    const errors: string[] = [];
    const b = await connectBus(doomed.address, { onError: (err) => errors.push(err.message) });
    const doomedApi = await DbusApi.start(b, new TestControl());
    const kde = new KDirNotifySink(b);
    await doomed.stop();
    await sleep(100);
    const CLOSED = 'Tried to write a message to a closed stream';
    // The bus going away itself is not an error (the stream ended); each signal sent after it is.
    expect(errors).toEqual([]);
    for (let i = 1; i <= 3; i++) doomedApi.publish(event(i));
    await sleep(50);
    expect(errors).toEqual([CLOSED, CLOSED, CLOSED]);
    for (let i = 1; i <= 3; i++) {
      kde.publish(event(i, { event: 'MODIFY' }));
      kde.publish(event(i, { event: 'DELETE' }));
    }
    const t0 = Date.now();
    await kde.close();
    await doomedApi.close();
    expect(Date.now() - t0).toBeLessThan(2_000);
    await sleep(50);
    // After the three Event signals: KDirNotify's FilesChanged and its held FilesRemoved (flushed
    // by close), and the daemon's ReleaseName call.
    expect(errors).toEqual([CLOSED, CLOSED, CLOSED, CLOSED, CLOSED, CLOSED]);
    // Nothing threw: dbus-next reports a write to a closed stream as an 'error' event.
    expect(doomedApi.sendErrors).toBe(0);
    expect(kde.sendErrors).toBe(0);
    b.disconnect();
  });

  it('connectBus: a dead address is a one-line rejection', async () => {
    await expect(connectBus(`unix:path=${dbusd.dir}/nothing-here`)).rejects.toThrow(
      /^cannot connect to D-Bus at unix:path=.*nothing-here: no such socket \(is the bus running\?\)$/,
    );
    await expect(connectBus('not-an-address')).rejects.toThrow(/is not a D-Bus address/);
  });
});

describe('throughput', () => {
  it('10,000 Event signals reach a second client (and dbus-monitor)', async () => {
    const N = 10_000;
    const client = await connectBus(dbusd.address);
    const mon = dbusMonitor(dbusd.address, `type='signal',interface='${IFACE}',member='Event'`);
    try {
      await monitorReady(mon);
      await client.call(new dbus.Message({
        destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
        member: 'AddMatch', signature: 's', body: [`type='signal',interface='${IFACE}',member='Event'`],
      }));
      let received = 0;
      let lastSeq = 0n;
      let inOrder = true;
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      client.on('message', (m: dbus.Message) => {
        if (m.member !== 'Event') return;
        const seq = (m.body[0] as Record<string, dbus.Variant<bigint>>)['seq']!.value;
        if (seq <= lastSeq) inOrder = false;
        lastSeq = seq;
        if (++received === N) done();
      });
      const t0 = performance.now();
      for (let i = 1; i <= N; i++) api.publish(event(i));
      const tPublished = performance.now();
      await all;
      const tClient = performance.now();
      await mon.waitFor(/uint64 10000$/, 30_000);
      const tMonitor = performance.now();
      const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
      console.log(
        `D-Bus throughput: ${N} Event signals published in ${fmt(tPublished - t0)}, ` +
          `all received by a dbus-next client after ${fmt(tClient - t0)}, by dbus-monitor after ${fmt(tMonitor - t0)}`,
      );
      expect(received).toBe(N);
      expect(inOrder).toBe(true);
      expect(api.sendErrors).toBe(0);
    } finally {
      client.disconnect();
      await mon.stop();
    }
  });
});
