// Tests of the test bench itself (test/support): a throwaway smbd per variant, checked with the
// stock smbclient and smbstatus, and a private D-Bus bus checked with dbus-send/dbus-monitor.
// If these fail, every other integration test is suspect.
import { readFileSync, readdirSync, mkdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe, startSamba, stopAllSamba, type SambaOptions, type SambaServer } from '../support/samba.js';
import { dbusMonitor, monitorReady, startDbus } from '../support/dbus.js';
import { requireTool } from '../support/tools.js';

// smbstatus refuses to run unless root ("smbstatus only works as root!"); CI runs as root. A test
// that needs it fails with that reason instead of being skipped without a word.
function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('this check reads smbstatus, which only works as root: run the tests as root, as CI does');
}

afterAll(async () => {
  await stopAllSamba();
});

interface SessionRow {
  user: string;
  dialect: string;
  encryption: string;
  signing: string;
}

/** Session rows of `smbstatus -b`: "PID User Group Machine (addr) Dialect Encryption Signing". */
function parseSessions(out: string): SessionRow[] {
  const rows: SessionRow[] = [];
  for (const line of out.split('\n')) {
    const m = /^\d+\s+(\S+)\s+.*\s(SMB[23]_\d\d)\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (m) rows.push({ user: m[1]!, dialect: m[2]!, encryption: m[3]!, signing: m[4]! });
  }
  return rows;
}

/** Share rows of `smbstatus -S`: "Service pid Machine Connected-at Encryption Signing". */
function parseShares(out: string): Map<string, { encryption: string; signing: string }> {
  const rows = new Map<string, { encryption: string; signing: string }>();
  for (const line of out.split('\n')) {
    const m = /^(data|public)\s+\d+\s.*\sUTC\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (m) rows.set(m[1]!, { encryption: m[2]!, signing: m[3]! });
  }
  return rows;
}

async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Holds a session open with `notify /` (which never returns on its own), runs `check` while
 * it is open, then ends it. Returns smbclient's result so callers can see notify's status.
 */
async function withHeldSession<T>(
  server: SambaServer,
  clientArgs: string[],
  check: () => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  const held = server.smbclient([...clientArgs, '-c', 'notify /'], {
    signal: ac.signal,
    timeoutMs: 20_000,
  });
  let result: T;
  try {
    result = await check();
  } catch (err) {
    ac.abort();
    await held;
    throw err;
  }
  ac.abort();
  const r = await held;
  // 124 = still running when we ended it, i.e. notify was accepted and pending.
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(124);
  return result;
}

async function sessionOf(server: SambaServer, user: string): Promise<SessionRow> {
  return waitUntil(`an smbstatus session for ${user}`, async () =>
    parseSessions(await server.smbstatus(['-b'])).find((r) => r.user === user),
  );
}

interface Variant {
  name: string;
  opts: SambaOptions;
  /** extra smbclient arguments for the password user */
  client?: string[];
  guest: 'ok' | 'denied';
  /** checked against the user's `smbstatus -b` row and `smbstatus -S` rows while a session is held */
  status?: (s: SessionRow, shares: Map<string, { encryption: string; signing: string }>) => void;
  /** checked without smbstatus (works as non-root too) */
  extra?: (server: SambaServer) => Promise<void>;
}

