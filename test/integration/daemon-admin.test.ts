// The daemon as an administrator runs it for weeks: a config file with several watches, the
// journal read by scripts (`tail -F`), rotated by logrotate, and the config edited and reloaded
// with SIGHUP. A real smbd, the built CLI as a separate process, the journal file as it is on disk.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';

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

function config(folder: string, journal: string, daemonKeys = ''): string {
  return `[daemon]\nbus = none\nfollow-desktop = no\njournal = ${journal}\ncredentials = ${cred}\n${daemonKeys}\n[watch inbox]\ntarget = smb://${samba.host}:${samba.port}/data/${folder}\n`;
}

async function startDaemon(configFile: string): Promise<Running> {
  const d = runCli(['daemon', '--config', configFile, '--mountinfo', '/dev/null']);
  await d.waitLine(/daemon running/, 20_000, 'stderr');
  await d.waitLine(/^w1 .*: watching$/, 20_000, 'stderr');
  return d;
}

async function stopDaemon(d: Running): Promise<number | null> {
  d.child.kill('SIGTERM');
  return (await d.exit).code;
}

describe('daemon run by an administrator', () => {
  it('its log says each state once, through a server restart too ("watching", not "watching: watching //...")', async () => {
    const folder = 'log-words';
    mkdirSync(join(samba.sharePath, folder));
    const configFile = join(dir, 'log-words.conf');
    writeFileSync(configFile, config(folder, 'off'));
    const d = await startDaemon(configFile);
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
});
