// Credentials: a credentials file that group or others can read is refused with a clear message,
// wherever it is given (watch, ls, info, the daemon's -A, its config file, D-Bus AddWatch), and
// before any connection is made. And the password of the test user never shows: not in any
// output or error message of the CLI, not in the daemon's log, journal or D-Bus traffic (all of
// it, recorded by dbus-monitor), not on the daemon's command line or in its environment, not on
// the command line of any process it starts. The server's password is distinctive
// (`Pw-<hex>-sEcReT`, test/support/samba.ts), so a plain search finds it.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { dbusMonitor, monitorReady, startDbus } from '../support/dbus.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);
const NAME = 'io.github.smbnotify';
const OBJ = '/io/github/smbnotify';
const IFACE = 'io.github.smbnotify.Watcher1';

let samba: SambaServer;
let dir: string;
let good: string;
let url: string;
/** Counts connections: a refused credentials file must not even connect. */
let counter: FaultProxy;

beforeAll(async () => {
  requireBuild();
  samba = await startSamba({});
  dir = mkdtempSync(join(tmpdir(), 'smbnotify-sec-'));
  good = credentialsFile(samba);
  url = `smb://127.0.0.1:${samba.port}/data`;
  counter = await startFaultProxy({ targetPort: samba.port });
});

afterAll(async () => {
  await counter?.close();
  await stopAllSamba();
  rmSync(dir, { recursive: true, force: true });
});

function credFile(name: string, mode: number, password = samba.password): string {
  const file = join(dir, name);
  writeFileSync(file, `username=${samba.user}\npassword=${password}\ndomain=${samba.domain}\n`);
  chmodSync(file, mode); // explicit: writeFileSync's mode is filtered by the umask
  return file;
}

async function finished(r: Running): Promise<{ code: number | null; out: string; stderr: string[] }> {
  const { code } = await r.exit;
  return { code, out: [...r.stdout, ...r.stderr].join('\n'), stderr: r.stderr.filter(Boolean) };
}

const OPEN_MODES = [0o644, 0o640, 0o604, 0o660, 0o666, 0o444];
const refusal = (file: string) => new RegExp(`^smbnotify: credentials file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (is readable by others|is group-readable) \\(mode 0[0-7]{3}\\): run chmod 600 `);

