// `smbnotify view` as a new user meets it: a mount point that is missing, not empty, already a
// view or reached through a symbolic link; a password in the URL; Ctrl-C while connecting; and
// the daemon's config mistakes. Each refusal is one line and exit 1, and leaves no mount behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';
import { isViewMounted, newMountPoint, startView, unmountView } from '../support/view.js';

let samba: SambaServer;
let cred: string;
let url: string;
let backing: string;
let dir: string;

beforeAll(async () => {
  requireBuild();
  requireTool('fusermount3', 'fuse3');
  samba = await startSamba({});
  cred = credentialsFile(samba);
  url = `smb://${samba.host}:${samba.port}/data`;
  backing = samba.sharePath;
  writeFileSync(join(backing, 'hello.txt'), 'hello\n');
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-view-cli-'));
}, 60_000);

afterAll(async () => {
  await stopAllSamba();
});

/** Runs `view` expecting a refusal: its one stderr line (exit 1, nothing mounted at `mountPoint`). */
async function refused(mountPoint: string, extra: string[] = [], backingDir = backing): Promise<string> {
  const r = runCli(['view', url, mountPoint, '-A', cred, '--backing', backingDir, ...extra]);
  const { code } = await r.exit;
  const lines = r.stderr.filter((l) => l.trim());
  expect(lines, r.stderr.join('\n')).toHaveLength(1);
  expect(code).toBe(1);
  expect(lines[0]).not.toMatch(/internal error|\n|    at /);
  return lines[0]!;
}

describe('--backing', () => {
  it('a folder that holds none of the share folder\'s names is refused before mounting', async () => {
    for (const name of ['report.odt', 'notes.txt']) writeFileSync(join(backing, name), 'x');
    const other = join(dir, 'other-folder');
    mkdirSync(other);
    for (const name of ['mine-1.txt', 'mine-2.txt']) writeFileSync(join(other, name), 'x');
    const mountPoint = newMountPoint();
    expect(await refused(mountPoint, [], other)).toMatch(
      new RegExp(`^smbnotify: --backing ${other} does not show this folder of the share: none of its names \\([^)]*hello\\.txt[^)]*\\) is there; give the folder that shows its files$`),
    );
    expect(isViewMounted(mountPoint)).toBe(false);
  });
});

describe('as root', () => {
  it('mount, umount and the watchdog\'s shell come from the system\'s folders, never from a PATH folder before them', async () => {
    // Programs named like the system's, first in PATH: each leaves a mark if it is ever run.
    const evil = join(dir, 'evil-bin');
    mkdirSync(evil);
    const mark = join(dir, 'evil-ran');
    for (const tool of ['mount', 'umount', 'sh', 'awk', 'fusermount3']) {
      writeFileSync(join(evil, tool), `#!/bin/sh\necho ${tool} >> ${mark}\nexit 1\n`, { mode: 0o755 });
    }
    const mountPoint = newMountPoint();
    const r = runCli(['view', url, mountPoint, '-A', cred, '--backing', backing], { PATH: `${evil}:${process.env['PATH'] ?? '/usr/bin:/bin'}` });
    try {
      await r.waitLine(/smbnotify: view of /, 20_000, 'stderr');
      expect(isViewMounted(mountPoint)).toBe(true);
    } finally {
      r.child.kill('SIGTERM');
      await r.exit;
      unmountView(mountPoint);
    }
    expect(isViewMounted(mountPoint)).toBe(false);
    expect(existsSync(mark) ? readFileSync(mark, 'utf8') : '').toBe('');
  });
});

describe('the mount point', () => {
  it('missing: says so in words', async () => {
    const missing = join(dir, 'missing');
    expect(await refused(missing)).toBe(`smbnotify: mount point ${missing}: no such folder`);
  });

  it('not empty: refused, and its files stay in sight', async () => {
    const full = join(dir, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'mine.txt'), 'x');
    expect(await refused(full)).toMatch(new RegExp(`^smbnotify: the mount point ${full} is not empty \\(the view would hide its files\\)`));
    expect(isViewMounted(full)).toBe(false);
    expect(readdirSync(full)).toEqual(['mine.txt']);
  });

  it('already showing a view: refused, and the view there goes on', async () => {
    const first = await startView([url, '-A', cred, '--backing', backing]);
    try {
      expect(await refused(first.mountPoint)).toBe(`smbnotify: ${first.mountPoint} already shows a view: stop that one first`);
      expect(isViewMounted(first.mountPoint)).toBe(true);
      expect(readdirSync(first.mountPoint)).toContain('hello.txt');
    } finally {
      await first.stop();
    }
  });

  it('under a symbolic link: mounted at the real path, and unmounted there after SIGINT and after SIGKILL', async () => {
    const real = realpathSync(newMountPoint());
    const link = join(dir, 'link');
    symlinkSync(real, link);
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      const v = await startView([url, '-A', cred, '--backing', backing], link);
      try {
        expect(isViewMounted(real)).toBe(true);
        expect(readdirSync(link)).toContain('hello.txt');
        v.child.kill(signal);
        await v.exit;
        const t0 = Date.now();
        while (isViewMounted(real) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 50));
        expect(isViewMounted(real), `a view left at ${real} after ${signal}`).toBe(false);
        expect(readdirSync(link)).toEqual([]);
      } finally {
        await v.stop();
        unmountView(real);
      }
    }
  });
});

