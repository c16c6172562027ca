/**
 * What `watch` watches: each TARGET is an SMB URL or UNC name, or a local path inside a cifs or
 * smb3 mount (resolved through mountinfo, `prefixpath=` included). Targets on the same share
 * with the same credentials share one connection.
 */
import path from 'node:path';
import { localPathMapper, readMounts, shareTargetForLocalPath, type CifsMount } from '../config/mounts.js';
import type { Credentials } from '../smb/types.js';
import { ShareConnection } from '../smb/share-connection.js';
import { resolveCredentials, type CredentialsIO } from '../config/credentials.js';
import { UsageError } from './errors.js';
import type { ConnectionCliOptions } from './options.js';
import { isShareTarget, parseTarget, targetPort, withoutPassword, type Target } from '../config/target.js';

export interface WatchCliConnection extends Omit<ConnectionCliOptions, 'timeout'> {
  connectTimeout?: number;
  mountinfo?: string;
}

export interface ResolvedTarget {
  /** As the user wrote it, without a password (for %w and labels). */
  given: string;
  target: Target;
  share: ShareConnection;
  localPathOf: (sharePath: string) => string | undefined;
}

/** A local path inside a mount becomes the share target that mount shows. */
export function targetFromLocalPath(text: string, mounts: CifsMount[], mountinfoFile: string): Target {
  const abs = path.resolve(text);
  const target = shareTargetForLocalPath(mounts, abs);
  if (!target) throw new UsageError(`${abs} is not inside a cifs or smb3 mount (none in ${mountinfoFile} shows it); give an smb:// URL or //HOST/SHARE instead`);
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
    if (opts.mountinfo) throw new UsageError(`cannot read ${mountinfoFile}: ${(err as Error).message}`);
    mounts = [];
  }
  const shares = new Map<string, ShareConnection>();
  const resolved: ResolvedTarget[] = [];
  for (const given of texts) {
    const target = isShareTarget(given) ? parseTarget(given) : targetFromLocalPath(given, mounts, mountinfoFile);
    const port = targetPort(target, opts.port);
    const credentials: Credentials = await resolveCredentials(
      { user: opts.user, authenticationFile: opts.authenticationFile, noPass: opts.pass === false },
      target,
      credentialsIO,
    );
    const key = JSON.stringify([target.host.toLowerCase(), port, target.share.toLowerCase(), credentials]);
    let share = shares.get(key);
    if (!share) {
      share = new ShareConnection({
        host: target.host,
        port,
        share: target.share,
        credentials,
        protect: opts.protect ?? 'off',
        timeoutMs: Math.round((opts.connectTimeout ?? 15) * 1000),
        ...(opts.maxProtocol ? { maxDialect: opts.maxProtocol } : {}),
      });
      shares.set(key, share);
    }
    resolved.push({ given: withoutPassword(given), target, share, localPathOf: localPathMapper(mounts, target.host, target.share, port) });
  }
  return resolved;
}
