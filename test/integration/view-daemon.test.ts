// A daemon watch with a live view (`view =` in its config section): the view is mounted at the
// default place under $XDG_RUNTIME_DIR/smbnotify/ or at a folder of its own, inotifywait on it
// sees server-side changes, `status` and ListWatches show the view, its backing and its state,
// and SIGTERM unmounts it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli } from '../support/cli.js';
import { startDbus, type DbusBus } from '../support/dbus.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';
import { isViewMounted, newMountPoint, unmountView } from '../support/view.js';

let samba: SambaServer;
let bus: DbusBus;
let dir: string;

beforeAll(async () => {
  requireBuild();
  requireTool('inotifywait', 'inotify-tools');
  samba = await startSamba({});
  bus = await startDbus();
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-view-daemon-'));
});

afterAll(async () => {
  await bus?.stop();
  await stopAllSamba();
});

/** The minor device number of the FUSE mount at `mountPoint` (fusectl names connections by it). */
function viewDeviceMinor(mountPoint: string): string {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mountPoint && / - fuse/.test(l));
  if (!line) throw new Error(`no FUSE mount at ${mountPoint}`);
  const minor = line.split(' ')[2]!.split(':')[1]!;
  if (!existsSync(`/sys/fs/fuse/connections/${minor}`)) execFileSync('mount', ['-t', 'fusectl', 'none', '/sys/fs/fuse/connections']);
  return minor;
}

