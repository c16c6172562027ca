// fileUrl: what KDirNotify signals carry; parseFileUrl: what KIO's enteredDirectory sends us.
import { describe, expect, it } from 'vitest';
import { fileUrl, parseFileUrl } from '../../src/sinks/file-url.js';

describe('fileUrl', () => {
  it.each([
    ['/', 'file:///'],
    ['/mnt/share', 'file:///mnt/share'],
    ['/mnt/share/', 'file:///mnt/share'],
    ['/mnt/share//', 'file:///mnt/share'],
    ['/mnt/share/My Dir', 'file:///mnt/share/My%20Dir'],
    ['/mnt/share/a#b', 'file:///mnt/share/a%23b'],
    ['/mnt/share/a?b', 'file:///mnt/share/a%3Fb'],
    ['/mnt/share/100%', 'file:///mnt/share/100%25'],
    ['/mnt/share/%20', 'file:///mnt/share/%2520'],
    ['/mnt/share/é', 'file:///mnt/share/%C3%A9'],
    ['/mnt/share/über', 'file:///mnt/share/%C3%BCber'],
    ['/mnt/share/Жук', 'file:///mnt/share/%D0%96%D1%83%D0%BA'],
    ['/mnt/share/日本', 'file:///mnt/share/%E6%97%A5%E6%9C%AC'],
    ['/mnt/share/😀', 'file:///mnt/share/%F0%9F%98%80'],
    // pchar sub-delims, ':' and '@' stay; so do the unreserved marks
    ["/mnt/s/a!$&'()*+,;=:@-._~z", "file:///mnt/s/a!$&'()*+,;=:@-._~z"],
    // what RFC 3986 forbids in a path
    ['/mnt/s/a"<>\\^`{|}[]b', 'file:///mnt/s/a%22%3C%3E%5C%5E%60%7B%7C%7D%5B%5Db'],
    ['/mnt/s/tab\there\nnl', 'file:///mnt/s/tab%09here%0Anl'],
    ['/mnt/share/My Dir #1 %20 ü Ж', 'file:///mnt/share/My%20Dir%20%231%20%2520%20%C3%BC%20%D0%96'],
  ])('%j -> %s', (path, url) => {
    expect(fileUrl(path)).toBe(url);
  });

  it('turns an unpaired surrogate into U+FFFD instead of throwing', () => {
    expect(fileUrl('/a/\ud800x')).toBe('file:///a/%EF%BF%BDx');
  });

  it('refuses a relative path', () => {
    expect(() => fileUrl('mnt/share')).toThrow(/absolute/);
  });
});

describe('parseFileUrl', () => {
  it.each([
    // KIO's enteredDirectory: raw spaces and non-ASCII
    ['file:///mnt/share/My Dir ü', '/mnt/share/My Dir ü'],
    // fully encoded
    ['file:///mnt/share/My%20Dir%20%C3%BC', '/mnt/share/My Dir ü'],
    // QUrl's pretty form: '%', '#', '?' still encoded
    ['file:///mnt/share/My Dir %231 %2520 ü Ж', '/mnt/share/My Dir #1 %20 ü Ж'],
    ['file:///mnt/share/My%20Dir%20%231%20%2520%20%C3%BC%20%D0%96', '/mnt/share/My Dir #1 %20 ü Ж'],
    ['file:///mnt/share/%F0%9F%98%80', '/mnt/share/😀'],
    ['file:///mnt/share/😀', '/mnt/share/😀'],
    ['file:///mnt/share/%e6%97%a5', '/mnt/share/日'],
    ['file://localhost/mnt/share', '/mnt/share'],
    ['FILE:///mnt/share', '/mnt/share'],
    ['file:/mnt/share', '/mnt/share'],
    ['file:///mnt/share/', '/mnt/share'],
    ['file:///', '/'],
    ['file://', '/'],
    // invalid UTF-8 or not an escape: kept literally
    ['file:///mnt/%FF%FE', '/mnt/%FF%FE'],
    ['file:///mnt/%C3', '/mnt/%C3'],
    ['file:///mnt/%C3%A9%FF', '/mnt/é%FF'],
    ['file:///mnt/%C0%AF', '/mnt/%C0%AF'], // overlong '/'
    ['file:///mnt/%ED%A0%80', '/mnt/%ED%A0%80'], // a surrogate
    ['file:///mnt/%00x', '/mnt/%00x'],
    ['file:///mnt/100%', '/mnt/100%'],
    ['file:///mnt/%zz', '/mnt/%zz'],
    // a raw '#' or '?' is part of the name
    ['file:///mnt/a#b', '/mnt/a#b'],
  ])('%s -> %j', (url, path) => {
    expect(parseFileUrl(url)).toBe(path);
  });

  it.each(['smb://server/share', 'http://x/y', 'file://otherhost/mnt', '/mnt/share', '', 'fish://x/'])(
    'not a local file URL: %j',
    (url) => {
      expect(parseFileUrl(url)).toBeNull();
    },
  );

  it('round-trips fileUrl', () => {
    for (const p of ['/mnt/share/My Dir #1 %20 ü Ж', '/a/😀?x', "/x/!$&'()*+,;=:@", '/', '/a/%C3%A9']) {
      expect(parseFileUrl(fileUrl(p))).toBe(p);
    }
  });
});
