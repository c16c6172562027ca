// `smbnotify watch` as a user runs it: exit statuses, the inotifywait-style options, --json
// fields, renames on one line, local paths through a mountinfo fixture (prefixpath included),
// and a clean Ctrl-C that closes the handles on the server.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';

let samba: SambaServer;
let cred: string;
let url: string;

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  cred = credentialsFile(samba);
  url = `smb://${samba.host}:${samba.port}/data`;
  mkdirSync(join(samba.sharePath, 'docs', 'deep'), { recursive: true });
});

afterAll(async () => {
  await stopAllSamba();
});

/** Wait until the watch is established (the STATE line on stderr), then act. */
async function established(r: ReturnType<typeof runCli>): Promise<void> {
  await r.waitLine(/WATCHING/, 15_000, 'stderr');
}

describe('smbnotify watch', () => {
  it('exits 0 after the first event, printing it (like inotifywait without -m)', async () => {
    const r = runCli(['watch', `${url}/docs`, '-A', cred]);
    await established(r);
    writeFileSync(join(samba.sharePath, 'docs', 'first.txt'), 'x');
    const { code } = await r.exit;
    expect(code).toBe(0);
    expect(r.stdout.filter(Boolean)).toEqual(['CREATE          first.txt']);
  });

  it('--buffer-size: above the server\'s maximum is cut to it; beyond the 32-bit field is refused in one line', async () => {
    // Samba's MaxTransactSize is 8 MiB: a CHANGE_NOTIFY asking for more fails on every re-arm.
    const r = runCli(['watch', `${url}/docs`, '-A', cred, '--buffer-size', String(8 * 1024 * 1024 + 1)]);
    await established(r);
    writeFileSync(join(samba.sharePath, 'docs', 'big-buffer.txt'), 'x');
    expect((await r.exit).code).toBe(0);
    expect(r.stdout.filter(Boolean)).toEqual(['CREATE          big-buffer.txt']);
    expect(r.stderr.filter((l) => /RECONNECTING|INVALID_PARAMETER/.test(l))).toEqual([]);
    for (const bad of ['99999999999', '0', '1.5', 'lots']) {
      const b = runCli(['watch', `${url}/docs`, '-A', cred, '--buffer-size', bad]);
      expect((await b.exit).code).toBe(1);
      expect(b.stderr.filter(Boolean)).toEqual(["smbnotify: option '--buffer-size <BYTES>' argument '" + bad + "' is invalid. --buffer-size must be a whole number of bytes from 1 to 4294967295."]);
    }
  });

  it('-m on a folder removed with its subfolder: one DELETE_SELF, then waiting for it; no error, no reconnect', async () => {
    // With another client holding the subfolder open (here a recursive watch above it), Samba
    // reports its removal twice; the second names nothing the watch holds, so the folder is
    // listed to settle it, and it is gone by then. That listing's STATUS_OBJECT_NAME_NOT_FOUND
    // once reset the connection ('error: CREATE failed', 'connection lost') and the
    // resynchronisation said DELETE_SELF a second time.
    mkdirSync(join(samba.sharePath, 'gone', 'sub'), { recursive: true });
    const other = runCli(['watch', '-m', '-r', url, '-A', cred]);
    const r = runCli(['watch', '-m', `${url}/gone`, '-A', cred], { SMBNOTIFY_TRACE: 'notify' });
    try {
      await established(other);
      await established(r);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      rmSync(join(samba.sharePath, 'gone'), { recursive: true });
      await r.waitLine(/DELETE_SELF/);
      await new Promise((resolve) => setTimeout(resolve, 4000));
    } finally {
      r.child.kill('SIGINT');
      other.child.kill('SIGINT');
      await r.exit;
      await other.exit;
    }
    expect(r.stdout.filter(Boolean)).toEqual(['DELETE,ISDIR    sub', 'DELETE_SELF     .']);
    expect(r.stderr.filter((l) => !l.includes('trace:'))).toEqual([
      `${url}/gone WATCHING: watching //${samba.host}:${samba.port}/data/gone`,
      `${url}/gone POLLING: watched folder deleted: waiting for it to come back`,
    ]);
  });

  it('exits 2 when --timeout passes with nothing to report', async () => {
    const r = runCli(['watch', `${url}/docs`, '-A', cred, '-t', '1', '-q']);
    const { code } = await r.exit;
    expect(code).toBe(2);
    expect(r.stdout.filter(Boolean)).toEqual([]);
    expect(r.stderr.filter(Boolean)).toEqual([]);
  });

  it('-m -t: ends after SECONDS without an event, 0 when events came before', async () => {
    const r = runCli(['watch', '-m', '-t', '3', `${url}/docs`, '-A', cred]);
    await established(r);
    writeFileSync(join(samba.sharePath, 'docs', 'before-silence.txt'), 'x');
    await r.waitLine(/before-silence/);
    const { code } = await r.exit;
    expect(code).toBe(0);
  });

  it('-m --json streams one object per event with the normalized fields; renames pair', async () => {
    const r = runCli(['watch', '-m', '-r', '--json', `${url}/docs`, '-A', cred]);
    await r.waitLine(/"event":"STATE"/);
    writeFileSync(join(samba.sharePath, 'docs', 'deep', 'a.txt'), 'x');
    await r.waitLine(/"CREATE".*deep\/a.txt/);
    renameSync(join(samba.sharePath, 'docs', 'deep', 'a.txt'), join(samba.sharePath, 'docs', 'deep', 'b.txt'));
    const to = JSON.parse(await r.waitLine(/"MOVED_TO"/)) as Record<string, unknown>;
    expect(to).toMatchObject({ event: 'MOVED_TO', path: 'docs/deep/b.txt', oldPath: 'docs/deep/a.txt', source: 'notify', action: 5, server: `${samba.host}:${samba.port}`, share: 'data' });
    expect(typeof to['seq']).toBe('number');
    expect(typeof to['time']).toBe('string');
    r.child.kill('SIGINT');
    expect((await r.exit).code).toBe(130);
    for (const line of r.stdout.filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('a file replaced by one renamed over it from outside the watch (mv /elsewhere/f f) is a MODIFY, on the disk and over SMB', { timeout: 60_000 }, async () => {
    // Samba reports such a rename as an addition alone, of a name the watch knows: it was dropped
    // as old news, and nothing was printed.
    const dir = join(samba.sharePath, 'replaced');
    const elsewhere = join(samba.sharePath, 'elsewhere');
    mkdirSync(dir);
    mkdirSync(elsewhere);
    writeFileSync(join(dir, 'listed.txt'), 'old');
    writeFileSync(join(dir, 'over-smb.txt'), 'old');
    const r = runCli(['watch', '-m', '--json', `${url}/replaced`, '-A', cred]);
    await r.waitLine(/"event":"STATE"/);
    const events = () => r.stdout.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['event'] !== 'STATE');
    // Listed when the watch started.
    writeFileSync(join(elsewhere, 'new-1'), 'a new file');
    renameSync(join(elsewhere, 'new-1'), join(dir, 'listed.txt'));
    await r.waitLine(/"MODIFY".*listed\.txt/);
    // Created while watched, replaced later.
    writeFileSync(join(dir, 'created.txt'), 'first');
    await r.waitLine(/"CREATE".*created\.txt/);
    await new Promise((done) => setTimeout(done, 1500));
    writeFileSync(join(elsewhere, 'new-2'), 'another file');
    renameSync(join(elsewhere, 'new-2'), join(dir, 'created.txt'));
    await r.waitLine(/"MODIFY".*created\.txt/);
    // A colleague's client: rename with replace, from a folder the watch does not see.
    writeFileSync(join(elsewhere, 'new-3'), 'from a client');
    const moved = await samba.smbclient(['-c', 'rename elsewhere\\new-3 replaced\\over-smb.txt -f']);
    expect(moved.code, moved.stderr).toBe(0);
    await r.waitLine(/replaced\/over-smb\.txt/);
    r.child.kill('SIGTERM');
    await r.exit;
    // Writes (MODIFIED, action 3) come as they do for any file; the additions are the point here.
    expect(events().filter((e) => e['action'] !== 3).map((e) => [e['event'], e['path'], e['action']])).toEqual([
      ['MODIFY', 'replaced/listed.txt', 1],
      ['CREATE', 'replaced/created.txt', 1],
      ['MODIFY', 'replaced/created.txt', 1],
      ['MODIFY', 'replaced/over-smb.txt', 1],
    ]);
  });

  it('the same folder named twice is watched once: each change is one line', async () => {
    const r = runCli(['watch', '-m', `${url}/docs`, `${url}/docs/`, '-A', cred, '-e', 'CREATE', '--format', '%e %f']);
    await established(r);
    // Were it watched twice, the second watch would be armed too by now.
    await new Promise((done) => setTimeout(done, 1500));
    writeFileSync(join(samba.sharePath, 'docs', 'once.txt'), 'x');
    await r.waitLine(/CREATE once\.txt/);
    await new Promise((done) => setTimeout(done, 1500));
    r.child.kill('SIGTERM');
    await r.exit;
    expect(r.stdout.filter(Boolean)).toEqual(['CREATE once.txt']);
  });

  it('-r with a TARGET inside another: the inner one is left out, each change is one line under the outer TARGET', async () => {
    const r = runCli(['watch', '-m', '-r', `${url}/docs/deep`, `${url}/docs`, '-A', cred, '-e', 'CREATE', '--format', '%e %w %f']);
    await established(r);
    await new Promise((done) => setTimeout(done, 1500));
    writeFileSync(join(samba.sharePath, 'docs', 'deep', 'nested-once.txt'), 'x');
    await r.waitLine(/nested-once\.txt/);
    await new Promise((done) => setTimeout(done, 1500));
    r.child.kill('SIGTERM');
    await r.exit;
    expect(r.stdout.filter(Boolean)).toEqual([`CREATE ${url}/docs deep/nested-once.txt`]);
  });

  it('human output shows a rename as one `old -> new` line; -e filters; --format and %T', async () => {
    const r = runCli(['watch', '-m', `${url}/docs`, '-A', cred, '-e', 'MOVE']);
    await established(r);
    writeFileSync(join(samba.sharePath, 'docs', 'c.txt'), 'x');
    renameSync(join(samba.sharePath, 'docs', 'c.txt'), join(samba.sharePath, 'docs', 'd.txt'));
    await r.waitLine(/MOVED_TO/);
    r.child.kill('SIGTERM');
    await r.exit;
    expect(r.stdout.filter(Boolean)).toEqual(['MOVED_FROM      c.txt', 'MOVED_TO        c.txt -> d.txt']);

    const f = runCli(['watch', `${url}/docs`, '-A', cred, '--format', '%e|%w|%f|%T', '--timefmt', '%Y']);
    await established(f);
    writeFileSync(join(samba.sharePath, 'docs', 'e.txt'), 'x');
    await f.exit;
    expect(f.stdout.filter(Boolean)).toEqual([`CREATE|${url}/docs|e.txt|${new Date().getFullYear()}`]);
  });

  it('--include / --exclude', async () => {
    const r = runCli(['watch', '-m', '--json', `${url}/docs`, '-A', cred, '--include', '\\.log$', '--exclude', 'skip']);
    await r.waitLine(/"STATE"/);
    writeFileSync(join(samba.sharePath, 'docs', 'x.txt'), 'x');
    writeFileSync(join(samba.sharePath, 'docs', 'skip.log'), 'x');
    writeFileSync(join(samba.sharePath, 'docs', 'y.log'), 'x');
    await r.waitLine(/y\.log/);
    r.child.kill('SIGINT');
    await r.exit;
    const paths = r.stdout.filter(Boolean).map((l) => JSON.parse(l) as { event: string; path: string }).filter((e) => e.event !== 'STATE').map((e) => e.path);
    expect(new Set(paths)).toEqual(new Set(['docs/y.log']));
  });

  it('takes a local path inside a mount (prefixpath) and gives events their localPath', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smbnotify-mnt-'));
    const mountinfo = join(dir, 'mountinfo');
    const mountPoint = join(dir, 'My Share');
    writeFileSync(mountinfo, [
      '22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw',
      `99 22 0:55 / ${mountPoint.replace(/ /g, '\\040')} rw,relatime - cifs //${samba.host}/data rw,vers=3.1.1,addr=${samba.host},port=${samba.port},username=${samba.user},prefixpath=docs`,
      '',
    ].join('\n'));
    const r = runCli(['watch', '--json', join(mountPoint, 'deep'), '--mountinfo', mountinfo, '-A', cred]);
    await r.waitLine(/"STATE"/);
    writeFileSync(join(samba.sharePath, 'docs', 'deep', 'local.txt'), 'x');
    await r.exit;
    const e = r.stdout.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((x) => x['event'] === 'CREATE');
    expect(e).toMatchObject({ path: 'docs/deep/local.txt', localPath: join(mountPoint, 'deep', 'local.txt') });
  });

  it('refuses a local path outside any cifs mount with one line and status 1', async () => {
    const r = runCli(['watch', '/tmp', '--mountinfo', '/proc/self/mountinfo', '-A', cred]);
    const { code } = await r.exit;
    expect(code).toBe(1);
    expect(r.stderr.filter(Boolean)).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/not inside a cifs or smb3 mount/);
  });

  it('a local path that does not exist: "no such folder", not "not inside a mount"', async () => {
    const r = runCli(['watch', '/nonexistent/dir', '--mountinfo', '/proc/self/mountinfo', '-A', cred]);
    expect((await r.exit).code).toBe(1);
    expect(r.stderr.filter(Boolean)).toEqual(['smbnotify: cannot watch /nonexistent/dir: no such folder']);
    const under = runCli(['watch', '/etc/hostname/dir', '--mountinfo', '/proc/self/mountinfo', '-A', cred]);
    expect((await under.exit).code).toBe(1);
    expect(under.stderr.filter(Boolean)).toEqual(['smbnotify: cannot watch /etc/hostname/dir: a parent is not a folder']);
  });

  it('names the cause of a bad password on one line, exit 1', async () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'smbnotify-bad-')), 'cred');
    writeFileSync(bad, `username=${samba.user}\npassword=wrong-${samba.password.length}\n`, { mode: 0o600 });
    const r = runCli(['watch', url, '-A', bad]);
    const { code } = await r.exit;
    expect(code).toBe(1);
    expect(r.stderr.filter(Boolean)).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/STATUS_LOGON_FAILURE/);
  });

  it('Ctrl-C cancels the requests and closes the handles on the server', async () => {
    const r = runCli(['watch', '-m', '-r', url, '-A', cred]);
    await established(r);
    const during = await samba.smbstatus(['-L']);
    expect(during).toMatch(/docs/);
    r.child.kill('SIGINT');
    expect((await r.exit).code).toBe(130);
    await new Promise((res) => setTimeout(res, 300));
    const after = await samba.smbstatus(['-L']);
    expect(after).not.toMatch(/docs/);
  });
});

