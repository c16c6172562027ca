// A share that is a DFS root (`msdfs root = yes`) holding DFS links: symlinks named
// `msdfs:SERVER\SHARE` on the server's disk, listed as folders (with the reparse-point attribute)
// and answered STATUS_PATH_NOT_COVERED when opened, as a referral to another share. smbnotify does
// not follow referrals: a link is an entry like any other, the folder it leads to is not watched
// (said once), and a link named as the TARGET is refused in one line.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';

let samba: SambaServer;
let cred: string;
let url: string;

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({ extraShare: ['msdfs root = yes'] });
  cred = credentialsFile(samba);
  url = `smb://${samba.host}:${samba.port}/data`;
  mkdirSync(join(samba.sharePath, 'sub'));
  symlinkSync(`msdfs:${samba.host}\\public`, join(samba.sharePath, 'before'));
});

afterAll(async () => {
  await stopAllSamba();
});

const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('DFS links in a DFS root share', () => {
  it('watch -r: links present at the start and made while watching are entries; the watch goes on, saying once per link that it is not followed', async () => {
    // Opening a link failed the first listing ('CREATE failed: STATUS_0xc0000257', exit 1); a
    // link made while watching reset the connection over and over (error, connection lost,
    // reconnecting), each time the listing met the link again.
    const r = runCli(['watch', '-m', '-r', url, '-A', cred]);
    try {
      await r.waitLine(/WATCHING/, 15_000, 'stderr');
      symlinkSync(`msdfs:${samba.host}\\public`, join(samba.sharePath, 'made'));
      symlinkSync(`msdfs:${samba.host}\\public`, join(samba.sharePath, 'sub', 'deeper'));
      await r.waitLine(/CREATE,ISDIR {4}sub\/deeper/);
      await pause(1500);
      writeFileSync(join(samba.sharePath, 'after.txt'), 'x');
      await r.waitLine(/CREATE {10}after\.txt/);
      await pause(1500);
    } finally {
      r.child.kill('SIGTERM');
    }
    expect((await r.exit).code).toBe(143);
    expect(r.stdout.filter((l) => l.startsWith('CREATE'))).toEqual(['CREATE,ISDIR    made', 'CREATE,ISDIR    sub/deeper', 'CREATE          after.txt']);
    const said = (name: string) => `cannot watch //${samba.host}:${samba.port}/data/${name} (a DFS link to another share (STATUS_PATH_NOT_COVERED), which smbnotify does not follow): its changes are not reported`;
    const stderr = r.stderr.filter(Boolean).map((l) => l.replace(/^\S+ [A-Z]+: /, ''));
    expect(stderr.filter((l) => l.startsWith('cannot watch')).sort()).toEqual([said('before'), said('made'), said('sub/deeper')]);
    expect(stderr.filter((l) => /error|lost|reconnect/i.test(l))).toEqual([]);
  });

  it('ls, info and watch of a link say in one line that it leads to another share', async () => {
    const line = `smbnotify: a DFS link to another share: \\\\${samba.host}\\data\\before (smbnotify does not follow DFS referrals: name the share it leads to) (STATUS_PATH_NOT_COVERED)`;
    for (const args of [['ls'], ['info'], ['watch', '-t', '5']]) {
      const r = runCli([...args, `${url}/before`, '-A', cred]);
      expect((await r.exit).code, args[0]).toBe(1);
      expect(r.stderr.filter(Boolean), args[0]).toEqual([line]);
    }
  });

  it('a daemon watch of a link stops at once, saying why, instead of retrying for good', async () => {
    // It was retried with growing delays for ever ('reconnecting: cannot connect (...)').
    const r = runCli(['daemon', '--bus', 'none', '--config', '/dev/null', '--journal', 'off', '--watch', `${url}/before`, '-A', cred]);
    try {
      await r.waitLine(/stopped: cannot watch: a DFS link to another share/, 15_000, 'stderr');
    } finally {
      r.child.kill('SIGTERM');
      await r.exit;
    }
    expect(r.stderr.filter((l) => /reconnecting|retrying/.test(l))).toEqual([]);
  });
});
