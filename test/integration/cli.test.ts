// The `smbnotify` command as users run it: the built bin (dist/cli/main.js) spawned as a real
// process against a throwaway smbd, checking stdout, stderr and the exit status.
//
// `npm test` builds first (pretest); when running vitest directly, run `npm run build` yourself.
// Credentials go through `-A FILE` (mode 0600) or $PASSWD; only the test of `-U user%pass`
// parsing puts a password on the command line. Every run is checked for leaked passwords.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSamba, stopAllSamba, type SambaOptions, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const scratch = mkdtempSync(join(tmpdir(), 'smbnotify-cli-test-'));
afterAll(async () => {
  await stopAllSamba();
  rmSync(scratch, { recursive: true, force: true });
});

beforeAll(() => {
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} is missing: run "npm run build" first (npm test does it in pretest)`);
  }
});

// --- running the CLI ---------------------------------------------------------------------------

/** Every password any run could know; none may ever be printed. */
const secrets = new Set<string>();

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface CliOptions {
  /** Extra environment (PASSWD). The child never inherits PASSWD or USER from the runner. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Fails the test if any known password appears in the output of a run. */
function expectNoSecrets(r: CliResult): void {
  for (const s of secrets) {
    expect(r.stdout.includes(s), 'password on stdout').toBe(false);
    expect(r.stderr.includes(s), 'password on stderr').toBe(false);
  }
}

/** `node dist/cli/main.js ...args`, stdin not a terminal (no prompt); checked for leaks. */
function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['PASSWD', 'PASSWD_FD', 'PASSWD_FILE', 'USER', 'LOGNAME']) delete env[k];
  Object.assign(env, opts.env ?? {});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const r: CliResult = {
        code: signal ? null : code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      try {
        expectNoSecrets(r);
      } catch (e) {
        reject(e as Error);
        return;
      }
      resolve(r);
    });
  });
}

/** A successful run: exit 0, nothing on stderr. */
function expectOk(r: CliResult): void {
  expect(r.stderr, 'stderr of a successful run').toBe('');
  expect(r.code).toBe(0);
}

/** The error contract: ONE line `smbnotify: ...` on stderr naming the cause, no stack, exit 1. */
function expectOneLineError(r: CliResult, cause: RegExp): void {
  expect(r.stderr).toMatch(/^smbnotify: /);
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr).not.toContain('    at ');
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(cause);
  expect(r.stdout).toBe('');
  expect(r.code).toBe(1);
}

/** A credentials file for the server's password user (or with `password` instead), mode 0600. */
let credCount = 0;
function credFile(s: SambaServer, password = s.password, mode = 0o600): string {
  const file = join(scratch, `cred-${++credCount}`);
  writeFileSync(file, `username = ${s.user}\npassword = ${password}\ndomain = ${s.domain}\n`, { mode });
  chmodSync(file, mode); // the umask may have removed bits from `mode`; set exactly what we asked
  secrets.add(password);
  return file;
}

async function server(opts: SambaOptions = {}): Promise<SambaServer> {
  const s = await startSamba(opts);
  secrets.add(s.password);
  return s;
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface LsJsonEntry {
  name: string;
  type: 'file' | 'dir';
  size: number | string;
  mtime: string | null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function parseJsonLines(stdout: string): LsJsonEntry[] {
  expect(stdout.endsWith('\n')).toBe(true);
  return stdout.slice(0, -1).split('\n').map((line) => JSON.parse(line) as LsJsonEntry);
}

// --- the 10,000-entry folder -------------------------------------------------------------------

const ENTRIES = 10_000;
const NAME_MAX_BYTES = 255; // ext4, overlayfs, tmpfs: 255 BYTES per name, not characters

/** `prefix` followed by as many `filler`s as fit in exactly 255 bytes (ASCII padding at the end). */
function fullLengthName(prefix: string, filler: string): string {
  let name = prefix;
  while (Buffer.byteLength(name + filler) <= NAME_MAX_BYTES) name += filler;
  while (Buffer.byteLength(name) < NAME_MAX_BYTES) name += '_';
  return name;
}

/** Name number i: every script and awkward character, all different, all ≤ 255 bytes. */
function bigName(i: number): string {
  const n = String(i).padStart(5, '0');
  switch (i % 16) {
    case 0: return `plain-${n}.txt`;
    case 1: return `with spaces ${n} and  two.doc`;
    case 2: return `Привет мир ${n}.txt`; // Cyrillic
    case 3: return `Καλημέρα κόσμε ${n}`; // Greek
    case 4: return `日本語のファイル名 ${n}.md`; // CJK
    case 5: return `漢字 中文 한국어 ${n}`; // CJK + Hangul
    case 6: return `مرحبا بالعالم ${n}.pdf`; // Arabic (right-to-left)
    case 7: return `😀 emoji 🎉👩‍💻 ${n}`; // astral plane: surrogate pairs in UTF-16, ZWJ sequence
    // U+FF03 sorts before U+1F600 by code point (and in UTF-8), after it by UTF-16 code unit.
    case 8: return `＃ fullwidth ${n} #hash#`;
    case 9: return `100% ${n} %20 %zz %`;
    case 10: return fullLengthName(`${n}-`, 'a'); // 255 ASCII characters
    case 11: return fullLengthName(`${n}-`, 'ж'); // 255 bytes of 2-byte characters
    case 12: return fullLengthName(`${n}-`, '語'); // 255 bytes of 3-byte characters
    case 13: return fullLengthName(`${n}-`, '🙂'); // 255 bytes of 4-byte characters
    case 14: return ` leading space ${n}`;
    default: return `Mixed ${n} ñ ü ß Ω ж 中 ع 😀 #%&'()[]{}=+,;@~!$^.tar.gz`;
  }
}

