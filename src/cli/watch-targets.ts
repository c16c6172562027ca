/**
 * What `watch` watches: each TARGET is an SMB URL or UNC name, or a local path inside a cifs or
 * smb3 mount (resolved through mountinfo, `prefixpath=` included). Targets on the same share
 * with the same credentials share one connection.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { localPathMapper, missingFolder, mountForLocalPath, mountShowing, readMounts, shareTargetForLocalPath, type CifsMount } from '../config/mounts.js';
import { credentialsFileOfMount, entriesOfMount, parseFstab } from '../config/fstab.js';
import type { Credentials } from '../smb/types.js';
import { ShareConnection } from '../smb/share-connection.js';
import { readAuthFile, resolveCredentials, type CredentialsIO } from '../config/credentials.js';
import { errnoWords } from '../platform/errno-words.js';
import { resolveLogon, targetKerberos } from '../config/kerberos.js';
import { UsageError } from './errors.js';
import type { ConnectionCliOptions } from './options.js';
import { isShareTarget, parseTarget, targetPort, withoutPassword, type Target } from '../config/target.js';

export interface WatchCliConnection extends Omit<ConnectionCliOptions, 'timeout'> {
  connectTimeout?: number;
  mountinfo?: string;
  /** Where mounts' credentials= options are looked up (default /etc/fstab). */
  fstab?: string;
}

export interface ResolvedTarget {
  /** As the user wrote it, without a password (for %w and labels). */
  given: string;
  target: Target;
  share: ShareConnection;
  localPathOf: (sharePath: string) => string | undefined;
  /** The cifs mount that shows a share-relative path, if any (how it shows names: a view replays as it). */
  mountOf: (sharePath: string) => CifsMount | undefined;
  /** Where the credentials came from, when not from the command line (to say so). */
  credentialsFrom?: string;
}

/** A local path inside a mount becomes the share target that mount shows. */
export function targetFromLocalPath(text: string, mounts: CifsMount[], mountinfoFile: string): Target {
  const abs = path.resolve(text);
  const target = shareTargetForLocalPath(mounts, abs);
  if (!target) {
    const missing = missingFolder(abs);
    if (missing) throw new UsageError(`cannot watch ${abs}: ${missing}`);
    throw new UsageError(`${abs} is not inside a cifs or smb3 mount (none in ${mountinfoFile} shows it); give an smb:// URL or //HOST/SHARE instead`);
  }
  return target;
}

export async function resolveWatchTargets(
  texts: string[],
  opts: WatchCliConnection,
  credentialsIO?: Partial<CredentialsIO>,
): Promise<ResolvedTarget[]> {
  const mountinfoFile = opts.mountinfo ?? '/proc/self/mountinfo';
  let mounts: CifsMount[];
  try {
    mounts = await readMounts(mountinfoFile);
  } catch (err) {
    if (opts.mountinfo) throw new UsageError(`cannot read ${mountinfoFile}: ${errnoWords(err, 'file')}`);
    mounts = [];
  }
  const shares = new Map<string, ShareConnection>();
  const resolved: ResolvedTarget[] = [];
  const givenCredentials = opts.user !== undefined || opts.authenticationFile !== undefined || opts.pass === false || process.env['PASSWD'] !== undefined;
  for (const given of texts) {
    const local = !isShareTarget(given);
    const target = local ? targetFromLocalPath(given, mounts, mountinfoFile) : parseTarget(given);
    const port = targetPort(target, opts.port);
    const fromMount = local && !givenCredentials ? await mountCredentials(path.resolve(given), mounts, opts.fstab, credentialsIO) : undefined;
    const passwordCredentials = async (): Promise<Credentials> => fromMount?.credentials ?? await resolveCredentials(
      { user: opts.user, authenticationFile: opts.authenticationFile, noPass: opts.pass === false },
      target,
      credentialsIO,
    ).catch((err: unknown) => {
      // No terminal to ask on: say in one line how to give credentials for a mounted share.
      if (local && fromMount?.hint && err instanceof UsageError) throw new UsageError(fromMount.hint);
      throw err;
    });
    // A sec=krb5 mount means its user's ticket, unless the command line says how to log on.
    const mountKerberos = opts.kerberos === undefined && opts.useKerberos === undefined ? targetKerberos(target) : undefined;
    const credentials: Credentials = mountKerberos ?? await resolveLogon(opts, passwordCredentials);
    const key = JSON.stringify([target.host.toLowerCase(), port, target.share.toLowerCase(), credentials]);
    let share = shares.get(key);
    if (!share) {
      share = new ShareConnection({
        host: target.host,
        ...(opts.ipAddress ?? target.address ? { address: opts.ipAddress ?? target.address! } : {}),
        port,
        share: target.share,
        credentials,
        protect: opts.protect ?? 'off',
        timeoutMs: Math.round((opts.connectTimeout ?? 15) * 1000),
        ...(opts.maxProtocol ? { maxDialect: opts.maxProtocol } : {}),
      });
      shares.set(key, share);
    }
    // The same folder named twice (as a URL and through its mount, say) is watched once, as
    // inotifywait watches one inode once: else every change would be printed twice.
    if (resolved.some((r) => r.share === share && r.target.path === target.path)) continue;
    const namedThrough = local ? mountForLocalPath(mounts, path.resolve(given))?.mount : undefined;
    resolved.push({ ...(fromMount?.credentials ? { credentialsFrom: fromMount.from } : {}), given: withoutPassword(given), target, share, localPathOf: localPathMapper(mounts, target.host, target.share, port, namedThrough), mountOf: mountShowing(mounts, target.host, target.share, port, namedThrough) });
  }
  return resolved;
}

