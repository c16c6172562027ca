import { describe, expect, it } from 'vitest';
import { CommandFailed, describeError, UsageError } from '../../src/cli/errors.js';
import {
  formatInfo, formatLsLine, formatLsTime, infoJson, lsJson, lsJsonLine, sizeColumnWidth,
} from '../../src/cli/format.js';
import { escapeForTerminal } from '../../src/watch/safe-text.js';
import { humanLine } from '../../src/sinks/terminal.js';
import { DemoSetupError } from '../../src/demo/demo-error.js';
import type { WatchEvent } from '../../src/watch/events.js';
import { byName } from '../../src/cli/commands/ls.js';
import { ConnectionError, ProtocolError, SecurityError, SmbError } from '../../src/smb/errors.js';
import type { FileStat, SessionInfo, ShareInfo } from '../../src/smb/types.js';
import { encodeFrame, FrameDecoder } from '../../src/smb/wire/frame.js';

const NOW = new Date('2025-11-24T12:00:00Z');

function stat(over: Partial<FileStat> = {}): FileStat {
  const t = new Date('2025-11-24T03:23:45Z');
  return {
    name: 'file.txt', isDirectory: false, size: 1234n, allocationSize: 4096n,
    creationTime: t, lastAccessTime: t, lastWriteTime: t, changeTime: t, attributes: 0x20, ...over,
  };
}

describe('escapeForTerminal (ls and the event stream)', () => {
  it('escapes control characters so a name cannot move the cursor', () => {
    expect(escapeForTerminal('a\nb\tc\rd')).toBe('a\\nb\\tc\\rd');
    expect(escapeForTerminal('\u001b[2J\u001b]0;pwned\u0007')).toBe('\\x1b[2J\\x1b]0;pwned\\x07');
    expect(escapeForTerminal('del\u007f c1\u009b')).toBe('del\\x7f c1\\x9b');
    expect(escapeForTerminal('back\\slash')).toBe('back\\\\slash');
    expect(escapeForTerminal('rtl\u202egnp.exe')).toBe('rtl\\u{202e}gnp.exe');
    expect(escapeForTerminal('line\u2028sep')).toBe('line\\u{2028}sep');
    expect(escapeForTerminal('lone\ud800x')).toBe('lone\\u{d800}x');
  });

  it('leaves ordinary Unicode alone', () => {
    expect(escapeForTerminal('Grüße 😀 日本')).toBe('Grüße 😀 日本');
  });
});

describe('formatLsTime', () => {
  it('recent files show the time', () => {
    expect(formatLsTime(new Date('2025-11-24T03:23:00Z'), NOW, true)).toBe('Nov 24 03:23');
    expect(formatLsTime(new Date('2025-11-04T13:05:00Z'), NOW, true)).toBe('Nov  4 13:05');
  });

  it('files older than six months (or in the future) show the year', () => {
    expect(formatLsTime(new Date('2025-05-01T00:00:00Z'), NOW, true)).toBe('May  1  2025');
    expect(formatLsTime(new Date('2024-11-24T03:23:00Z'), NOW, true)).toBe('Nov 24  2024');
    expect(formatLsTime(new Date('2026-03-01T00:00:00Z'), NOW, true)).toBe('Mar  1  2026');
    // A little clock skew is tolerated.
    expect(formatLsTime(new Date('2025-11-24T12:01:00Z'), NOW, true)).toBe('Nov 24 12:01');
  });

  it('an invalid date does not throw', () => {
    expect(formatLsTime(new Date(NaN), NOW, true)).toHaveLength(12);
  });
});

describe('formatLsLine', () => {
  it('file and folder lines, size right-aligned', () => {
    const entries = [stat(), stat({ name: 'dir', isDirectory: true, size: 0n }), stat({ name: 'big', size: 12345678901n })];
    const width = sizeColumnWidth(entries);
    expect(width).toBe(11);
    expect(formatLsLine(entries[0]!, { now: NOW, sizeWidth: width, utc: true })).toBe('-        1234 Nov 24 03:23 file.txt');
    expect(formatLsLine(entries[1]!, { now: NOW, sizeWidth: width, utc: true })).toBe('d           0 Nov 24 03:23 dir');
    expect(formatLsLine(entries[2]!, { now: NOW, sizeWidth: width, utc: true })).toBe('- 12345678901 Nov 24 03:23 big');
  });

  it('escapes hostile names and stays one line', () => {
    const line = formatLsLine(stat({ name: 'evil\n- 0 Jan  1 00:00 fake\u001b[1A' }), { now: NOW, utc: true });
    expect(line).not.toMatch(/[\n\r\u001b]/);
    expect(line).toContain('evil\\n- 0 Jan  1 00:00 fake\\x1b[1A');
  });
});

