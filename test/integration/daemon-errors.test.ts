// Errors a user can act on, from the daemon: D-Bus AddWatch fails with the command line's words
// when no retry can help (no such share or folder, wrong password) and keeps only what may come
// back (server down); `monitor` says when the daemon leaves and when it is back; a second daemon
// on the same bus says that one is already there.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startDbus, type DbusBus } from '../support/dbus.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);
const NAME = 'io.github.smbnotify';
const OBJ = '/io/github/smbnotify';
const IFACE = 'io.github.smbnotify.Watcher1';

let samba: SambaServer;
let cred: string;
let bus: DbusBus;

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  cred = credentialsFile(samba);
  bus = await startDbus();
});

afterAll(async () => {
  await bus?.stop();
  await stopAllSamba();
});

async function startDaemon(): Promise<Running> {
  const d = runCli(['daemon', '--bus', bus.address, '--journal', 'off', '--config', '/dev/null', '-A', cred]);
  await d.waitLine(/daemon running/, 20_000, 'stderr');
  return d;
}

/** gdbus call; resolves with stdout, or with the error line gdbus printed when the call failed. */
async function gdbus(method: string, ...args: string[]): Promise<string> {
  const tool = requireTool('gdbus', 'libglib2.0-bin');
  try {
    return (await run(tool, ['call', '--address', bus.address, '--dest', NAME, '--object-path', OBJ, '--method', `${IFACE}.${method}`, ...args])).stdout.trim();
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err).trim();
  }
}

/** A free loopback port with nothing listening: a server that is down. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('AddWatch', () => {
  it('fails with the CLI words for what no retry fixes, keeps retrying a server that is down', { timeout: 60_000 }, async () => {
    const d = await startDaemon();
    const mon = runCli(['monitor', '--bus', bus.address]);
    try {
      await mon.waitLine(/listening to the daemon's events/, 10_000, 'stderr');
      const base = `smb://${samba.host}:${samba.port}`;
      expect(await gdbus('AddWatch', `${base}/nope`, '{}')).toBe(
        `Error: GDBus.Error:io.github.smbnotify.Error.Failed: share not found: \\\\${samba.host}\\nope (STATUS_BAD_NETWORK_NAME)`,
      );
      expect(await gdbus('AddWatch', `${base}/data/no-such-folder`, '{}')).toBe(
        `Error: GDBus.Error:io.github.smbnotify.Error.Failed: no such file or folder: \\\\${samba.host}\\data\\no-such-folder (STATUS_OBJECT_NAME_NOT_FOUND)`,
      );
      const bad = join(mkdtempSync(join(tmpdir(), 'smbnotify-bad-')), 'cred');
      writeFileSync(bad, `username=${samba.user}\npassword=not-${samba.password}\n`, { mode: 0o600 });
      expect(await gdbus('AddWatch', `${base}/data`, `{'credentialsFile': <'${bad}'>}`)).toBe(
        'Error: GDBus.Error:io.github.smbnotify.Error.Failed: logon failed: wrong user name or password (STATUS_LOGON_FAILURE)',
      );
      // Nothing was left behind by the refused calls.
      expect(await gdbus('ListWatches')).toBe('(@aa{sv} [],)');

      const down = await deadPort();
      const added = await gdbus('AddWatch', `smb://127.0.0.1:${down}/share`, '{}');
      expect(added).toMatch(/^\('w\d+',\)$/);
      const listed = await gdbus('ListWatches');
      expect(listed).toContain("'state': <'reconnecting'>");
      expect(listed).toContain(`'message': <'cannot connect to 127.0.0.1:${down}: connection refused; retrying in`);

      // The refused calls left no trace on the bus either, and their ids are given again.
      expect(added).toBe("('w1',)");
      const ok = await gdbus('AddWatch', `${base}/data`, '{}');
      expect(ok).toBe("('w2',)");
      await mon.waitLine(/^w2 WATCHING: /, 10_000, 'stderr');
      expect(mon.stderr.filter((line) => /^w\d+ /.test(line)).map((line) => line.split(':')[0])).toEqual(['w1 RECONNECTING', 'w2 WATCHING']);
      expect(mon.stdout).toEqual([]);
    } finally {
      mon.child.kill('SIGTERM');
      d.child.kill('SIGTERM');
      expect((await d.exit).code).toBe(0);
    }
  });
});

describe('monitor', () => {
  it('says when the daemon stops and when it is back, and goes on printing its events', { timeout: 60_000 }, async () => {
    let d = await startDaemon();
    const mon = runCli(['monitor', '--bus', bus.address, '--format', '%e %f']);
    try {
      await mon.waitLine(/listening to the daemon's events/, 10_000, 'stderr');
      d.child.kill('SIGTERM');
      await d.exit;
      await mon.waitLine(/^smbnotify: the daemon stopped \(it left the bus\); waiting for it to come back$/, 10_000, 'stderr');
      d = await startDaemon();
      await mon.waitLine(/^smbnotify: the daemon is back; listening to its events$/, 10_000, 'stderr');
      const id = await gdbus('AddWatch', `smb://${samba.host}:${samba.port}/data`, '{}');
      expect(id).toMatch(/^\('w\d+',\)$/);
      await mon.waitLine(/^w\d+ WATCHING: watching /, 10_000, 'stderr');
      writeFileSync(join(samba.sharePath, 'after-restart.txt'), 'x');
      await mon.waitLine(/^CREATE after-restart\.txt$/, 10_000);
    } finally {
      mon.child.kill('SIGINT');
      expect((await mon.exit).code).toBe(130);
      d.child.kill('SIGTERM');
      await d.exit;
    }
  });
});

describe('a second daemon on the same bus', () => {
  it('exits 1 with one line saying another daemon owns the name (not "internal error"); the first keeps going', { timeout: 60_000 }, async () => {
    const first = await startDaemon();
    try {
      const second = runCli(['daemon', '--bus', bus.address, '--journal', 'off', '--config', '/dev/null', '-A', cred]);
      const { code } = await second.exit;
      expect(code).toBe(1);
      expect(second.stderr).toEqual(['smbnotify: another smbnotify daemon owns io.github.smbnotify on this bus']);
      expect(second.stdout).toEqual([]);
      // The name is still the first daemon's, and it answers.
      expect(await gdbus('GetStatus')).toContain(`'pid': <uint32 ${first.child.pid}>`);
    } finally {
      first.child.kill('SIGTERM');
      expect((await first.exit).code).toBe(0);
    }
  });
});
