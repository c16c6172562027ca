// KDirNotify signals as a KDE desktop would receive them: a private dbus-daemon, the sink on one
// connection, and dbus-monitor as the independent witness of what went on the bus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageBus } from 'dbus-next';
import type { DaemonEvent } from '../../src/sinks/types.js';
import { connectBus } from '../../src/sinks/bus.js';
import { KDirNotifySink } from '../../src/sinks/kdirnotify.js';
import { dbusMonitor, monitorReady, startDbus, type DbusBus, type DbusMonitor } from '../support/dbus.js';

const FOLDER = '/mnt/share/My Dir #1 %20 ü Ж';
const FOLDER_URL = 'file:///mnt/share/My%20Dir%20%231%20%2520%20%C3%BC%20%D0%96';

let dbusd: DbusBus;
let mon: DbusMonitor;
let bus: MessageBus;

beforeAll(async () => {
  dbusd = await startDbus();
  mon = dbusMonitor(dbusd.address, "type='signal',interface='org.kde.KDirNotify'");
  await monitorReady(mon);
  bus = await connectBus(dbusd.address);
});

afterAll(async () => {
  bus?.disconnect();
  await mon?.stop();
  await dbusd?.stop();
});

interface Signal {
  /** Seconds since the epoch, as dbus-monitor prints it. */
  time: number;
  path: string;
  member: string;
  /** Every string argument, arrays flattened, in order. */
  strings: string[];
}

/** The KDirNotify signals dbus-monitor printed so far. */
function signals(): Signal[] {
  const out: Signal[] = [];
  let cur: Signal | null = null;
  for (const line of mon.lines) {
    const head = /^signal time=(\S+) .* path=([^;]*); interface=org\.kde\.KDirNotify; member=(\S+)/.exec(line);
    if (head) {
      cur = { time: Number(head[1]), path: head[2]!, member: head[3]!, strings: [] };
      out.push(cur);
      continue;
    }
    if (/^\S/.test(line)) {
      cur = null;
      continue;
    }
    const str = /^\s+string "(.*)"$/.exec(line);
    if (cur && str) cur.strings.push(str[1]!);
  }
  return out;
}

