// File names from the server come out safely in every output, whatever they hold: control
// characters, newlines, escape sequences, bidi overrides, backslashes, `..`, `/` inside a name,
// invalid UTF-16. Safe means: JSON lines parse, one per event and to exactly the name; terminal
// output has no raw control character, bidi override or lone surrogate (each is escaped); no
// path has a `..`, `.` or empty component; nothing crashes.
//
// Three sources of names:
// 1. a real Samba (`mangled names = no`, so names illegal on Windows are sent as they are), with
//    names made on its Linux disk: what a user can do to a share today;
// 2. a hostile server: the fault proxy rewrites names in the guest share's responses (no signing
//    there) into what no Linux disk can hold: `..`, `../../etc/passwd`, `a/b`, lone surrogates;
// 3. FILE_NOTIFY_INFORMATION bytes built here, through the decoder, the change processor and
//    the formatters.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { dbusMonitor, monitorReady, startDbus } from '../support/dbus.js';
import { replaceUtf16, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { standaloneProcessor } from '../support/change-processor.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { decodeFileNotifyInformation, FileAction } from '../../src/smb/wire/notify.js';
import type { ChangeProcessor } from '../../src/watch/change-processor.js';
import { Snapshot } from '../../src/watch/snapshot.js';
import { safeComponent } from '../../src/watch/paths.js';
import { eventJson, type WatchEvent } from '../../src/watch/events.js';
import { formatEvent, humanLine } from '../../src/sinks/terminal.js';
import { escapeForTerminal } from '../../src/watch/safe-text.js';

/** What must never be raw in terminal output (JSON included): C0, DEL, C1, bidi, LS/PS. */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function expectSafeLine(line: string, what: string): void {
  expect(RAW.exec(line)?.[0], `${what}: raw character in ${JSON.stringify(line)}`).toBeUndefined();
  expect(LONE_SURROGATE.test(line), `${what}: lone surrogate in ${JSON.stringify(line)}`).toBe(false);
}

function expectSafePath(path: string, what: string): void {
  expect(path.startsWith('/'), `${what}: absolute path ${JSON.stringify(path)}`).toBe(false);
  for (const c of path.split('/')) {
    expect(['', '.', '..'].includes(c), `${what}: component ${JSON.stringify(c)} in ${JSON.stringify(path)}`).toBe(false);
  }
}

/** The stdout bytes as lines: a raw newline inside a name would make more lines than events. */
function lines(r: Running): string[] {
  return r.stdout.filter((l) => l !== '');
}

async function stop(r: Running): Promise<number | null> {
  r.child.kill('SIGINT');
  return (await r.exit).code;
}

/** Polls until `pred` holds for the lines of `r`. */
async function until(r: Running, pred: (lines: string[]) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred(lines(r))) {
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms; stdout: ${lines(r).slice(-10).join(' | ')}; stderr: ${r.stderr.slice(-5).join(' | ')}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

beforeAll(() => {
  requireBuild();
});

afterAll(async () => {
  await stopAllSamba();
});

// ---------------------------------------------------------------------------------------------
describe('names a Linux disk can hold, served by Samba as they are', () => {
  const NAMES = [
    'esc\x1b[31mred',
    'new\nline',
    'cr\rreturn',
    'tab\there',
    'rlo\u202etxt.exe',
    'back\\slash',
    'del\x7f',
    'csi\u009b31m',
    'bell\x07',
    'lsep\u2028x',
    `quote"and'`,
    'pct%f%e%w%T',
    'emoji \u{1f600}',
    'space end ',
  ];
  let samba: SambaServer;
  let cred: string;
  let url: string;

  beforeAll(async () => {
    samba = await startSamba({ extraShare: ['mangled names = no'] });
    cred = credentialsFile(samba);
    url = `smb://127.0.0.1:${samba.port}/data`;
    mkdirSync(join(samba.sharePath, 'ls'));
    for (const n of NAMES) writeFileSync(join(samba.sharePath, 'ls', n), 'x');
  });

  it('ls: one line per entry, escaped; ls --json: one parseable line per entry, the exact names', async () => {
    const plain = runCli(['ls', `${url}/ls`, '-A', cred]);
    const json = runCli(['ls', '--json', `${url}/ls`, '-A', cred]);
    expect((await plain.exit).code).toBe(0);
    expect((await json.exit).code).toBe(0);
    expect(lines(plain)).toHaveLength(NAMES.length);
    for (const l of lines(plain)) expectSafeLine(l, 'ls');
    for (const [raw, shown] of [['esc\x1b[31mred', 'esc\\x1b[31mred'], ['new\nline', 'new\\nline'], ['rlo\u202etxt.exe', 'rlo\\u{202e}txt.exe'], ['back\\slash', 'back\\\\slash'], ['csi\u009b31m', 'csi\\x9b31m']]) {
      expect(lines(plain).some((l) => l.endsWith(` ${shown}`)), raw).toBe(true);
    }
    expect(lines(json)).toHaveLength(NAMES.length);
    for (const l of lines(json)) expectSafeLine(l, 'ls --json');
    expect(lines(json).map((l) => (JSON.parse(l) as { name: string }).name).sort()).toEqual([...NAMES].sort());
  });

  it('watch (human, --format, --json): every event one safe line; JSON paths are the exact names', async () => {
    mkdirSync(join(samba.sharePath, 'w'));
    const target = `${url}/w`;
    const json = runCli(['watch', '-m', '-r', '--json', target, '-A', cred]);
    const human = runCli(['watch', '-m', '-r', target, '-A', cred]);
    const fmt = runCli(['watch', '-m', '-r', '--format', '%e|%w|%f|%o|%T', '--timefmt', '%s', target, '-A', cred]);
    try {
      for (const r of [json, human, fmt]) await r.waitLine(/WATCHING|"state":"watching"/, 15_000, r === json ? 'stdout' : 'stderr');
      // A name Windows forbids may be listed under an 8.3 name: the first one is checked by
      // listing, which shows this server serves such names as they are (mangled names = no).
      writeFileSync(join(samba.sharePath, 'w', 'learn:names'), 'x');
      for (const r of [json, human, fmt]) await until(r, (ls) => ls.some((l) => l.includes('learn:names') && l.includes('CREATE')), 'learn:names');
      for (const n of NAMES) writeFileSync(join(samba.sharePath, 'w', n), 'x');
      // A folder Samba lists but will not open (control characters): reported, not watched
      // inside, and no reason to drop the connection.
      mkdirSync(join(samba.sharePath, 'w', 'sub\x1b]0;title\x07'));
      renameSync(join(samba.sharePath, 'w', 'new\nline'), join(samba.sharePath, 'w', 'renamed\r\n'));
      writeFileSync(join(samba.sharePath, 'w', 'zz-end'), 'x');
      for (const r of [json, human, fmt]) await until(r, (ls) => ls.some((l) => l.includes('zz-end')), 'zz-end');
    } finally {
      for (const r of [json, human, fmt]) expect(await stop(r)).toBe(130);
    }
    const events = lines(json).map((l) => JSON.parse(l) as WatchEvent);
    for (const l of lines(json)) expectSafeLine(l, 'watch --json');
    const created = new Set(events.filter((e) => e.event === 'CREATE').map((e) => e.path));
    for (const n of NAMES) expect(created.has(`w/${n}`), JSON.stringify(n)).toBe(true);
    expect(created.has('w/sub\x1b]0;title\x07')).toBe(true);
    expect(events.filter((e) => e.event === 'STATE' && e.state !== 'watching'), 'the watch never dropped its connection').toEqual([]);
    const moved = events.find((e) => e.event === 'MOVED_TO');
    expect(moved).toMatchObject({ path: 'w/renamed\r\n', oldPath: 'w/new\nline' });
    for (const e of events) if (e.event !== 'STATE') expectSafePath(e.path, 'watch --json');
    // Human and --format: every line is a whole event (a name that broke a line would start one
    // with a fragment), and safe.
    const KIND = '(CREATE|DELETE|MODIFY|MOVED_FROM|MOVED_TO|OVERFLOW|DELETE_SELF)(,ISDIR)?';
    for (const l of lines(human)) expect(l).toMatch(new RegExp(`^${KIND} `));
    for (const l of lines(fmt)) expect(l).toMatch(new RegExp(`^${KIND}\\|${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\|`));
    for (const l of [...lines(human), ...human.stderr, ...lines(fmt), ...fmt.stderr]) expectSafeLine(l, 'watch');
    for (const n of NAMES) {
      const shown = escapeForTerminal(n);
      expect(lines(human).some((l) => l.startsWith('CREATE ') && l.endsWith(` ${shown}`)), `${shown} in ${JSON.stringify(lines(human))}`).toBe(true);
      expect(lines(fmt).some((l) => l.startsWith(`CREATE|${target}|${escapeForTerminal(n)}|`)), shown).toBe(true);
    }
    expect(lines(human)).toContain('MOVED_FROM      new\\nline');
    expect(lines(human)).toContain('MOVED_TO        new\\nline -> renamed\\r\\n');
    expect(lines(human)).toContain('CREATE          back\\\\slash');
    // %f of a name holding `%e`: the name, not a second expansion.
    expect(lines(fmt).some((l) => /^CREATE\|[^|]*\|pct%f%e%w%T\|\|\d+$/.test(l))).toBe(true);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
describe('names no Linux disk can hold, from a hostile server', () => {
  // On disk -> as the client receives it. Same length in UTF-16 code units (the proxy swaps the
  // bytes in place); the disk names use U+0126, which no header field of this exchange holds.
  const MAP: Array<[string, string]> = [
    ['\u0126\u0126', '..'],
    ['\u0126-escape-\u0126-paths', '../../etc/passwd'],
    ['\u0126~\u0126', 'a/b'],
    ['\u0126surr-x', '\ud800surr-x'],
    ['\u0127\u0127lo', '\udc00\ud83dlo'],
  ];
  let samba: SambaServer;
  let proxy: FaultProxy;
  let url: string;

  beforeAll(async () => {
    samba = await startSamba({});
    proxy = await startFaultProxy({ targetPort: samba.port });
    proxy.rewrite((p) => {
      for (const [from, to] of MAP) replaceUtf16(p, from, to);
      return p;
    });
    url = `smb://127.0.0.1:${proxy.port}/public`;
    mkdirSync(join(samba.guestSharePath, 'd'));
    for (const [name] of MAP) {
      writeFileSync(join(samba.guestSharePath, `pre${name}`), 'x');
      writeFileSync(join(samba.guestSharePath, 'd', name), 'x');
    }
  });

  afterAll(async () => {
    await proxy?.close();
  });

  it('ls and ls --json: safe lines, names exactly as sent', async () => {
    const plain = runCli(['ls', url, '-N']);
    const json = runCli(['ls', '--json', `${url}/d`, '-N']);
    expect((await plain.exit).code).toBe(0);
    expect((await json.exit).code).toBe(0);
    for (const l of [...lines(plain), ...lines(json)]) expectSafeLine(l, 'ls');
    expect(lines(plain).some((l) => l.endsWith(' pre../../etc/passwd'))).toBe(true);
    expect(lines(plain).some((l) => l.endsWith(' pre\\u{d800}surr-x'))).toBe(true);
    // tree.list drops `.` and `..` (a listing's own entries): the hostile `..` file is not shown.
    const names = lines(json).map((l) => (JSON.parse(l) as { name: string }).name).sort();
    expect(names).toEqual(MAP.map(([, to]) => to).filter((n) => n !== '..').sort());
  });

  it('watch --json, the CLI human output and the daemon (journal, D-Bus, KDirNotify): no path leaves the share', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smbnotify-hostile-'));
    const mountinfo = join(dir, 'mountinfo');
    writeFileSync(mountinfo, `99 22 0:55 / /mnt/hostile rw,relatime - cifs //127.0.0.1/public rw,vers=3.1.1,addr=127.0.0.1,port=${proxy.port},username=nobody\n`);
    const journal = join(dir, 'journal.jsonl');
    const bus = await startDbus();
    const monitor = dbusMonitor(bus.address, "type='signal'");
    await monitorReady(monitor);
    // The names made below, as the watch reports them: the file named `..` aside (never
    // listed, so never reported), each name as sent, made safe where it cannot be a path
    // component as it is.
    const createdPaths = ['..\u2215..\u2215etc\u2215passwd', 'a\u2215b', '\ud800surr-x', '\udc00\ud83dlo', 'd/new..', 'd/new..\u2215..\u2215etc\u2215passwd', 'd/newa\u2215b', 'd/new\ud800surr-x', 'd/new\udc00\ud83dlo'];
    let cutAt = 0;
    const json = runCli(['watch', '-m', '-r', '--json', url, '-N']);
    const human = runCli(['watch', '-m', '-r', url, '-N']);
    const daemon = runCli(['daemon', '--bus', bus.address, '--watch', url, '-r', '-N', '--journal', journal, '--mountinfo', mountinfo]);
    try {
      await json.waitLine(/"state":"watching"/, 15_000);
      await human.waitLine(/WATCHING/, 15_000, 'stderr');
      await daemon.waitLine(/daemon running: 1 watch,/, 20_000, 'stderr');
      await monitor.waitFor(/string "watching/, 15_000);
      // Notified names, exactly as mapped in the root, inside longer names in a subfolder.
      for (const [name] of MAP) {
        writeFileSync(join(samba.guestSharePath, name), 'x');
        writeFileSync(join(samba.guestSharePath, 'd', `new${name}`), 'x');
      }
      writeFileSync(join(samba.guestSharePath, 'zz-1'), 'x');
      // Every new name is out before the cut (the subfolder's notifications may come after the
      // root's zz-1), so that whatever the resync reports after it is a difference of spelling.
      await until(json, (ls) => {
        const created = new Set(ls.map((l) => JSON.parse(l) as WatchEvent).filter((e) => e.event === 'CREATE').map((e) => e.path));
        return [...createdPaths, 'zz-1'].every((p) => created.has(p));
      }, 'every new name');
      await until(human, (ls) => ls.some((l) => l.includes('zz-1')), 'zz-1');
      // Listed names: every connection reset, so that each resynchronises by listing.
      cutAt = lines(json).length;
      proxy.cutNow();
      await json.waitLine(/reconnected/, 15_000);
      await human.waitLine(/reconnected/, 15_000, 'stderr');
      await daemon.waitLine(/reconnected/, 15_000, 'stderr');
      writeFileSync(join(samba.guestSharePath, 'zz-2'), 'x');
      for (const r of [json, human]) await until(r, (ls) => ls.some((l) => l.includes('zz-2')), 'zz-2');
      await monitor.waitFor(/zz-2/, 10_000);
    } finally {
      expect(await stop(json)).toBe(130);
      expect(await stop(human)).toBe(130);
      daemon.child.kill('SIGTERM');
      expect((await daemon.exit).code, daemon.stderr.join('\n')).toBe(0);
      await monitor.stop();
      await bus.stop();
    }

    const events = lines(json).map((l) => JSON.parse(l) as WatchEvent);
    for (const l of lines(json)) expectSafeLine(l, 'watch --json');
    for (const e of events) {
      if (e.event === 'STATE') continue;
      expectSafePath(e.path, 'watch --json');
      if (e.oldPath !== undefined) expectSafePath(e.oldPath, 'watch --json oldPath');
    }
    // Before the cut, a listing may report a new name (a name that cannot be opened as notified,
    // `/` or `..` inside, is checked by listing its folder; such a listing can also overtake a
    // later notification): only CREATEs of the names made, spelled as notified.
    const before = events.slice(0, cutAt).filter((e) => e.source === 'rescan');
    expect(before.filter((e) => !(e.event === 'CREATE' && [...createdPaths, 'zz-1'].includes(e.path))).filter((e) => e.path !== '\uff0e\uff0e').map((e) => `${e.event} ${e.path}`), 'differences found by name checks').toEqual([]);
    // After the cut, listing and notification spell every name the same way: the resync finds
    // nothing to change (zz-2 aside, which a listing may find before its notification).
    const after = events.slice(cutAt).filter((e) => e.source === 'rescan');
    expect(after.filter((e) => e.path !== '\uff0e\uff0e' && !(e.event === 'CREATE' && e.path === 'zz-2')).map((e) => `${e.event} ${e.path}`), 'rescan differences').toEqual([]);
    // The file named `..` is never listed, so never reported; unless the connection was cut
    // before the listing that checks it: then its CREATE went out, and the resync takes it back.
    const dots = events.filter((e) => e.path === '\uff0e\uff0e').map((e) => e.event);
    expect(dots.length === 0 || (dots.length === 2 && dots[0] === 'CREATE' && dots[1] === 'DELETE'), dots.join()).toBe(true);
    const paths = new Set(events.filter((e) => e.event === 'CREATE').map((e) => e.path));
    for (const p of createdPaths) {
      expect(paths.has(p), JSON.stringify(p)).toBe(true);
    }
    for (const l of [...lines(human), ...human.stderr]) expectSafeLine(l, 'watch');

    const journalLines = readFileSync(journal, 'utf8').split('\n').filter(Boolean);
    expect(journalLines.length).toBeGreaterThan(MAP.length);
    for (const l of journalLines) {
      expectSafeLine(l, 'journal');
      const e = JSON.parse(l) as WatchEvent;
      if (e.event !== 'STATE') expectSafePath(e.path, 'journal');
    }
    // D-Bus: the daemon stayed on the bus (strings are valid UTF-8), and every KDirNotify URL
    // names something inside the mount.
    const text = monitor.lines.join('\n');
    expect(text).toMatch(/member=Event/);
    const urls = [...text.matchAll(/string "(file:\/\/[^"]*)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) {
      expect(u.startsWith('file:///mnt/hostile'), u).toBe(true);
      // `.` is kept raw in a URL path; `/` inside a name would be %2F (or the U+2215 look-alike).
      const segments = u.slice('file://'.length).split('/');
      expect(segments.includes('..') || segments.includes('.'), u).toBe(false);
      expectSafeLine(u, 'KDirNotify URL');
    }
    rmSync(dir, { recursive: true, force: true });
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------
describe('FILE_NOTIFY_INFORMATION bytes through the decoder, the change processor and the formatters', () => {
  /** Raw UTF-16LE code units (lone surrogates included), as a server may send them. */
  function utf16(units: number[]): Buffer {
    const b = Buffer.alloc(units.length * 2);
    units.forEach((u, i) => b.writeUInt16LE(u, i * 2));
    return b;
  }

  function entry(action: number, name: Buffer): Buffer {
    const head = Buffer.alloc(12);
    head.writeUInt32LE(0, 0);
    head.writeUInt32LE(action, 4);
    head.writeUInt32LE(name.length, 8);
    return Buffer.concat([head, name]);
  }

  /** Chain entries (NextEntryOffset, 4-byte alignment). */
  function chain(entries: Buffer[]): Buffer {
    const padded = entries.map((e, i) => (i < entries.length - 1 ? Buffer.concat([e, Buffer.alloc((4 - (e.length % 4)) % 4)]) : e));
    padded.forEach((e, i) => {
      if (i < padded.length - 1) e.writeUInt32LE(e.length, 0);
    });
    return Buffer.concat(padded);
  }

  /** A ChangeProcessor on a snapshot holding `folder`, with its outbox emitting into `out`. */
  function processor(folder: string, out: WatchEvent[]): ChangeProcessor {
    const snapshot = new Snapshot();
    snapshot.replaceFolder('', folder ? [{ name: folder, isDirectory: true, size: 0, lastWrite: 0 }] : []);
    snapshot.ensureFolder(folder);
    return standaloneProcessor(snapshot, folder, out, { renameWindowMs: 0, echoWindowMs: 0 });
  }

  const HOSTILE: Array<[string, Buffer]> = [
    ['lone high surrogate', utf16([0x61, 0xd800, 0x62])],
    ['lone low surrogate', utf16([0xdc00])],
    ['reversed pair', utf16([0xdc00, 0xd800, 0x2e])],
    ['..', Buffer.from('..', 'utf16le')],
    ['.', Buffer.from('.', 'utf16le')],
    ['..\\..\\etc\\passwd', Buffer.from('..\\..\\etc\\passwd', 'utf16le')],
    ['../../etc/passwd', Buffer.from('../../etc/passwd', 'utf16le')],
    ['a/b', Buffer.from('a/b', 'utf16le')],
    ['\\', Buffer.from('\\', 'utf16le')],
    ['ESC, CSI, BEL', Buffer.from('\x1b[2J\x1b]0;pwned\x07\u009b31m', 'utf16le')],
    ['CR LF', Buffer.from('fake\r\nCREATE          other', 'utf16le')],
    ['bidi', Buffer.from('\u202egnp.exe\u2066\u200f', 'utf16le')],
    ['NUL', Buffer.from('a\0b', 'utf16le')],
  ];

  it('decode, path, human line, --format and JSON: safe, one line, inside the share, no crash', () => {
    const out: WatchEvent[] = [];
    const cp = processor('dir', out);
    const bytes = chain(HOSTILE.map(([, name]) => entry(FileAction.ADDED, name)));
    const decoded = decodeFileNotifyInformation(bytes);
    expect(decoded).toHaveLength(HOSTILE.length);
    cp.process('dir', decoded);
    cp.flush();
    expect(out.map((e) => e.event)).toEqual(HOSTILE.map(() => 'CREATE'));
    for (const [i, e] of out.entries()) {
      const what = HOSTILE[i]![0];
      expectSafePath(e.path, what);
      expect(e.path.startsWith('dir/'), what).toBe(true);
      // One component below the watched folder, whatever the name held.
      expect(e.path.split('/'), what).toHaveLength(2);
      const human = humanLine(e);
      const formatted = formatEvent('%w %f %e %o', e, '//h/data/dir', '%F');
      const json = eventJson(e);
      for (const l of [human, formatted, json]) {
        expect(l.split('\n'), what).toHaveLength(1);
        expectSafeLine(l, what);
      }
      // JSON keeps the name exactly (lone surrogates as \\u escapes), so a script gets it back.
      expect((JSON.parse(json) as WatchEvent).path, what).toBe(e.path);
    }
    // The look-alikes of paths.ts.
    expect(out[3]!.path).toBe('dir/\uff0e\uff0e');
    expect(out[4]!.path).toBe('dir/\uff0e');
    expect(out[6]!.path).toBe('dir/..\u2215..\u2215etc\u2215passwd');
    // A `\` is part of a name here (one handle per folder, no WATCH_TREE).
    expect(out[5]!.path).toBe('dir/..\\..\\etc\\passwd');
  });

  it('renames with hostile old and new names pair up and print safely', () => {
    const out: WatchEvent[] = [];
    const cp = processor('dir', out);
    cp.process('dir', decodeFileNotifyInformation(chain([entry(FileAction.ADDED, Buffer.from('x\ny', 'utf16le'))])));
    cp.process('dir', decodeFileNotifyInformation(chain([entry(FileAction.RENAMED_OLD_NAME, Buffer.from('x\ny', 'utf16le')), entry(FileAction.RENAMED_NEW_NAME, utf16([0x2e, 0x2e]))])));
    cp.flush();
    const to = out.find((e) => e.event === 'MOVED_TO')!;
    expect(to).toMatchObject({ path: 'dir/\uff0e\uff0e', oldPath: 'dir/x\ny' });
    for (const l of [humanLine(to), formatEvent('%o -> %f', to, 'w', '%F'), eventJson(to)]) expectSafeLine(l, 'rename');
  });

  it('safeComponent, which the change processor and the listing call: one safe component per name', () => {
    for (const [what, bytes] of HOSTILE) {
      const name = bytes.toString('utf16le');
      const c = safeComponent(name);
      expect(c.includes('/'), what).toBe(false);
      expect(['.', '..'].includes(c), what).toBe(false);
      expectSafePath(`dir/${c}`, what);
    }
  });
});
