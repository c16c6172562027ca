// No change lost on a live view either: 20,000 files created on the server's disk as fast as
// possible (Samba overflows; the watch recovers by listing), then deletes, renames and a new
// folder with contents. inotifywait -m -r on the view sees events that, applied to the view's
// starting listing, give exactly the final listing.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WatchEvent } from '../../src/watch/events.js';
import { credentialsFile, requireBuild } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { applyStream, diskTree, setDiff } from '../support/stream.js';
import { requireTool } from '../support/tools.js';
import { startView, type RunningView } from '../support/view.js';

let samba: SambaServer;
let view: RunningView;
let backing: string;

beforeAll(async () => {
  requireBuild();
  requireTool('inotifywait', 'inotify-tools');
  samba = await startSamba({});
  backing = join(samba.sharePath, 'v');
  mkdirSync(join(backing, 'pre'), { recursive: true });
  mkdirSync(join(backing, 'burst'));
  for (let i = 0; i < 10; i++) writeFileSync(join(backing, 'pre', `old-${i}`), 'x');
  view = await startView([`smb://${samba.host}:${samba.port}/data/v`, '-A', credentialsFile(samba), '--backing', backing]);
}, 60_000);

afterAll(async () => {
  await view?.stop();
  await stopAllSamba();
});

/** inotifywait's lines as normalized events (view-relative paths), moves paired by cookie. */
function toEvents(lines: string[], root: string): WatchEvent[] {
  const out: WatchEvent[] = [];
  const from = new Map<string, string>();
  for (const line of lines) {
    const [flags, cookie, abs] = line.split('|');
    if (!abs || !abs.startsWith(`${root}/`)) continue;
    const path = abs.slice(root.length + 1);
    const kinds = flags!.split(',');
    const base = { seq: 0, time: '', server: '', share: '', path };
    if (kinds.includes('Q_OVERFLOW')) throw new Error('inotify queue overflow in inotifywait');
    if (kinds.includes('CREATE')) out.push({ ...base, event: 'CREATE' });
    else if (kinds.includes('DELETE')) out.push({ ...base, event: 'DELETE' });
    else if (kinds.includes('MOVED_FROM')) {
      from.set(cookie!, path);
      out.push({ ...base, event: 'MOVED_FROM' });
    } else if (kinds.includes('MOVED_TO')) {
      const old = from.get(cookie!);
      out.push({ ...base, event: 'MOVED_TO', ...(old !== undefined ? { oldPath: old } : {}) });
    }
  }
  return out;
}

it('20,000 server-side creates with overflows, then churn: the view\'s inotify events rebuild the final listing', async () => {
  const iw = spawn('inotifywait', ['-m', '-r', '--format', '%e|%c|%w%f', view.mountPoint], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let last = Date.now();
  iw.stdout.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    last = Date.now();
  });
  const ready = new Promise<void>((resolve) => iw.stderr.on('data', (d: Buffer) => d.toString().includes('Watches established') && resolve()));
  try {
    await ready;
    const start = diskTree(backing);
    for (let i = 0; i < 20_000; i++) closeSync(openSync(join(backing, 'burst', `f-${i}.dat`), 'w'));
    for (let i = 0; i < 5000; i++) closeSync(openSync(join(backing, `top-${i}.dat`), 'w'));
    for (let i = 0; i < 50; i++) rmSync(join(backing, 'burst', `f-${i}.dat`));
    for (let i = 50; i < 100; i++) renameSync(join(backing, 'burst', `f-${i}.dat`), join(backing, 'burst', `f-${i}.renamed`));
    rmSync(join(backing, 'pre'), { recursive: true });
    mkdirSync(join(backing, 'burst', 'sub'));
    // inotifywait -r watches a new folder only once it has seen it: as with local changes.
    const t0 = Date.now();
    while (!lines.some((l) => l.endsWith('/burst/sub') && l.startsWith('CREATE')) && Date.now() - t0 < 180_000) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 30; i++) writeFileSync(join(backing, 'burst', 'sub', `f${i}`), 'x');
    // Settled when the replayed events rebuild the disk's listing and nothing came for 3 s; a
    // loaded machine can pause longer than that while the watch lists after an overflow, so the
    // deadline, not a quiet spell alone, ends the wait.
    const disk = diskTree(backing);
    let rebuilt = applyStream(start, toEvents(lines, view.mountPoint));
    while (Date.now() - t0 < 240_000) {
      const { missing, extra } = setDiff(rebuilt, disk);
      if (missing.length === 0 && extra.length === 0 && Date.now() - last >= 3000) break;
      await new Promise((r) => setTimeout(r, 1000));
      rebuilt = applyStream(start, toEvents(lines, view.mountPoint));
    }
    const events = toEvents(lines, view.mountPoint);
    expect(setDiff(rebuilt, disk)).toEqual({ missing: [], extra: [] });
    expect(rebuilt.size).toBe(disk.size);
    expect(diskTree(view.mountPoint).size).toBe(disk.size);
    console.log(`view burst: ${lines.length} inotify lines, ${events.length} changes`);
  } finally {
    iw.kill();
  }
}, 300_000);
