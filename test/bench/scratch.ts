import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { startSamba, stopAllSamba } from '../support/samba.js';
import { ShareConnection } from '../../src/watch/share-connection.js';
import { Watcher } from '../../src/watch/watcher.js';
import { FolderWatch } from '../../src/watch/folder-watch.js';
import { ChangeProcessor } from '../../src/watch/change-processor.js';
const marks: Record<string, bigint> = {};
const spans: Record<string, number[]> = {};
function patch(proto: any, name: string, label: string) { const orig = proto[name]; proto[name] = function (...args: any[]) { if (!marks[label]) marks[label] = now(); const r = orig.apply(this, args); if (!marks[label+'-end']) marks[label+'-end'] = now(); return r; }; }
import { Connection } from '../../src/smb/connection.js';
patch(Connection.prototype, 'transmit', 'transmit');
patch(Connection.prototype, 'receive', 'receive');

if (process.env.DEFER) { const oc = (FolderWatch.prototype as any).complete; const oa = (FolderWatch.prototype as any).arm; let inC = false;
  (FolderWatch.prototype as any).complete = function (...a: any[]) { inC = true; try { return oc.apply(this, a); } finally { inC = false; } };
  (FolderWatch.prototype as any).arm = function () { if (inC) { setImmediate(() => oa.apply(this)); return; } return oa.apply(this); }; }
patch(FolderWatch.prototype, 'complete', 'complete');
patch(FolderWatch.prototype, 'arm', 'arm');
patch(ChangeProcessor.prototype, 'process', 'process');

import { ms, now, sleep, summarize } from './lib/stats.js';
import { credentials, smbclientNotify } from './lib/tools.js';
const samba = await startSamba({});
const creds = credentials(samba);
mkdirSync(join(samba.sharePath, 'w')); mkdirSync(join(samba.sharePath, 's'));
const share = new ShareConnection({ host: samba.host, port: samba.port, share: samba.share, credentials: { kind: 'user', user: samba.user, domain: samba.domain, password: samba.password }, timeoutMs: 10000 });
await share.connect();
console.log('signing', share.tree!.client.session.signing, 'dialect', share.tree!.client.session.dialect);
const sock = (share.tree!.client.connection as any).socket;
let tData = 0n; sock.prependListener('data', () => { if (tData === 0n) tData = now(); });
const c: number[] = [];
const w = new Watcher(share, { path: 'w' });
let pending: ((at: bigint) => void) | null = null;
w.on('event', (e) => { if (e.event === 'CREATE' && pending) { const p = pending; pending = null; p(now()); } });
await w.start();
const sc = smbclientNotify('sc', samba, creds, 's');
await sleep(500);
const a: number[] = []; const b: number[] = [];
for (let i = 0; i < 200; i++) {
  const pr = new Promise<bigint>((r) => (pending = r));
  closeSync(openSync(join(samba.sharePath, 'w', `f${i}`), 'w'));
  const t0 = now();
  tData = 0n; for (const k of Object.keys(marks)) delete marks[k]; const te = await pr; a.push(ms(t0, te)); c.push(ms(t0, tData));
for (const [k, v] of Object.entries(marks)) (spans[k] ??= []).push(ms(t0, v));
  const p2 = sc.stdout.waitFor(new RegExp(` g${i}$`), 3000);
  closeSync(openSync(join(samba.sharePath, 's', `g${i}`), 'w'));
  const t1 = now();
  b.push(ms(t1, (await p2).at));
  await sleep(10);
}
console.log('in-process watcher', summarize(a.slice(10)));
console.log('socket data', summarize(c.slice(10)));
for (const [k, v] of Object.entries(spans)) console.log(k, summarize(v.slice(10)).p50);
console.log('smbclient', summarize(b.slice(10)));
await w.stop(); await share.close(); await sc.stop();
await stopAllSamba();