const variants: Variant[] = [
  {
    name: 'default',
    opts: {},
    guest: 'ok',
    status: (s) => {
      expect(s.dialect).toBe('SMB3_11');
      expect(s.encryption).toBe('-');
      expect(s.signing).toMatch(/AES-128-GMAC/); // "partial(...)": offered, not required
    },
  },
  {
    name: 'maxProtocol SMB2_02',
    opts: { maxProtocol: 'SMB2_02' },
    guest: 'ok',
    status: (s) => {
      expect(s.dialect).toBe('SMB2_02');
      expect(s.signing).toMatch(/HMAC-SHA256/);
    },
  },
  {
    name: 'minProtocol SMB3_11',
    opts: { minProtocol: 'SMB3_11' },
    guest: 'ok',
    status: (s) => expect(s.dialect).toBe('SMB3_11'),
    extra: async (server) => {
      const r = await server.smbclient(['-m', 'SMB3_00', '-c', 'ls']);
      expect(r.code).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`).toMatch(/NT_STATUS_NOT_SUPPORTED/);
    },
  },
  {
    name: 'signing mandatory',
    opts: { signing: 'mandatory' },
    guest: 'ok', // guests cannot sign; Samba lets them in unsigned anyway
    status: (s, shares) => {
      expect(s.signing).toBe('AES-128-GMAC'); // no longer "partial(...)"
      expect(shares.get('data')?.signing).toBe('AES-128-GMAC');
    },
  },
  {
    name: 'signingAlgorithms AES-128-CMAC',
    opts: { signingAlgorithms: 'AES-128-CMAC' },
    guest: 'ok',
    status: (s) => expect(s.signing).toMatch(/AES-128-CMAC/),
  },
  {
    name: 'encrypt required',
    opts: { encrypt: 'required' },
    guest: 'denied', // guests cannot encrypt
    status: (s, shares) => {
      expect(s.encryption).toBe('AES-128-GCM');
      expect(shares.get('data')?.encryption).toBe('AES-128-GCM');
    },
  },
  {
    name: 'encryptShare (data share only)',
    opts: { encryptShare: true },
    guest: 'ok',
    status: (s, shares) => {
      expect(s.encryption).toBe('partial(AES-128-GCM)');
      expect(shares.get('data')?.encryption).toBe('AES-128-GCM');
    },
  },
  {
    name: 'encryptionAlgorithms AES-256-GCM',
    opts: { encryptionAlgorithms: 'AES-256-GCM' },
    client: ['--client-protection=encrypt'], // the server offers encryption; the client asks for it
    guest: 'ok',
    status: (s, shares) => {
      expect(s.encryption).toBe('partial(AES-256-GCM)'); // "partial": the client chose it, per tree
      // Samba 4.17's share table prints "???" for the 256-bit ciphers: only check "encrypted".
      expect(shares.get('data')?.encryption).not.toBe('-');
    },
  },
  {
    name: 'changeNotify false',
    opts: { changeNotify: false },
    guest: 'ok',
    extra: async (server) => {
      const r = await server.smbclient(['-c', 'notify /'], { timeoutMs: 10_000 });
      expect(`${r.stdout}${r.stderr}`).toMatch(/NT_STATUS_NOT_IMPLEMENTED/);
    },
  },
];

describe.each(variants)('samba variant: $name', (v) => {
  let server: SambaServer;
  beforeAll(async () => {
    server = await startSamba(v.opts);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('the password user can list the data share', { timeout: 20_000 }, async () => {
    const r = await server.smbclient([...(v.client ?? []), '-c', 'ls']);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/blocks of size \d+/);
  });

  it(`the guest share is ${v.guest === 'ok' ? 'listable' : 'refused'} with -N`, { timeout: 20_000 }, async () => {
    const r = await server.smbclient(['-c', 'ls'], { user: 'guest' });
    if (v.guest === 'ok') {
      expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/blocks of size \d+/);
    } else {
      expect(r.code).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`).toMatch(/NT_STATUS_ACCESS_DENIED/);
    }
  });

  if (v.status) {
    const status = v.status;
    it('smbstatus shows the expected dialect, signing and encryption', { timeout: 20_000 }, async () => {
      requireRoot();
      await withHeldSession(server, v.client ?? [], async () => {
        // smbstatus can show the session row before its signing state is filled in: poll until
        // the expectations hold (or time out), then assert once more for a clear message.
        const snapshot = async () => {
          const session = await sessionOf(server, server.user);
          const shares = await waitUntil('the data share in smbstatus -S', async () => {
            const s = parseShares(await server.smbstatus(['-S']));
            return s.has('data') ? s : undefined;
          });
          return { session, shares };
        };
        await waitUntil('the expected smbstatus rows', async () => {
          const { session, shares } = await snapshot();
          try {
            status(session, shares);
            return true;
          } catch {
            return undefined;
          }
        }).catch(() => undefined);
        const { session, shares } = await snapshot();
        status(session, shares);
      });
    });
  }

  if (v.extra) {
    const extra = v.extra;
    it('behaves as configured', { timeout: 20_000 }, async () => {
      await extra(server);
    });
  }
});

