import { it } from 'vitest';
import dbus from 'dbus-next';
import { connectBus } from '../../src/sinks/bus.js';
import { DbusApi } from '../../src/sinks/dbus-api.js';
import { startDbus } from '../support/dbus.js';
it('x', async () => {
  const b = await startDbus();
  const bus = await connectBus(b.address);
  const api = await DbusApi.start(bus, { addWatch: async () => 'w1', removeWatch: async () => {}, listWatches: () => [], status: () => ({version:'1', pid: 1, startedAt: 'x', journal: null, watches: 0}) });
  const c = await connectBus(b.address);
  const r = await c.call(new dbus.Message({ destination: 'io.github.smbnotify', path: '/io/github/smbnotify', interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect' }));
  console.log(r!.body[0]);
  await api.close(); bus.disconnect(); c.disconnect(); await b.stop();
});
