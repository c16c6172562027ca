// An inotify descriptor's fdinfo as the view reads it to find programs watching a folder it
// covers: a line captured on the test machine (6.18 kernel) from `inotifywait -m` on a folder of
// /dev/vda (254:0), whose stat(2) gave st_dev 65024 (0xfe00) and st_ino 2777207 (0x2a6077).
import { describe, expect, it } from 'vitest';
import { fdinfoWatches, kernelDev } from '../../src/view/covered-watchers.js';

const FDINFO = [
  'pos:\t0',
  'flags:\t00',
  'mnt_id:\t17',
  'ino:\t18',
  'inotify wd:1 ino:2a6077 sdev:fe00000 mask:fff ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:77602a00e3b69644',
  '',
].join('\n');

describe('covered-watchers', () => {
  it('turns stat(2)\'s st_dev into the kernel\'s MAJOR << 20 | MINOR that fdinfo prints', () => {
    expect(kernelDev(0xfe00n)).toBe(0xfe00000n);
    // A minor past 255 (glibc keeps its high bits above the major's): 0:300, and 259:65536.
    expect(kernelDev(0x10002cn)).toBe(300n);
    expect(kernelDev(0x10010300n)).toBe((259n << 20n) | 65536n);
  });

  it('finds the watch on that inode of that device, and none on another inode or device', () => {
    expect(fdinfoWatches(FDINFO, { dev: 65024n, ino: 2777207n })).toBe(true);
    expect(fdinfoWatches(FDINFO, { dev: 65024n, ino: 2777208n })).toBe(false);
    expect(fdinfoWatches(FDINFO, { dev: 65025n, ino: 2777207n })).toBe(false);
    // The descriptor's own "ino:" line (the anonymous inode) is not a watch.
    expect(fdinfoWatches(FDINFO, { dev: 65024n, ino: 18n })).toBe(false);
  });
});
