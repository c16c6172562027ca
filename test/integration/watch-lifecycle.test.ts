// The watch engine's less common paths against a real smbd: an overflow (STATUS_NOTIFY_ENUM_DIR)
// answered by OVERFLOW and a precise rescan, the watched folder deleted (DELETE_SELF) and coming
// back, a watch on a missing folder failing with the server's status, and a tree larger than the
// server's open-file limit (said once, the folders already open still watched).
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SmbError } from '../../src/smb/errors.js';
import { startSamba, stopAllSamba } from '../support/samba.js';
import { applyStream, diskTree, setDiff, watch } from '../support/stream.js';

afterAll(async () => {
  await stopAllSamba();
});

describe('watch life cycle', () => {
  it('an overflow is announced as OVERFLOW, then made good by a precise rescan', async () => {
    const samba = await startSamba({});
    mkdirSync(join(samba.sharePath, 'small'));
    // A 64-byte buffer cannot hold a burst of long names: Samba answers STATUS_NOTIFY_ENUM_DIR.
    const h = await watch(samba, { path: 'small', bufferSize: 64 });
    try {
      const start = new Set([...diskTree(join(samba.sharePath, 'small'))].map((p) => `small/${p}`));
      for (let i = 0; i < 300; i++) closeSync(openSync(join(samba.sharePath, 'small', `a-rather-long-file-name-${i}.txt`), 'w'));
      await h.quiet(1000);
      const overflow = h.changes().find((e) => e.event === 'OVERFLOW');
      expect(overflow).toMatchObject({ event: 'OVERFLOW', path: 'small' });
      expect(h.changes().some((e) => e.event === 'CREATE' && e.source === 'rescan')).toBe(true);
      const disk = new Set([...diskTree(join(samba.sharePath, 'small'))].map((p) => `small/${p}`));
      expect(setDiff(applyStream(start, h.changes()), disk)).toEqual({ missing: [], extra: [] });
    } finally {
      await h.stop();
      await samba.stop();
    }
  });

  it('reports DELETE_SELF when the watched folder goes, and watches it again when it comes back', async () => {
    const samba = await startSamba({});
    mkdirSync(join(samba.sharePath, 'come-and-go'));
    const h = await watch(samba, { path: 'come-and-go', pollIntervalMs: 200, rootCheckMs: 200 });
    try {
      rmSync(join(samba.sharePath, 'come-and-go'), { recursive: true });
      const gone = await h.waitFor((e) => e.event === 'DELETE_SELF');
      expect(gone.path).toBe('come-and-go');
      await h.waitFor((e) => e.event === 'STATE' && e.state === 'polling');
      mkdirSync(join(samba.sharePath, 'come-and-go'));
      writeFileSync(join(samba.sharePath, 'come-and-go', 'back.txt'), 'x');
      await h.waitFor((e) => e.event === 'STATE' && e.state === 'watching' && /back/.test(e.message ?? ''));
      await h.waitFor((e) => e.path === 'come-and-go/back.txt' && e.event === 'CREATE');
      // Once the folder's second listing (a second after it is armed again) is done, a new file
      // can only come from the notification: before, that listing may find it first.
      await h.quiet(300);
      writeFileSync(join(samba.sharePath, 'come-and-go', 'later.txt'), 'x');
      const later = await h.waitFor((e) => e.path === 'come-and-go/later.txt');
      expect(later).toMatchObject({ event: 'CREATE', source: 'notify' });
    } finally {
      await h.stop();
      await samba.stop();
    }
  });

  for (const [name, remove] of [
    ['deleted on the disk', (dir: string) => rmSync(dir, { recursive: true })],
    ['moved away on the disk', (dir: string) => renameSync(dir, `${dir}-moved`)],
  ] as const) {
    it(`DELETE_SELF comes from the parent's notification at once when the folder is ${name}`, async () => {
      const samba = await startSamba({});
      for (const path of ['top', 'outer/inner']) {
        mkdirSync(join(samba.sharePath, path), { recursive: true });
        // The check by name is an hour away: only the parent's notification can say it in time.
        const h = await watch(samba, { path, rootCheckMs: 3_600_000, pollIntervalMs: 200 });
        try {
          // Past the server's arming gap (its notify daemon watches the parent's disk a moment
          // after the request is parked; watch-arming-gap.test.ts covers a removal inside it).
          await new Promise((r) => setTimeout(r, 1500));
          remove(join(samba.sharePath, path));
          // Anything far below the hour tells the two apart; a loaded machine needs more than 5 s.
          const gone = await h.waitFor((e) => e.event === 'DELETE_SELF', 20_000);
          expect(gone).toMatchObject({ event: 'DELETE_SELF', path, source: 'notify', message: 'watched folder deleted or moved away' });
          expect(h.changes().filter((e) => e.event === 'DELETE_SELF')).toHaveLength(1);
        } finally {
          await h.stop();
        }
      }
      await samba.stop();
    });
  }

  it('past the server\'s open-file limit: said once with the status, the open folders still watched', async () => {
    // smbd takes at least 100 (it panics below); 200 open files stop it well before the 250
    // folders of this tree (two descriptors per watched folder).
    const samba = await startSamba({ extraGlobal: ['max open files = 200'] });
    for (let i = 0; i < 250; i++) mkdirSync(join(samba.sharePath, 'big', `d${String(i).padStart(3, '0')}`), { recursive: true });
    const h = await watch(samba, { path: 'big', recursive: true });
    try {
      const said = h.events.filter((e) => e.event === 'STATE' && /refuses to open more folders/.test(e.message ?? ''));
      expect(said).toHaveLength(1);
      expect(said[0]!.message).toMatch(/\(STATUS_(TOO_MANY_OPENED_FILES|INSUFFICIENT_RESOURCES)\) after \d+ open folders: .*max open files/);
      expect(h.watcher.state).toBe('watching');
      // The root (opened first) is still watched: a change in it is reported.
      writeFileSync(join(samba.sharePath, 'big', 'after.txt'), 'x');
      await h.waitFor((e) => e.path === 'big/after.txt' && e.event === 'CREATE');
    } finally {
      await h.stop();
      await samba.stop();
    }
  });

  it('a watch on a missing folder fails with the server status', async () => {
    const samba = await startSamba({});
    try {
      const err = await watch(samba, { path: 'no/such/folder' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SmbError);
      expect((err as SmbError).statusName).toMatch(/STATUS_OBJECT_(PATH|NAME)_NOT_FOUND/);
    } finally {
      await samba.stop();
    }
  });
});