/** Non-zombie processes whose command line mentions the server's config file. */
function processesOf(server: SambaServer): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(server.confPath)) found.push(`${entry}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Live children of a pid, from the ppid field of /proc/PID/stat. */
function childrenOf(parent: number): number[] {
  const kids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === parent && state !== 'Z') kids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return kids;
}

/** The process group of a pid, from /proc/PID/stat (fields after the parenthesized comm). */
function pgrpOf(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[2]);
}

describe('samba lifecycle', () => {
  it('smbd leads its own process group, away from the test runner', { timeout: 20_000 }, async () => {
    const server = await startSamba();
    const pid = server.pid;
    expect(pid).toBeTypeOf('number');
    expect(pgrpOf(pid!)).toBe(pid);
    expect(pgrpOf(pid!)).not.toBe(pgrpOf('self'));
    await server.stop();
    expect(server.pid).toBeUndefined();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('files are shared both ways between the SMB user and the test process', { timeout: 20_000 }, async () => {
    const server = await startSamba();
    // A directory made by the test process with a restrictive mode...
    mkdirSync(join(server.sharePath, 'local'), { mode: 0o755 });
    writeFileSync(join(server.sharePath, 'local', 'a.txt'), 'local\n', { mode: 0o644 });
    const src = join(server.dir, 'upload.txt');
    writeFileSync(src, 'over smb\n');
    // ...is writable over SMB, and a local file in it can be deleted over SMB...
    const r = await server.smbclient(['-c', `put ${src} local/b.txt; del local/a.txt; mkdir remote`]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(readFileSync(join(server.sharePath, 'local', 'b.txt'), 'utf8')).toBe('over smb\n');
    expect(existsSync(join(server.sharePath, 'local', 'a.txt'))).toBe(false);
    // ...and what SMB created, the test process can remove.
    rmSync(join(server.sharePath, 'local'), { recursive: true });
    rmSync(join(server.sharePath, 'remote'), { recursive: true });
    await server.stop();
  });

  it('restarts on the same port and directories', { timeout: 30_000 }, async () => {
    const server = await startSamba();
    writeFileSync(join(server.sharePath, 'kept.txt'), 'x');
    const port = server.port;
    // Share listing goes through RPC, which starts samba-dcerpcd: stop() must end it too.
    const list = await server.smbclient(['-L', '//127.0.0.1'], { share: null });
    expect(list.code, `${list.stdout}${list.stderr}`).toBe(0);
    expect(list.stdout).toMatch(/\bdata\b/);
    expect(list.stdout).toMatch(/\bpublic\b/);

    await server.stop();
    await server.stop(); // idempotent
    expect(processesOf(server)).toEqual([]);
    expect(await probe(port)).toBe(false);

    await server.start();
    expect(server.port).toBe(port);
    const r = await server.smbclient(['-c', 'ls']);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/kept\.txt/);
    await server.stop();
  });

  it('kill() leaves no process behind, and the server can start again', { timeout: 30_000 }, async () => {
    const server = await startSamba();
    const pid = server.pid!;
    // A session held open, so a per-connection smbd child exists besides smbd-notifyd and
    // smbd-cleanupd...
    const held = server.smbclient(['-c', 'notify /'], { timeoutMs: 20_000 });
    await waitUntil('the per-connection smbd child', async () =>
      childrenOf(pid).length >= 3 ? true : undefined,
    );
    // ...and samba-dcerpcd, which daemonizes out of smbd's process group.
    const list = await server.smbclient(['-L', '//127.0.0.1'], { share: null });
    expect(list.code, `${list.stdout}${list.stderr}`).toBe(0);
    expect(processesOf(server).some((p) => p.includes('samba-dcerpcd'))).toBe(true);

    await server.kill();
    expect(processesOf(server)).toEqual([]);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    const r = await held;
    expect(r.timedOut).toBe(false); // the crash ended it, not the timeout
    expect(`${r.stdout}${r.stderr}`).toMatch(/NT_STATUS_CONNECTION_(DISCONNECTED|RESET)|NT_STATUS_END_OF_FILE/);

    await server.start();
    const again = await server.smbclient(['-c', 'ls']);
    expect(again.code, `${again.stdout}${again.stderr}`).toBe(0);
    await server.kill();
    expect(processesOf(server)).toEqual([]);
  });

  it('credentials never appear on a command line', { timeout: 20_000 }, async () => {
    const server = await startSamba();
    const ac = new AbortController();
    const held = server.smbclient(['-c', 'notify /'], { signal: ac.signal });
    try {
      await waitUntil('an smbclient process', async () => {
        for (const entry of readdirSync('/proc')) {
          if (!/^\d+$/.test(entry)) continue;
          let cmdline: string;
          try {
            cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
          } catch {
            continue;
          }
          if (cmdline.includes(`-p\0${server.port}\0`)) {
            expect(cmdline).not.toContain(server.password);
            return true;
          }
        }
        return undefined;
      });
    } finally {
      ac.abort();
      await held;
    }
    expect(server.logTail(100_000)).not.toContain(server.password);
    await server.stop();
  });
});

describe('dbus bench', () => {
  it('a private bus answers ListNames, and dbusMonitor sees a signal', { timeout: 20_000 }, async () => {
    const bus = await startDbus();
    const mon = dbusMonitor(bus.address, "type='signal',interface='io.github.smbnotify.Test'");
    try {
      expect(bus.address).toMatch(/^unix:path=/);
      const send = requireTool('dbus-send', 'dbus-bin');
      // Note: dbus-send takes --bus=ADDRESS (it has no --address option).
      const list = await runTool(send, [
        `--bus=${bus.address}`,
        '--dest=org.freedesktop.DBus',
        '--print-reply',
        '/',
        'org.freedesktop.DBus.ListNames',
      ]);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/string "org\.freedesktop\.DBus"/);

      await monitorReady(mon);
      const sig = await runTool(send, [`--bus=${bus.address}`, '--type=signal', '/', 'io.github.smbnotify.Test.Ping']);
      expect(sig.code, sig.stderr).toBe(0);
      const line = await mon.waitFor(/member=Ping/);
      expect(line).toMatch(/interface=io\.github\.smbnotify\.Test; member=Ping/);
    } finally {
      await mon.stop();
      await bus.stop();
    }
    expect(existsSync(bus.dir)).toBe(false);
  });
});

function runTool(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr });
    });
  });
}
