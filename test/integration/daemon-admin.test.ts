// The daemon as an administrator runs it for weeks: a config file with several watches, the
// journal read by scripts (`tail -F`), rotated by logrotate, and the config edited and reloaded
// with SIGHUP. A real smbd, the built CLI as a separate process, the journal file as it is on disk.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startDbus } from '../support/dbus.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { until } from '../support/until.js';

let samba: SambaServer;
let cred: string;
let dir: string;

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  cred = credentialsFile(samba);
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-daemon-admin-'));
});

afterAll(async () => {
  await stopAllSamba();
  rmSync(dir, { recursive: true, force: true });
});

interface Line {
  seq: number;
  event: string;
  path: string;
  watchId: string;
}

const read = (file: string): Line[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) : []);

function config(folder: string, journal: string, daemonKeys = ''): string {
  return `[daemon]\nbus = none\nfollow-desktop = no\njournal = ${journal}\ncredentials = ${cred}\n${daemonKeys}\n[watch inbox]\ntarget = smb://${samba.host}:${samba.port}/data/${folder}\n`;
}

async function startDaemon(configFile: string): Promise<Running> {
  const d = runCli(['daemon', '--config', configFile, '--mountinfo', '/dev/null']);
  await d.waitLine(/daemon running/, 20_000, 'stderr');
  await d.waitLine(/^w1 .*: watching$/, 20_000, 'stderr');
  return d;
}

/** A folder on the share, and a daemon watching it from FOLDER.conf; started and watching. */
async function daemonOn(folder: string, journal: string): Promise<{ d: Running; configFile: string }> {
  mkdirSync(join(samba.sharePath, folder));
  const configFile = join(dir, `${folder}.conf`);
  writeFileSync(configFile, config(folder, journal));
  return { d: await startDaemon(configFile), configFile };
}

async function stopDaemon(d: Running): Promise<number | null> {
  d.child.kill('SIGTERM');
  return (await d.exit).code;
}

