/**
 * `file://` URLs of local paths, both ways: what KDirNotify signals carry (fileUrl) and what KIO's
 * enteredDirectory / leftDirectory send us (parseFileUrl, read by the desktop follower).
 */

// RFC 3986 path characters kept as they are: unreserved, '/', and the sub-delims plus ':' '@'
// (pchar). '#', '?', '%', space, controls and every non-ASCII byte are percent-encoded.
const KEEP = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/!$&'()*+,;=:@") {
  KEEP[c.charCodeAt(0)] = 1;
}
const HEX = '0123456789ABCDEF';

/**
 * The percent-encoded `file://` URL of an absolute local path, without a trailing slash (the
 * root is `file:///`). Non-ASCII is encoded as UTF-8 bytes; an unpaired UTF-16 surrogate (not
 * representable) becomes U+FFFD.
 */
export function fileUrl(localPath: string): string {
  if (!localPath.startsWith('/')) throw new Error(`not an absolute path: ${localPath}`);
  const path = localPath.replace(/\/+$/, '');
  if (path === '') return 'file:///';
  let out = 'file://';
  for (const b of Buffer.from(path, 'utf8')) {
    if (b < 128 && KEEP[b]) out += String.fromCharCode(b);
    else out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/** Decodes a run of bytes as UTF-8 where it is valid; invalid bytes stay as their `%XX` text. */
function decodeBytes(bytes: number[]): string {
  let out = '';
  let i = 0;
  const raw = (b: number) => `%${HEX[b >> 4]}${HEX[b & 15]}`;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    let len = 0;
    let min = 0;
    let cp = 0;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      len = 2;
      cp = b0 & 0x1f;
      min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      len = 3;
      cp = b0 & 0x0f;
      min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      len = 4;
      cp = b0 & 0x07;
      min = 0x10000;
    }
    let ok = len > 0 && i + len <= bytes.length;
    for (let k = 1; ok && k < len; k++) {
      const b = bytes[i + k]!;
      if ((b & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (b & 0x3f);
    }
    // No overlong forms, no surrogates, nothing past U+10FFFF.
    if (ok && len > 1 && (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)) ok = false;
    // A decoded NUL would end the path in every C API: keep it encoded.
    if (ok && cp === 0) ok = false;
    if (ok) {
      out += String.fromCodePoint(cp);
      i += len;
    } else {
      out += raw(b0);
      i += 1;
    }
  }
  return out;
}

/**
 * The local path of a `file:` URL, or null for any other URL (or a file URL naming another
 * host). KIO sends `enteredDirectory` URLs in QUrl's pretty form: spaces and non-ASCII raw
 * (`file:///mnt/share/My Dir ü`) but `%`, `#` and `?` still encoded (`%25`, `%23`, `%3F`); fully
 * encoded URLs arrive too. So `%XX` is always decoded, but only where the bytes form valid UTF-8
 * (anything else is kept literally); a raw `#` or `?` is taken as part of the name. A trailing
 * slash is dropped (except for `/`).
 */
export function parseFileUrl(url: string): string | null {
  const m = /^file:(\/\/([^/]*))?(\/.*)?$/is.exec(url);
  if (!m) return null;
  const host = m[2];
  if (host !== undefined && host !== '' && host.toLowerCase() !== 'localhost') return null;
  const rawPath = m[3] ?? '/';
  let path = '';
  for (let i = 0; i < rawPath.length; ) {
    if (rawPath[i] === '%' && /^%[0-9A-Fa-f]{2}/.test(rawPath.slice(i, i + 3))) {
      const bytes: number[] = [];
      while (i < rawPath.length && rawPath[i] === '%' && /^%[0-9A-Fa-f]{2}/.test(rawPath.slice(i, i + 3))) {
        bytes.push(parseInt(rawPath.slice(i + 1, i + 3), 16));
        i += 3;
      }
      path += decodeBytes(bytes);
    } else {
      path += rawPath[i];
      i += 1;
    }
  }
  path = path.replace(/\/+$/, '');
  return path === '' ? '/' : path;
}
