// /proc/self/mountinfo as the view reads it: lines from proc(5) and from the test machine.
import { describe, expect, it } from 'vitest';
import { mountinfoEscape, parseMountLine, topMountAt } from '../../src/view/mountinfo.js';

// proc(5)'s example line, then two tmpfs mounts stacked on /dev/shm and fusectl, as read on the
// test machine (6.18 kernel).
const MOUNTINFO = [
  '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
  '24 23 0:22 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683548k',
  '29 24 0:26 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683548k',
  '45 22 0:40 / /sys/fs/fuse/connections rw,relatime - fusectl none rw',
].join('\n');

describe('mountinfo', () => {
  it('gives mount point, type, source and device of a line, optional fields or not', () => {
    expect(parseMountLine(MOUNTINFO.split('\n')[0]!)).toEqual({ mountPoint: '/mnt2', fstype: 'ext3', source: '/dev/root', major: 98, minor: 0 });
    expect(parseMountLine(MOUNTINFO.split('\n')[3]!)).toEqual({ mountPoint: '/sys/fs/fuse/connections', fstype: 'fusectl', source: 'none', major: 0, minor: 40 });
  });

  it('the mount visible at a path is the last one listed there', () => {
    expect(topMountAt(MOUNTINFO, '/dev/shm')).toMatchObject({ major: 0, minor: 26 });
    expect(topMountAt(MOUNTINFO, '/nowhere')).toBeNull();
  });

  it('paths with spaces, tabs, newlines and backslashes come back as they were', () => {
    const path = '/tmp/a b\tc\nd\\e';
    const line = `50 22 0:77 / ${mountinfoEscape(path)} rw,relatime shared:600 - fuse.smbnotify //server/share\\040x rw,user_id=0,group_id=0`;
    expect(parseMountLine(line)).toEqual({ mountPoint: path, fstype: 'fuse.smbnotify', source: '//server/share x', major: 0, minor: 77 });
  });
});
