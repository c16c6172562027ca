// The watch engine against a real smbd: create, write, delete, rename and cross-folder move, each
// made over SMB (a second client, smbclient) and on the server's disk, at the top and three
// folders deep with a recursive watch. Each must be reported once, with the right event and path.
import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WatchEvent } from '../../src/watch/events.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { watch, type Harness } from '../support/stream.js';

let samba: SambaServer;
let h: Harness;
const DEEP = 'd1/d2/d3';

beforeAll(async () => {
  samba = await startSamba({});
  mkdirSync(join(samba.sharePath, DEEP), { recursive: true });
  mkdirSync(join(samba.sharePath, 'other'), { recursive: true });
  h = await watch(samba, { recursive: true });
});

afterAll(async () => {
  await h?.stop();
  await stopAllSamba();
});

let mark = 0;
beforeEach(async () => {
  await h.quiet(300);
  mark = h.events.length;
});

/** Changes since the test began, as `EVENT path[<-old]`, STATE and MODIFY of folders left out. */
function seen(): string[] {
  return h.events
    .slice(mark)
    .filter((e) => e.event !== 'STATE')
    .map((e: WatchEvent) => `${e.event} ${e.path}${e.oldPath !== undefined ? ` <- ${e.oldPath}` : ''}`);
}

/** Wait for the first event of this test, then for 400 ms of quiet. */
async function settle(): Promise<string[]> {
  const deadline = Date.now() + 5000;
  while (h.events.length === mark && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await h.quiet(400);
  return seen();
}

const smb = async (cmd: string) => {
  const r = await samba.smbclient(['-c', cmd]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).not.toMatch(/NT_STATUS_/);
};

for (const [where, dir] of [['top', ''], ['three folders deep', DEEP]] as const) {
  const p = (name: string) => (dir ? `${dir}/${name}` : name);
  const disk = (name: string) => join(samba.sharePath, p(name));
  const unc = (name: string) => p(name).replace(/\//g, '\\');

  describe(`changes on the server's disk, ${where}`, () => {
    it('create', async () => {
      writeFileSync(disk('disk-new.txt'), 'x');
      expect(await settle()).toContain(`CREATE ${p('disk-new.txt')}`);
      expect(seen().filter((s) => s.startsWith('CREATE'))).toHaveLength(1);
    });
    it('write', async () => {
      appendFileSync(disk('disk-new.txt'), 'more');
      expect(await settle()).toEqual([`MODIFY ${p('disk-new.txt')}`]);
    });
    it('rename', async () => {
      renameSync(disk('disk-new.txt'), disk('disk-renamed.txt'));
      expect(await settle()).toEqual([`MOVED_FROM ${p('disk-new.txt')}`, `MOVED_TO ${p('disk-renamed.txt')} <- ${p('disk-new.txt')}`]);
    });
    it('cross-folder move', async () => {
      renameSync(disk('disk-renamed.txt'), join(samba.sharePath, 'other', 'disk-renamed.txt'));
      expect(await settle()).toEqual([`MOVED_FROM ${p('disk-renamed.txt')}`, `MOVED_TO other/disk-renamed.txt <- ${p('disk-renamed.txt')}`]);
      mark = h.events.length;
      renameSync(join(samba.sharePath, 'other', 'disk-renamed.txt'), disk('disk-moved.txt'));
      // Renamed on the way: nothing ties the two halves together, so it is a delete and a create.
      expect(await settle()).toEqual([`DELETE other/disk-renamed.txt`, `CREATE ${p('disk-moved.txt')}`]);
    });
    it('delete', async () => {
      rmSync(disk('disk-moved.txt'));
      expect(await settle()).toEqual([`DELETE ${p('disk-moved.txt')}`]);
    });
    it('folder create and delete with contents', async () => {
      mkdirSync(disk('newdir'));
      writeFileSync(disk('newdir/inside.txt'), 'x');
      await h.waitFor((e) => e.path === p('newdir/inside.txt'));
      rmSync(disk('newdir'), { recursive: true });
      const s = await settle();
      expect(s.slice(0, 2)).toEqual([`CREATE ${p('newdir')}`, `CREATE ${p('newdir/inside.txt')}`]);
      expect(s).toContain(`DELETE ${p('newdir')}`);
    });
  });

  describe(`changes over SMB, ${where}`, () => {
    it('create', async () => {
      await smb(`put /etc/hostname ${unc('smb-new.txt')}`);
      const s = await settle();
      expect(s[0]).toBe(`CREATE ${p('smb-new.txt')}`);
      expect(s.filter((x) => x.startsWith('CREATE'))).toHaveLength(1);
    });
    it('write', async () => {
      await smb(`put /etc/os-release ${unc('smb-new.txt')}`);
      const s = await settle();
      expect(s.length).toBeGreaterThan(0);
      expect(new Set(s)).toEqual(new Set([`MODIFY ${p('smb-new.txt')}`]));
    });
    it('rename', async () => {
      await smb(`rename ${unc('smb-new.txt')} ${unc('smb-renamed.txt')}`);
      expect(await settle()).toEqual([`MOVED_FROM ${p('smb-new.txt')}`, `MOVED_TO ${p('smb-renamed.txt')} <- ${p('smb-new.txt')}`]);
    });
    it('cross-folder move', async () => {
      await smb(`rename ${unc('smb-renamed.txt')} other\\smb-renamed.txt`);
      expect(await settle()).toEqual([`MOVED_FROM ${p('smb-renamed.txt')}`, `MOVED_TO other/smb-renamed.txt <- ${p('smb-renamed.txt')}`]);
    });
    it('delete', async () => {
      await smb(`del other\\smb-renamed.txt`);
      expect(await settle()).toEqual([`DELETE other/smb-renamed.txt`]);
    });
  });
}

describe('events carry the normalized fields', () => {
  it('has seq, time, server, share, path, source and action', async () => {
    writeFileSync(join(samba.sharePath, 'fields.txt'), 'x');
    const e = await h.waitFor((x) => x.path === 'fields.txt');
    expect(e).toMatchObject({ event: 'CREATE', server: `${samba.host}:${samba.port}`, share: 'data', path: 'fields.txt', source: 'notify', action: 1 });
    expect(typeof e.seq).toBe('number');
    expect(new Date(e.time).toString()).not.toBe('Invalid Date');
    const seqs = h.events.map((x) => x.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });
});
