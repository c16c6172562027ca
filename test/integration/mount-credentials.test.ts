// Replacing `smbinfo notify /mnt/share/dir`: a local path in a cifs mount needs no credentials
// of its own when the mount's credentials= file (from its fstab entry) is readable by the
// caller; the watch says which it used. Otherwise one line says how to give them. There is no
// cifs module on the test machine: the mount is a mountinfo fixture (--mountinfo) and its fstab
// entry a file of its own (--fstab), pointing at a real smbd.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, credentialsFile, requireBuild, runCli } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);
let samba: SambaServer;
let dir: string;
let mnt: string;
let mountinfo: string;
let cred: string;

function fstab(name: string, options: string): string {
  const file = join(dir, name);
  writeFileSync(file, `# a comment\nUUID=1234 / ext4 defaults 0 1\n//127.0.0.1/data ${mnt.replace(/ /g, '\\040')} cifs ${options} 0 0\n`);
  return file;
}

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  mkdirSync(join(samba.sharePath, 'sub'), { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-fstab-'));
  chmodSync(dir, 0o755);
  mnt = join(dir, 'mnt', 'Data Share');
  mountinfo = join(dir, 'mountinfo');
  writeFileSync(mountinfo, `99 22 0:55 / ${mnt.replace(/ /g, '\\040')} rw,relatime - cifs //127.0.0.1/data rw,vers=3.1.1,addr=127.0.0.1,port=${samba.port},username=${samba.user}\n`);
  cred = credentialsFile(samba); // root's, mode 600 in a 0700 folder
});

afterAll(async () => {
  await stopAllSamba();
});

describe('watch on a mounted share: the mount\'s own credentials', () => {
  it('uses the credentials= file of the fstab entry when the caller can read it, and says so', { timeout: 30_000 }, async () => {
    const tab = fstab('fstab', `credentials=${cred},vers=3.1.1,port=${samba.port},uid=1000`);
    const w = runCli(['watch', join(mnt, 'sub'), '--mountinfo', mountinfo, '--fstab', tab]);
    await w.waitLine(/WATCHING/, 15_000, 'stderr');
    writeFileSync(join(samba.sharePath, 'sub', 'via-mount.txt'), 'x');
    expect((await w.exit).code).toBe(0);
    expect(w.stderr.filter(Boolean)[0]).toBe(`smbnotify: using the credentials of the mount ${mnt} (credentials=${cred} in ${tab})`);
    expect(w.stdout.filter(Boolean)).toEqual(['CREATE          via-mount.txt']);
  });

  it('a credentials file the caller cannot read: one line saying how to give credentials', { timeout: 30_000 }, async () => {
    const tab = fstab('fstab-root', `credentials=${cred},port=${samba.port}`);
    const setpriv = requireTool('setpriv', 'util-linux');
    const r = await run(setpriv, ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', process.execPath, CLI, 'watch', join(mnt, 'sub'), '--mountinfo', mountinfo, '--fstab', tab], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent' },
    }).then(() => ({ code: 0, stderr: '' }), (e: { code?: number; stderr?: string }) => ({ code: e.code, stderr: e.stderr ?? '' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`smbnotify: no credentials for //127.0.0.1/data: the mount ${mnt} logs on with credentials=${cred} (${tab}), which you cannot use (permission denied): give -A FILE (username=, password=, mode 600), -U USER, PASSWD=..., or -N for guest\n`);
  });

  it('an fstab entry without credentials=: the same one line, naming what is missing', async () => {
    const tab = fstab('fstab-none', `username=${samba.user},port=${samba.port}`);
    const w = runCli(['watch', join(mnt, 'sub'), '--mountinfo', mountinfo, '--fstab', tab]);
    expect((await w.exit).code).toBe(1);
    expect(w.stderr.filter(Boolean)).toEqual([
      `smbnotify: no credentials for //127.0.0.1/data (mounted at ${mnt}; its ${tab} entry names no credentials= file, and the kernel's session cannot be borrowed): give -A FILE (username=, password=, mode 600), -U USER, PASSWD=..., or -N for guest`,
    ]);
  });

  it('no fstab entry for the mount at all (--fstab /dev/null): says there is none', async () => {
    const w = runCli(['watch', join(mnt, 'sub'), '--mountinfo', mountinfo, '--fstab', '/dev/null']);
    expect((await w.exit).code).toBe(1);
    expect(w.stderr.filter(Boolean)).toEqual([
      `smbnotify: no credentials for //127.0.0.1/data (mounted at ${mnt}; /dev/null has no entry for it, and the kernel's session cannot be borrowed): give -A FILE (username=, password=, mode 600), -U USER, PASSWD=..., or -N for guest`,
    ]);
  });

  it('credentials given on the command line win, and nothing is said about the mount', { timeout: 30_000 }, async () => {
    const tab = fstab('fstab-cli', `credentials=/nonexistent,port=${samba.port}`);
    const w = runCli(['watch', join(mnt, 'sub'), '--mountinfo', mountinfo, '--fstab', tab, '-A', cred]);
    await w.waitLine(/WATCHING/, 15_000, 'stderr');
    writeFileSync(join(samba.sharePath, 'sub', 'via-cli.txt'), 'x');
    expect((await w.exit).code).toBe(0);
    expect(w.stderr.filter((l) => l.startsWith('smbnotify:'))).toEqual([]);
    expect(readFileSync(tab, 'utf8')).toContain('credentials=/nonexistent');
  });
});
