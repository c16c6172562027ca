// `smbnotify demo`, the README's main command, end to end: it must show the changes arriving
// through every consumer, exit 0, and leave no process or temporary folder behind; stopped by a
// signal to its own pid it must leave nothing behind either, and exit like the other commands.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { requireBuild, runCli } from '../support/cli.js';

function demoDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('smbnotify-demo-'));
}

function readProc(pid: string, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** pid and start time (a pid alone may be reused), from /proc/PID/stat. */
function identity(pid: string): string | null {
  const stat = readProc(pid, 'stat');
  if (stat === null) return null;
  // Fields after the command (which may hold spaces): state is field 3, start time field 22.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return `${pid}@${fields[19]}`;
}

/**
 * Every live process the demo started: its children (the consumers are `node` with no folder
 * in their arguments) and whatever names its folder (dbus-daemon, dbus-monitor, smbd and
 * samba-dcerpcd, which daemonizes away from it).
 */
function startedBy(demoPid: number, dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const stat = readProc(pid, 'stat');
    const ppid = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    if (ppid === String(demoPid) || readProc(pid, 'cmdline')?.includes(dir)) {
      const id = identity(pid);
      if (id) found.push(id);
    }
  }
  return found;
}

function stillAlive(ids: string[]): string[] {
  return ids.filter((id) => identity(id.split('@')[0]!) === id);
}

describe('smbnotify demo', () => {
  it('shows every consumer receiving the changes, then cleans up', async () => {
    requireBuild();
    const before = new Set(demoDirs());
    const r = runCli(['demo']);
    const { code } = await r.exit;
    const out = r.stdout.join('\n');
    expect(code, `${out}\n${r.stderr.join('\n')}`).toBe(0);
    expect(out).toMatch(/^\[watch\] CREATE\s+report\.txt$/m);
    expect(out).toMatch(/^\[watch\] MOVED_TO\s+report\.txt -> report final\.txt$/m);
    expect(out).toMatch(/^\[d-bus\] w1 CREATE\s+report\.txt$/m);
    expect(out).toMatch(/^\[journal\] \{.*"event":"DELETE".*"path":"report final\.txt"/m);
    expect(out).toMatch(/^\[kdirnotify\] FileRenamedWithLocalPath "file:\/\/.*\/Demo%20Share\/report\.txt" "file:\/\/.*\/Demo%20Share\/report%20final\.txt"/m);
    expect(out).toMatch(/every consumer saw the changes/);
    expect(out).toMatch(/cleaned up/);
    expect(demoDirs().filter((d) => !before.has(d))).toEqual([]);
    const smbd = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('smbnotify-demo-');
      } catch {
        return false;
      }
    });
    expect(smbd).toEqual([]);
  }, 120_000);

  it.each([
    { signal: 'SIGTERM' as const, status: 143, by: 'by SIGTERM' },
    { signal: 'SIGINT' as const, status: 130, by: 'by Ctrl-C' },
  ])('stopped by $signal to its pid alone, stops everything it started, removes its folder and exits $status', async ({ signal: sent, status, by }) => {
    requireBuild();
    const r = runCli(['demo']);
    const pid = r.child.pid!;
    const dir = (await r.waitLine(/^private D-Bus at unix:path=.*\/bus/, 30_000)).replace(/^private D-Bus at unix:path=(.*)\/bus.*$/, '$1');
    expect(dir).toMatch(/\/smbnotify-demo-[^/]+$/);
    // Running: every consumer is up and the files are being changed.
    await r.waitLine(/^>>> on the server's disk: create report\.txt$/, 60_000);
    const started = startedBy(pid, dir);
    const names = started.map((id) => readProc(id.split('@')[0]!, 'cmdline')?.split('\0')[0]);
    expect(names.filter((n) => n?.endsWith('/dbus-daemon'))).toHaveLength(1);
    expect(names.filter((n) => n?.endsWith('/dbus-monitor'))).toHaveLength(1);
    expect(names.filter((n) => n === process.execPath)).toHaveLength(3);
    expect(existsSync(dir)).toBe(true);

    process.kill(pid, sent);
    const { code, signal } = await r.exit;
    const out = r.stdout.join('\n');
    expect({ code, signal }, `${out}\n${r.stderr.join('\n')}`).toEqual({ code: status, signal: null });
    expect(r.stdout.at(-1)).toBe(`demo stopped ${by}; cleaned up: processes stopped, temporary files removed.`);
    expect(r.stderr).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    // samba-dcerpcd is ended with a signal just before the demo exits: give it a moment to go.
    let left = stillAlive(started);
    for (let i = 0; i < 20 && left.length; i++) {
      await new Promise((res) => setTimeout(res, 100));
      left = stillAlive(started);
    }
    expect(left).toEqual([]);
    expect(startedBy(pid, dir)).toEqual([]);
  }, 120_000);
});
