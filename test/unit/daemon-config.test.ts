// The daemon's config file: every key of systemd/smbnotify.conf.example, and clear errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, credentialsSectionFor, parseConfig } from '../../src/config/daemon-config.js';

describe('config file', () => {
  it('parses the shipped example', () => {
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'systemd', 'smbnotify.conf.example'), 'utf8');
    const c = parseConfig(text);
    expect(c).toMatchObject({ bus: 'session', journalMaxBytes: 8 * 1024 * 1024, journalKeep: 3, followDesktop: true, watchMounts: false, guest: false, pollIntervalSeconds: 2 });
    expect(c.watches).toEqual([]);
  });

  it('reads watches and credentials sections', () => {
    const c = parseConfig([
      '[daemon]', 'journal = off', 'credentials = /etc/smb.cred',
      '[credentials //FileServer/Projects]', 'file = /etc/projects.cred',
      '[watch docs]', 'target = //fileserver/projects/2026', 'recursive = yes', 'events = CREATE, MOVE', 'include = \\.pdf$', 'poll-interval = 5',
    ].join('\n'));
    expect(c.journal).toBeNull();
    expect(c.credentialsFile).toBe('/etc/smb.cred');
    expect(c.credentials.get('//fileserver/projects')).toBe('/etc/projects.cred');
    expect(c.watches[0]).toMatchObject({ name: 'docs', target: '//fileserver/projects/2026', recursive: true, events: ['CREATE', 'MOVED_FROM', 'MOVED_TO'], pollIntervalSeconds: 5 });
    expect(c.watches[0]!.include!.test('a/b.pdf')).toBe(true);
  });

  it('reads view keys: yes, over, no, a folder; view-backing and view-allow-other', () => {
    const c = parseConfig([
      '[watch a]', 'target = //h/s', 'view = yes', 'view-backing = /srv/s', 'view-allow-other = yes',
      '[watch b]', 'target = //h/s', 'view = over',
      '[watch c]', 'target = //h/s', 'view = no',
      '[watch d]', 'target = //h/s', 'view = /media/live',
    ].join('\n'));
    expect(c.watches.map((w) => [w.view, w.viewBacking, w.viewAllowOther])).toEqual([
      ['yes', '/srv/s', true], ['over', undefined, undefined], [undefined, undefined, undefined], ['/media/live', undefined, undefined],
    ]);
    expect(() => parseConfig('[watch x]\ntarget = //h/s\nview = relative/dir', 'cfg')).toThrow(/cfg:3: view = yes, over, no or an absolute folder/);
  });

  it('reads safety-net: seconds or off, for the daemon and per watch', () => {
    const c = parseConfig(['[daemon]', 'safety-net = 30', '[watch a]', 'target = //h/s', 'safety-net = off', '[watch b]', 'target = //h/s', 'safety-net = 0.5'].join('\n'));
    expect(c.safetyNetSeconds).toBe(30);
    expect(c.watches.map((w) => w.safetyNetSeconds)).toEqual([0, 0.5]);
    expect(() => parseConfig('[daemon]\nsafety-net = soon', 'cfg')).toThrow(/cfg:2: expected a number of seconds, got "soon"/);
  });

  it('refuses what it does not understand, with the file and line', () => {
    expect(() => parseConfig('[daemon]\nfollow-desktop = maybe', 'cfg')).toThrow(/cfg:2: expected yes or no/);
    expect(() => parseConfig('[watch x]\ntarget = //h/s\npassword = hunter2', 'cfg')).toThrow(/passwords do not belong/);
    expect(() => parseConfig('[watch x]\ntarget = smb://alice:hunter2@h/s', 'cfg')).toThrow(/^cfg:2: a password in the target URL is not accepted here/);
    expect(() => parseConfig('[watch x]\ntarget = smb://DOM;alice:hunter2@h:4445/s/p', 'cfg')).toThrow(/a password in the target URL/);
    expect(parseConfig('[watch x]\ntarget = smb://alice@h/s', 'cfg').watches[0]?.target).toBe('smb://alice@h/s');
    expect(() => parseConfig('[watch x]\nrecursive = yes', 'cfg')).toThrow(/has no target/);
    expect(() => parseConfig('[printers]', 'cfg')).toThrow(ConfigError);
    expect(() => parseConfig('[watch x]\ntarget = //h/s\nview-backing = /srv/copy', 'cfg')).toThrow(/cfg: \[watch x\] has view-backing or view-allow-other but no view =/);
    expect(() => parseConfig('[watch x]\ntarget = //h/s\nview-allow-other = yes', 'cfg')).toThrow(/but no view =/);
    expect(parseConfig('[watch x]\ntarget = //h/s\nview-allow-other = no', 'cfg').watches[0]?.viewAllowOther).toBe(false);
    for (const name of ['../../escape', 'a/b', '..', '.']) {
      expect(() => parseConfig(`[watch ${name}]\ntarget = //h/s\nview = yes`, 'cfg')).toThrow(/with view = yes needs a name without "\/"/);
      expect(parseConfig(`[watch ${name}]\ntarget = //h/s\nview = /srv/v`, 'cfg').watches[0]?.view).toBe('/srv/v');
    }
    expect(() => parseConfig('[watch x]\ntarget = //h/s\nevents = CLOSE_WRITE', 'cfg')).toThrow(/unknown event "CLOSE_WRITE"/);
    expect(() => parseConfig('[watch x]\ntarget = //h/s\nevents =', 'cfg')).toThrow(/events = names no event \(leave it out for all of them\)/);
    expect(() => parseConfig('[watch x]\ntarget = //h/s\nevents = ,', 'cfg')).toThrow(/events = names no event/);
  });
});