describe('lsJson', () => {
  it('converts bigints and dates', () => {
    expect(lsJson(stat())).toEqual({
      name: 'file.txt', type: 'file', size: 1234, mtime: '2025-11-24T03:23:45.000Z', ctime: '2025-11-24T03:23:45.000Z',
      atime: '2025-11-24T03:23:45.000Z', btime: '2025-11-24T03:23:45.000Z', attributes: 0x20, allocationSize: 4096,
    });
    expect(lsJson(stat({ isDirectory: true })).type).toBe('dir');
  });

  it('keeps sizes beyond 2^53 exact as strings, invalid dates as null', () => {
    const j = lsJson(stat({ size: 2n ** 63n - 1n, lastWriteTime: new Date(NaN) }));
    expect(j.size).toBe('9223372036854775807');
    expect(j.mtime).toBeNull();
    expect(lsJson(stat({ size: 2n ** 53n - 1n })).size).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('serialises to one line, whatever the name', () => {
    const line = lsJsonLine(stat({ name: 'a\nb\r\u0000\u001b\u2028\ud800' }));
    expect(line).not.toMatch(/[\n\r\u0000\u001b]/);
    expect(JSON.parse(line).name).toBe('a\nb\r\u0000\u001b\u2028\ud800');
  });

  it('escapes DEL, C1 controls, line separators and bidi overrides in JSON too', () => {
    const name = 'a\u007fb\u009b31mc\u0085d\u2028e\u202ef\u2066g😀';
    const line = lsJsonLine(stat({ name }));
    expect(line).not.toMatch(/[\u007f-\u009f\u2028\u202e\u2066]/);
    expect(line).toContain('\\u009b');
    expect(JSON.parse(line).name).toBe(name);
  });

  it('ls sorts by code point like LC_ALL=C ls, not by UTF-16 code unit', () => {
    const names = ['b', '\uff03 fullwidth', '😀 emoji', 'a', '\ue000 private', '\ud7ff', 'ab', ''];
    const sorted = names.map((name) => stat({ name })).sort(byName).map((s) => s.name);
    expect(sorted).toEqual([...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    expect(sorted.indexOf('\uff03 fullwidth')).toBeLessThan(sorted.indexOf('😀 emoji'));
  });
});

const session: SessionInfo = {
  dialect: '3.1.1', signing: 'AES-128-GMAC', encryption: 'AES-128-GCM', serverGuid: '0a1b2c3d-0000-1111-2222-333344445555',
  capabilities: ['DFS', 'LEASING', 'LARGE_MTU'], signingRequired: true, maxTransactSize: 8388608, maxReadSize: 8388608,
  maxWriteSize: 8388608, systemTime: new Date('2025-11-24T12:00:00Z'), sessionFlags: [], authentication: 'NTLMv2',
};
const share: ShareInfo = {
  name: 'data', type: 'disk', flags: ['ACCESS_BASED_DIRECTORY_ENUM'], capabilities: [], maximalAccess: 0x1f01ff, encrypted: false,
};
const target = { host: 'nas', share: 'data', path: '' };

describe('formatInfo', () => {
  it('aligned key: value lines', () => {
    const text = formatInfo(session, share, { supported: true }, target);
    const lines = text.split('\n');
    for (const l of lines) expect(l).toMatch(/^[A-Z][^:]*: +\S/);
    // Every value starts in the same column.
    const valueColumns = new Set(lines.map((l) => /^[^:]*: +/.exec(l)![0].length));
    expect(valueColumns.size).toBe(1);
    expect(text).toContain('Server:');
    expect(text).toMatch(/Server: +nas:445/);
    expect(text).toMatch(/Share: +\\\\nas\\data$/m);
    expect(text).toMatch(/Dialect: +SMB 3\.1\.1/);
    expect(text).toMatch(/Authentication: +NTLMv2/);
    expect(text).toMatch(/Signing: +AES-128-GMAC \(required by the server\)/);
    expect(text).toMatch(/Encryption: +AES-128-GCM \(available; this share is not encrypted\)/);
    expect(text).toMatch(/Capabilities: +DFS LEASING LARGE_MTU/);
    expect(text).toMatch(/Max transact: +8388608/);
    expect(text).toMatch(/Server time: +2025-11-24T12:00:00.000Z/);
    expect(text).toMatch(/Session flags: +none/);
    expect(text).toMatch(/Share type: +disk/);
    expect(text).toMatch(/Share flags: +ACCESS_BASED_DIRECTORY_ENUM/);
    expect(text).toMatch(/Share capabilities: +none/);
    expect(text).toMatch(/Change notify: +supported/);
  });

  it('signing off, no encryption, notify not supported', () => {
    const text = formatInfo({ ...session, signing: null, encryption: null, signingRequired: false, systemTime: null },
      share, { supported: false, statusName: 'STATUS_NOT_IMPLEMENTED', status: 0xc0000002 }, { ...target, port: 1445 });
    expect(text).toMatch(/Server: +nas:1445/);
    expect(text).toMatch(/Signing: +off \(not required by the server\)/);
    expect(text).toMatch(/Encryption: +none/);
    expect(text).toMatch(/Server time: +unknown/);
    expect(text).toMatch(/Change notify: +not supported \(STATUS_NOT_IMPLEMENTED\)/);
  });
});

describe('infoJson', () => {
  it('has the documented fields and is one line', () => {
    const j = infoJson(session, { ...share, encrypted: true }, { supported: false, statusName: 'STATUS_NOT_IMPLEMENTED', status: 0xc0000002 },
      { host: '::1', port: 1445, share: 'data', path: 'sub' });
    expect(j).toMatchObject({
      dialect: '3.1.1', signing: 'AES-128-GMAC', encryption: 'AES-128-GCM', signingRequired: true,
      capabilities: ['DFS', 'LEASING', 'LARGE_MTU'], maxTransactSize: 8388608, maxReadSize: 8388608, maxWriteSize: 8388608,
      serverGuid: session.serverGuid, sessionFlags: [],
      share: { name: 'data', type: 'disk', flags: ['ACCESS_BASED_DIRECTORY_ENUM'], capabilities: [], encrypted: true },
      changeNotify: { supported: false, status: 'STATUS_NOT_IMPLEMENTED', statusCode: 0xc0000002 },
      server: { host: '::1', port: 1445 },
    });
    expect(JSON.stringify(j)).not.toContain('\n');
    expect(infoJson(session, share, { supported: true }, target).changeNotify).toEqual({ supported: true });
    expect(infoJson(session, share, { supported: true }, target).server).toEqual({ host: 'nas', port: 445 });
  });
});

describe('describeError', () => {
  const ctx = { host: 'nas', port: 445, share: 'data', path: 'a/b' };

  it('SMB statuses', () => {
    expect(describeError(new SmbError(0xc000006d, 'SESSION_SETUP'), ctx)).toBe('logon failed: wrong user name or password (STATUS_LOGON_FAILURE)');
    expect(describeError(new SmbError(0xc00000cc, 'TREE_CONNECT'), ctx)).toBe('share not found: \\\\nas\\data (STATUS_BAD_NETWORK_NAME)');
    expect(describeError(new SmbError(0xc0000034, 'CREATE'), ctx)).toBe('no such file or folder: \\\\nas\\data\\a\\b (STATUS_OBJECT_NAME_NOT_FOUND)');
    expect(describeError(new SmbError(0xc000003a, 'CREATE'), { path: 'x/y' })).toBe('no such file or folder: x/y (STATUS_OBJECT_PATH_NOT_FOUND)');
    expect(describeError(new SmbError(0xc0000022, 'CREATE'), ctx)).toBe('access denied: \\\\nas\\data\\a\\b (STATUS_ACCESS_DENIED)');
    expect(describeError(new SmbError(0xc0000103, 'QUERY_DIRECTORY'), ctx)).toMatch(/^not a folder: /);
    expect(describeError(new SmbError(0xc0000001, 'IOCTL'), ctx)).toBe('IOCTL failed: STATUS_UNSUCCESSFUL (0xc0000001)');
  });

  it('connection errors', () => {
    expect(describeError(new ConnectionError('connect ECONNREFUSED', 'ECONNREFUSED'), ctx)).toBe('cannot connect to nas:445: connection refused');
    expect(describeError(new ConnectionError('x', 'ECONNREFUSED'), { host: '::1', port: 1445 })).toBe('cannot connect to [::1]:1445: connection refused');
    expect(describeError(new ConnectionError('getaddrinfo ENOTFOUND nas', 'ENOTFOUND'), ctx)).toBe('unknown host nas');
    expect(describeError(new ConnectionError('x', 'EAI_AGAIN'), ctx)).toBe('unknown host nas');
    expect(describeError(new ConnectionError('no answer in 15 s', 'ETIMEDOUT'), ctx)).toBe('timed out talking to nas:445: no answer in 15 s');
    expect(describeError(new ConnectionError('cannot connect to nas:445: timed out after 15000 ms', 'ETIMEDOUT'), ctx))
      .toBe('cannot connect to nas:445: timed out after 15000 ms');
    expect(describeError(new ConnectionError('reset', 'ECONNRESET'), ctx)).toBe('connection to nas:445 was reset by the server');
    expect(describeError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), ctx)).toBe('cannot connect to nas:445: connection refused');
  });

  it('other kinds, always one line', () => {
    expect(describeError(new ProtocolError('bad offset'))).toBe('server sent a malformed message: bad offset');
    expect(describeError(new SecurityError('the server does not offer encryption'))).toBe('the server does not offer encryption');
    expect(describeError(new UsageError('bad TARGET: x'))).toBe('bad TARGET: x');
    expect(describeError(new TypeError('x is not a function\n    at foo (bar.js:1:1)'))).toBe('internal error: x is not a function at foo (bar.js:1:1)');
    expect(describeError('weird')).toBe('internal error: weird');
    expect(describeError(new ProtocolError('name \u001b[2J'))).toBe('server sent a malformed message: name \\x1b[2J');
  });

  it('a bad first transport byte (an HTTP service answering) asks whether it is an SMB server; later ones do not', () => {
    const http = new FrameDecoder();
    expect(http.push(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'))).toEqual([]);
    expect(describeError(http.error)).toBe('server sent a malformed message: bad transport header byte 0x48 (not an SMB server?)');
    const smb = new FrameDecoder();
    expect(smb.push(Buffer.concat([encodeFrame(Buffer.from('SMB-frame')), Buffer.from([0x85, 0, 0, 4, 1, 2, 3, 4])]))).toEqual([Buffer.from('SMB-frame')]);
    expect(describeError(smb.error)).toBe('server sent a malformed message: bad transport header byte 0x85');
  });

  it('unwraps CommandFailed with its context', () => {
    expect(describeError(new CommandFailed(new SmbError(0xc00000cc, 'TREE_CONNECT'), { host: 'h', share: 's' })))
      .toBe('share not found: \\\\h\\s (STATUS_BAD_NETWORK_NAME)');
  });

});

describe('humanLine (watch and monitor text output)', () => {
  const event = (kind: WatchEvent['event'], path: string, extra: Partial<WatchEvent> = {}): WatchEvent => ({ seq: 1, time: '2026-12-02T00:00:00.000Z', event: kind, server: 's', share: 'data', path, watch: '', source: 'notify', ...extra });

  it('pads the event to 16 columns and always leaves a space, also after MOVED_FROM,ISDIR', () => {
    expect(humanLine(event('CREATE', 'a.txt'))).toBe('CREATE          a.txt');
    expect(humanLine(event('MOVED_TO', '2026/drafts2', { isDir: true, oldPath: '2026/drafts' }))).toBe('MOVED_TO,ISDIR  2026/drafts -> 2026/drafts2');
    expect(humanLine(event('MOVED_FROM', '2026/drafts', { isDir: true }))).toBe('MOVED_FROM,ISDIR 2026/drafts');
    expect(humanLine(event('MOVED_FROM', '2026/drafts', { isDir: true })).split(/\s+/)).toEqual(['MOVED_FROM,ISDIR', '2026/drafts']);
  });
});

describe('describeError of what keeps the demo from running', () => {
  it('is said as it is, not as an internal error', () => {
    expect(describeError(new DemoSetupError('the demo needs Samba and D-Bus: run "sudo apt-get install -y samba"'))).toBe('the demo needs Samba and D-Bus: run "sudo apt-get install -y samba"');
    expect(describeError(new Error('a bug'))).toBe('internal error: a bug');
  });
});
