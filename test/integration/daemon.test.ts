// The daemon as a user runs it: a real smbd, a private dbus-daemon, the built CLI as a separate
// process, and independent observers (dbus-monitor, gdbus, busctl, smbstatus, the journal file).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import dbus from 'dbus-next';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { dbusMonitor, monitorReady, startDbus, type DbusBus, type DbusMonitor } from '../support/dbus.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);
const NAME = 'io.github.smbnotify';
const OBJ = '/io/github/smbnotify';
const IFACE = 'io.github.smbnotify.Watcher1';

let samba: SambaServer;
let cred: string;
let dir: string;
let mountPoint: string;
let mountinfo: string;

/** The percent-encoded file:// URL KDE expects (docs/desktop.md): UTF-8 bytes, space, # and % encoded. */
function url(localPath: string): string {
  return `file://${localPath.split('/').map((c) => encodeURIComponent(c).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)).join('/')}`;
}

async function startDaemon(bus: DbusBus, args: string[]): Promise<Running> {
  const d = runCli(['daemon', '--bus', bus.address, '--mountinfo', mountinfo, '-A', cred, ...args]);
  await d.waitLine(/daemon running/, 20_000, 'stderr');
  // "running" comes before the watches connect: wait for a --watch to be watching too.
  if (args.includes('--watch')) await d.waitLine(/^w\d+ .*: watching$/, 20_000, 'stderr');
  return d;
}

async function stopDaemon(d: Running): Promise<number | null> {
  d.child.kill('SIGTERM');
  return (await d.exit).code;
}

async function gdbus(bus: DbusBus, method: string, ...args: string[]): Promise<string> {
  const tool = requireTool('gdbus', 'libglib2.0-bin');
  const r = await run(tool, ['call', '--address', bus.address, '--dest', NAME, '--object-path', OBJ, '--method', `${IFACE}.${method}`, ...args]);
  return r.stdout;
}

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  cred = credentialsFile(samba);
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-daemon-'));
  mountPoint = join(dir, 'mnt', 'Share Ü');
  mountinfo = join(dir, 'mountinfo');
  writeFileSync(mountinfo, `99 22 0:55 / ${mountPoint.replace(/ /g, '\\040')} rw,relatime - cifs //${samba.host}/data rw,vers=3.1.1,addr=${samba.host},port=${samba.port},username=${samba.user}\n`);
});

afterAll(async () => {
  await stopAllSamba();
  rmSync(dir, { recursive: true, force: true });
});