describe('daemon run by an administrator', () => {
  it('its log says each state once, through a server restart too ("watching", not "watching: watching //...")', async () => {
    const folder = 'log-words';
    const { d } = await daemonOn(folder, 'off');
    const label = `//${samba.host}:${samba.port}/data/${folder}`;
    try {
      await samba.kill();
      await d.waitLine(/^w1 .*: connection lost/, 20_000, 'stderr');
      await samba.start();
      await d.waitLine(/^w1 .*: watching: reconnected and resynchronised$/, 60_000, 'stderr');
    } finally {
      expect(await stopDaemon(d)).toBe(0);
    }
    const states = d.stderr.filter((l) => l.startsWith('w1 '));
    expect(states[0]).toBe(`w1 ${label}: watching`);
    expect(states.find((l) => l.includes('connection lost'))).toMatch(new RegExp(`^w1 ${label}: connection lost \\(.+\\); reconnecting$`));
    expect(states.at(-1)).toBe(`w1 ${label}: stopped: the daemon stopped`);
    // No state said twice in a line ("watching: watching", "reconnecting: ...; reconnecting").
    expect(states.filter((l) => /: (\w+): \1\b|: (\w+): .*; \2$/.test(l))).toEqual([]);
  }, 90_000);

  it("logrotate's rename then SIGHUP: a new journal at once, every later event in it, none lost or repeated", async () => {
    const folder = 'rotated';
    const journal = join(dir, 'rotated', 'events.jsonl');
    const { d } = await daemonOn(folder, journal);
    try {
      writeFileSync(join(samba.sharePath, folder, 'before.txt'), 'x');
      await until(() => read(journal).some((l) => l.path === `${folder}/before.txt`), 'the event before the rotation in the journal');
      // What logrotate does without copytruncate: rename, then its postrotate sends SIGHUP.
      renameSync(journal, `${journal}.1`);
      d.child.kill('SIGHUP');
      await d.waitLine(/reloaded rotated\.conf: 1 watch$/, 10_000, 'stderr');
      expect(existsSync(journal)).toBe(true);
      writeFileSync(join(samba.sharePath, folder, 'after.txt'), 'x');
      await until(() => read(journal).some((l) => l.path === `${folder}/after.txt`), 'the event after the rotation in the new journal');
    } finally {
      expect(await stopDaemon(d)).toBe(0);
    }
    const old = read(`${journal}.1`);
    const now = read(journal);
    expect(old.map((l) => l.path)).not.toContain(`${folder}/after.txt`);
    // The two files together: the run's events once each, in order (seq 1, 2, 3 ... without a gap).
    expect([...old, ...now].map((l) => l.seq)).toEqual(Array.from({ length: old.length + now.length }, (_v, i) => i + 1));
    expect(d.stderr).toContain(`journal ${journal}: was renamed (rotated by another program?); writing to a new one at its path`);
  }, 60_000);

  it('a reload restarts a watch whose [daemon] credentials changed (a password changed), keeps it when the new file cannot be read, and says what it added, removed, restarted and kept', async () => {
    for (const f of ['creds-a', 'creds-b']) mkdirSync(join(samba.sharePath, f));
    const wrong = join(dir, 'wrong-cred');
    writeFileSync(wrong, `username=${samba.user}\npassword=not-${samba.password}\ndomain=${samba.domain}\n`, { mode: 0o600 });
    const configFile = join(dir, 'creds.conf');
    const withCredentials = (file: string, folder: string) => config(folder, 'off').replace(`credentials = ${cred}`, `credentials = ${file}`);
    writeFileSync(configFile, withCredentials(wrong, 'creds-a'));
    const d = runCli(['daemon', '--config', configFile, '--mountinfo', '/dev/null']);
    try {
      await d.waitLine(/^w1 .*: stopped: cannot watch: logon failed: wrong user name or password \(STATUS_LOGON_FAILURE\)$/, 20_000, 'stderr');
      // The admin puts the new password in place and reloads; the watch's own section is unchanged.
      writeFileSync(configFile, withCredentials(cred, 'creds-a'));
      d.child.kill('SIGHUP');
      expect(await d.waitLine(/^reloaded creds\.conf/, 10_000, 'stderr')).toBe('reloaded creds.conf: 1 watch; inbox restarted with its new settings (w1 is now w2)');
      await d.waitLine(/^w2 .*\/data\/creds-a: watching$/, 20_000, 'stderr');
      // A typo in the new path: the running watch stays as it was, and the reload says why.
      writeFileSync(configFile, withCredentials(`${cred}-typo`, 'creds-a'));
      d.child.kill('SIGHUP');
      await until(() => d.stderr.filter((l) => l.startsWith('reloaded creds.conf')).length === 2, 'the reload with a typo');
      expect(d.stderr.filter((l) => l.startsWith('reloaded creds.conf'))[1]).toBe(`reloaded creds.conf: 1 watch; inbox (w2) kept as it was: cannot read credentials file ${cred}-typo: no such file`);
      writeFileSync(configFile, `${withCredentials(cred, 'creds-a').replace('[watch inbox]', '[watch other]').replace('creds-a', 'creds-b')}\n`);
      d.child.kill('SIGHUP');
      await until(() => d.stderr.filter((l) => l.startsWith('reloaded creds.conf')).length === 3, 'the third reload');
      expect(d.stderr.filter((l) => l.startsWith('reloaded creds.conf'))[2]).toBe('reloaded creds.conf: 1 watch; inbox (w2) removed; other added (w3)');
      await d.waitLine(/^w3 .*\/data\/creds-b: watching$/, 20_000, 'stderr');
    } finally {
      expect(await stopDaemon(d)).toBe(0);
    }
    // w2 ran from its start until its section was removed, through the reload with the typo.
    expect(d.stderr.filter((l) => l.startsWith('w2 '))).toEqual([`w2 //${samba.host}:${samba.port}/data/creds-a: watching`, `w2 //${samba.host}:${samba.port}/data/creds-a: stopped: watch removed`]);
  }, 60_000);

  it('a reload that turns watch-mounts on watches the mounted shares at once, and off stops those watches', async () => {
    const mountPoint = join(dir, 'mnt', 'data');
    const mountinfo = join(dir, 'mountinfo');
    writeFileSync(mountinfo, `99 22 0:55 / ${mountPoint} rw,relatime - cifs //${samba.host}/data rw,vers=3.1.1,addr=${samba.host},port=${samba.port},username=${samba.user}\n`);
    mkdirSync(join(samba.sharePath, 'mounts-only'));
    const configFile = join(dir, 'mounts.conf');
    const text = (on: string) => config('mounts-only', 'off', `watch-mounts = ${on}\n`);
    writeFileSync(configFile, text('no'));
    const d = runCli(['daemon', '--config', configFile, '--mountinfo', mountinfo]);
    try {
      await d.waitLine(/^w1 .*: watching$/, 20_000, 'stderr');
      writeFileSync(configFile, text('yes'));
      d.child.kill('SIGHUP');
      await d.waitLine(/^w2 \/\/127\.0\.0\.1:\d+\/data: watching$/, 20_000, 'stderr');
      writeFileSync(configFile, text('no'));
      d.child.kill('SIGHUP');
      await d.waitLine(/^w2 .*: stopped: watch removed$/, 20_000, 'stderr');
      await until(() => d.stderr.filter((l) => l.startsWith('reloaded mounts.conf')).length === 2, 'the second reload');
      expect(d.stderr.filter((l) => l.startsWith('reloaded mounts.conf'))).toEqual(['reloaded mounts.conf: 2 watches', 'reloaded mounts.conf: 1 watch']);
    } finally {
      expect(await stopDaemon(d)).toBe(0);
    }
  }, 60_000);

  it('a config that cannot be read or parsed: at start one line and exit 1, on reload one line and the watches go on', async () => {
    const folder = 'bad-config';
    mkdirSync(join(samba.sharePath, folder));
    const configFile = join(dir, 'bad.conf');
    mkdirSync(configFile);
    const refused = runCli(['daemon', '--config', configFile, '--mountinfo', '/dev/null']);
    expect((await refused.exit).code).toBe(1);
    expect(refused.stderr.filter(Boolean)).toEqual([`smbnotify: cannot read config ${configFile}: is a folder`]);
    rmSync(configFile, { recursive: true });
    writeFileSync(configFile, config(folder, 'off'));
    const d = await startDaemon(configFile);
    try {
      rmSync(configFile);
      mkdirSync(configFile);
      d.child.kill('SIGHUP');
      expect(await d.waitLine(/^reload failed/, 10_000, 'stderr')).toBe(`reload failed, keeping the running config: cannot read config ${configFile}: is a folder`);
      rmSync(configFile, { recursive: true });
      writeFileSync(configFile, `${config(folder, 'off')}recursve = yes\n`);
      d.child.kill('SIGHUP');
      await until(() => d.stderr.filter((l) => l.startsWith('reload failed')).length === 2, 'the second reload');
      expect(d.stderr.filter((l) => l.startsWith('reload failed'))[1]).toBe(`reload failed, keeping the running config: ${configFile}:9: unknown key "recursve" in [watch inbox]`);
      writeFileSync(join(samba.sharePath, folder, 'still.txt'), 'x');
      expect(d.stderr.filter((l) => l.startsWith('w1 '))).toEqual([`w1 //${samba.host}:${samba.port}/data/${folder}: watching`]);
    } finally {
      expect(await stopDaemon(d)).toBe(0);
    }
  }, 60_000);

  it('a SIGHUP while the daemon starts (its bus not answering yet) waits for the start: every watch once', async () => {
    for (const f of ['early-a', 'early-b']) mkdirSync(join(samba.sharePath, f));
    const configFile = join(dir, 'early.conf');
    writeFileSync(configFile, `${config('early-a', 'off')}\n[watch second]\ntarget = smb://${samba.host}:${samba.port}/data/early-b\n`);
    const bus = await startDbus();
    const busPid = Number(execFileSync('pgrep', ['-f', '--', `--address=unix:path=${bus.dir}/bus`], { encoding: 'utf8' }).trim().split('\n')[0]);
    process.kill(busPid, 'SIGSTOP');
    let d: Running | undefined;
    try {
      d = runCli(['daemon', '--config', configFile, '--mountinfo', '/dev/null', '--bus', bus.address]);
      const pid = d.child.pid!;
      // Its SIGHUP handler is in place (SigCgt, bit 0): the daemon now waits for the stopped bus.
      const catchesHup = () => (BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!}`) & 1n) === 1n;
      await until(catchesHup, 'the daemon catching SIGHUP');
      d.child.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      process.kill(busPid, 'SIGCONT');
    }
    try {
      expect(await d.waitLine(/daemon running/, 20_000, 'stderr')).toMatch(/daemon running: 2 watches/);
      expect(await d.waitLine(/^reloaded early\.conf/, 20_000, 'stderr')).toBe('reloaded early.conf: 2 watches');
      await d.waitLine(/^w2 .*: watching$/, 20_000, 'stderr');
      await new Promise((r) => setTimeout(r, 500));
      expect(d.stderr.filter((l) => /^w\d+ .*: watching$/.test(l)).map((l) => l.split(' ')[0]).sort()).toEqual(['w1', 'w2']);
    } finally {
      expect(await stopDaemon(d)).toBe(0);
      await bus.stop();
    }
  }, 60_000);

  it('a SIGHUP while the command line itself loads (commander) does not kill the daemon either: applied once started', async () => {
    const configFile = join(dir, 'loading.conf');
    mkdirSync(join(samba.sharePath, 'loading'));
    writeFileSync(configFile, config('loading', 'off'));
    // The daemon sends itself SIGHUP as its module loader resolves `commander`.
    const d = runCli(['daemon', '--config', configFile, '--mountinfo', '/dev/null'], {
      NODE_OPTIONS: `--import ${join(import.meta.dirname, '..', 'support', 'signal-on-load-register.mjs')}`,
      SIGNAL_ON_LOAD: 'commander',
    });
    try {
      expect(await d.waitLine(/^reloaded loading\.conf/, 20_000, 'stderr')).toBe('reloaded loading.conf: 1 watch');
      await d.waitLine(/^w1 .*: watching$/, 20_000, 'stderr');
    } finally {
      d.child.kill('SIGTERM');
      expect(await d.exit).toEqual({ code: 0, signal: null });
    }
  }, 60_000);

  it('a SIGHUP before the daemon has read its config (a config slow to read) does not kill it: held, then applied once started', async () => {
    for (const f of ['held-a', 'held-b']) mkdirSync(join(samba.sharePath, f));
    // A FIFO stands for a config that is slow to read: the daemon waits in the read, before
    // it has set up anything, until this test writes the text.
    const configFile = join(dir, 'held.conf');
    execFileSync('mkfifo', [configFile]);
    /** The FIFO's writing end, opened once the daemon has the reading end open (it waits in the read). */
    const daemonReading = async (): Promise<number> => {
      let fd = -1;
      await until(() => {
        try {
          fd = openSync(configFile, constants.O_WRONLY | constants.O_NONBLOCK);
          return true;
        } catch {
          return false; // ENXIO: no reader yet
        }
      }, 'the daemon reading its config');
      return fd;
    };
    const feed = (fd: number, text: string): void => {
      writeSync(fd, text);
      closeSync(fd);
    };
    const d = runCli(['daemon', '--config', configFile, '--mountinfo', '/dev/null']);
    try {
      const fd = await daemonReading();
      d.child.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 300));
      feed(fd, config('held-a', 'off'));
      expect(await d.waitLine(/daemon running/, 20_000, 'stderr')).toBe('smbnotify 0.1.0 daemon running: 1 watch');
      // The held reload reads the config again: now with a second watch.
      feed(await daemonReading(), `${config('held-a', 'off')}\n[watch second]\ntarget = smb://${samba.host}:${samba.port}/data/held-b\n`);
      expect(await d.waitLine(/^reloaded held\.conf/, 20_000, 'stderr')).toBe('reloaded held.conf: 2 watches; second added (w2)');
      await d.waitLine(/^w2 .*: watching$/, 20_000, 'stderr');
    } finally {
      d.child.kill('SIGTERM');
      expect(await d.exit).toEqual({ code: 0, signal: null });
    }
  }, 60_000);

  it('a reload applies journal-max-size and journal-keep, and says which [daemon] keys need a restart', async () => {
    const folder = 'reload';
    const journal = join(dir, 'reload', 'events.jsonl');
    const { d, configFile } = await daemonOn(folder, journal);
    try {
      writeFileSync(configFile, config(folder, journal, 'journal-max-size = 2K\njournal-keep = 1\njournal-group = root\nfollow-desktop = yes\n').replace('follow-desktop = no\n', ''));
      d.child.kill('SIGHUP');
      expect(await d.waitLine(/^reloaded reload\.conf/, 10_000, 'stderr')).toBe(
        'reloaded reload.conf: 1 watch; journal-group, follow-desktop changed in [daemon]: they are read at start only; restart the daemon to apply them',
      );
      for (let i = 0; i < 20; i++) writeFileSync(join(samba.sharePath, folder, `f${i}.txt`), 'x');
      await until(() => readdirSync(join(dir, 'reload')).includes('events.jsonl.1'), 'a rotation at the new journal-max-size');
      await until(() => [...read(`${journal}.1`), ...read(journal)].some((l) => l.path === `${folder}/f19.txt`), 'the last event in the journal');
    } finally {
      expect(await stopDaemon(d)).toBe(0);
    }
    expect(readdirSync(join(dir, 'reload')).sort()).toEqual(['events.jsonl', 'events.jsonl.1']);
  }, 60_000);

  it('the same folder named twice with --watch (a URL and a UNC name) is watched once: each change in the journal once', async () => {
    const folder = 'twice';
    mkdirSync(join(samba.sharePath, folder));
    const journal = join(dir, 'twice.jsonl');
    const d = runCli(['daemon', '--config', '/dev/null', '--mountinfo', '/dev/null', '--bus', 'none', '--journal', journal, '-A', cred, '-p', String(samba.port),
      '--watch', `smb://${samba.host}:${samba.port}/data/${folder}`, '--watch', `//${samba.host}/data/${folder}`]);
    try {
      expect(await d.waitLine(/the same folder/, 20_000, 'stderr')).toBe(`--watch //${samba.host}/data/${folder}: the same folder as w1 (smb://${samba.host}:${samba.port}/data/${folder}), watched once`);
      expect(await d.waitLine(/daemon running/, 20_000, 'stderr')).toBe(`smbnotify 0.1.0 daemon running: 1 watch, journal ${journal}`);
      await d.waitLine(/^w1 .*: watching$/, 20_000, 'stderr');
      for (const name of ['a.txt', 'b.txt']) writeFileSync(join(samba.sharePath, folder, name), 'x');
      await until(() => read(journal).some((l) => l.path === `${folder}/b.txt`), 'the second file in the journal');
      // Give a second watch's copy of the events the time to arrive, if there were one.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      expect(await stopDaemon(d)).toBe(0);
    }
    const creates = read(journal).filter((l) => l.event === 'CREATE');
    expect(creates.map((l) => [l.watchId, l.path])).toEqual([['w1', `${folder}/a.txt`], ['w1', `${folder}/b.txt`]]);
  }, 60_000);
});