describe('a credentials file readable by group or others is refused', () => {
  for (const mode of OPEN_MODES) {
    const m = mode.toString(8).padStart(4, '0');
    it(`mode ${m}: watch, ls and info refuse it with one line, before connecting`, async () => {
      const file = credFile(`open-${m}`, mode);
      const before = counter.accepted;
      const target = `smb://127.0.0.1:${counter.port}/data`;
      for (const args of [['watch', target, '-t', '3'], ['ls', target], ['info', target]]) {
        const r = await finished(runCli([...args, '-A', file]));
        expect(r.code, `${args[0]}: ${r.out}`).toBe(1);
        expect(r.stderr, args[0]).toHaveLength(1);
        expect(r.stderr[0]).toMatch(refusal(file));
        expect(r.stderr[0]).toContain(`${mode & 0o004 ? 'is readable by others' : 'is group-readable'} (mode ${m})`);
        expect(r.out).not.toContain(samba.password);
      }
      expect(counter.accepted).toBe(before);
    });
  }

  it('modes 0600 and 0400 are accepted (control)', async () => {
    for (const mode of [0o600, 0o400]) {
      const r = await finished(runCli(['ls', url, '-A', credFile(`closed-${mode.toString(8)}`, mode)]));
      expect(r.code, r.out).toBe(0);
    }
  });

  it('the daemon refuses it: -A (exit 1), [daemon] / [watch] / [credentials] in the config (logged, no watch), AddWatch over D-Bus (InvalidArgs)', async () => {
    const file = credFile('daemon-open', 0o640);
    const bus = await startDbus();
    try {
      // -A: the daemon does not start.
      const a = await finished(runCli(['daemon', '--bus', bus.address, '--watch', url, '--journal', 'off', '-A', file]));
      expect(a.code, a.out).toBe(1);
      expect(a.stderr).toHaveLength(1);
      expect(a.stderr[0]).toMatch(refusal(file));

      // Config file: each watch that would use the file is refused, by name, and not started.
      const config = join(dir, 'daemon.conf');
      writeFileSync(config, [
        '[daemon]', 'follow-desktop = no',
        '[watch by-watch]', `target = ${url}`, `credentials = ${file}`,
        '[credentials //127.0.0.1/data]', `file = ${file}`,
        '[watch by-section]', `target = ${url}/sub`,
      ].join('\n'));
      const d = runCli(['daemon', '--bus', bus.address, '--config', config, '--journal', 'off']);
      try {
        await d.waitLine(/daemon running: 0 watches/, 15_000, 'stderr');
        const log = d.stderr.join('\n');
        expect(log).toMatch(new RegExp(`\\[watch by-watch\\]: credentials file ${file}.* is group-readable \\(mode 0640\\)`));
        expect(log).toMatch(new RegExp(`\\[watch by-section\\]: credentials file ${file}.* is group-readable \\(mode 0640\\)`));
        const err = await run(requireTool('gdbus', 'libglib2.0-bin'), ['call', '--address', bus.address, '--dest', NAME, '--object-path', OBJ, '--method', `${IFACE}.AddWatch`, url, `{'credentialsFile': <'${file}'>}`]).then(
          () => '',
          (e: { stderr: string }) => e.stderr,
        );
        expect(err).toMatch(/io\.github\.smbnotify\.Error\.InvalidArgs: credentials file .* is group-readable \(mode 0640\): run chmod 600/);
      } finally {
        d.child.kill('SIGTERM');
        await d.exit;
      }
      // [daemon] credentials = FILE, for a --watch without -A: like -A, the daemon does not start.
      writeFileSync(config, ['[daemon]', 'follow-desktop = no', `credentials = ${file}`].join('\n'));
      const g = await finished(runCli(['daemon', '--bus', bus.address, '--config', config, '--watch', url, '--journal', 'off']));
      expect(g.code, g.out).toBe(1);
      expect(g.stderr).toHaveLength(1);
      expect(g.stderr[0]).toMatch(refusal(file));
    } finally {
      await bus.stop();
    }
  }, 60_000);
});

