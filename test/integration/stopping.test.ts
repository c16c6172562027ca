// How commands end, through real processes and pipes: a reader that closes the pipe
// (`| head -n 2`, `| grep -m1`), Ctrl-C and SIGTERM while a server accepts TCP and never answers,
// the daemon's --timeout and its "running" line, `-t 0`, and the one port rule.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, credentialsFile, requireBuild, runCli } from '../support/cli.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';

const run = promisify(execFile);
let samba: SambaServer;
let cred: string;
let url: string;
/** Accepts TCP connections and never says a word: a hung server. */
let silent: net.Server;
let silentPort: number;
const held: net.Socket[] = [];

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  cred = credentialsFile(samba);
  url = `smb://${samba.host}:${samba.port}/data`;
  mkdirSync(join(samba.sharePath, 'piped'), { recursive: true });
  silent = net.createServer((s) => {
    held.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  await stopAllSamba();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `bash -c 'set -o pipefail; smbnotify watch … | READER'`; creates files until the pipeline ends
 * (bounded), and returns the watch's own exit status (PIPESTATUS[0]), stdout and stderr.
 */
async function pipeline(watchArgs: string[], reader: string, folder: string): Promise<{ watchStatus: number; stdout: string; stderr: string }> {
  const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const script = `${q(process.execPath)} ${q(CLI)} ${watchArgs.map(q).join(' ')} | ${reader}; echo "watch-status=\${PIPESTATUS[0]}" >&2`;
  const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let ended = false;
  void closed.then(() => (ended = true));
  for (let i = 0; i < 100 && !/WATCHING/.test(stderr) && !ended; i++) await sleep(100);
  expect(stderr).toMatch(/WATCHING/);
  for (let i = 0; i < 20 && !ended; i++) {
    writeFileSync(join(samba.sharePath, folder, `f${i}.txt`), 'x');
    await sleep(250);
  }
  await Promise.race([closed, sleep(5_000)]);
  if (!ended) child.kill('SIGKILL');
  expect(ended).toBe(true);
  const m = /watch-status=(\d+)/.exec(stderr);
  return { watchStatus: Number(m?.[1] ?? -1), stdout, stderr: stderr.replace(/watch-status=\d+\n/, '') };
}

describe('a reader that closes the pipe ends the watch quietly (like inotifywait)', () => {
  it('watch -m | head -n 2', { timeout: 40_000 }, async () => {
    mkdirSync(join(samba.sharePath, 'piped', 'head'), { recursive: true });
    const r = await pipeline(['watch', '-m', '-e', 'CREATE', `${url}/piped/head`, '-A', cred], 'head -n 2', 'piped/head');
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['CREATE          f0.txt', 'CREATE          f1.txt']);
    expect(r.watchStatus).toBe(0);
    // Only the watch's own state line, no error, no stack.
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([`${url}/piped/head WATCHING: watching //${samba.host}:${samba.port}/data/piped/head`]);
    // The handles are closed on the way out.
    await sleep(300);
    expect(await samba.smbstatus(['-L'])).not.toMatch(/piped\/head|piped\\head/);
  });

  it('watch -m | grep -m1 CREATE', { timeout: 40_000 }, async () => {
    mkdirSync(join(samba.sharePath, 'piped', 'grep'), { recursive: true });
    const r = await pipeline(['watch', '-m', '--format', '%e %f', `${url}/piped/grep`, '-A', cred], 'grep -m1 CREATE', 'piped/grep');
    expect(r.stdout).toBe('CREATE f0.txt\n');
    expect(r.watchStatus).toBe(0);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([`${url}/piped/grep WATCHING: watching //${samba.host}:${samba.port}/data/piped/grep`]);
  });
});

describe('signals are honoured at once, also while connecting to a server that never answers', () => {
  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`watch: ${signal} while connecting exits ${status} at once, silently`, { timeout: 20_000 }, async () => {
      const before = held.length;
      const r = runCli(['watch', `smb://127.0.0.1:${silentPort}/share`, '-N', '--connect-timeout', '60']);
      // Connecting: the hung server has its TCP connection (and the watch waits for NEGOTIATE).
      for (let i = 0; i < 200 && held.length === before; i++) await sleep(50);
      expect(held.length).toBe(before + 1);
      await sleep(300);
      expect(r.child.exitCode).toBe(null);
      const t0 = Date.now();
      r.child.kill(signal);
      const { code } = await r.exit;
      expect(code).toBe(status);
      expect(Date.now() - t0).toBeLessThan(5_000); // the connect timeout is 60 s
      expect(r.stderr.filter(Boolean)).toEqual([]);
    });
  }

  it('watch: Ctrl-C while watching exits 130 and closes the handles', { timeout: 20_000 }, async () => {
    const r = runCli(['watch', '-m', `${url}/piped`, '-A', cred]);
    await r.waitLine(/WATCHING/, 15_000, 'stderr');
    r.child.kill('SIGINT');
    expect((await r.exit).code).toBe(130);
  });

  it('watch and daemon: a signal while the server has stopped answering (smbd stopped) ends within seconds', { timeout: 60_000 }, async () => {
    const frozen = await startSamba({});
    const frozenCred = credentialsFile(frozen);
    const smbd = frozen.pid;
    if (smbd === undefined) throw new Error('the test Samba has no pid');
    try {
      for (const [args, signal, status] of [
        [['watch', '-m', `smb://${frozen.host}:${frozen.port}/data`, '-A', frozenCred], 'SIGINT', 130],
        [['daemon', '--bus', 'none', '--journal', 'off', '--watch', `//${frozen.host}:${frozen.port}/data`, '-A', frozenCred], 'SIGTERM', 0],
      ] as const) {
        const r = runCli([...args]);
        await r.waitLine(/WATCHING|^w\d+ .*: watching$/, 15_000, 'stderr');
        // The connection's own smbd too: the cancel, close and logoff of the stop go unanswered.
        const all = [smbd, ...(await run('pgrep', ['-P', String(smbd)])).stdout.trim().split('\n').map(Number)];
        for (const pid of new Set(all)) process.kill(pid, 'SIGSTOP');
        try {
          const t0 = Date.now();
          r.child.kill(signal);
          const { code } = await r.exit;
          expect(code).toBe(status);
          // The requests' own timeout is 10 s; a stop waits 2 s for the server, then 2 s at most.
          expect(Date.now() - t0).toBeLessThan(6_000);
        } finally {
          for (const pid of new Set(all)) process.kill(pid, 'SIGCONT');
        }
      }
    } finally {
      await frozen.stop();
    }
  });

  it('daemon: says it runs at once, honours SIGTERM (0) and SIGINT (130) while a server hangs', { timeout: 30_000 }, async () => {
    for (const [signal, status] of [['SIGTERM', 0], ['SIGINT', 130]] as const) {
      const before = held.length;
      const d = runCli(['daemon', '--bus', 'none', '--journal', 'off', '--watch', `//127.0.0.1:${silentPort}/share`, '-N', '--timeout', '60']);
      // Before the first connection attempt ends (60 s): the line comes at once.
      await d.waitLine(/^smbnotify .* daemon running: 1 watch$/, 15_000, 'stderr');
      for (let i = 0; i < 200 && held.length === before; i++) await sleep(50);
      expect(held.length).toBe(before + 1);
      const t0 = Date.now();
      d.child.kill(signal);
      const { code } = await d.exit;
      expect(code).toBe(status);
      expect(Date.now() - t0).toBeLessThan(5_000);
    }
  });

  it('monitor: Ctrl-C exits 130 (and SIGTERM 143)', { timeout: 20_000 }, async () => {
    const { startDbus } = await import('../support/dbus.js');
    const bus = await startDbus();
    try {
      for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
        const m = runCli(['monitor', '--bus', bus.address]);
        await m.waitLine(/waiting for its signals/, 10_000, 'stderr');
        m.child.kill(signal);
        expect((await m.exit).code).toBe(status);
      }
    } finally {
      await bus.stop();
    }
  });
});