it('mounts the views of its watches, replays into them, shows them in status, unmounts on SIGTERM', async () => {
  const cred = credentialsFile(samba);
  const url = `smb://${samba.host}:${samba.port}/data`;
  mkdirSync(join(samba.sharePath, 'a'));
  mkdirSync(join(samba.sharePath, 'b'));
  const own = newMountPoint();
  const runtime = join(dir, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  const config = join(dir, 'config');
  writeFileSync(config, [
    '[watch alpha]', `target = ${url}/a`, `view = yes`, `view-backing = ${join(samba.sharePath, 'a')}`, '',
    '[watch beta]', `target = ${url}/b`, `view = ${own}`, `view-backing = ${join(samba.sharePath, 'b')}`, '',
    '[watch nobacking]', `target = ${url}/b`, 'view = yes', '',
  ].join('\n'));
  const alpha = join(runtime, 'smbnotify', 'alpha');
  const d = runCli(['daemon', '--bus', bus.address, '--config', config, '-A', cred, '--journal', 'off', '--mountinfo', '/dev/null'], { XDG_RUNTIME_DIR: runtime });
  try {
    await d.waitLine(/view of .* at .*alpha/, 20_000, 'stderr');
    await d.waitLine(new RegExp(`view of .* at ${own}`), 20_000, 'stderr');
    expect(isViewMounted(alpha)).toBe(true);
    expect(isViewMounted(own)).toBe(true);

    const iw = spawn('inotifywait', ['-m', '-r', '--format', '%e %w%f', alpha, own], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    iw.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise<void>((resolve) => iw.stderr.on('data', (c: Buffer) => c.toString().includes('Watches established') && resolve()));
    try {
      writeFileSync(join(samba.sharePath, 'a', 'to-alpha.txt'), 'x');
      mkdirSync(join(samba.sharePath, 'b', 'to-beta'));
      const t0 = Date.now();
      while (!(out.includes(`CREATE ${alpha}/to-alpha.txt`) && out.includes(`CREATE,ISDIR ${own}/to-beta`)) && Date.now() - t0 < 15_000) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out).toContain(`CREATE ${alpha}/to-alpha.txt`);
      expect(out).toContain(`CREATE,ISDIR ${own}/to-beta`);
    } finally {
      iw.kill();
    }

    const st = runCli(['status', '--bus', bus.address]);
    expect((await st.exit).code).toBe(0);
    const text = st.stdout.join('\n');
    expect(text).toMatch(new RegExp(`view mounted at ${alpha} \\(backing ${join(samba.sharePath, 'a')}\\)`));
    expect(text).toMatch(new RegExp(`view mounted at ${own} \\(backing ${join(samba.sharePath, 'b')}\\)`));
    expect(text).toMatch(/view failed at \S+\/nobacking: no local folder shows this share/);
    const json = runCli(['status', '--bus', bus.address, '--json']);
    await json.exit;
    const watches = (JSON.parse(json.stdout.join('')) as { watches: Record<string, unknown>[] }).watches;
    // Every field is there, also for a view that never found a backing folder.
    expect(watches.map((w) => [w['view'], w['viewBacking'], w['viewState']])).toEqual([
      [alpha, join(samba.sharePath, 'a'), 'mounted'], [own, join(samba.sharePath, 'b'), 'mounted'], [join(runtime, 'smbnotify', 'nobacking'), '', 'failed'],
    ]);

    // Unmounted from outside: the log says so, with the watch's id, and SIGHUP mounts it again.
    execFileSync('umount', ['-l', alpha]);
    await d.waitLine(new RegExp(`^w\\d+: view ${alpha} ended: .*SIGHUP tries again`), 10_000, 'stderr');
    d.child.kill('SIGHUP');
    await d.waitLine(/reloaded config: 3 watches/, 10_000, 'stderr');
    const t1 = Date.now();
    while (!isViewMounted(alpha) && Date.now() - t1 < 10_000) await new Promise((r) => setTimeout(r, 100));
    expect(isViewMounted(alpha)).toBe(true);

    // Its connection aborted (fusectl's abort, as an administrator unsticks a hung FUSE mount):
    // the view's end unmounts it, so the folder works again at once, never "Transport endpoint
    // is not connected" until a SIGHUP.
    const minor = viewDeviceMinor(own);
    writeFileSync(`/sys/fs/fuse/connections/${minor}/abort`, '1');
    await d.waitLine(new RegExp(`^w\\d+: view ${own} ended: `), 10_000, 'stderr');
    const t2 = Date.now();
    while (isViewMounted(own) && Date.now() - t2 < 2000) await new Promise((r) => setTimeout(r, 50));
    expect(isViewMounted(own)).toBe(false);
    expect(readdirSync(own)).toEqual([]);

    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    expect(isViewMounted(alpha)).toBe(false);
    expect(isViewMounted(own)).toBe(false);
    // The folder it made at the default place is gone (a bookmark says so, rather than showing
    // an empty share); a folder of the user's own stays.
    expect(existsSync(alpha)).toBe(false);
    expect(existsSync(own)).toBe(true);
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    unmountView(alpha);
    unmountView(own);
  }
}, 90_000);

it('view-allow-other: other users reach a view at the default place of a root service; where they cannot, status says why', async () => {
  const cred = credentialsFile(samba);
  const url = `smb://${samba.host}:${samba.port}/data`;
  mkdirSync(join(samba.sharePath, 'team'));
  writeFileSync(join(samba.sharePath, 'team', 'plan.txt'), 'x');
  // Standing in for /run (a root service's XDG_RUNTIME_DIR is unset: /run/smbnotify).
  const run = mkdtempSync(join(tmpdir(), 'smbnotify-view-daemon-run-'));
  chmodSync(run, 0o755);
  // A folder of its own inside a private one (mkdtemp: 0700).
  const hidden = join(dir, 'hidden-view');
  mkdirSync(hidden);
  const config = join(dir, 'config-allow-other');
  writeFileSync(config, [
    '[watch team]', `target = ${url}/team`, 'view = yes', `view-backing = ${join(samba.sharePath, 'team')}`, 'view-allow-other = yes', '',
    '[watch hidden]', `target = ${url}/team`, `view = ${hidden}`, `view-backing = ${join(samba.sharePath, 'team')}`, 'view-allow-other = yes', '',
  ].join('\n'));
  const team = join(run, 'smbnotify', 'team');
  const d = runCli(['daemon', '--bus', bus.address, '--config', config, '-A', cred, '--journal', 'off', '--mountinfo', '/dev/null'], { XDG_RUNTIME_DIR: run });
  try {
    await d.waitLine(/view of .* at .*\/team /, 20_000, 'stderr');
    await d.waitLine(/view of .* at .*hidden-view/, 20_000, 'stderr');
    const asNobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'ls', team], { encoding: 'utf8' });
    expect(asNobody.stderr + asNobody.stdout).toBe('plan.txt\n');
    const st = runCli(['status', '--bus', bus.address]);
    await st.exit;
    const text = st.stdout.join('\n');
    expect(text).toMatch(new RegExp(`view mounted at ${team} \\(backing [^)]*\\)$`, 'm'));
    expect(text).toContain(`view mounted at ${hidden} (backing ${join(samba.sharePath, 'team')}): other users cannot reach it: ${dir} is private (mode 0700)`);
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGTERM');
    await d.exit;
    unmountView(team);
    unmountView(hidden);
  }
}, 90_000);