describe('config file: sections given twice', () => {
  it('refuses a second [watch NAME], naming the line of the first', () => {
    const text = ['[watch docs]', 'target = //h/s', '[watch other]', 'target = //h/t', '[watch docs]', 'target = //h/u'].join('\n');
    expect(() => parseConfig(text, 'cfg')).toThrow(new ConfigError('cfg:5: a second [watch docs] section (the first is at line 1)'));
  });

  it('refuses a second [credentials //HOST...] for the same place, whatever the case or slashes', () => {
    const text = ['[credentials //FileServer]', 'file = /a', '', '[credentials \\\\fileserver\\]', 'file = /b'].join('\n');
    expect(() => parseConfig(text, 'cfg')).toThrow(new ConfigError('cfg:4: a second [credentials \\\\fileserver\\] section (the first is at line 1)'));
    // A host and one of its shares are two places (the share's wins for that share).
    const c = parseConfig(['[credentials //fs]', 'file = /a', '[credentials //fs/data]', 'file = /b'].join('\n'));
    expect([...c.credentials]).toEqual([['//fs', '/a'], ['//fs/data', '/b']]);
  });
});

describe('config file: [credentials //HOST:PORT]', () => {
  const config = parseConfig([
    '[credentials //FS]', 'file = /host',
    '[credentials //fs:4445]', 'file = /host-4445',
    '[credentials //fs/data]', 'file = /share',
    '[credentials \\\\fs:4445\\data\\]', 'file = /share-4445',
    '[credentials //[FE80::1]:4445]', 'file = /v6-4445',
    '[credentials //other:445]', 'file = /other-445',
  ].join('\n'), 'cfg');

  it('matches a target on that port; a section without a port matches every port', () => {
    expect(credentialsSectionFor(config, 'fs', 445, 'docs')).toBe('/host');
    expect(credentialsSectionFor(config, 'fs', 4445, 'docs')).toBe('/host-4445');
    expect(credentialsSectionFor(config, 'FS', 445, 'Data')).toBe('/share');
    expect(credentialsSectionFor(config, 'fs', 4445, 'data')).toBe('/share-4445');
    expect(credentialsSectionFor(config, 'fe80::1', 4445, 'data')).toBe('/v6-4445');
    expect(credentialsSectionFor(config, 'fe80::1', 445, 'data')).toBeUndefined();
    // :445 is the port of a target that names none.
    expect(credentialsSectionFor(config, 'other', 445, 'data')).toBe('/other-445');
    expect(credentialsSectionFor(config, 'other', 1445, 'data')).toBeUndefined();
  });

  it('the share wins over the port: //fs/data beats //fs:4445 for data on 4445 when there is no //fs:4445/data', () => {
    const c = parseConfig(['[credentials //fs:4445]', 'file = /host-4445', '[credentials //fs/data]', 'file = /share'].join('\n'));
    expect(credentialsSectionFor(c, 'fs', 4445, 'data')).toBe('/share');
    expect(credentialsSectionFor(c, 'fs', 4445, 'other')).toBe('/host-4445');
  });

  it('refuses a bad port or host in the section name, with the file and line', () => {
    expect(() => parseConfig('[credentials //fs:99999]', 'cfg')).toThrow(new ConfigError('cfg:1: [credentials //fs:99999]: bad port 99999: must be 1-65535'));
    expect(() => parseConfig('[credentials //fs:]', 'cfg')).toThrow(new ConfigError('cfg:1: [credentials //fs:]: bad port "": must be a number 1-65535'));
    expect(() => parseConfig('\n[credentials //fs/data/sub]', 'cfg')).toThrow(new ConfigError('cfg:2: [credentials] needs //HOST, //HOST:PORT, //HOST/SHARE or //HOST:PORT/SHARE'));
  });
});