/**
 * With -r, a TARGET inside another's folder on the same share connection is left out: the outer
 * watch reports its changes already, which would otherwise be printed twice (inotifywait -r
 * watches each folder once, under the first path that reached it).
 */
export function outermostTargets(targets: ResolvedTarget[]): ResolvedTarget[] {
  const inside = (inner: string, outer: string) => inner !== outer && (outer === '' || inner.startsWith(`${outer}/`));
  return targets.filter((t) => !targets.some((o) => o.share === t.share && inside(t.target.path, o.target.path)));
}

/**
 * The credentials of the mount that shows `abs`, from the credentials= file of its fstab entry,
 * when the caller may read that file (mode 600 rules as for -A). Otherwise a one-line hint for
 * when no other credentials can be had.
 */
async function mountCredentials(
  abs: string,
  mounts: CifsMount[],
  fstabOption: string | undefined,
  credentialsIO?: Partial<CredentialsIO>,
): Promise<{ credentials?: Credentials; from: string; hint: string } | undefined> {
  const found = mountForLocalPath(mounts, abs);
  if (!found) return undefined;
  const { mount } = found;
  const fstabFile = fstabOption ?? '/etc/fstab';
  const how = 'give -A FILE (username=, password=, mode 600), -U USER, PASSWD=..., or -N for guest';
  let text: string;
  try {
    text = await readFile(fstabFile, 'utf8');
  } catch (err) {
    if (fstabOption) throw new UsageError(`cannot read ${fstabFile}: ${errnoWords(err, 'file')}`);
    text = '';
  }
  const entries = parseFstab(text);
  const file = credentialsFileOfMount(entries, mount);
  const share = `//${mount.host}/${mount.share}`;
  if (!file) {
    const why = entriesOfMount(entries, mount).length ? `its ${fstabFile} entry names no credentials= file` : `${fstabFile} has no entry for it`;
    return { from: fstabFile, hint: `no credentials for ${share} (mounted at ${mount.mountPoint}; ${why}, and the kernel's session cannot be borrowed): ${how}` };
  }
  const io = {
    readFile: credentialsIO?.readFile ?? ((f: string) => readFile(f, 'utf8')),
    stat: credentialsIO?.stat ?? ((f: string) => import('node:fs/promises').then((m) => m.stat(f))),
  };
  try {
    const spec = await readAuthFile(file, io);
    if (spec.user === undefined || spec.password === undefined) throw new UsageError(`credentials file ${file} has no username= or password=`);
    return {
      credentials: { kind: 'user', user: spec.user, domain: spec.domain ?? mount.domain ?? '', password: spec.password },
      from: `the credentials of the mount ${mount.mountPoint} (credentials=${file} in ${fstabFile})`,
      hint: '',
    };
  } catch (err) {
    const why = (err as Error).message.replace(/^cannot read credentials file [^:]*: /, '');
    return { from: fstabFile, hint: `no credentials for ${share}: the mount ${mount.mountPoint} logs on with credentials=${file} (${fstabFile}), which you cannot use (${why}): ${how}` };
  }
}
