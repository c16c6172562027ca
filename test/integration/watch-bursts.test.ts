// No change lost: bursts of files created on the server's disk as fast as possible while
// watching. The server overflows (STATUS_NOTIFY_ENUM_DIR); the watcher must say so and recover
// the truth by listing, so that the event stream applied to the starting listing gives exactly
// the final listing. The same must hold when polling (`change notify = no`) and when smbd is
// killed in the middle of a burst and comes back with more changes made while it was down.
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { applyStream, diskTree, setDiff, watch, type Harness } from '../support/stream.js';

afterAll(async () => {
  await stopAllSamba();
});

function createFiles(root: string, dir: string, count: number, prefix: string): void {
  mkdirSync(join(root, dir), { recursive: true });
  for (let i = 0; i < count; i++) closeSync(openSync(join(root, dir, `${prefix}-${i}.dat`), 'w'));
}

/** Churn that is not only creates: deletes, renames and a new folder with contents. */
function churn(root: string, dir: string, prefix: string): void {
  for (let i = 0; i < 50; i++) rmSync(join(root, dir, `${prefix}-${i}.dat`));
  for (let i = 50; i < 100; i++) renameSync(join(root, dir, `${prefix}-${i}.dat`), join(root, dir, `${prefix}-${i}.renamed`));
  mkdirSync(join(root, dir, `${prefix}-sub`));
  for (let i = 0; i < 30; i++) writeFileSync(join(root, dir, `${prefix}-sub`, `f${i}`), 'x');
}

async function reconstructs(h: Harness, samba: SambaServer, start: Set<string>, sub = ''): Promise<void> {
  await h.quiet(1500, 180_000);
  const prefix = sub ? `${sub}/` : '';
  const disk = new Set([...diskTree(join(samba.sharePath, sub))].map((p) => prefix + p));
  const rebuilt = applyStream(start, h.changes());
  expect(setDiff(rebuilt, disk)).toEqual({ missing: [], extra: [] });
  expect(rebuilt.size).toBe(disk.size);
}

describe('bursts on the server disk', () => {
  for (const count of [1000, 20_000]) {
    it(`${count} files: the stream rebuilds the final listing exactly`, async () => {
      const samba = await startSamba({});
      createFiles(samba.sharePath, 'pre', 10, 'old');
      const h = await watch(samba, { recursive: true });
      try {
        const start = diskTree(samba.sharePath);
        createFiles(samba.sharePath, 'burst', count, 'f');
        createFiles(samba.sharePath, '', Math.min(count, 5000), 'top');
        churn(samba.sharePath, 'burst', 'f');
        await reconstructs(h, samba, start);
        const overflows = h.changes().filter((e) => e.event === 'OVERFLOW').length;
        const rescans = h.changes().filter((e) => e.source === 'rescan').length;
        console.log(`burst ${count}: ${h.changes().length} events, ${overflows} overflows, ${rescans} from rescans`);
      } finally {
        await h.stop();
        await samba.stop();
      }
    }, 240_000);
  }
});

describe('polling where the server has no notify', () => {
  it('rebuilds the final listing from polled differences, announced once', async () => {
    const samba = await startSamba({ changeNotify: false });
    createFiles(samba.sharePath, 'pre', 10, 'old');
    const h = await watch(samba, { recursive: true, pollIntervalMs: 300 });
    try {
      expect(h.watcher.state).toBe('polling');
      const start = diskTree(samba.sharePath);
      createFiles(samba.sharePath, 'burst', 2000, 'f');
      churn(samba.sharePath, 'burst', 'f');
      rmSync(join(samba.sharePath, 'pre'), { recursive: true });
      await reconstructs(h, samba, start);
      expect(h.changes().every((e) => e.source === 'poll' || e.source === 'rescan')).toBe(true);
      expect(h.events.filter((e) => e.event === 'STATE' && e.state === 'polling')).toHaveLength(1);
    } finally {
      await h.stop();
      await samba.stop();
    }
  }, 120_000);
});

describe('server killed during a burst', () => {
  it('reconnects, resynchronises by listing, and the stream still rebuilds the final listing', async () => {
    const samba = await startSamba({});
    const h = await watch(samba, { recursive: true, keepaliveMs: 500 });
    try {
      const start = diskTree(samba.sharePath);
      createFiles(samba.sharePath, 'burst', 3000, 'a');
      await samba.kill();
      // Changes while the server is down.
      createFiles(samba.sharePath, 'burst', 500, 'down');
      churn(samba.sharePath, 'burst', 'a');
      await h.waitFor((e) => e.event === 'STATE' && e.state === 'reconnecting');
      await new Promise((r) => setTimeout(r, 2000));
      await samba.start();
      await h.waitFor((e) => e.event === 'STATE' && e.state === 'watching' && /reconnected/.test(e.message ?? ''), 30_000);
      createFiles(samba.sharePath, 'after', 200, 'b');
      await reconstructs(h, samba, start);
      expect(h.changes().some((e) => e.source === 'rescan')).toBe(true);
    } finally {
      await h.stop();
      await samba.stop();
    }
  }, 180_000);
});
