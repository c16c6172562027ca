/**
 * How Linux's cifs client shows names holding characters Windows forbids. By default (mount
 * option `mapposix`, shown in mountinfo) it maps them to the Services for Mac private-use range on
 * the wire: a file the user names `10:30 notes?.txt` in the mount is `10\uF02230 notes\uF025.txt`
 * on the server, which is also how a Mac client writes such names; `mapchars` uses the Services
 * for Unix range instead (`:` is U+F03A). The server reports and lists the wire name; the mount
 * shows the mapped one. Tables from the kernel's fs/smb/client/cifs_unicode.{c,h}.
 */
export type CifsNameMap = 'sfm' | 'sfu';

/** Services for Mac: wire character -> the character the mount shows (U+F001-U+F01F are 0x01-0x1F). */
const SFM_TO_LOCAL = new Map<number, string>([
  [0xf020, '"'], [0xf021, '*'], [0xf022, ':'], [0xf023, '<'], [0xf024, '>'], [0xf025, '?'],
  [0xf026, '\\'], [0xf027, '|'], [0xf028, ' '], [0xf029, '.'],
]);
/** Services for Unix (`mapchars`): the character plus 0xF000, for six of them. */
const SFU_TO_LOCAL = new Map<number, string>([...':*?|<>'].map((c) => [0xf000 + c.charCodeAt(0), c]));

const SFM_TO_WIRE = new Map<string, string>([...SFM_TO_LOCAL].filter(([, c]) => c !== ' ' && c !== '.').map(([w, c]) => [c, String.fromCharCode(w)]));
const SFU_TO_WIRE = new Map<string, string>([...SFU_TO_LOCAL].map(([w, c]) => [c, String.fromCharCode(w)]));

/** The map a cifs mount uses, from its mountinfo super options (`mapposix` wins, as in the kernel). */
export function cifsNameMap(options: ReadonlyMap<string, string>): CifsNameMap | undefined {
  if (options.has('mapposix')) return 'sfm';
  if (options.has('mapchars')) return 'sfu';
  return undefined;
}

/** A share-relative path (server names) as the mount shows it. */
export function localNames(sharePath: string, map: CifsNameMap | undefined): string {
  if (!map || !/[\uf001-\uf07c]/.test(sharePath)) return sharePath;
  const table = map === 'sfm' ? SFM_TO_LOCAL : SFU_TO_LOCAL;
  let out = '';
  for (const ch of sharePath) {
    const code = ch.charCodeAt(0);
    if (map === 'sfm' && code >= 0xf001 && code <= 0xf01f) out += String.fromCharCode(code - 0xf000);
    else out += table.get(code) ?? ch;
  }
  return out;
}

/** A path below a mount (the names it shows) as the server names it; `/`-separated. */
export function serverNames(localPath: string, map: CifsNameMap | undefined): string {
  if (!map) return localPath;
  const table = map === 'sfm' ? SFM_TO_WIRE : SFU_TO_WIRE;
  return localPath.split('/').map((part) => {
    let out = '';
    const chars = [...part];
    chars.forEach((ch, i) => {
      const code = ch.charCodeAt(0);
      const last = i === chars.length - 1;
      if (map === 'sfm' && code >= 0x01 && code <= 0x1f) out += String.fromCharCode(0xf000 + code);
      // A trailing space or dot, which Windows drops, has its own private-use character.
      else if (map === 'sfm' && last && ch === ' ') out += '\uf028';
      else if (map === 'sfm' && last && ch === '.' && part !== '.' && part !== '..') out += '\uf029';
      else out += table.get(ch) ?? ch;
    });
    return out;
  }).join('/');
}
