// Secrets a new user hands over the command line, through real processes: messages are built
// without them (nothing masked afterwards, so no word is garbled), a password on the command line
// of `watch` leaves ps at once, and a password inside a target URL is refused on every daemon
// path (--watch, the config file's `target =`, D-Bus AddWatch).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli } from '../support/cli.js';
import { startDbus, type DbusBus } from '../support/dbus.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);
let samba: SambaServer;
let url: string;
let scratch: string;

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  url = `smb://127.0.0.1:${samba.port}/data`;
  scratch = mkdtempSync(join(tmpdir(), 'smbnotify-secrets-'));
});

afterAll(async () => {
  await stopAllSamba();
});

describe('messages are built without secrets, never masked afterwards', () => {
  for (const password of ['o', 'wrong', 'or', 'a']) {
    it(`a wrong password "${password}" gives the plain logon message`, async () => {
      const r = runCli(['ls', url, '-U', `${samba.user}%${password}`]);
      expect((await r.exit).code).toBe(1);
      expect(r.stderr.filter(Boolean)).toEqual(['smbnotify: logon failed: wrong user name or password (STATUS_LOGON_FAILURE)']);
    });
  }

  it('the same through PASSWD and through the URL', async () => {
    const viaEnv = runCli(['ls', `smb://${samba.user}@127.0.0.1:${samba.port}/data`], { PASSWD: 'o' });
    expect((await viaEnv.exit).code).toBe(1);
    expect(viaEnv.stderr.filter(Boolean)).toEqual(['smbnotify: logon failed: wrong user name or password (STATUS_LOGON_FAILURE)']);
    const viaUrl = runCli(['ls', `smb://${samba.user}:or@127.0.0.1:${samba.port}/nosuch`]);
    expect((await viaUrl.exit).code).toBe(1);
    expect(viaUrl.stderr.filter(Boolean)).toEqual(['smbnotify: logon failed: wrong user name or password (STATUS_LOGON_FAILURE)']);
  });
});

describe('watch: a password on the command line leaves ps at once', () => {
  const cases: Array<[string, (pw: string) => string[]]> = [
    ['-U USER%PASSWORD', (pw) => ['watch', '-m', url, '-U', `${samba.user}%${pw}`]],
    ['--user=USER%PASSWORD', (pw) => ['watch', '-m', url, `--user=${samba.user}%${pw}`]],
    ['smb://USER:PASSWORD@HOST', (pw) => ['watch', '-m', `smb://${samba.user}:${encodeURIComponent(pw)}@127.0.0.1:${samba.port}/data`]],
  ];
  for (const [name, args] of cases) {
    it(name, async () => {
      const w = runCli(args(samba.password));
      try {
        const state = await w.waitLine(/WATCHING/, 15_000, 'stderr');
        // It logged on with the password, which is nowhere to be seen now.
        expect(state).not.toContain(samba.password);
        const cmdline = readFileSync(`/proc/${w.child.pid}/cmdline`, 'utf8');
        expect(cmdline).not.toContain(samba.password);
        expect(cmdline).toContain(' watch -m ');
        const ps = await run(requireTool('ps', 'procps'), ['-o', 'args=', '-p', String(w.child.pid)]);
        expect(ps.stdout).not.toContain(samba.password);
        expect(ps.stdout).toMatch(name.startsWith('smb') ? new RegExp(`smb://${samba.user}@127\\.0\\.0\\.1`) : new RegExp(`${samba.user}%\\*\\*\\*`));
      } finally {
        w.child.kill('SIGINT');
        await w.exit;
      }
    });
  }
});

describe('a password inside a target URL is refused on every daemon path', () => {
  const REFUSED = 'a password in the target URL is not accepted here (it would show in status, logs and D-Bus): use a credentials file (credentials = FILE, a [credentials //HOST/SHARE] section, or the credentialsFile option)';
  let bus: DbusBus;
  beforeAll(async () => {
    bus = await startDbus();
  });
  afterAll(async () => {
    await bus?.stop();
  });

  it('--watch', async () => {
    const d = runCli(['daemon', '--bus', 'none', '--journal', 'off', '--watch', `smb://${samba.user}:${samba.password}@127.0.0.1:${samba.port}/data`]);
    expect((await d.exit).code).toBe(1);
    expect(d.stderr.filter(Boolean)).toEqual(["smbnotify: a password in a --watch URL would stay visible in the daemon's command line: use -A FILE or PASSWD instead"]);
  });

  it('target = in the config file: a config mistake, as a password = key is (exit 1, the password not echoed)', async () => {
    const config = join(scratch, 'config-leaky');
    writeFileSync(config, `[daemon]\nfollow-desktop = no\n\n[watch leaky]\ntarget = smb://${samba.user}:${samba.password}@127.0.0.1:${samba.port}/data\n`, { mode: 0o600 });
    const d = runCli(['daemon', '--bus', 'none', '--journal', 'off', '--config', config, '-A', credentialsFile(samba)]);
    expect((await d.exit).code).toBe(1);
    expect(d.stderr.filter(Boolean)).toEqual([`smbnotify: ${config}:5: a password in the target URL is not accepted here: use a credentials file (credentials = FILE or a [credentials //HOST/SHARE] section)`]);
  });

  it('D-Bus AddWatch', { timeout: 30_000 }, async () => {
    const config = join(scratch, 'config');
    writeFileSync(config, `[daemon]\nfollow-desktop = no\n`, { mode: 0o600 });
    const d = runCli(['daemon', '--bus', bus.address, '--journal', 'off', '--config', config, '-A', credentialsFile(samba)]);
    try {
      await d.waitLine(/daemon running: 0 watches/, 20_000, 'stderr');
      const gdbus = requireTool('gdbus', 'libglib2.0-bin');
      const err = await run(gdbus, ['call', '--address', bus.address, '--dest', 'io.github.smbnotify', '--object-path', '/io/github/smbnotify', '--method', 'io.github.smbnotify.Watcher1.AddWatch', `smb://${samba.user}:${samba.password}@127.0.0.1:${samba.port}/data`, '{}']).then(
        () => 'no error',
        (e: { stderr?: string }) => String(e.stderr).trim(),
      );
      expect(err).toBe(`Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: ${REFUSED}`);
      expect(d.stderr.join('\n')).not.toContain(samba.password);
    } finally {
      d.child.kill('SIGTERM');
      expect((await d.exit).code).toBe(0);
    }
  });
});