describe('the password never shows', () => {
  it('in any output or error message of ls, info and watch, whatever goes wrong', async () => {
    const proxy = await startFaultProxy({ targetPort: samba.port });
    const wrong = credFile('wrong', 0o600, 'Wrong-3f9a1c-sEcReT');
    const closedPort = (await startFaultProxy({ targetPort: 1 }).then(async (p) => {
      const port = p.port;
      await p.close();
      return port;
    }));
    const cases: Array<[string, string[], Record<string, string>?]> = [
      ['ls ok', ['ls', url, '-A', good]],
      ['ls --json ok', ['ls', '--json', url, '-A', good]],
      ['info ok', ['info', url, '-A', good]],
      ['unknown share', ['ls', `smb://127.0.0.1:${samba.port}/nosuch`, '-A', good]],
      ['missing path', ['ls', `${url}/no/such/dir`, '-A', good]],
      ['wrong password', ['ls', url, '-A', wrong]],
      ['connection refused', ['ls', `smb://127.0.0.1:${closedPort}/data`, '-A', good]],
      ['protect encrypt refused', ['info', url, '--max-protocol', 'SMB2_10', '--protect', 'encrypt', '-A', good]],
      ['watch timeout', ['watch', url, '-t', '1', '-A', good]],
      ['watch missing folder', ['watch', `${url}/missing`, '-A', good]],
      ['password on -U (redacted in errors)', ['ls', `smb://127.0.0.1:${samba.port}/nosuch`, '-U', `${samba.user}%${samba.password}`]],
      ['password in the URL (redacted in errors)', ['ls', `smb://${samba.user}:${samba.password}@127.0.0.1:${samba.port}/nosuch`]],
      ['password in the URL, bad option', ['ls', `smb://${samba.user}:${samba.password}@127.0.0.1:${samba.port}/data`, '--frobnicate']],
      ['-U user%password, bad port', ['ls', url, '-U', `${samba.user}%${samba.password}`, '-p', '99999']],
      ['PASSWD in the environment', ['ls', `smb://${samba.user}@127.0.0.1:${samba.port}/nosuch`], { PASSWD: samba.password }],
    ];
    try {
      for (const [name, args, env] of cases) {
        const r = await finished(runCli(args, env));
        expect(r.out, name).not.toContain(samba.password);
        expect(r.out, name).not.toContain('Wrong-3f9a1c-sEcReT');
        if (!name.endsWith('ok')) expect(r.code, `${name}: ${r.out}`).not.toBe(0);
      }
      // A watch that loses its connection twice and reports it on stderr.
      const w = runCli(['watch', '-m', `smb://127.0.0.1:${proxy.port}/data`, '-A', good]);
      await w.waitLine(/WATCHING/, 15_000, 'stderr');
      proxy.cutNow();
      await waitCount(w.stderr, /reconnected/, 1);
      const cut = proxy.cut({ dir: 's2c' });
      writeFileSync(join(samba.sharePath, 'poke.txt'), 'x');
      await cut;
      await waitCount(w.stderr, /reconnected/, 2);
      // Its command line and environment, while it runs.
      expect(readFileSync(`/proc/${w.child.pid}/cmdline`, 'utf8')).not.toContain(samba.password);
      expect(readFileSync(`/proc/${w.child.pid}/environ`, 'utf8')).not.toContain(samba.password);
      w.child.kill('SIGINT');
      const r = await finished(w);
      expect(r.out).not.toContain(samba.password);
    } finally {
      await proxy.close();
    }
  }, 90_000);

  it('in the daemon: log, journal, every D-Bus message, its command line, environment and children', async () => {
    const bus = await startDbus();
    // Everything on the bus: signals, method calls, returns and errors.
    const monitor = dbusMonitor(bus.address, '');
    await monitorReady(monitor);
    const journal = join(dir, 'journal.jsonl');
    const proxy = await startFaultProxy({ targetPort: samba.port });
    const target = `smb://127.0.0.1:${proxy.port}/data`;
    const d = runCli(['daemon', '--bus', bus.address, '--watch', target, '-r', '--journal', journal, '-A', good, '--mountinfo', '/dev/null']);
    const gdbusTool = requireTool('gdbus', 'libglib2.0-bin');
    const call = (method: string, ...args: string[]) =>
      run(gdbusTool, ['call', '--address', bus.address, '--dest', NAME, '--object-path', OBJ, '--method', `${IFACE}.${method}`, ...args]).then(
        (r) => r.stdout,
        (e: { stderr: string }) => e.stderr,
      );
    const seen: string[] = [];
    try {
      await d.waitLine(/daemon running/, 20_000, 'stderr');
      await monitor.waitFor(/string "watching/, 15_000);
      const pid = d.child.pid!;

      // Events, a rename, a deletion.
      writeFileSync(join(samba.sharePath, 'secret-test.txt'), 'x');
      renameSync(join(samba.sharePath, 'secret-test.txt'), join(samba.sharePath, 'secret-test-2.txt'));
      rmSync(join(samba.sharePath, 'secret-test-2.txt'));
      await monitor.waitFor(/secret-test-2\.txt/, 10_000);
      // The methods, in success and in failure.
      seen.push(await call('ListWatches'), await call('GetStatus'));
      seen.push(await call('AddWatch', `smb://127.0.0.1:${samba.port}/data`, `{'credentialsFile': <'${good}'>}`));
      seen.push(await call('AddWatch', `smb://127.0.0.1:${samba.port}/nosuch`, `{'credentialsFile': <'${good}'>}`));
      seen.push(await call('AddWatch', `smb://127.0.0.1:${samba.port}/data`, `{'credentialsFile': <'${credFile('daemon-wrong', 0o600, 'Wrong-3f9a1c-sEcReT')}'>}`));
      seen.push(await call('AddWatch', `smb://127.0.0.1:${samba.port}/data`, `{'credentialsFile': <'${credFile('daemon-open-2', 0o644)}'>}`));
      seen.push(await call('ListWatches'), await call('RemoveWatch', 'w2'), await call('RemoveWatch', 'w99'));
      // Connection trouble: RST, then smbd killed and restarted; the state changes go everywhere.
      proxy.cutNow();
      await monitor.waitFor(/reconnected/, 15_000);
      await samba.kill();
      await new Promise((r) => setTimeout(r, 800));
      await samba.start();
      await new Promise((r) => setTimeout(r, 2000));
      seen.push(await call('ListWatches'));
      // A reload.
      process.kill(pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 500));

      // Command line and environment of the daemon and of anything it started.
      const pids = [pid, ...descendants(pid)];
      for (const p of pids) {
        expect(readFileSync(`/proc/${p}/cmdline`, 'utf8'), `pid ${p}`).not.toContain(samba.password);
        expect(readFileSync(`/proc/${p}/environ`, 'utf8'), `pid ${p}`).not.toContain(samba.password);
      }
      const ps = await run('ps', ['-eo', 'pid,args']);
      expect(ps.stdout).not.toContain(samba.password);
    } finally {
      d.child.kill('SIGTERM');
      await d.exit;
      await monitor.stop();
      await proxy.close();
      await bus.stop();
    }
    const everything = [
      ...d.stdout,
      ...d.stderr,
      ...seen,
      ...monitor.lines,
      existsSync(journal) ? readFileSync(journal, 'utf8') : '',
    ].join('\n');
    // The run did what it should (so the search means something) ...
    expect(monitor.lines.join('\n')).toMatch(/member=AddWatch/);
    expect(monitor.lines.join('\n')).toMatch(/member=Event/);
    expect(readFileSync(journal, 'utf8')).toContain('secret-test-2.txt');
    expect(everything).toMatch(/STATUS_LOGON_FAILURE|wrong user name or password/);
    // ... and no secret is anywhere in it.
    expect(everything).not.toContain(samba.password);
    expect(everything).not.toContain('Wrong-3f9a1c-sEcReT');
    // Not even hex encoded (a dumped buffer would show it so).
    expect(everything).not.toContain(Buffer.from(samba.password, 'utf8').toString('hex'));
  }, 90_000);

  it('the daemon refuses a password on its own command line (ps would show it for its whole life)', async () => {
    const bus = await startDbus();
    try {
      for (const args of [
        ['--watch', `smb://${samba.user}:${samba.password}@127.0.0.1:${samba.port}/data`],
        ['--watch', `smb://127.0.0.1:${samba.port}/data`, '-U', `${samba.user}%${samba.password}`],
      ]) {
        const d = runCli(['daemon', '--bus', bus.address, '--journal', 'off', '--mountinfo', '/dev/null', ...args]);
        const { code } = await d.exit;
        expect(code).toBe(1);
        expect(d.stderr.filter(Boolean)).toHaveLength(1);
        expect(d.stderr[0]).toMatch(/would stay visible in the daemon's command line: use -A FILE or PASSWD/);
        expect([...d.stdout, ...d.stderr].join('\n')).not.toContain(samba.password);
      }
    } finally {
      await bus.stop();
    }
  }, 60_000);
});

async function waitCount(lines: string[], re: RegExp, n: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (lines.filter((l) => re.test(l)).length < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} lines matching ${re}: ${lines.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every process below `pid` (through /proc/PID/task/TID/children). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.split(/\s+/).filter(Boolean).map(Number)) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}