describe('secrets and signals', () => {
  it('a password in the URL is never printed', async () => {
    const withPassword = `smb://${samba.user}:${encodeURIComponent(samba.password)}@${samba.host}:${samba.port}/data`;
    const v = await startView([withPassword, '--backing', backing]);
    try {
      expect(v.stderr.join('\n')).toMatch(/smbnotify: view of smb:\/\//);
      expect(v.stderr.join('\n')).not.toContain(samba.password);
    } finally {
      await v.stop();
    }
    expect(v.stderr.join('\n')).not.toContain(samba.password);
  });

  it('Ctrl-C while connecting (a server that never answers) ends at once: exit 0, nothing mounted', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const mountPoint = newMountPoint();
    try {
      const r = runCli(['view', `smb://127.0.0.1:${port}/data`, mountPoint, '-A', cred, '--backing', backing]);
      while (sockets.length === 0) await new Promise((res) => setTimeout(res, 50));
      const t0 = Date.now();
      r.child.kill('SIGINT');
      const { code } = await r.exit;
      expect(Date.now() - t0, 'time from SIGINT to exit').toBeLessThan(5000);
      expect(code, r.stderr.join('\n')).toBe(0);
      expect(isViewMounted(mountPoint)).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe('the daemon config', () => {
  it('a mistake is one line naming the file and line, not an "internal error"', async () => {
    const config = join(dir, 'config');
    writeFileSync(config, `[watch x]\ntarget = ${url}\nbogus = 1\n`);
    const d = runCli(['daemon', '--config', config, '--journal', 'off', '--bus', 'none']);
    const { code } = await d.exit;
    expect(code).toBe(1);
    expect(d.stderr.filter((l) => l.trim())).toEqual([`smbnotify: ${config}:3: unknown key "bogus" in [watch x]`]);
  });
});

/** inotifywait -m -r on `dir`, once its watches are set. */
async function inotifywaitOn(dir: string): Promise<{ linesUntil(line: string, timeoutMs: number): Promise<string[]>; stop(): void }> {
  requireTool('inotifywait', 'inotify-tools');
  const iw = spawn('inotifywait', ['-m', '-r', '--format', '%e %w%f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  iw.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve) => iw.stderr.on('data', (c: Buffer) => c.toString().includes('Watches established') && resolve()));
  return {
    /** Every line so far, once `line` came (or the time is up). */
    async linesUntil(line, timeoutMs) {
      const t0 = Date.now();
      while (!out.split('\n').includes(line) && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 100));
      return out.split('\n');
    },
    stop: () => void iw.kill(),
  };
}

describe('the server away', () => {
  it('changes made through the view while the watch reconnects reach inotify once, not again with the resync after the server is back', async () => {
    const away = await startSamba({});
    const v = await startView([`smb://${away.host}:${away.port}/data`, '-A', credentialsFile(away), '--backing', away.sharePath]);
    const m = v.mountPoint;
    writeFileSync(join(away.sharePath, 'old.txt'), 'old');
    const iw = await inotifywaitOn(m);
    try {
      await away.stop();
      await v.waitLine(/view: reconnecting/, 15_000, 'stderr');
      // The backing folder is local: the user's changes go through while the server is away.
      writeFileSync(join(m, 'offline.txt'), 'mine');
      mkdirSync(join(m, 'offline-dir'));
      unlinkSync(join(m, 'old.txt'));
      await new Promise((r) => setTimeout(r, 3500)); // longer than the own-change window
      await away.start();
      await v.waitLine(/view: watching: reconnected and resynchronised/, 30_000, 'stderr');
      await new Promise((r) => setTimeout(r, 1500));
      writeFileSync(join(away.sharePath, 'marker.txt'), 'm');
      const lines = await iw.linesUntil(`CREATE ${m}/marker.txt`, 15_000);
      expect(lines).toContain(`CREATE ${m}/marker.txt`);
      expect(lines.filter((l) => l === `CREATE ${m}/offline.txt`)).toHaveLength(1);
      expect(lines.filter((l) => l === `CREATE,ISDIR ${m}/offline-dir`)).toHaveLength(1);
      expect(lines.filter((l) => l === `DELETE ${m}/old.txt`)).toHaveLength(1);
    } finally {
      iw.stop();
      await v.stop();
      await away.stop();
    }
  }, 90_000);
});

describe('a server without change notification', () => {
  it('--poll-interval 5: changes made through the view reach inotify once, not again with the next listing', async () => {
    const polled = await startSamba({ changeNotify: false });
    const v = await startView([`smb://${polled.host}:${polled.port}/data`, '-A', credentialsFile(polled), '--backing', polled.sharePath, '--poll-interval', '5']);
    const m = v.mountPoint;
    const iw = await inotifywaitOn(m);
    try {
      // Spread over a poll interval: some are listed more than the 3 s own-change window later.
      for (let i = 0; i < 4; i++) {
        writeFileSync(join(m, `mine-${i}.txt`), 'mine');
        await new Promise((r) => setTimeout(r, 1300));
      }
      await new Promise((r) => setTimeout(r, 6000));
      writeFileSync(join(polled.sharePath, 'marker.txt'), 'm');
      const lines = await iw.linesUntil(`CREATE ${m}/marker.txt`, 20_000);
      expect(lines).toContain(`CREATE ${m}/marker.txt`);
      for (let i = 0; i < 4; i++) expect(lines.filter((l) => l === `CREATE ${m}/mine-${i}.txt`), `mine-${i}.txt`).toHaveLength(1);
    } finally {
      iw.stop();
      await v.stop();
      await polled.stop();
    }
  }, 90_000);
});