describe('daemon --timeout', () => {
  it('is used for connecting (a hung server fails after 1 s, not 30), and the help says the default', { timeout: 30_000 }, async () => {
    const d = runCli(['daemon', '--bus', 'none', '--journal', 'off', '--watch', `//127.0.0.1:${silentPort}/share`, '-N', '--timeout', '1']);
    await d.waitLine(/daemon running/, 5_000, 'stderr');
    const t0 = Date.now();
    const line = await d.waitLine(/reconnecting/, 10_000, 'stderr');
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(line).toMatch(/timed out/);
    d.child.kill('SIGTERM');
    expect((await d.exit).code).toBe(0);
    const help = await run(process.execPath, [CLI, 'daemon', '--help']);
    expect(help.stdout).toMatch(/--timeout <SECONDS>\s+connect and request timeout \(default: 15\)/);
  });
});

describe('watch -t 0 means no timeout (inotifywait)', () => {
  it('waits for the event', { timeout: 20_000 }, async () => {
    mkdirSync(join(samba.sharePath, 'piped', 't0'), { recursive: true });
    const r = runCli(['watch', '-t', '0', `${url}/piped/t0`, '-A', cred]);
    await r.waitLine(/WATCHING/, 15_000, 'stderr');
    await sleep(1_200);
    writeFileSync(join(samba.sharePath, 'piped', 't0', 'late.txt'), 'x');
    expect((await r.exit).code).toBe(0);
    expect(r.stdout.filter(Boolean)).toEqual(['CREATE          late.txt']);
  });

  it('a negative timeout is one line, exit 1', async () => {
    const r = runCli(['watch', '-t', '-1', `${url}/piped`, '-A', cred]);
    expect((await r.exit).code).toBe(1);
    expect(r.stderr.filter(Boolean)).toEqual(["smbnotify: option '-t, --timeout <SECONDS>' argument '-1' is invalid. --timeout must be a number of seconds (0: no timeout)."]);
  });
});

describe('one port rule: a port in the target is used, -p is for targets without one', () => {
  it('ls, watch and daemon refuse a target naming another port than -p, in the same words', async () => {
    const other = samba.port === 445 ? 446 : samba.port + 1;
    const expected = [`smbnotify: the target names port ${samba.port} but -p says ${other}: give the port once: in the target, or with -p for targets without one`];
    for (const args of [
      ['ls', url, '-p', String(other), '-A', cred],
      ['watch', url, '-p', String(other), '-A', cred],
      ['daemon', '--bus', 'none', '--journal', 'off', '--watch', url, '-p', String(other), '-A', cred],
    ]) {
      const r = runCli(args);
      expect((await r.exit).code).toBe(1);
      expect(r.stderr.filter(Boolean)).toEqual(expected);
    }
  });

  it('-p gives the port of a target without one', async () => {
    const r = runCli(['ls', `//${samba.host}/data/piped`, '-p', String(samba.port), '-A', cred]);
    expect((await r.exit).code).toBe(0);
    expect(r.stderr.filter(Boolean)).toEqual([]);
  });
});
