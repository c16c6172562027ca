// What `watch` and `monitor` print, as a user reads it: MOVED_FROM and MOVED_TO each on their
// line (inotifywait prints both); the default line and --format agree on what is the watch (%w,
// the TARGET) and what is the file (%f, below it); monitor's %w is the watched folder, not the
// watch id; %Z in --timefmt; and with events=/include= in the config, seq has no gaps and the
// counters count what passed.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startDbus, type DbusBus } from '../support/dbus.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);
let samba: SambaServer;
let cred: string;
let url: string;
let bus: DbusBus;
let dir: string;

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  cred = credentialsFile(samba);
  url = `smb://${samba.host}:${samba.port}/data`;
  bus = await startDbus();
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-output-'));
});

afterAll(async () => {
  await bus?.stop();
  await stopAllSamba();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stop(r: Running): Promise<void> {
  r.child.kill('SIGINT');
  await r.exit;
}

describe('watch output', () => {
  it('a rename prints MOVED_FROM and MOVED_TO, named below the TARGET as %f names them', { timeout: 30_000 }, async () => {
    mkdirSync(join(samba.sharePath, 'out', 'ren'), { recursive: true });
    const target = `${url}/out/ren`;
    const human = runCli(['watch', '-m', '-e', 'CREATE,MOVE', target, '-A', cred]);
    const fmt = runCli(['watch', '-m', '-e', 'CREATE,MOVE', '--format', '%w|%f|%e|%o', target, '-A', cred]);
    try {
      for (const r of [human, fmt]) await r.waitLine(/WATCHING/, 15_000, 'stderr');
      writeFileSync(join(samba.sharePath, 'out', 'ren', 'a.txt'), 'x');
      for (const r of [human, fmt]) await r.waitLine(/a\.txt/);
      renameSync(join(samba.sharePath, 'out', 'ren', 'a.txt'), join(samba.sharePath, 'out', 'ren', 'b.txt'));
      for (const r of [human, fmt]) await r.waitLine(/MOVED_TO/);
    } finally {
      await stop(human);
      await stop(fmt);
    }
    expect(human.stdout.filter(Boolean)).toEqual(['CREATE          a.txt', 'MOVED_FROM      a.txt', 'MOVED_TO        a.txt -> b.txt']);
    expect(fmt.stdout.filter(Boolean)).toEqual([
      `${target}|a.txt|CREATE|`,
      `${target}|a.txt|MOVED_FROM|`,
      `${target}|b.txt|MOVED_TO|out/ren/a.txt`,
    ]);
  });

  it('%Z in --timefmt is the time zone, not a literal', { timeout: 30_000 }, async () => {
    mkdirSync(join(samba.sharePath, 'out', 'tz'), { recursive: true });
    const r = runCli(['watch', '--format', '%T|%f', '--timefmt', '%Z %A %B', `${url}/out/tz`, '-A', cred], { TZ: 'UTC' });
    await r.waitLine(/WATCHING/, 15_000, 'stderr');
    writeFileSync(join(samba.sharePath, 'out', 'tz', 'z.txt'), 'x');
    expect((await r.exit).code).toBe(0);
    const now = new Date();
    const day = now.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
    const month = now.toLocaleDateString('en-US', { month: 'long', timeZone: 'UTC' });
    expect(r.stdout.filter(Boolean)).toEqual([`UTC ${day} ${month}|z.txt`]);
  });

  it('--format and --timefmt refuse an unknown directive or a lone %, -e an empty list, in one line, exit 1, before connecting', { timeout: 30_000 }, async () => {
    const cases: Array<[string[], RegExp]> = [
      [['watch', '--format', '%w %x', url, '-A', cred], /^smbnotify: bad --format: unknown directive %x \(known: %w %f %e %T %o %l %s %n %%\)$/],
      [['watch', '--format', '%f 100%', url, '-A', cred], /^smbnotify: bad --format: it ends with a lone % \(write %% for a percent sign\)$/],
      [['watch', '--format', '%T %f', '--timefmt', '%H:%M:%Q', url, '-A', cred], /^smbnotify: bad --timefmt: unknown directive %Q \(known: %Y /],
      [['monitor', '--bus', bus.address, '--format', '%w %x'], /^smbnotify: bad --format: unknown directive %x /],
      // An empty -e (an unset shell variable) would print nothing, ever.
      [['watch', '-e', '', url, '-A', cred], /^smbnotify: option '-e, --event <LIST>' argument '' is invalid\. no event named: use CREATE, /],
      [['watch', '-e', ' , ', url, '-A', cred], /^smbnotify: option '-e, --event <LIST>' argument ' , ' is invalid\. no event named: /],
    ];
    for (const [args, line] of cases) {
      const r = runCli(args);
      const { code } = await r.exit;
      expect(code, args.join(' ')).toBe(1);
      expect(r.stdout.filter(Boolean)).toEqual([]);
      expect(r.stderr.filter(Boolean)).toHaveLength(1);
      expect(r.stderr[0]).toMatch(line);
    }
    // What is known works: %% and %n in --format, %x and %X (the C locale's date and time) in --timefmt.
    mkdirSync(join(samba.sharePath, 'out', 'fmt'), { recursive: true });
    const r = runCli(['watch', '--format', '%f 100%%%n%T', '--timefmt', '%x %X', `${url}/out/fmt`, '-A', cred], { TZ: 'UTC' });
    await r.waitLine(/WATCHING/, 15_000, 'stderr');
    writeFileSync(join(samba.sharePath, 'out', 'fmt', 'f.txt'), 'x');
    expect((await r.exit).code).toBe(0);
    expect(r.stdout.filter(Boolean)).toHaveLength(2);
    expect(r.stdout[0]).toBe('f.txt 100%');
    expect(r.stdout[1]).toMatch(/^\d\d\/\d\d\/\d\d \d\d:\d\d:\d\d$/);
  });

  it('watch --json with -e and --exclude: seq numbers only the events that pass, as the daemon does (no gaps)', { timeout: 30_000 }, async () => {
    mkdirSync(join(samba.sharePath, 'out', 'seq'), { recursive: true });
    const r = runCli(['watch', '-m', '--json', '-e', 'DELETE,STATE', '--exclude', '\\.log$', `${url}/out/seq`, '-A', cred]);
    try {
      await r.waitLine(/"state":"watching"/, 15_000);
      for (const name of ['a.txt', 'b.log', 'c.txt']) {
        writeFileSync(join(samba.sharePath, 'out', 'seq', name), 'x');
        await sleep(150);
      }
      for (const name of ['a.txt', 'b.log', 'c.txt']) {
        rmSync(join(samba.sharePath, 'out', 'seq', name));
        await sleep(150);
      }
      await r.waitLine(/c\.txt/);
    } finally {
      await stop(r);
    }
    const events = r.stdout.filter(Boolean).map((l) => JSON.parse(l) as { seq: number; event: string; path: string });
    expect(events.map((e) => [e.seq, e.event, e.path])).toEqual([[1, 'STATE', 'out/seq'], [2, 'DELETE', 'out/seq/a.txt'], [3, 'DELETE', 'out/seq/c.txt']]);
  });

  it('an IPv6 server is named in brackets, so that its port is not read as part of the address', { timeout: 30_000 }, async () => {
    mkdirSync(join(samba.sharePath, 'out', 'v6'), { recursive: true });
    const r = runCli(['watch', '-t', '1', `smb://[::1]:${samba.port}/data/out/v6`, '-A', cred]);
    expect((await r.exit).code).toBe(2);
    expect(r.stderr.filter(Boolean)).toEqual([`smb://[::1]:${samba.port}/data/out/v6 WATCHING: watching //[::1]:${samba.port}/data/out/v6`]);
  });

  it('SMBNOTIFY_TRACE=notify prints each CHANGE_NOTIFY response on stderr, before its events', { timeout: 30_000 }, async () => {
    mkdirSync(join(samba.sharePath, 'out', 'trace'), { recursive: true });
    const r = runCli(['watch', `${url}/out/trace`, '-A', cred], { SMBNOTIFY_TRACE: 'notify' });
    await r.waitLine(/WATCHING/, 15_000, 'stderr');
    writeFileSync(join(samba.sharePath, 'out', 'trace', 't.txt'), 'x');
    expect((await r.exit).code).toBe(0);
    expect(r.stderr.filter((l) => l.includes('trace:'))[0]).toBe('smbnotify: trace: notify out/trace: ADDED t.txt');
    expect(r.stdout.filter(Boolean)).toEqual(['CREATE          t.txt']);
  });
});

describe('daemon: monitor --format and config filters', () => {
  it("monitor's %w is the watched folder, with its server's port; with events= and include=, seq has no gaps and eventsSeen counts what passed", { timeout: 60_000 }, async () => {
    mkdirSync(join(samba.sharePath, 'out', 'filtered'), { recursive: true });
    const journal = join(dir, 'journal.jsonl');
    const config = join(dir, 'config');
    writeFileSync(config, `[daemon]\nfollow-desktop = no\njournal = ${journal}\n\n[watch only-txt]\ntarget = ${url}/out/filtered\ncredentials = ${cred}\nevents = CREATE\ninclude = \\.txt$\n`);
    const d = runCli(['daemon', '--bus', bus.address, '--config', config]);
    let mon: Running | undefined;
    try {
      await d.waitLine(/^w\d+ .*: watching$/, 20_000, 'stderr');
      mon = runCli(['monitor', '--bus', bus.address, '--format', '%w|%f|%e']);
      await mon.waitLine(/listening to the daemon's events/, 10_000, 'stderr');
      for (const name of ['skip.log', 'one.txt', 'skip2.log', 'two.txt']) {
        writeFileSync(join(samba.sharePath, 'out', 'filtered', name), 'x');
        await sleep(150);
      }
      await mon.waitLine(/two\.txt/, 10_000);
      // The server's port is in %w (the watch's label, as `status` shows it): another smbd on
      // the same host is another folder.
      expect(mon.stdout.filter(Boolean)).toEqual([
        `//${samba.host}:${samba.port}/data/out/filtered|one.txt|CREATE`,
        `//${samba.host}:${samba.port}/data/out/filtered|two.txt|CREATE`,
      ]);
      const lines = readFileSync(journal, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seq: number; event: string; path: string });
      expect(lines.map((e) => e.seq)).toEqual(lines.map((_e, i) => i + 1));
      expect(lines.filter((e) => e.event !== 'STATE').map((e) => `${e.event} ${e.path}`)).toEqual(['CREATE out/filtered/one.txt', 'CREATE out/filtered/two.txt']);
      const listed = (await run(requireTool('gdbus', 'libglib2.0-bin'), ['call', '--address', bus.address, '--dest', 'io.github.smbnotify', '--object-path', '/io/github/smbnotify', '--method', 'io.github.smbnotify.Watcher1.ListWatches'])).stdout;
      expect(listed).toContain("'eventsSeen': <uint64 2>");
    } finally {
      if (mon) await stop(mon);
      d.child.kill('SIGTERM');
      await d.exit;
    }
  });

  it('status and the daemon\'s log escape a watch\'s target and message (a D-Bus caller\'s or a server\'s names)', { timeout: 60_000 }, async () => {
    const d = runCli(['daemon', '--bus', bus.address, '--config', '/dev/null', '--journal', 'off']);
    try {
      await d.waitLine(/daemon running/, 20_000, 'stderr');
      // An unreachable server: the watch stays, reconnecting, with its label.
      const added = await run(requireTool('gdbus', 'libglib2.0-bin'), ['call', '--address', bus.address, '--dest', 'io.github.smbnotify', '--object-path', '/io/github/smbnotify',
        '--method', 'io.github.smbnotify.Watcher1.AddWatch', 'smb://127.0.0.1:1/data/evil%1B%5B2J%E2%80%AEx', "{'guest': <true>}"]);
      expect(added.stdout).toMatch(/'w1'/);
      await d.waitLine(/^w1 .*reconnecting/, 20_000, 'stderr');
      const st = runCli(['status', '--bus', bus.address]);
      expect((await st.exit).code).toBe(0);
      const js = runCli(['status', '--bus', bus.address, '--json']);
      expect((await js.exit).code).toBe(0);
      for (const line of [...st.stdout, ...js.stdout, ...d.stderr]) expect(line).not.toMatch(/[\u001b\u202e]/);
      expect(st.stdout.join('\n')).toContain('//127.0.0.1:1/data/evil\\x1b[2J\\u{202e}x');
      expect(d.stderr.find((l) => l.startsWith('w1 '))).toContain('//127.0.0.1:1/data/evil\\x1b[2J\\u{202e}x: ');
      const parsed = JSON.parse(js.stdout.join('')) as { watches: Array<{ label: string }> };
      expect(parsed.watches[0]!.label).toBe('//127.0.0.1:1/data/evil\u001b[2J\u202ex');
    } finally {
      d.child.kill('SIGTERM');
      await d.exit;
    }
  });
});
