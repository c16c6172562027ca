// A daemon watch with `view = over`: the view is mounted over the share's mount point itself, so
// paths that already exist under it become live. A bind mount of the share's folder stands in for
// the cifs mount (mountinfo, given with --mountinfo, says it is a cifs mount of the share).
// inotifywait on an existing folder under the mount point sees a server-side create, files below
// are read through the view, and after SIGTERM, and after SIGKILL (the watchdog), the mount
// below is back at its path with its files.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startDbus, type DbusBus } from '../support/dbus.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { atExit, requireTool } from '../support/tools.js';
import { isViewMounted, unmountView } from '../support/view.js';

let samba: SambaServer;
let bus: DbusBus;
let dir: string;
/** The bind mount of the share's folder: the "cifs mount point". */
let mnt: string;
let args: string[];
let unregister: () => void;
/** The file system type of the bind mount, the top mount at `mnt` whenever no view is on it. */
let below: string | undefined;

function topMountType(path: string): string | undefined {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === path);
  const last = lines.at(-1)?.split(' ');
  return last?.[last.indexOf('-') + 1];
}

beforeAll(async () => {
  requireBuild();
  requireTool('inotifywait', 'inotify-tools');
  samba = await startSamba({});
  bus = await startDbus();
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-view-over-'));
  mkdirSync(join(samba.sharePath, 'sub'));
  writeFileSync(join(samba.sharePath, 'existing.txt'), 'below\n');
  mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const bind = spawnSync('mount', ['--bind', samba.sharePath, mnt], { encoding: 'utf8' });
  expect(bind.status, bind.stderr).toBe(0);
  below = topMountType(mnt);
  expect(below).toBeDefined();
  unregister = atExit(() => {
    unmountView(mnt);
    spawnSync('umount', ['-l', mnt]);
  });
  const mountinfo = join(dir, 'mountinfo');
  writeFileSync(mountinfo, `99 22 0:55 / ${mnt} rw,relatime - cifs //${samba.host}/data rw,vers=3.1.1,addr=${samba.host},port=${samba.port},username=${samba.user}\n`);
  const config = join(dir, 'config');
  writeFileSync(config, ['[daemon]', 'follow-desktop = no', '', '[watch share]', `target = ${mnt}`, 'view = over', ''].join('\n'));
  args = ['daemon', '--bus', bus.address, '--config', config, '-A', credentialsFile(samba), '--journal', 'off', '--mountinfo', mountinfo];
}, 60_000);

afterAll(async () => {
  unmountView(mnt);
  spawnSync('umount', ['-l', mnt]);
  unregister?.();
  await bus?.stop();
  await stopAllSamba();
});

async function startDaemon(): Promise<Running> {
  const d = runCli(args);
  await d.waitLine(new RegExp(`view of .* at ${mnt} \\(backing ${mnt}\\)`), 20_000, 'stderr');
  expect(topMountType(mnt)).toBe('fuse.smbnotify');
  return d;
}

it('view = over makes existing paths under the mount point live; after SIGTERM the mount below is back', async () => {
  const d = await startDaemon();
  try {
    expect(readFileSync(join(mnt, 'existing.txt'), 'utf8')).toBe('below\n');
    const iw = spawn('inotifywait', ['-m', '--format', '%e %w%f', join(mnt, 'sub')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    iw.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise<void>((resolve) => iw.stderr.on('data', (c: Buffer) => c.toString().includes('Watches established') && resolve()));
    try {
      writeFileSync(join(samba.sharePath, 'sub', 'from-server.txt'), 'x');
      const t0 = Date.now();
      while (!out.includes(`CREATE ${mnt}/sub/from-server.txt`) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain(`CREATE ${mnt}/sub/from-server.txt`);
    } finally {
      iw.kill();
    }
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(topMountType(mnt)).toBe(below);
    expect(isViewMounted(mnt)).toBe(false);
    expect(readdirSync(mnt).sort()).toEqual(['existing.txt', 'sub']);
    expect(readdirSync(join(mnt, 'sub'))).toEqual(['from-server.txt']);
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
  }
}, 90_000);

it('after SIGKILL of the daemon, the watchdog puts the mount below back within a second', async () => {
  const d = await startDaemon();
  d.child.kill('SIGKILL');
  await d.exit;
  const t0 = Date.now();
  while (isViewMounted(mnt) && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 20));
  expect(isViewMounted(mnt)).toBe(false);
  expect(topMountType(mnt)).toBe(below);
  expect(readFileSync(join(mnt, 'existing.txt'), 'utf8')).toBe('below\n');
  expect(readdirSync(mnt).sort()).toEqual(['existing.txt', 'sub']);
}, 90_000);

it('a second view over the same mount point is refused (it would stack on the first view and replay each change twice)', async () => {
  const d = await startDaemon();
  try {
    const mountinfo = args[args.indexOf('--mountinfo') + 1]!;
    const second = runCli(['view', mnt, mnt, '-A', credentialsFile(samba), '--mountinfo', mountinfo]);
    const { code } = await second.exit;
    expect(second.stderr.filter((l) => l.trim())).toEqual([`smbnotify: ${mnt} already shows a view: stop that one first`]);
    expect(code).toBe(1);
    const views = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === mnt && l.includes(' - fuse.smbnotify '));
    expect(views).toHaveLength(1);
  } finally {
    d.child.kill('SIGTERM');
    await d.exit;
  }
  expect(topMountType(mnt)).toBe(below);
}, 90_000);