it('a view waiting for a cifs mount of its share starts once the mount appears, with no SIGHUP', async () => {
  const cred = credentialsFile(samba);
  mkdirSync(join(samba.sharePath, 'late'));
  writeFileSync(join(samba.sharePath, 'late', 'already.txt'), 'x');
  // mountinfo as the daemon reads it (every 2 s): no mount of the share yet, then a cifs mount of
  // it, standing in for one made at login or by an automounter. The share's own folder is what
  // that mount would show.
  const mountinfo = join(dir, 'mountinfo-late');
  writeFileSync(mountinfo, '');
  const runtime = mkdtempSync(join(tmpdir(), 'smbnotify-view-daemon-late-'));
  const config = join(dir, 'config-late');
  writeFileSync(config, ['[watch late]', `target = smb://${samba.host}:${samba.port}/data/late`, 'view = yes', ''].join('\n'));
  const late = join(runtime, 'smbnotify', 'late');
  const d = runCli(['daemon', '--bus', bus.address, '--config', config, '-A', cred, '--journal', 'off', '--mountinfo', mountinfo], { XDG_RUNTIME_DIR: runtime });
  try {
    await d.waitLine(/view failed: no local folder shows this share: .*the view starts once it is mounted/, 20_000, 'stderr');
    expect(isViewMounted(late)).toBe(false);
    writeFileSync(mountinfo, `99 22 0:55 / ${samba.sharePath} rw,relatime - cifs //${samba.host}/data rw,vers=3.1.1,addr=${samba.host},port=${samba.port},username=${samba.user}\n`);
    await d.waitLine(new RegExp(`view of .* at ${late} \\(backing ${join(samba.sharePath, 'late')}\\)`), 15_000, 'stderr');
    expect(isViewMounted(late)).toBe(true);
    expect(readdirSync(late)).toEqual(['already.txt']);
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGTERM');
    await d.exit;
    unmountView(late);
  }
}, 60_000);

it('a view-backing folder that holds none of the watched folder\'s names is not mounted, and status says why', async () => {
  const cred = credentialsFile(samba);
  const url = `smb://${samba.host}:${samba.port}/data`;
  mkdirSync(join(samba.sharePath, 'w'));
  for (const name of ['plan.odt', 'budget.ods', 'notes.txt']) writeFileSync(join(samba.sharePath, 'w', name), 'x');
  const wrong = mkdtempSync(join(tmpdir(), 'smbnotify-wrong-backing-'));
  writeFileSync(join(wrong, 'something-else.txt'), 'x');
  const runtime = join(dir, 'runtime-wrong');
  mkdirSync(runtime, { mode: 0o700 });
  const config = join(dir, 'config-wrong');
  writeFileSync(config, ['[watch wrong]', `target = ${url}/w`, 'view = yes', `view-backing = ${wrong}`, ''].join('\n'));
  const d = runCli(['daemon', '--bus', bus.address, '--config', config, '-A', cred, '--journal', 'off', '--mountinfo', '/dev/null'], { XDG_RUNTIME_DIR: runtime });
  try {
    await d.waitLine(/view failed: view-backing .* does not show this folder of the share/, 20_000, 'stderr');
    const st = runCli(['status', '--bus', bus.address]);
    expect((await st.exit).code).toBe(0);
    expect(st.stdout.join('\n')).toMatch(
      new RegExp(`view failed at \\S+/wrong \\(backing ${wrong}\\): view-backing ${wrong} does not show this folder of the share: none of its names \\([^)]+\\) is there`),
    );
    expect(isViewMounted(join(runtime, 'smbnotify', 'wrong'))).toBe(false);
  } finally {
    d.child.kill('SIGTERM');
    await d.exit;
  }
}, 60_000);

it('a view whose default place cannot be made says why in words, and what to give instead', async () => {
  const cred = credentialsFile(samba);
  const url = `smb://${samba.host}:${samba.port}/data`;
  mkdirSync(join(samba.sharePath, 'nowhere'));
  // A runtime folder that is no folder: mkdir fails for root too (as /run/user/UID, absent outside
  // a login session, does for a user).
  const runtime = join(dir, 'runtime-is-a-file');
  writeFileSync(runtime, '');
  const config = join(dir, 'config-nowhere');
  writeFileSync(config, ['[watch nowhere]', `target = ${url}/nowhere`, 'view = yes', `view-backing = ${join(samba.sharePath, 'nowhere')}`, ''].join('\n'));
  const d = runCli(['daemon', '--bus', bus.address, '--config', config, '-A', cred, '--journal', 'off', '--mountinfo', '/dev/null'], { XDG_RUNTIME_DIR: runtime });
  try {
    const line = await d.waitLine(/view failed: /, 20_000, 'stderr');
    expect(line).toMatch(new RegExp(`view failed: cannot make the view's folder ${runtime}/smbnotify/nowhere: a parent is not a folder; give view = a folder of your own, e\\.g\\. view = ~/Projects$`));
  } finally {
    d.child.kill('SIGTERM');
    await d.exit;
  }
}, 60_000);