describe('daemon signals, journal and control API', () => {
  let bus: DbusBus;
  let daemon: Running;
  let kde: DbusMonitor;
  let own: DbusMonitor;
  const journal = () => join(dir, 'events.jsonl');

  beforeAll(async () => {
    bus = await startDbus();
    kde = dbusMonitor(bus.address, "type='signal',interface='org.kde.KDirNotify'");
    own = dbusMonitor(bus.address, `type='signal',interface='${IFACE}'`);
    await Promise.all([monitorReady(kde), monitorReady(own)]);
    mkdirSync(join(samba.sharePath, 'dir #1 %20 ü Ж'), { recursive: true });
    daemon = await startDaemon(bus, ['--watch', `smb://${samba.host}:${samba.port}/data`, '-r', '--journal', journal()]);
    await own.waitFor(/string "watching/, 15_000);
  });

  afterAll(async () => {
    if (daemon) expect(await stopDaemon(daemon)).toBe(0);
    await kde?.stop();
    await own?.stop();
    await bus?.stop();
  });

  it('sends FilesAdded with the exact encoded URL of the folder, and its own Event signal', async () => {
    const folder = join(mountPoint, 'dir #1 %20 ü Ж');
    writeFileSync(join(samba.sharePath, 'dir #1 %20 ü Ж', 'new file.txt'), 'x');
    await kde.waitFor(new RegExp(`string "${url(folder).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), 10_000);
    expect(url(folder)).toContain('dir%20%231%20%2520%20%C3%BC%20%D0%96');
    await own.waitFor(/string "dir #1 %20 ü Ж\/new file.txt"/, 10_000);
    const text = own.lines.join('\n');
    for (const key of ['seq', 'time', 'event', 'server', 'share', 'path', 'localPath', 'source', 'action', 'watchId']) {
      expect(text).toContain(`string "${key}"`);
    }
    expect(text).toContain(`string "${join(folder, 'new file.txt')}"`);
  });

  it('sends FilesRemoved and FileRenamedWithLocalPath', async () => {
    const base = join(samba.sharePath, 'dir #1 %20 ü Ж');
    renameSync(join(base, 'new file.txt'), join(base, 'renamed.txt'));
    await kde.waitFor(/member=FileRenamedWithLocalPath/, 10_000);
    await kde.waitFor(/member=FileRenamed$|member=FileRenamed /, 10_000);
    rmSync(join(base, 'renamed.txt'));
    await kde.waitFor(/member=FilesRemoved/, 10_000);
    await kde.waitFor(new RegExp(`${url(join(mountPoint, 'dir #1 %20 ü Ж', 'renamed.txt')).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 10_000);
  });

  it('writes every event to the journal as JSON lines, mode 0600', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const lines = readFileSync(journal(), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((e) => e['event'] === 'DELETE' && e['path'] === 'dir #1 %20 ü Ж/renamed.txt' && e['watchId'] === 'w1')).toBe(true);
    const { stdout } = await run('stat', ['-c', '%a', journal()]);
    expect(stdout.trim()).toBe('600');
  });

  it('adds, lists and removes watches through the D-Bus methods (gdbus and busctl)', async () => {
    const listed = await gdbus(bus, 'ListWatches');
    expect(listed).toMatch(/'id': <'w1'>/);
    expect(listed).toMatch(/'state': <'watching'>/);
    mkdirSync(join(samba.sharePath, 'added'), { recursive: true });
    const busctl = requireTool('busctl', 'systemd');
    const added = await run(busctl, ['--address', bus.address, 'call', NAME, OBJ, IFACE, 'AddWatch', 'sa{sv}', `smb://${samba.host}:${samba.port}/data/added`, '1', 'credentialsFile', 's', cred]);
    const id = /"(w\d+)"/.exec(added.stdout)?.[1];
    expect(id).toBeDefined();
    expect(await gdbus(bus, 'ListWatches')).toContain(`'id': <'${id}'>`);
    await gdbus(bus, 'RemoveWatch', id!);
    expect(await gdbus(bus, 'ListWatches')).not.toContain(`'id': <'${id}'>`);
    // Its last word in the journal (as on D-Bus and MQTT): stopped.
    const stoppedLine = () => readFileSync(journal(), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e['watchId'] === id && e['event'] === 'STATE' && e['state'] === 'stopped');
    const t0 = Date.now();
    while (!stoppedLine() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 100));
    expect(stoppedLine()?.['message']).toBe('watch removed');
    await expect(gdbus(bus, 'RemoveWatch', 'w999')).rejects.toThrow(/NotFound/);
  });

  it('`status` shows each watch; `monitor --json` prints the signals as watch does', async () => {
    const st = runCli(['status', '--bus', bus.address]);
    expect((await st.exit).code).toBe(0);
    expect(st.stdout.join('\n')).toMatch(/w1\s+watching\s+\/\/127\.0\.0\.1:\d+\/data\s+3\.1\.1/);
    const mon = runCli(['monitor', '--bus', bus.address, '--json']);
    await mon.waitLine(/listening to the daemon's events/, 10_000, 'stderr');
    writeFileSync(join(samba.sharePath, 'monitored.txt'), 'x');
    const line = await mon.waitLine(/monitored\.txt/);
    expect(JSON.parse(line)).toMatchObject({ event: 'CREATE', path: 'monitored.txt', source: 'notify' });
    mon.child.kill('SIGINT');
    expect((await mon.exit).code).toBe(130);
  });
});

describe('following the desktop (KIO enteredDirectory / leftDirectory)', () => {
  it('watches a folder while it is shown, closes its handle when it is left', async () => {
    const bus = await startDbus();
    const kde = dbusMonitor(bus.address, "type='signal',interface='org.kde.KDirNotify',member='FilesAdded'");
    await monitorReady(kde);
    mkdirSync(join(samba.sharePath, 'desk folder'), { recursive: true });
    const daemon = await startDaemon(bus, ['--journal', 'off']);
    try {
      const send = requireTool('dbus-send', 'dbus-bin');
      const shown = join(mountPoint, 'desk folder');
      // KIO sends these URLs raw, not percent-encoded (docs/desktop.md).
      await run(send, [`--bus=${bus.address}`, '--type=signal', '/', 'org.kde.KDirNotify.enteredDirectory', `string:file://${shown}`]);
      for (let i = 0; i < 50 && !/'origin': <'desktop'>[\s\S]*'state': <'watching'>|'state': <'watching'>[\s\S]*'origin': <'desktop'>/.test(await gdbus(bus, 'ListWatches')); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await samba.smbstatus(['-L'])).toContain('desk folder');
      writeFileSync(join(samba.sharePath, 'desk folder', 'seen.txt'), 'x');
      await kde.waitFor(new RegExp(url(shown).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 10_000);
      await run(send, [`--bus=${bus.address}`, '--type=signal', '/', 'org.kde.KDirNotify.leftDirectory', `string:file://${shown}`]);
      let open = true;
      for (let i = 0; i < 50 && open; i++) {
        await new Promise((r) => setTimeout(r, 100));
        open = (await samba.smbstatus(['-L'])).includes('desk folder');
      }
      expect(open).toBe(false);
      expect(await gdbus(bus, 'ListWatches')).not.toContain("'origin': <'desktop'>");
    } finally {
      expect(await stopDaemon(daemon)).toBe(0);
      await kde.stop();
      await bus.stop();
    }
  });
});

describe('following Nautilus (org.freedesktop.FileManager1.OpenLocations)', () => {
  it('watches the folders the file manager reports open, and stops when they close', async () => {
    const bus = await startDbus();
    mkdirSync(join(samba.sharePath, 'nautilus folder'), { recursive: true });
    // A file manager on the bus, as Nautilus publishes itself: the property is all it needs.
    const fm = dbus.sessionBus({ busAddress: bus.address });
    class FileManager extends dbus.interface.Interface {
      locations: string[] = [];
    }
    FileManager.configureMembers({
      properties: { OpenLocations: { signature: 'as', access: dbus.interface.ACCESS_READ } },
    });
    Object.defineProperty(FileManager.prototype, 'OpenLocations', { get(this: FileManager) { return this.locations; } });
    const iface = new FileManager('org.freedesktop.FileManager1');
    fm.export('/org/freedesktop/FileManager1', iface);
    await fm.requestName('org.freedesktop.FileManager1', 0);
    const daemon = await startDaemon(bus, ['--journal', 'off']);
    try {
      iface.locations = [url(join(mountPoint, 'nautilus folder'))];
      let open = false;
      for (let i = 0; i < 100 && !open; i++) {
        await new Promise((r) => setTimeout(r, 100));
        open = (await samba.smbstatus(['-L'])).includes('nautilus folder');
      }
      expect(open).toBe(true);
      iface.locations = [];
      for (let i = 0; i < 100 && open; i++) {
        await new Promise((r) => setTimeout(r, 100));
        open = (await samba.smbstatus(['-L'])).includes('nautilus folder');
      }
      expect(open).toBe(false);
    } finally {
      expect(await stopDaemon(daemon)).toBe(0);
      fm.disconnect();
      await bus.stop();
    }
  });

  it('asks only a file manager that is running: never has the bus start one (XFCE, Cinnamon: Thunar, Nemo)', async () => {
    // A session bus that can start a file manager on demand, as every desktop's can (Thunar,
    // Nemo, Nautilus and Dolphin each install a .service file for org.freedesktop.FileManager1).
    const started = join(dir, 'file-manager-started');
    const bus = await startDbus({
      config: (busDir) => {
        mkdirSync(join(busDir, 'services'));
        writeFileSync(join(busDir, 'services', 'fm.service'), `[D-BUS Service]\nName=org.freedesktop.FileManager1\nExec=/usr/bin/touch ${started}\n`);
        return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${busDir}/bus</listen><servicedir>${busDir}/services</servicedir>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`;
      },
    });
    const mon = dbusMonitor(bus.address, "interface='org.freedesktop.DBus.Properties',member='Get'");
    await monitorReady(mon);
    const daemon = await startDaemon(bus, ['--journal', 'off']);
    try {
      await mon.waitFor(/destination=org.freedesktop.FileManager1/, 15_000);
      // The bus starts an activatable service at once (here: a touch); give it time to run.
      await new Promise((r) => setTimeout(r, 2000));
      expect(existsSync(started), 'the daemon had the bus start a file manager').toBe(false);
    } finally {
      expect(await stopDaemon(daemon)).toBe(0);
      await mon.stop();
      await bus.stop();
    }
  });
});

describe('started by D-Bus activation', () => {
  it('the call that started it is answered with the config\'s watches, not before they exist', { timeout: 60_000 }, async () => {
    const config = join(dir, 'activated.conf');
    writeFileSync(config, `[daemon]\njournal = off\nfollow-desktop = no\n[watch data]\ntarget = smb://${samba.host}:${samba.port}/data\ncredentials = ${cred}\n`);
    // The session bus starts the daemon for the first call to its name, as the shipped
    // io.github.smbnotify.service does.
    const bus = await startDbus({
      config: (busDir) => {
        mkdirSync(join(busDir, 'services'));
        writeFileSync(join(busDir, 'services', 'io.github.smbnotify.service'), `[D-BUS Service]\nName=${NAME}\nExec=${process.execPath} ${CLI} daemon --config ${config} --mountinfo ${mountinfo}\n`);
        return `<busconfig><type>session</type><listen>unix:path=${busDir}/bus</listen><servicedir>${busDir}/services</servicedir>`
          + '<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>';
      },
    });
    let pid = 0;
    try {
      const status = runCli(['status', '--json', '--bus', bus.address]);
      expect((await status.exit).code).toBe(0);
      const answer = JSON.parse(status.stdout.join('\n')) as { pid: number; watches: Array<{ target: string }> };
      pid = answer.pid;
      expect(answer.watches.map((w) => w.target)).toEqual([`smb://${samba.host}:${samba.port}/data`]);
    } finally {
      if (pid) process.kill(pid, 'SIGTERM');
      await bus.stop();
    }
  });
});

describe('the bus going away', () => {
  it('stops the daemon with status 1 and a line saying why, instead of running on without D-Bus', { timeout: 60_000 }, async () => {
    const bus = await startDbus();
    const daemon = await startDaemon(bus, ['--journal', 'off', '--watch', `smb://${samba.host}:${samba.port}/data`]);
    await bus.stop(); // the session ends: its dbus-daemon stops
    const { code } = await Promise.race([daemon.exit, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the daemon still runs 20 s after its bus stopped: ${daemon.stderr.join(' | ')}`)), 20_000))]);
    expect(daemon.stderr).toContain(`the D-Bus bus ${bus.address.replace(/,guid=[0-9a-f]*/, '')} closed the connection (its dbus-daemon stopped): stopping`);
    expect(daemon.stderr).toContain('stopping: cancelling requests, closing handles');
    expect(code).toBe(1);
  });
});

describe('watch-mounts', () => {
  it('watches every mounted share it has credentials for, and stops when the mount goes', async () => {
    const bus = await startDbus();
    const config = join(dir, 'mounts.conf');
    const info = join(dir, 'mountinfo-live');
    writeFileSync(config, `[daemon]\nfollow-desktop = no\nwatch-mounts = yes\njournal = off\ncredentials = ${cred}\n`);
    writeFileSync(info, readFileSync(mountinfo, 'utf8'));
    const daemon = runCli(['daemon', '--bus', bus.address, '--config', config, '--mountinfo', info]);
    await daemon.waitLine(/daemon running/, 20_000, 'stderr');
    try {
      let listed = '';
      for (let i = 0; i < 50 && !/'state': <'watching'>/.test(listed); i++) {
        await new Promise((r) => setTimeout(r, 100));
        listed = await gdbus(bus, 'ListWatches');
      }
      expect(listed).toContain("'origin': <'mount'>");
      expect(listed).toContain(`'localPath': <'${mountPoint}'>`);
      writeFileSync(info, '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n');
      for (let i = 0; i < 60 && /'origin': <'mount'>/.test(listed); i++) {
        await new Promise((r) => setTimeout(r, 100));
        listed = await gdbus(bus, 'ListWatches');
      }
      expect(listed).not.toContain("'origin': <'mount'>");
    } finally {
      expect(await stopDaemon(daemon)).toBe(0);
      await bus.stop();
    }
  });
});

describe('protection shown for a watch', () => {
  it('a share that requires encryption shows the cipher, not signing, in status --json', async () => {
    const encrypted = await startSamba({ encryptShare: true });
    const bus = await startDbus();
    const d = runCli(['daemon', '--bus', bus.address, '--journal', 'off', '--config', '/dev/null', '--watch', `smb://${encrypted.host}:${encrypted.port}/data`, '-A', credentialsFile(encrypted)]);
    try {
      await d.waitLine(/^w\d+ .*: watching$/, 20_000, 'stderr');
      const st = runCli(['status', '--json', '--bus', bus.address]);
      expect((await st.exit).code).toBe(0);
      const [w] = (JSON.parse(st.stdout.join('')) as { watches: Array<{ encryption: string | null; signing: string | null }> }).watches;
      expect(w!.encryption).toMatch(/^AES-/);
      expect(w!.signing ?? null).toBeNull();
    } finally {
      expect(await stopDaemon(d)).toBe(0);
      await bus.stop();
      await encrypted.stop();
    }
  });
});

describe('service life cycle', () => {
  it('reloads its config on SIGHUP, stops cleanly on SIGTERM, and `status` then says it is not running', async () => {
    const bus = await startDbus();
    const config = join(dir, 'config');
    mkdirSync(join(samba.sharePath, 'one'), { recursive: true });
    mkdirSync(join(samba.sharePath, 'two'), { recursive: true });
    writeFileSync(config, `[daemon]\nfollow-desktop = no\njournal = off\n\n[watch one]\ntarget = smb://${samba.host}:${samba.port}/data/one\ncredentials = ${cred}\n`);
    const daemon = runCli(['daemon', '--bus', bus.address, '--config', config, '--mountinfo', mountinfo]);
    await daemon.waitLine(/daemon running/, 20_000, 'stderr');
    try {
      expect(await gdbus(bus, 'ListWatches')).toMatch(/data\/one/);
      writeFileSync(config, `${readFileSync(config, 'utf8')}\n[watch two]\ntarget = smb://${samba.host}:${samba.port}/data/two\ncredentials = ${cred}\n`);
      daemon.child.kill('SIGHUP');
      await daemon.waitLine(/reloaded config: 2 watches/, 10_000, 'stderr');
      expect(await gdbus(bus, 'ListWatches')).toMatch(/data\/two/);
      expect(await samba.smbstatus(['-L'])).toMatch(/two/);
      // A config watch removed over D-Bus: the next reload makes the running watches the file's.
      const one = /'id': <'(w\d+)'>[^}]*data\/one/.exec(await gdbus(bus, 'ListWatches'))?.[1];
      expect(one).toBeDefined();
      await gdbus(bus, 'RemoveWatch', one!);
      expect(await gdbus(bus, 'ListWatches')).not.toMatch(/data\/one/);
      daemon.child.kill('SIGHUP');
      for (let i = 0; i < 100 && daemon.stderr.filter((l) => /reloaded config: 2 watches/.test(l)).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      expect(daemon.stderr.filter((l) => /reloaded config: 2 watches/.test(l))).toHaveLength(2);
      expect(await gdbus(bus, 'ListWatches')).toMatch(/data\/one/);
    } finally {
      expect(await stopDaemon(daemon)).toBe(0);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await samba.smbstatus(['-L'])).not.toMatch(/\bone\b|\btwo\b/);
    const st = runCli(['status', '--bus', bus.address]);
    expect((await st.exit).code).toBe(1);
    expect(st.stderr.filter(Boolean)).toEqual([`smbnotify: the smbnotify daemon is not running on the bus ${bus.address.replace(/,guid=.*$/, '')}`]);
    await bus.stop();
  });
});