describe('config file: journal-keep and bus', () => {
  it('journal-keep is a whole number of files, 0 or more', () => {
    expect(parseConfig('[daemon]\njournal-keep = 0').journalKeep).toBe(0);
    expect(parseConfig('[daemon]\njournal-keep = 12').journalKeep).toBe(12);
    for (const bad of ['-1', '2.5', 'three', '']) {
      expect(() => parseConfig(`[daemon]\njournal-keep = ${bad}`, 'cfg')).toThrow(new ConfigError(`cfg:2: expected a whole number of files (0 or more), got "${bad}"`));
    }
  });

  it('journal-max-size is a size above 0: 0 is a file:line error (it used to mean the default at start, and failed a reload)', () => {
    expect(parseConfig('[daemon]\njournal-max-size = 512K').journalMaxBytes).toBe(512 * 1024);
    for (const zero of ['0', '0M']) {
      expect(() => parseConfig(`[daemon]\njournal-max-size = ${zero}`, 'cfg')).toThrow(new ConfigError(`cfg:2: expected a size above 0, got "${zero}"`));
    }
  });

  it('bus is session, system, none or a D-Bus address; a typo is a file:line error when the config is read', () => {
    for (const bus of ['session', 'system', 'none', 'unix:path=/run/user/1000/bus', 'unix:path=/tmp/a;tcp:host=127.0.0.1,port=4000']) {
      expect(parseConfig(`[daemon]\nbus = ${bus}`).bus).toBe(bus);
    }
    expect(() => parseConfig('# user bus\n[daemon]\nbus = sesion', 'cfg')).toThrow(
      new ConfigError('cfg:3: bus must be session, system, none or a D-Bus address such as unix:path=/run/user/1000/bus, got "sesion"'),
    );
    expect(() => parseConfig('[daemon]\nbus = unix:path=/a;/b', 'cfg')).toThrow(/^cfg:2: bus must be session, system, none or a D-Bus address/);
  });
});

describe('config file: ip-address', () => {
  it('takes an IPv4 or IPv6 address (brackets allowed), as -I does, and refuses a name in words with its line', () => {
    const c = parseConfig(['[watch a]', 'target = //fs/data', 'ip-address = 10.0.0.5', '[watch b]', 'target = //fs/data', 'ip-address = [fd00::5]'].join('\n'));
    expect(c.watches.map((w) => w.ipAddress)).toEqual(['10.0.0.5', 'fd00::5']);
    for (const bad of ['fileserver', '300.1.1.1', '']) {
      expect(() => parseConfig(['[watch a]', 'target = //fs/data', `ip-address = ${bad}`].join('\n'), 'cfg')).toThrow(new ConfigError(`cfg:3: ip-address takes an IPv4 or IPv6 address, got "${bad}"`));
    }
  });
});
