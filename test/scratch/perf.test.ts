import { it } from 'vitest';
import dbus from 'dbus-next';
import { eventDict } from '../../src/sinks/dbus-api.js';
// @ts-expect-error internal
import { marshallMessage } from 'dbus-next/lib/marshall-compat.js';
it('x', async () => {
  const e = { seq: 1, time: '2025-01-02T03:04:05.678Z', event: 'CREATE' as const, server: 'nas', share: 'data', path: 'docs/My Report #1.txt', localPath: '/mnt/data/docs/My Report #1.txt', source: 'notify' as const, action: 1, isDir: false, watch: 'docs', watchId: 'w1' };
  let t = performance.now();
  const dicts = [];
  for (let i = 0; i < 10000; i++) dicts.push(eventDict({ ...e, seq: i }));
  console.log('dict', performance.now() - t);
  t = performance.now();
  for (const d of dicts) { const m = dbus.Message.newSignal('/io/github/smbnotify', 'io.github.smbnotify.Watcher1', 'Event', 'a{sv}', [d]); m.serial = 1; marshallMessage(m); }
  console.log('marshal', performance.now() - t);
  t = performance.now();
  for (let i = 0; i < 10000; i++) { const m = dbus.Message.newSignal('/', 'org.kde.KDirNotify', 'FilesAdded', 's', ['file:///mnt/x']); m.serial = 1; marshallMessage(m); }
  console.log('marshal simple', performance.now() - t);
});
