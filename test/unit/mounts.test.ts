// mountinfo parsing (proc(5)) and the mapping between share paths and local paths.
import { describe, expect, it } from 'vitest';
import { localPathMapper, mountForLocalPath, parseMountinfo } from '../../src/config/mounts.js';

// Lines as the kernel prints them for cifs mounts (octal escapes in paths, options after " - ").
const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '98 22 0:54 / /mnt/projects rw,relatime shared:50 - cifs //fileserver/projects rw,vers=3.1.1,cache=strict,username=alice,domain=CORP,uid=1000,forceuid,gid=1000,addr=192.0.2.10,file_mode=0755,dir_mode=0755,soft,nounix,serverino,mapposix,rsize=4194304,wsize=4194304,bsize=1048576,echo_interval=60,actimeo=1',
  '99 22 0:55 / /home/alice/My\\040Docs rw,relatime shared:51 - smb3 //nas/home rw,vers=3.0,username=alice,addr=192.0.2.20,port=1445,prefixpath=alice/docs',
  '100 22 0:56 / /mnt/sub rw - cifs //nas/media/films/2026 rw,vers=3.1.1,addr=192.0.2.20',
  '101 22 0:57 / /mnt/nfs rw - nfs4 server:/export rw',
].join('\n');

describe('mountinfo', () => {
  const mounts = parseMountinfo(MOUNTINFO);

  it('keeps cifs and smb3 mounts only, with unescaped mount points and their options', () => {
    expect(mounts.map((m) => m.mountPoint)).toEqual(['/mnt/projects', '/home/alice/My Docs', '/mnt/sub']);
    expect(mounts[0]).toMatchObject({ host: 'fileserver', share: 'projects', prefix: '', addr: '192.0.2.10', user: 'alice', domain: 'CORP' });
    expect(mounts[1]).toMatchObject({ host: 'nas', share: 'home', prefix: 'alice/docs', port: 1445 });
    expect(mounts[2]).toMatchObject({ share: 'media', prefix: 'films/2026' });
  });

  it('maps a local path to the share path, prefixpath included', () => {
    expect(mountForLocalPath(mounts, '/home/alice/My Docs/2026/report.odt')).toMatchObject({ sharePath: 'alice/docs/2026/report.odt' });
    expect(mountForLocalPath(mounts, '/mnt/projects')).toMatchObject({ sharePath: '' });
    expect(mountForLocalPath(mounts, '/mnt/projects-old/x')).toBeUndefined();
    expect(mountForLocalPath(mounts, '/tmp')).toBeUndefined();
  });

  it('maps a share path back to its local path, only inside what the mount shows', () => {
    const home = localPathMapper(mounts, 'nas', 'home', 1445);
    expect(home('alice/docs/2026/report.odt')).toBe('/home/alice/My Docs/2026/report.odt');
    expect(home('alice/docs')).toBe('/home/alice/My Docs');
    expect(home('bob/secret.txt')).toBeUndefined();
    expect(localPathMapper(mounts, 'nas', 'home', 445)('alice/docs/x')).toBeUndefined();
    expect(localPathMapper(mounts, '192.0.2.10', 'PROJECTS')('a/b')).toBe('/mnt/projects/a/b');
  });

  it('the same share mounted twice: paths go through the mount the target was named through', () => {
    const twice = parseMountinfo([
      '98 22 0:54 / /mnt/projects rw - cifs //fileserver/projects rw,vers=3.1.1,addr=192.0.2.10',
      '99 22 0:55 / /mnt/sub rw - cifs //fileserver/projects/2026 rw,vers=3.1.1,addr=192.0.2.10',
    ].join('\n'));
    // Without a preference the deepest mount wins (a daemon's watch of the whole share).
    expect(localPathMapper(twice, 'fileserver', 'projects')('2026/minutes.odt')).toBe('/mnt/sub/minutes.odt');
    const named = mountForLocalPath(twice, '/mnt/projects/2026')!.mount;
    const mapper = localPathMapper(twice, 'fileserver', 'projects', undefined, named);
    expect(mapper('2026/minutes.odt')).toBe('/mnt/projects/2026/minutes.odt');
    const viaSub = localPathMapper(twice, 'fileserver', 'projects', undefined, mountForLocalPath(twice, '/mnt/sub')!.mount);
    expect(viaSub('2026/minutes.odt')).toBe('/mnt/sub/minutes.odt');
    expect(viaSub('other/x')).toBe('/mnt/projects/other/x');
  });

  it('names Windows forbids: mapposix (the kernel default) and mapchars map them as the kernel does, both ways', () => {
    // /mnt/projects has mapposix; /mnt/sub none; a mapchars mount of its own.
    expect(mounts.map((m) => m.names)).toEqual(['sfm', undefined, undefined]);
    const projects = localPathMapper(mounts, 'fileserver', 'projects');
    // Services for Mac: " * : < > ? \ | at U+F020-U+F027, a trailing space and dot at U+F028/F029, controls at U+F001-F01F.
    expect(projects('10\uf02230 notes\uf025/a\uf020b\uf021\uf023\uf024\uf026\uf027\uf001 end\uf028')).toBe('/mnt/projects/10:30 notes?/a"b*<>\\|\u0001 end ');
    expect(mountForLocalPath(mounts, '/mnt/projects/10:30 notes?/a"b*<>\\|\u0001 end ')!.sharePath).toBe('10\uf02230 notes\uf025/a\uf020b\uf021\uf023\uf024\uf026\uf027\uf001 end\uf028');
    expect(mountForLocalPath(mounts, '/mnt/projects/v1.0/dots./x.y')!.sharePath).toBe('v1.0/dots\uf029/x.y');
    expect(localPathMapper(mounts, 'nas', 'media')('films/2026/a\uf022b')).toBe('/mnt/sub/a\uf022b');
    // A mount of a folder below the share, named as the user wrote it.
    const sub = parseMountinfo('98 22 0:54 / /mnt/m rw - cifs //fs/p/10:30 rw,vers=3.1.1,mapposix');
    expect(sub[0]!.prefix).toBe('10\uf02230');
    expect(localPathMapper(sub, 'fs', 'p')('10\uf02230/a\uf025')).toBe('/mnt/m/a?');
    expect(mountForLocalPath(sub, '/mnt/m/a?')!.sharePath).toBe('10\uf02230/a\uf025');
    const sfu = parseMountinfo('98 22 0:54 / /mnt/u rw - cifs //fs/u rw,vers=3.1.1,mapchars');
    expect(sfu[0]!.names).toBe('sfu');
    expect(localPathMapper(sfu, 'fs', 'u')('a\uf03ab\uf03f\uf02a\uf07c\uf03c\uf03e\uf022')).toBe('/mnt/u/a:b?*|<>\uf022');
    expect(mountForLocalPath(sfu, '/mnt/u/a:b?*|<>"')!.sharePath).toBe('a\uf03ab\uf03f\uf02a\uf07c\uf03c\uf03e"');
  });
});
