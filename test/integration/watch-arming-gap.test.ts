// Samba answers CHANGE_NOTIFY before it watches the folder's disk: smbd passes the request to its
// notify daemon (the `smbd-notifyd` process), which adds the inotify watch when it gets to that
// message. A change made on the server's disk in between is in no notification, and not in the
// listing made right after arming either. On a loaded server the gap is long enough for a file
// created just after its new folder to be lost (seen in the chaos test). The watcher lists every
// folder armed while watching once more a little later; the first test holds the notify daemon
// still (SIGSTOP) across a reconnect to make the gap as long as needed, the second creates folders
// with a file in them right away, as the chaos test's writer does. The third removes a watched
// folder while its parent's names-only handle is in that gap: the folder is looked for by name
// a second after arming (root-guard.ts).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { notifyDaemonPid, notifyDaemonRegistered } from '../support/notify-daemon.js';
import { startSamba, stopAllSamba } from '../support/samba.js';
import { applyStream, diskTree, setDiff, watch } from '../support/stream.js';

afterAll(async () => {
  await stopAllSamba();
});

describe('changes made while the server has not yet started watching a newly armed folder', () => {
  it('after a reconnect, are found by listing the folders again: the stream stays exact', async () => {
    const samba = await startSamba({});
    const root = samba.sharePath;
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'sub', 'before'), 'x');
    const h = await watch(samba, { recursive: true });
    try {
      const start = diskTree(root);
      const notifyd = notifyDaemonPid(samba);
      process.kill(notifyd, 'SIGSTOP');
      try {
        // Every folder is armed again and listed; the notify daemon has registered none yet.
        const seq = h.events.at(-1)?.seq ?? 0;
        h.share.reset(new Error('reconnect for the test'));
        await h.waitFor((e) => e.seq > seq && e.event === 'STATE' && e.state === 'watching' && /reconnected/.test(e.message ?? ''), 30_000);
        writeFileSync(join(root, 'sub', 'in-the-gap'), 'x');
        writeFileSync(join(root, 'top-in-the-gap'), 'x');
        mkdirSync(join(root, 'sub', 'folder-in-the-gap'));
        writeFileSync(join(root, 'sub', 'folder-in-the-gap', 'f'), 'x');
        await sleep(300);
      } finally {
        process.kill(notifyd, 'SIGCONT');
      }
      // The daemon now watches both folders: a later change comes as a notification.
      await sleep(200);
      writeFileSync(join(root, 'sub', 'after'), 'x');
      await h.quiet(2000, 60_000);
      const rebuilt = applyStream(start, h.changes());
      expect(setDiff(rebuilt, diskTree(root))).toEqual({ missing: [], extra: [] });
      const created = (path: string) => h.changes().find((e) => e.event === 'CREATE' && e.path === path);
      expect(created('sub/in-the-gap')?.source).toBe('rescan');
      expect(created('top-in-the-gap')?.source).toBe('rescan');
      expect(created('sub/folder-in-the-gap/f')?.source).toBe('rescan');
      expect(created('sub/after')?.source).toBe('notify');
    } finally {
      await h.stop();
      await samba.stop();
    }
  }, 120_000);

  it('a folder created with a file in it right away, many times: every file is reported', async () => {
    const samba = await startSamba({});
    const root = samba.sharePath;
    const h = await watch(samba, { recursive: true });
    try {
      const start = diskTree(root);
      for (let i = 0; i < 200; i++) {
        mkdirSync(join(root, `d${i}`));
        // Give the watcher time to see the folder and arm it, then add a file: the moment the
        // notify daemon may still be registering the new handle.
        await sleep(i % 20);
        writeFileSync(join(root, `d${i}`, 'f'), 'x');
      }
      await h.quiet(2000, 120_000);
      const rebuilt = applyStream(start, h.changes());
      expect(setDiff(rebuilt, diskTree(root))).toEqual({ missing: [], extra: [] });
    } finally {
      await h.stop();
      await samba.stop();
    }
  }, 180_000);

  it('a watched folder removed from the disk before the parent is watched there: DELETE_SELF all the same', async () => {
    const samba = await startSamba({});
    mkdirSync(join(samba.sharePath, 'outer', 'inner'), { recursive: true });
    await notifyDaemonRegistered(samba);
    const notifyd = notifyDaemonPid(samba);
    process.kill(notifyd, 'SIGSTOP');
    let h: Awaited<ReturnType<typeof watch>> | undefined;
    try {
      // The check by name is an hour away: only the look a second after arming can find it.
      h = await watch(samba, { path: 'outer/inner', rootCheckMs: 3_600_000, pollIntervalMs: 200 });
      rmSync(join(samba.sharePath, 'outer', 'inner'), { recursive: true });
      await sleep(300);
    } finally {
      process.kill(notifyd, 'SIGCONT');
    }
    try {
      const gone = await h.waitFor((e) => e.event === 'DELETE_SELF', 20_000);
      expect(gone).toMatchObject({ path: 'outer/inner', source: 'rescan', message: 'watched folder deleted or moved away' });
    } finally {
      await h.stop();
      await samba.stop();
    }
  }, 120_000);
});