/** Names with control characters: Samba passes them through with `mangled names = no`. */
const CONTROL_NAMES = ['tab\there.txt', 'new\nline.txt', 'esc\u001b[31mred.txt', 'del\u007f.txt', 'csi\u009b31mC1.txt'];
const SUBDIRS = 12;

interface DiskEntry {
  name: string;
  type: 'file' | 'dir';
  size: number;
  mtimeSeconds: number;
}

/** Creates sharePath/big with exactly ENTRIES entries: files of varied sizes and times, folders. */
function makeBigFolder(s: SambaServer): void {
  const dir = join(s.sharePath, 'big');
  mkdirSync(dir);
  const content = Buffer.alloc(5000, 'smbnotify ');
  const old = new Date('2001-09-09T01:46:40Z');
  const files = ENTRIES - SUBDIRS - CONTROL_NAMES.length;
  for (let i = 0; i < files; i++) {
    const name = bigName(i);
    if (Buffer.byteLength(name) > NAME_MAX_BYTES) throw new Error(`name ${i} is too long`);
    const path = join(dir, name);
    writeFileSync(path, i % 5 === 0 ? content.subarray(0, (i * 37) % content.length) : '');
    // Some old times, to the second and not, so that mtime is really compared.
    if (i % 11 === 0) utimesSync(path, old, new Date(old.getTime() + i * 1_000_123));
  }
  for (const name of CONTROL_NAMES) writeFileSync(join(dir, name), 'control\n');
  for (let d = 0; d < SUBDIRS; d++) {
    const sub = join(dir, d % 2 === 0 ? `folder ${d}` : `папка ${d} 📁`);
    mkdirSync(sub);
    writeFileSync(join(sub, 'inside.txt'), 'not listed by ls of big');
  }
}

function readDisk(dir: string): DiskEntry[] {
  return readdirSync(dir).map((name) => {
    const st = lstatSync(join(dir, name));
    return {
      name,
      type: st.isDirectory() ? 'dir' : 'file',
      size: st.size,
      mtimeSeconds: Math.floor(st.mtimeMs / 1000),
    } satisfies DiskEntry;
  });
}