/** Signals mentioning a URL under `prefix` (each test uses its own folder). */
function about(prefix: string): Signal[] {
  return signals().filter((s) => s.strings.some((u) => u === prefix || u.startsWith(`${prefix}/`)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
function ev(event: DaemonEvent['event'], localPath: string | undefined, over: Partial<DaemonEvent> = {}): DaemonEvent {
  const rel = localPath ? localPath.replace(/^\/mnt\/share\/?/, '') : 'x';
  return {
    seq: ++seq,
    time: new Date().toISOString(),
    event,
    server: 'nas',
    share: 'share',
    path: rel,
    ...(localPath !== undefined ? { localPath } : {}),
    source: 'notify',
    watch: '',
    watchId: 'w1',
    ...over,
  };
}

describe('KDirNotifySink', () => {
  it('CREATE: FilesAdded of the folder (exact encoded URL), debounced, plus a second refresh', async () => {
    const sink = new KDirNotifySink(bus);
    const t0 = Date.now() / 1000;
    for (let i = 0; i < 10; i++) sink.publish(ev('CREATE', `${FOLDER}/new ${i}.txt`));
    await mon.waitFor(new RegExp(`string "${FOLDER_URL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), 3_000);
    await sleep(2_300);
    const added = about(FOLDER_URL).filter((s) => s.member === 'FilesAdded');
    expect(added.map((s) => s.strings)).toEqual([[FOLDER_URL], [FOLDER_URL]]);
    expect(added[0]!.path).toBe('/');
    // the first after the debounce window, the second ~1.5 s after it
    expect(added[0]!.time - t0).toBeGreaterThanOrEqual(0.25);
    expect(added[0]!.time - t0).toBeLessThan(1.0);
    expect(added[1]!.time - added[0]!.time).toBeGreaterThanOrEqual(1.4);
    expect(added[1]!.time - added[0]!.time).toBeLessThan(2.2);
    await sink.close();
  });

  it('DELETE: FilesRemoved of the item URLs about 1 s later, in one signal', async () => {
    const dir = '/mnt/share/del';
    const sink = new KDirNotifySink(bus);
    const t0 = Date.now() / 1000;
    sink.publish(ev('DELETE', `${dir}/gone 1.txt`));
    sink.publish(ev('DELETE', `${dir}/gone#2.txt`));
    await sleep(600);
    expect(about('file:///mnt/share/del')).toEqual([]);
    await mon.waitFor(/member=FilesRemoved/, 3_000);
    await sleep(100);
    const removed = about('file:///mnt/share/del');
    expect(removed.map((s) => [s.member, s.strings])).toEqual([
      ['FilesRemoved', ['file:///mnt/share/del/gone%201.txt', 'file:///mnt/share/del/gone%232.txt']],
    ]);
    expect(removed[0]!.time - t0).toBeGreaterThanOrEqual(0.95);
    expect(removed[0]!.time - t0).toBeLessThan(2);
    await sink.close();
  });

  it('MOVED_FROM + MOVED_TO: FileRenamedWithLocalPath and FileRenamed; a REMOVED before it is dropped', async () => {
    const dir = '/mnt/share/ren ü';
    const sink = new KDirNotifySink(bus);
    // Windows order: REMOVED, then the rename's OLD_NAME / NEW_NAME.
    sink.publish(ev('DELETE', `${dir}/old name.txt`));
    sink.publish(ev('MOVED_FROM', `${dir}/old name.txt`, { action: 4 }));
    await sleep(30);
    sink.publish(ev('MOVED_TO', `${dir}/new #name.txt`, { action: 5, oldPath: 'ren ü/old name.txt' }));
    await mon.waitFor(/member=FileRenamed$/, 3_000);
    await sleep(1_400); // past the removal hold: nothing else may come
    const got = about('file:///mnt/share/ren%20%C3%BC').map((s) => [s.member, s.strings]);
    const from = 'file:///mnt/share/ren%20%C3%BC/old%20name.txt';
    const to = 'file:///mnt/share/ren%20%C3%BC/new%20%23name.txt';
    expect(got).toEqual([
      ['FileRenamedWithLocalPath', [from, to, '']],
      ['FileRenamed', [from, to]],
    ]);
    await sink.close();
  });

  it('a MOVED_FROM without MOVED_TO counts as a DELETE', async () => {
    const sink = new KDirNotifySink(bus);
    sink.publish(ev('MOVED_FROM', '/mnt/share/away/item'));
    await sleep(1_400);
    expect(about('file:///mnt/share/away').map((s) => [s.member, s.strings])).toEqual([
      ['FilesRemoved', ['file:///mnt/share/away/item']],
    ]);
    await sink.close();
  });

  it('a MOVED_TO whose MOVED_FROM never came: FilesAdded of the folder', async () => {
    const sink = new KDirNotifySink(bus, { secondRefreshMs: 60_000 });
    sink.publish(ev('MOVED_TO', '/mnt/share/arrived/item'));
    await sleep(600);
    expect(about('file:///mnt/share/arrived').map((s) => [s.member, s.strings])).toEqual([
      ['FilesAdded', ['file:///mnt/share/arrived']],
    ]);
    await sink.close();
  });

  it('MODIFY: FilesChanged rate-limited per file, the change inside the window sent at its end', async () => {
    const sink = new KDirNotifySink(bus);
    const file = '/mnt/share/mod/report.txt';
    const url = 'file:///mnt/share/mod/report.txt';
    const t0 = Date.now() / 1000;
    for (let i = 0; i < 5; i++) {
      sink.publish(ev('MODIFY', file, { action: 3 }));
      await sleep(20);
    }
    await sleep(2_300);
    const changed = about(url);
    expect(changed.map((s) => [s.member, s.strings])).toEqual([
      ['FilesChanged', [url]],
      ['FilesChanged', [url]],
    ]);
    expect(changed[0]!.time - t0).toBeLessThan(0.1);
    expect(changed[1]!.time - changed[0]!.time).toBeGreaterThanOrEqual(0.95);
    expect(changed[1]!.time - changed[0]!.time).toBeLessThan(1.5);
    await sink.close();
  });

  it('OVERFLOW re-lists the folder itself; rescan/poll events and DELETE_SELF re-list the parent', async () => {
    const sink = new KDirNotifySink(bus, { secondRefreshMs: 60_000 });
    sink.publish(ev('OVERFLOW', '/mnt/share/ovf/dir'));
    sink.publish(ev('DELETE', '/mnt/share/scan/a/file', { source: 'rescan' }));
    sink.publish(ev('MODIFY', '/mnt/share/poll/b/file', { source: 'poll' }));
    sink.publish(ev('DELETE_SELF', '/mnt/share/self/watched'));
    await sleep(700);
    const added = signals().filter((s) => s.member === 'FilesAdded').map((s) => s.strings[0]);
    expect(added).toEqual(expect.arrayContaining([
      'file:///mnt/share/ovf/dir',
      'file:///mnt/share/scan/a',
      'file:///mnt/share/poll/b',
      'file:///mnt/share/self',
    ]));
    expect(about('file:///mnt/share/scan').filter((s) => s.member !== 'FilesAdded')).toEqual([]);
    expect(about('file:///mnt/share/poll').filter((s) => s.member !== 'FilesAdded')).toEqual([]);
    await sink.close();
  });

  it('a CREATE of a just-deleted name cancels its pending FilesRemoved (save by delete + create)', async () => {
    const sink = new KDirNotifySink(bus, { secondRefreshMs: 60_000 });
    sink.publish(ev('DELETE', '/mnt/share/save/doc.odt'));
    sink.publish(ev('CREATE', '/mnt/share/save/doc.odt'));
    await sleep(1_400);
    expect(about('file:///mnt/share/save').map((s) => [s.member, s.strings])).toEqual([
      ['FilesAdded', ['file:///mnt/share/save']],
    ]);
    await sink.close();
  });

  it('no signal for events without localPath, nor for STATE events', async () => {
    const sink = new KDirNotifySink(bus);
    const before = signals().length;
    for (const kind of ['CREATE', 'DELETE', 'MODIFY', 'MOVED_FROM', 'MOVED_TO', 'OVERFLOW', 'DELETE_SELF'] as const) {
      sink.publish(ev(kind, undefined));
      sink.publish(ev(kind, undefined, { source: 'rescan' }));
    }
    sink.publish(ev('STATE', '/mnt/share/state', { state: 'watching' }));
    await sleep(1_500);
    await sink.close();
    // a marker after close would not be sent, so use a fresh sink to prove the monitor still sees
    const marker = new KDirNotifySink(bus);
    marker.publish(ev('MODIFY', '/mnt/share/marker'));
    await mon.waitFor(/marker/, 3_000);
    const after = signals().slice(before);
    expect(after.map((s) => s.strings)).toEqual([['file:///mnt/share/marker']]);
    await marker.close();
  });

  it('close() sends pending removals and changes at once, and nothing afterwards', async () => {
    const sink = new KDirNotifySink(bus);
    sink.publish(ev('DELETE', '/mnt/share/closing/a'));
    sink.publish(ev('MODIFY', '/mnt/share/closing/b'));
    sink.publish(ev('MODIFY', '/mnt/share/closing/b'));
    sink.publish(ev('MOVED_FROM', '/mnt/share/closing/c'));
    await sleep(50);
    const t0 = Date.now() / 1000;
    await sink.close();
    sink.publish(ev('CREATE', '/mnt/share/closing/late'));
    await sleep(300);
    const got = about('file:///mnt/share/closing');
    expect(got.map((s) => [s.member, s.strings])).toEqual([
      ['FilesChanged', ['file:///mnt/share/closing/b']],
      ['FilesRemoved', ['file:///mnt/share/closing/a', 'file:///mnt/share/closing/c']],
      ['FilesChanged', ['file:///mnt/share/closing/b']],
    ]);
    expect(got[1]!.time - t0).toBeLessThan(0.2);
  });
});