describe('--safety-net, on a server that does not report changes made on its own disk', () => {
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('SECONDS: a file created on the disk is found by the net and reported as a rescan', { timeout: 60_000 }, async () => {
    const quiet = await startSamba({ kernelChangeNotify: false });
    mkdirSync(join(quiet.sharePath, 'net'), { recursive: true });
    const r = runCli(['watch', '--format', '%e %f %s', '-e', 'CREATE', '--safety-net', '0.3', `smb://${quiet.host}:${quiet.port}/data/net`, '-A', credentialsFile(quiet)]);
    try {
      await established(r);
      writeFileSync(join(quiet.sharePath, 'net', 'on-disk.txt'), 'x');
      expect((await r.exit).code).toBe(0);
      expect(r.stdout.filter(Boolean)).toEqual(['CREATE on-disk.txt rescan']);
    } finally {
      r.child.kill('SIGINT'); // a no-op once it exited; never left running by a failed step
    }
  });

  it('off: the disk change is never looked for; a change over SMB still comes at once', { timeout: 60_000 }, async () => {
    const quiet = await startSamba({ kernelChangeNotify: false });
    mkdirSync(join(quiet.sharePath, 'off'), { recursive: true });
    const r = runCli(['watch', '-e', 'CREATE', '--safety-net', 'off', `smb://${quiet.host}:${quiet.port}/data/off`, '-A', credentialsFile(quiet)]);
    try {
      await established(r);
      writeFileSync(join(quiet.sharePath, 'off', 'on-disk.txt'), 'x');
      // Longer than the default interval (2 s), which would have found it.
      await pause(3500);
      const put = await quiet.smbclient(['-c', 'put /etc/hostname off\\over-smb.txt']);
      expect(put.code, put.stdout).toBe(0);
      expect((await r.exit).code).toBe(0);
      expect(r.stdout.filter(Boolean)).toEqual(['CREATE          over-smb.txt']);
    } finally {
      r.child.kill('SIGINT');
    }
  });

  it('refuses a bad value with one line and status 1', async () => {
    const r = runCli(['watch', '--safety-net', 'soon', `${url}/docs`, '-A', cred]);
    const { code } = await r.exit;
    expect(code).not.toBe(0);
    expect(r.stderr.filter(Boolean)).toEqual(["smbnotify: option '--safety-net <SECONDS|off>' argument 'soon' is invalid. --safety-net must be a positive number of seconds, or off."]);
  });
});


describe('the server gone while watching', () => {
  it('each failed reconnect says why in words (connection refused), and the watch comes back', async () => {
    const r = runCli(['watch', '-m', `${url}/docs`, '-A', cred]);
    try {
      await established(r);
      await samba.kill();
      const line = await r.waitLine(/reconnect attempt \d+ failed/, 20_000, 'stderr');
      expect(line).toMatch(new RegExp(`reconnect attempt \\d+ failed \\(cannot connect to 127\\.0\\.0\\.1:${samba.port}: connection refused\\); next in \\d+ s$`));
      await samba.start();
      await r.waitLine(/reconnected and resynchronised/, 30_000, 'stderr');
    } finally {
      r.child.kill('SIGTERM');
      await r.exit;
    }
  }, 60_000);
});
