/**
 * cifs / smb3 mounts from /proc/self/mountinfo (proc(5)): which local folder shows which share,
 * so that events get a `localPath` and a local path can be watched by name.
 * Line format: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cifsNameMap, localNames, serverNames, type CifsNameMap } from '../platform/cifs-names.js';
import { errnoWords } from '../platform/errno-words.js';
import type { Target } from './target.js';
import { isWithin, normalizeSharePath } from '../watch/paths.js';

export interface CifsMount {
  mountPoint: string;
  host: string;
  share: string;
  /** Share-relative folder the mount shows (`prefixpath=`), '' for the whole share. */
  prefix: string;
  /** Server address and port from the mount options, when given. */
  addr?: string;
  port?: number;
  user?: string;
  domain?: string;
  /** `sec=` (krb5, krb5i, ntlmssp, ...), and the uid whose Kerberos ticket the mount uses. */
  sec?: string;
  cruid?: number;
  /** How the mount shows names with characters Windows forbids (`mapposix`, the kernel's default). */
  names?: CifsNameMap;
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040 ...). */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): CifsMount[] {
  const mounts: CifsMount[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const before = line.slice(0, dash).split(' ');
    const after = line.slice(dash + 3).split(' ');
    const fstype = after[0];
    if (fstype !== 'cifs' && fstype !== 'smb3') continue;
    const root = unescapeOctal(before[3] ?? '/');
    const mountPoint = unescapeOctal(before[4] ?? '');
    const source = unescapeOctal(after[1] ?? '').replace(/\\/g, '/');
    const m = /^\/\/([^/]+)\/([^/]+)(\/.*)?$/.exec(source);
    if (!m || !mountPoint) continue;
    const options = new Map<string, string>();
    for (const kv of (after[2] ?? '').split(',')) {
      const eq = kv.indexOf('=');
      options.set(eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? '' : unescapeOctal(kv.slice(eq + 1)));
    }
    const names = cifsNameMap(options);
    // The folder as written at mount time (`//srv/share/10:30`): the server names it otherwise.
    const prefix = serverNames(normalizeSharePath(options.get('prefixpath') ?? (m[3] ? m[3] : root !== '/' ? root : '')), names);
    const mount: CifsMount = { mountPoint, host: m[1]!, share: m[2]!, prefix };
    const addr = options.get('addr') ?? options.get('ip');
    if (addr) mount.addr = addr;
    const port = Number(options.get('port'));
    if (Number.isInteger(port) && port > 0 && port < 65536) mount.port = port;
    const user = options.get('username') ?? options.get('user');
    if (user) mount.user = user;
    const domain = options.get('domain');
    if (domain) mount.domain = domain;
    const sec = options.get('sec');
    if (sec) mount.sec = sec;
    // The kernel takes the ticket of cruid=, which defaults to the uid= of the mount.
    const cruidText = options.get('cruid') ?? options.get('uid');
    if (cruidText !== undefined && /^\d+$/.test(cruidText)) mount.cruid = Number(cruidText);
    if (names) mount.names = names;
    mounts.push(mount);
  }
  return mounts;
}

export async function readMounts(file = '/proc/self/mountinfo'): Promise<CifsMount[]> {
  return parseMountinfo(await readFile(file, 'utf8'));
}

/** The mount that shows the local `path` (the deepest one), and the share-relative path it maps to. */
export function mountForLocalPath(mounts: CifsMount[], path: string): { mount: CifsMount; sharePath: string } | undefined {
  const clean = path.replace(/\/+$/, '') || '/';
  let best: CifsMount | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint.replace(/\/+$/, '') || '/';
    const inside = mp === '/' || clean === mp || clean.startsWith(`${mp}/`);
    if (inside && (!best || mp.length > best.mountPoint.length)) best = m;
  }
  if (!best) return undefined;
  const mp = best.mountPoint.replace(/\/+$/, '');
  const rest = serverNames(clean.slice(mp.length).replace(/^\/+/, ''), best.names);
  const sharePath = [best.prefix, rest].filter(Boolean).join('/');
  return { mount: best, sharePath };
}

/**
 * `no such folder` (or `a parent is not a folder`) when a local path outside every mount does not
 * exist: the real reason it cannot be watched, rather than "not inside a cifs mount".
 */
export function missingFolder(path: string): string | undefined {
  try {
    statSync(path);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? errnoWords(err, 'folder') : undefined;
  }
}

/** The share target a mount shows at the local `path` (its server, share, port and user). */
export function shareTargetForLocalPath(mounts: CifsMount[], path: string): Target | undefined {
  const found = mountForLocalPath(mounts, path);
  if (!found) return undefined;
  const { mount, sharePath } = found;
  const kerberos = mount.sec?.startsWith('krb5') === true;
  // Kerberos needs the server's name for cifs/HOST: connect to addr=, name the host.
  const target: Target = { host: kerberos ? mount.host : mount.addr ?? mount.host, share: mount.share, path: sharePath };
  if (kerberos) {
    if (mount.addr) target.address = mount.addr;
    target.krb5 = mount.cruid !== undefined ? { cruid: mount.cruid } : {};
  }
  if (mount.port) target.port = mount.port;
  if (mount.user) target.user = mount.user;
  if (mount.domain) target.domain = mount.domain;
  return target;
}

function sameServer(m: CifsMount, host: string, port: number | undefined): boolean {
  const h = host.toLowerCase();
  const hostMatches = m.host.toLowerCase() === h || m.addr?.toLowerCase() === h;
  return hostMatches && (port === undefined || m.port === undefined || m.port === port);
}

/**
 * A function mapping a share-relative path of //host/share to its local path, through the
 * mounts that show it; undefined for paths no mount shows. `preferred` (the mount a target was
 * named through) comes first wherever it shows the path: the user named paths below it, even
 * when another mount of the same share shows that part more deeply.
 */
export function localPathMapper(mounts: CifsMount[], host: string, share: string, port?: number, preferred?: CifsMount): (sharePath: string) => string | undefined {
  const mountOf = mountShowing(mounts, host, share, port, preferred);
  return (sharePath: string) => {
    const m = mountOf(sharePath);
    if (!m) return undefined;
    const rest = localNames(m.prefix ? sharePath.slice(m.prefix.length).replace(/^\//, '') : sharePath, m.names);
    const base = m.mountPoint.replace(/\/+$/, '');
    return rest ? `${base}/${rest}` : base || '/';
  };
}

/** A function giving the mount that shows a share-relative path of //host/share (as localPathMapper picks it). */
export function mountShowing(mounts: CifsMount[], host: string, share: string, port?: number, preferred?: CifsMount): (sharePath: string) => CifsMount | undefined {
  const candidates = mounts
    .filter((m) => sameServer(m, host, port) && m.share.toLowerCase() === share.toLowerCase())
    .sort((a, b) => Number(b === preferred) - Number(a === preferred) || b.prefix.length - a.prefix.length);
  return (sharePath: string) => candidates.find((m) => isWithin(sharePath, m.prefix));
}
