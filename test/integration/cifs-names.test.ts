// Names with characters Windows forbids, as a Linux cifs mount shows them. The kernel's cifs client
// maps `: ? * " < > |` (and more) to the Services for Mac private-use range on the wire by default
// (`mapposix` in mountinfo): `f?.txt` in the mount is `f\uF025.txt` on the server, which lists and
// reports that name. A local path, a watch's localPath and a view's replays must use the mount's
// name, or they name files that do not exist there.
//
// No cifs kernel module here: the share's own disk stands in for the mount. With vfs_fruit's
// `fruit:encoding = native`, Samba keeps `f?.txt` on its disk and serves it as `f\uF025.txt`,
// exactly as a mapposix mount shows a server's `f\uF025.txt`; the mountinfo fixture says so.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';
import { newMountPoint, startView, unmountView } from '../support/view.js';

let samba: SambaServer;
let cred: string;
let mountinfo: string;
/** Temp folder of the mountinfo fixture and the daemon's config, removed at the end. */
let dir: string;

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({ extraShare: ['vfs objects = catia fruit streams_xattr', 'fruit:encoding = native'] });
  cred = credentialsFile(samba);
  mkdirSync(join(samba.sharePath, 'dir:x'));
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-mnt-'));
  mountinfo = join(dir, 'mountinfo');
  writeFileSync(mountinfo, [
    '22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw',
    `99 22 0:55 / ${samba.sharePath} rw,relatime - cifs //${samba.host}/data rw,vers=3.1.1,addr=${samba.host},port=${samba.port},mapposix`,
    '',
  ].join('\n'));
});

afterAll(async () => {
  await stopAllSamba();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** As another client writes it: smbclient sends the name as given (here the wire form). */
async function putOverSmb(wirePath: string): Promise<void> {
  const r = await samba.smbclient(['-c', `put /etc/hostname "${wirePath}"`]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

describe('a cifs mount with mapposix (the kernel default)', () => {
  it('watch of a local folder named with a colon watches the server\'s name; localPath is the name the mount shows', async () => {
    const r = runCli(['watch', '--json', join(samba.sharePath, 'dir:x'), '--mountinfo', mountinfo, '-A', cred]);
    const state = JSON.parse(await r.waitLine(/"STATE"/)) as Record<string, unknown>;
    expect(state['path']).toBe('dir\uf022x');
    await putOverSmb('dir\uf022x\\f\uf025 \uf020q\uf020.txt');
    expect((await r.exit).code).toBe(0);
    const e = JSON.parse(r.stdout.filter(Boolean).find((l) => l.includes('"CREATE"'))!) as Record<string, unknown>;
    expect(e).toMatchObject({ path: 'dir\uf022x/f\uf025 \uf020q\uf020.txt', localPath: join(samba.sharePath, 'dir:x', 'f? "q".txt') });
    expect(existsSync(e['localPath'] as string)).toBe(true);
  });

  it('a change on the server\'s disk below a folder whose name Samba maps: found by the safety net, which names that cause', async () => {
    // Samba (4.17) reports nothing for it; the warning named only `kernel change notify = no`
    // and filers that report changes made over SMB only, neither of which is the case here.
    const r = runCli(['watch', '-m', '--json', `smb://${samba.host}:${samba.port}/data/dir\uf022x`, '-A', cred]);
    try {
      await r.waitLine(/"STATE"/);
      writeFileSync(join(samba.sharePath, 'dir:x', 'on-disk.txt'), 'x');
      await r.waitLine(/"CREATE".*on-disk\.txt/, 20_000);
      const warning = JSON.parse(await r.waitLine(/did not report/)) as { message: string };
      expect(warning.message).toMatch(/vfs_catia or vfs_fruit/);
    } finally {
      r.child.kill('SIGTERM');
      await r.exit;
    }
  });

  it('the view replays the names the mount shows', async () => {
    const view = await startView([samba.sharePath, '--mountinfo', mountinfo, '-A', cred]);
    try {
      expect(await createsSeenIn(view.mountPoint, ['k\uf025.txt', 'm\uf022n.txt'])).toEqual(['CREATE k?.txt', 'CREATE m:n.txt']);
    } finally {
      await view.stop();
      rmdirSync(view.mountPoint);
    }
  });

  it('so does a daemon watch\'s view', async () => {
    const mountPoint = newMountPoint();
    const config = join(dir, 'config');
    writeFileSync(config, ['[watch m]', `target = ${samba.sharePath}`, `view = ${mountPoint}`, ''].join('\n'));
    const d = runCli(['daemon', '--bus', 'none', '--config', config, '-A', cred, '--journal', 'off', '--mountinfo', mountinfo]);
    try {
      await d.waitLine(new RegExp(`view of .* at ${mountPoint}`), 20_000, 'stderr');
      expect(await createsSeenIn(mountPoint, ['d\uf021.txt'])).toEqual(['CREATE d*.txt']);
    } finally {
      d.child.kill('SIGTERM');
      await d.exit;
      unmountView(mountPoint);
      rmdirSync(mountPoint);
    }
  });
});

/** The IN_CREATE names inotifywait sees in `folder` while `wireNames` are put over SMB. */
async function createsSeenIn(folder: string, wireNames: string[]): Promise<string[]> {
  const inotifywait = requireTool('inotifywait', 'inotify-tools');
  const lines: string[] = [];
  const inw = spawn(inotifywait, ['-m', '-e', 'create', '--format', '%e %f', folder], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((ready) => inw.stderr.on('data', (d: Buffer) => String(d).includes('Watches established') && ready()));
    inw.stdout.on('data', (d: Buffer) => lines.push(...String(d).split('\n').filter(Boolean)));
    for (const name of wireNames) await putOverSmb(name);
    const until = Date.now() + 15_000;
    while (lines.length < wireNames.length && Date.now() < until) await new Promise((done) => setTimeout(done, 100));
  } finally {
    inw.kill();
  }
  return lines;
}