describe('ls', () => {
  let s: SambaServer;
  let cred: string;
  let url: string;

  beforeAll(async () => {
    // `mangled names = no`: Samba would otherwise show names that are illegal on Windows (with
    // control characters, among others) as 8.3 names like `AR3WPZ~6` instead of the real name.
    s = await server({ extraShare: ['mangled names = no'] });
    cred = credFile(s);
    url = `smb://127.0.0.1:${s.port}/data`;
    makeBigFolder(s);
    writeFileSync(join(s.guestSharePath, 'for guests.txt'), 'hello guest\n');
  });

  it('lists a 10,000-entry folder exactly as the disk has it (--json)', async () => {
    const r = await cli(['ls', '--json', `${url}/big`, '-A', cred]);
    expectOk(r);
    const listed = parseJsonLines(r.stdout);
    const disk = readDisk(join(s.sharePath, 'big'));
    expect(disk).toHaveLength(ENTRIES);
    expect(listed).toHaveLength(ENTRIES);

    // Names exactly, and each once.
    expect(new Set(listed.map((e) => e.name)).size).toBe(ENTRIES);
    expect([...listed.map((e) => e.name)].sort()).toEqual([...disk.map((e) => e.name)].sort());

    // Type, size (files; a folder's size is the server's business) and mtime to the second.
    const byName = new Map(listed.map((e) => [e.name, e]));
    const mismatches: string[] = [];
    for (const d of disk) {
      const e = byName.get(d.name)!;
      const mtime = e.mtime === null ? NaN : Math.floor(Date.parse(e.mtime) / 1000);
      const size = typeof e.size === 'number' ? e.size : Number(e.size);
      if (e.type !== d.type || (d.type === 'file' && size !== d.size) || mtime !== d.mtimeSeconds) {
        mismatches.push(`${JSON.stringify(d)} listed as ${JSON.stringify(e)}`);
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(listed.filter((e) => e.type === 'dir')).toHaveLength(SUBDIRS);

    // Sorted by code point, like `LC_ALL=C ls` (which compares UTF-8 bytes: the same order).
    const names = listed.map((e) => e.name);
    expect(names).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));

    // The control characters came through exactly, and escaped (no raw DEL or C1 on a terminal).
    for (const name of CONTROL_NAMES) expect(byName.get(name)?.size).toBe('control\n'.length);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('prints one line per entry and escapes control characters in names', async () => {
    const r = await cli(['ls', `${url}/big`, '-A', cred]);
    expectOk(r);
    const lines = r.stdout.slice(0, -1).split('\n');
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(lines).toHaveLength(ENTRIES);
    // Nothing raw that could break a line or drive the terminal.
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(lines.some((l) => l.endsWith(' tab\\there.txt'))).toBe(true);
    expect(lines.some((l) => l.endsWith(' new\\nline.txt'))).toBe(true);
    expect(lines.some((l) => l.endsWith(' esc\\x1b[31mred.txt'))).toBe(true);
    expect(lines.some((l) => l.endsWith(' del\\x7f.txt'))).toBe(true);
    expect(lines.some((l) => l.endsWith(' csi\\x9b31mC1.txt'))).toBe(true);
    // Other names unchanged, folders marked `d`.
    expect(lines.some((l) => l.endsWith(` ${bigName(2)}`))).toBe(true);
    expect(lines.some((l) => l.endsWith(` ${bigName(13)}`))).toBe(true);
    expect(lines.filter((l) => l.startsWith('d '))).toHaveLength(SUBDIRS);
    expect(lines.find((l) => l.endsWith(' folder 0'))).toMatch(/^d /);
    // `ls -l` shape: type, right-aligned size, time, name; an old file shows its year.
    for (const l of lines) expect(l).toMatch(/^[-d] +\d+ [A-Z][a-z]{2} [ \d]\d ( \d{4}|\d\d:\d\d) ./);
    expect(lines.find((l) => l.endsWith(` ${bigName(0)}`))).toMatch(/ Sep {1,2}\d+ {2}2001 /);
  });

  it('ends quietly when the reader closes the pipe (ls | head -1)', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['PASSWD'];
    const child = spawn(process.execPath, [CLI, 'ls', `${url}/big`, '-A', cred], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    expect(first).toMatch(/^[-d] /);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('shows the one line of a file when TARGET is a file', async () => {
    const name = bigName(1); // spaces
    const r = await cli(['ls', `${url}/big/${encodeURIComponent(name)}`, '-A', cred]);
    expectOk(r);
    expect(r.stdout).toMatch(new RegExp(`^- +0 [A-Z][a-z]{2} [ \\d]\\d [ \\d]\\d[\\d:]\\d\\d ${escapeRegExp(name)}\\n$`));

    const pct = bigName(9); // `100% 00009 %20 %zz %`, percent-encoded in the URL
    const j = await cli(['ls', '--json', `${url}/big/${encodeURIComponent(pct)}`, '-A', cred]);
    expectOk(j);
    const entries = parseJsonLines(j.stdout);
    expect(entries).toEqual([expect.objectContaining({ name: pct, type: 'file', size: 0 })]);

    const sized = bigName(5 * 16 * 3 + 5); // i % 5 === 0: has content
    const k = await cli(['ls', '--json', `//127.0.0.1/data/big/${sized}`, '-p', String(s.port), '-A', cred]);
    expectOk(k);
    const [entry] = parseJsonLines(k.stdout);
    expect(entry).toMatchObject({ name: sized, type: 'file', size: lstatSync(join(s.sharePath, 'big', sized)).size });
    expect(entry!.size).toBeGreaterThan(0);
  });

  it('lists the guest share with -N, in // and \\\\ forms', async () => {
    for (const target of ['//127.0.0.1/public', '\\\\127.0.0.1\\public']) {
      const r = await cli(['ls', '-N', target, '-p', String(s.port)]);
      expectOk(r);
      expect(r.stdout).toMatch(/^- +12 .* for guests\.txt\n$/);
    }
  });

  it('takes the password from $PASSWD', async () => {
    const r = await cli(['ls', '--json', url, '-U', s.user], { env: { PASSWD: s.password } });
    expectOk(r);
    expect(parseJsonLines(r.stdout)).toContainEqual(expect.objectContaining({ name: 'big', type: 'dir' }));
  });

  it('parses -U user%pass (the one test with a password on the command line)', async () => {
    const r = await cli(['ls', '--json', url, '-U', `${s.domain}\\${s.user}%${s.password}`]);
    expectOk(r);
    expect(parseJsonLines(r.stdout)).toContainEqual(expect.objectContaining({ name: 'big', type: 'dir' }));
    // And a wrong one given the same way is reported without repeating it.
    const wrong = `${s.password}-wrong`;
    secrets.add(wrong);
    const w = await cli(['ls', url, '-U', `${s.user}%${wrong}`]);
    expectOneLineError(w, /STATUS_LOGON_FAILURE/);
  });

  describe('errors: one line on stderr, the cause named, exit status 1', () => {
    it('wrong password', async () => {
      const wrong = credFile(s, 'not-the-password-Xy7');
      expectOneLineError(await cli(['ls', url, '-A', wrong]), /logon failed.*STATUS_LOGON_FAILURE/);
      secrets.add('also-not-the-password');
      const env = { PASSWD: 'also-not-the-password' };
      expectOneLineError(await cli(['ls', url, '-U', s.user], { env }), /STATUS_LOGON_FAILURE/);
    });

    it('unknown host', async () => {
      const r = await cli(['ls', 'smb://no-such-host.invalid/data', '-A', cred]);
      expectOneLineError(r, /unknown host no-such-host\.invalid/);
    });

    it('-I that is not an address names -I, not the target\'s host; an address there reaches a host name that resolves nowhere', async () => {
      for (const bad of ['notanip', 'no-such.invalid', '300.1.1.1']) {
        const r = await cli(['ls', '-I', bad, '//fileserver.invalid/data', '-A', cred]);
        expectOneLineError(r, new RegExp(`-I takes an IPv4 or IPv6 address, not "${bad.replace(/\./g, '\\.')}"`));
      }
      const ok = await cli(['ls', '-I', '127.0.0.1', '-p', String(s.port), '//fileserver.invalid/data', '-A', cred]);
      expect(ok.code, ok.stderr).toBe(0);
    });

    it('Ctrl-C at the password prompt (a terminal: it comes as a character) ends as Ctrl-C does: 130, nothing more', async () => {
      const script = requireTool('script', 'bsdutils');
      for (const command of ['ls', 'watch']) {
        // script(1) gives the command a terminal; the prompt puts it in raw mode, so ^C is a byte.
        const child = spawn(script, ['-qfec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ${command} //127.0.0.1:${s.port}/data -U someone`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        for (let i = 0; i < 100 && !out.includes('Password for [someone]: '); i++) await new Promise((r) => setTimeout(r, 50));
        expect(out).toContain('Password for [someone]: ');
        child.stdin.write('\u0003');
        expect(await exit).toBe(130);
        expect(out.replace('Password for [someone]: ', '').trim()).toBe('');
      }
    });

    it('connection refused', async () => {
      const port = await closedPort();
      const r = await cli(['ls', `smb://127.0.0.1:${port}/data`, '-A', cred]);
      expectOneLineError(r, new RegExp(`127\\.0\\.0\\.1:${port}: connection refused`));
    });

    it('a server that accepts the connection and never answers (--timeout)', async () => {
      const held: Socket[] = [];
      const mute = createServer((sock) => held.push(sock));
      await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
      const port = (mute.address() as AddressInfo).port;
      try {
        const r = await cli(['ls', `smb://127.0.0.1:${port}/data`, '--timeout', '1', '-A', cred]);
        expectOneLineError(r, new RegExp(`timed out talking to 127\\.0\\.0\\.1:${port}: no NEGOTIATE response`));
      } finally {
        for (const sock of held) sock.destroy();
        await new Promise((resolve) => mute.close(resolve));
      }
    });

    it('a service that is not SMB (HTTP) answering: the malformed-message line asks "not an SMB server?"', async () => {
      const http = createServer((sock) => sock.once('data', () => sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')));
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const port = (http.address() as AddressInfo).port;
      try {
        const r = await cli(['ls', `smb://127.0.0.1:${port}/data`, '-A', cred]);
        expectOneLineError(r, /malformed message/);
        expect(r.stderr).toBe('smbnotify: server sent a malformed message: bad transport header byte 0x48 (not an SMB server?)\n');
      } finally {
        await new Promise((resolve) => http.close(resolve));
      }
    });

    it('unknown share', async () => {
      const r = await cli(['ls', `smb://127.0.0.1:${s.port}/no-such-share`, '-A', cred]);
      expectOneLineError(r, /share not found: \\\\127\.0\.0\.1\\no-such-share \(STATUS_BAD_NETWORK_NAME\)/);
    });

    it('missing path', async () => {
      for (const path of ['no-such-file', 'no/such/folder', 'big/no-such-file']) {
        const r = await cli(['ls', `${url}/${path}`, '-A', cred]);
        expectOneLineError(r, /no such file or folder: .*\(STATUS_OBJECT_(NAME|PATH)_NOT_FOUND\)/);
      }
    });

    it('malformed TARGET', async () => {
      for (const target of ['smb://', 'http://x/y', '//host', 'smb://host', 'host/share', '']) {
        const r = await cli(['ls', target, '-A', cred]);
        expectOneLineError(r, /bad TARGET/);
      }
    });

    it('a --mountinfo or --fstab file that is not there', async () => {
      const missing = join(scratch, 'no-such-mountinfo');
      expectOneLineError(await cli(['watch', '--mountinfo', missing, '/mnt/projects', '-A', cred]), new RegExp(`^smbnotify: cannot read ${missing}: no such file\\n`));
    });

    it('unreadable credentials file', async () => {
      const missing = join(scratch, 'no-such-credentials');
      const r = await cli(['ls', url, '-A', missing]);
      expectOneLineError(r, /cannot read credentials file .*no-such-credentials: no such file/);
    });

    it('credentials file readable by group or others', async () => {
      for (const [mode, words] of [[0o644, 'is readable by others (mode 0644)'], [0o640, 'is group-readable (mode 0640)'], [0o604, 'is readable by others (mode 0604)']] as const) {
        const file = credFile(s, s.password, mode);
        const r = await cli(['ls', url, '-A', file]);
        expectOneLineError(r, /credentials file/);
        expect(r.stderr).toBe(`smbnotify: credentials file ${file} ${words}: run chmod 600 ${file}\n`);
      }
    });

    it('--protect encrypt against an SMB 2.1 server: refused', async () => {
      const old = await server({ maxProtocol: 'SMB2_10' });
      const r = await cli(['ls', `smb://127.0.0.1:${old.port}/data`, '--protect', 'encrypt', '-A', credFile(old)]);
      expectOneLineError(r, /does not offer encryption with dialect 2\.1.*refusing/);
    });

    it('--protect encrypt against a server with encryption off: refused', async () => {
      const off = await server({ encrypt: 'off' });
      const r = await cli(['info', `smb://127.0.0.1:${off.port}/data`, '--protect', 'encrypt', '-A', credFile(off)]);
      expectOneLineError(r, /does not offer encryption.*refusing/);
    });

    it('usage errors', async () => {
      expectOneLineError(await cli([]), /missing command/);
      expectOneLineError(await cli(['frobnicate']), /unknown command/);
      expectOneLineError(await cli(['ls']), /missing required argument/);
      expectOneLineError(await cli(['ls', url, '--protect', 'maybe', '-A', cred]), /--protect/);
      expectOneLineError(await cli(['ls', url, '-m', 'NT1', '-A', cred]), /SMB1 is not supported/);
      expectOneLineError(await cli(['ls', url, '-p', '99999', '-A', cred]), /1-65535/);
      // Another scheme (or smb:/ with one slash) is a bad TARGET for watch too, not a local folder of that name.
      expectOneLineError(await cli(['watch', 'cifs://host/share', '-A', cred]), /^smbnotify: bad TARGET: unsupported scheme "cifs:"/);
      expectOneLineError(await cli(['watch', 'smb:/host/share', '-A', cred]), /^smbnotify: bad TARGET: smb: must be followed by \/\//);
    });
  });
});

describe('daemon usage errors', () => {
  it('-r without --watch: refused in one line before anything starts, not taken for the config\'s watches', async () => {
    const r = await cli(['daemon', '-r', '--config', '/dev/null', '--bus', 'none', '--journal', 'off']);
    expectOneLineError(r, /^smbnotify: -r\/--recursive needs --watch TARGET \(a config watch takes recursive = yes\)\n$/);
  });
});

describe('info', () => {
  interface InfoJson {
    dialect: string;
    signing: string | null;
    signingRequired: boolean;
    encryption: string | null;
    share: { name: string; encrypted: boolean };
    changeNotify: { supported: boolean; status?: string };
  }

  async function info(opts: SambaOptions, extraArgs: string[] = []): Promise<InfoJson> {
    const s = await server(opts);
    const r = await cli(['info', '--json', `smb://127.0.0.1:${s.port}/data`, '-A', credFile(s), ...extraArgs]);
    expectOk(r);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    return JSON.parse(r.stdout) as InfoJson;
  }

  it("an IPv6 server: info's Share line is what smbclient writes, and smbnotify and smbclient both accept it back", async () => {
    const s = await server({});
    const cred = credFile(s);
    const r = await cli(['info', `smb://[::1]:${s.port}/data`, '-A', cred]);
    expectOk(r);
    expect(r.stdout).toMatch(new RegExp(`^Server: +\\[::1\\]:${s.port}$`, 'm'));
    const share = /^Share: +(.*)$/m.exec(r.stdout)![1]!;
    expect(share).toBe('\\\\::1\\data');
    // The port goes with -p, as for every UNC name.
    expectOk(await cli(['ls', share, '-p', String(s.port), '-A', cred]));
    const smbclient = spawnSync(requireTool('smbclient', 'smbclient'), ['-s', '/dev/null', '-p', String(s.port), share, '-A', cred, '-c', 'ls'], { encoding: 'utf8', timeout: 30_000 });
    expect(smbclient.status, smbclient.stderr + smbclient.stdout).toBe(0);
  });

  it('-k where the Kerberos addon is not built: one line naming the folder to build it in, as typed (no trailing /)', async () => {
    const s = await server({});
    // A copy of the package of dist/ and package.json alone, as a plain install without the addon.
    const copy = mkdtempSync(join(scratch, 'no-kerberos-'));
    cpSync(fileURLToPath(new URL('../../dist', import.meta.url)), join(copy, 'dist'), { recursive: true });
    cpSync(fileURLToPath(new URL('../../package.json', import.meta.url)), join(copy, 'package.json'));
    symlinkSync(fileURLToPath(new URL('../../node_modules', import.meta.url)), join(copy, 'node_modules'));
    const r = spawnSync(process.execPath, [join(copy, 'dist', 'cli', 'main.js'), 'info', '-k', `smb://127.0.0.1:${s.port}/data`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe(`smbnotify: Kerberos needs smbnotify's GSSAPI addon, which is not built: apt-get install libkrb5-dev build-essential python3, then run "npm run build:kerberos" in ${copy}\n`);
    expect(r.status).toBe(1);
  });

  it('encryption required: SMB 3.1.1 with AES-128-GCM (our first choice)', async () => {
    const j = await info({ encrypt: 'required' });
    expect(j).toMatchObject({ dialect: '3.1.1', encryption: 'AES-128-GCM', share: { name: 'data', encrypted: true } });
    expect(j.changeNotify).toEqual({ supported: true });
  });

  it('encryption required with AES-256-CCM only', async () => {
    const j = await info({ encrypt: 'required', encryptionAlgorithms: 'AES-256-CCM' });
    expect(j).toMatchObject({ dialect: '3.1.1', encryption: 'AES-256-CCM', share: { encrypted: true } });
  });

  it('SMB 2.0.2 with signing mandatory: HMAC-SHA256', async () => {
    const j = await info({ maxProtocol: 'SMB2_02', signing: 'mandatory' });
    expect(j).toMatchObject({ dialect: '2.0.2', signing: 'HMAC-SHA256', signingRequired: true, encryption: null });
  });

  it('human output says change notify is supported', async () => {
    const s = await server({});
    const r = await cli(['info', `//127.0.0.1:${s.port}/data`, '-A', credFile(s)]);
    expectOk(r);
    expect(r.stdout).toMatch(/^Change notify: +supported$/m);
    expect(r.stdout).toMatch(/^Dialect: +SMB 3\.1\.1$/m);
    expect(r.stdout).toMatch(/^Share: +\\\\127\.0\.0\.1\\data$/m);
  });

  it('change notify = no: not supported, STATUS_NOT_IMPLEMENTED', async () => {
    const j = await info({ changeNotify: false });
    expect(j.changeNotify).toMatchObject({ supported: false, status: 'STATUS_NOT_IMPLEMENTED' });
  });
});
