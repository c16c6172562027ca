/**
 * A daemon watch target to a share, a path and credentials. Targets are SMB URLs, UNC names, or
 * local folders inside cifs/smb3 mounts; a password in a target URL is refused. Credentials come,
 * in order, from the watch's own credentials file, a [credentials //HOST/SHARE] or [credentials //HOST] section,
 * the [daemon] credentials file, the command line's -U/-A/PASSWD, and finally guest when allowed.
 * The daemon never prompts.
 */
import path from 'node:path';
import { readAuthFile } from '../config/credentials.js';
import { credentialsSectionFor, type DaemonConfig } from '../config/daemon-config.js';
import { UsageError } from '../config/errors.js';
import { isShareTarget, parseTarget, type Target } from '../config/target.js';
import type { Credentials } from '../smb/types.js';
import { shareTargetForLocalPath, type CifsMount } from '../config/mounts.js';
import { mountCcache } from '../config/kerberos.js';
import type { AddWatchOptions, WatchOrigin } from '../sinks/types.js';
import { promises as fsp } from 'node:fs';
import { readFileAsUser } from './read-as-user.js';

export interface TargetResolver {
  mounts(): CifsMount[];
  config(): DaemonConfig;
  commandLineCredentials: Credentials | undefined;
  /** The command line's -p, for targets that name no port. */
  defaultPort: number | undefined;
  /** The command line's -I, for the command line's --watch targets. */
  defaultAddress?: string | undefined;
}

export interface ResolvedWatchTarget {
  host: string;
  port: number;
  /** Where to connect when not `host`. */
  address?: string;
  share: string;
  path: string;
  credentials: Credentials;
}

const fileIO = { readFile: (f: string) => fsp.readFile(f, 'utf8'), stat: (f: string) => fsp.stat(f) };

/**
 * A credentials file's credentials. For a D-Bus caller (callerUid), the file is read with the
 * caller's rights: one the caller could not read is refused with the words the caller's own
 * read would give ("permission denied"), whatever the daemon itself may read.
 */
async function fromFile(file: string, callerUid?: number): Promise<Credentials> {
  let asCaller: string | undefined;
  if (callerUid !== undefined) {
    // Read first (as the caller), so that the daemon's own stat tells nothing about a file the
    // caller may not see; then readAuthFile checks its mode and parses that text.
    try {
      asCaller = await readFileAsUser(callerUid, file, fileIO.readFile);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied (the caller cannot read it)' : code === 'EPERM' ? (err as Error).message : 'cannot read it';
      throw new UsageError(`cannot read credentials file ${file}: ${why}`);
    }
  }
  const text = asCaller;
  const spec = await readAuthFile(file, text === undefined ? fileIO : { ...fileIO, readFile: async () => text });
  if (!spec.user) throw new UsageError(`credentials file ${file} has no username=`);
  return { kind: 'user', user: spec.user, domain: spec.domain ?? '', password: spec.password ?? '' };
}

/**
 * A credential cache named by a D-Bus caller: the daemon's own user may name any; another user
 * only a FILE cache it could read itself (checked as for a credentials file), since the daemon
 * cannot tell who may use a KEYRING, KCM or DIR cache of its own. Otherwise any caller could have
 * a root daemon log on with root's ticket.
 */
async function checkCallerCcache(ccache: string, callerUid: number): Promise<void> {
  if (callerUid === process.geteuid?.()) return;
  const file = /^FILE:/i.test(ccache) ? ccache.slice('FILE:'.length) : /^[A-Za-z]+:/.test(ccache) ? undefined : ccache;
  if (file === undefined || !path.isAbsolute(file)) {
    throw new UsageError(`krb5Ccache ${ccache}: only the daemon's own user may name a cache that is not FILE:/absolute/path (the daemon cannot tell whether you may use it)`);
  }
  try {
    await readFileAsUser(callerUid, file, (f) => fsp.readFile(f, 'latin1'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied (the caller cannot read it)' : code === 'EPERM' ? (err as Error).message : 'cannot read it';
    throw new UsageError(`cannot use credential cache ${ccache}: ${why}`);
  }
}

export async function resolveTarget(target: string, opts: AddWatchOptions, origin: WatchOrigin, r: TargetResolver): Promise<ResolvedWatchTarget> {
  let t: Target;
  if (isShareTarget(target)) {
    t = parseTarget(target);
    // A watch target is shown in status, logs and on D-Bus, and a config file is often readable.
    if (t.password !== undefined) {
      throw new UsageError('a password in the target URL is not accepted here (it would show in status, logs and D-Bus): use a credentials file (credentials = FILE, a [credentials //HOST/SHARE] section, or the credentialsFile option)');
    }
  } else {
    if (!path.isAbsolute(target)) throw new UsageError(`${target}: a local target must be an absolute path`);
    const found = shareTargetForLocalPath(r.mounts(), target);
    if (!found) throw new UsageError(`${target} is not inside a cifs or smb3 mount`);
    t = found;
  }
  const { host, share, path: sharePath } = t;
  const port = t.port ?? r.defaultPort ?? 445;
  const config = r.config();
  const section = credentialsSectionFor(config, host, port, share);
  let credentials: Credentials | undefined;
  if (opts.guest) credentials = { kind: 'guest' };
  else if (opts.credentialsFile) credentials = await fromFile(opts.credentialsFile, opts.callerUid);
  else if (section) credentials = await fromFile(section);
  else if (config.credentialsFile) credentials = await fromFile(config.credentialsFile);
  else if (r.commandLineCredentials) credentials = r.commandLineCredentials;
  else if (config.guest) credentials = { kind: 'guest' };
  // Kerberos: the watch's own setting, a sec=krb5 mount, then [daemon] (the command line's -k
  // arrives as commandLineCredentials above). 'desired' keeps the password chain as fallback.
  if (opts.krb5Ccache !== undefined && opts.callerUid !== undefined) await checkCallerCcache(opts.krb5Ccache, opts.callerUid);
  const use = opts.kerberos ?? (t.krb5 ? 'required' : undefined) ?? config.kerberos;
  // As --use-krb5-ccache without -k on the command line: a cache named for a watch that logs on
  // with a password would be ignored without a word.
  if (opts.krb5Ccache !== undefined && use !== 'required' && use !== 'desired') {
    throw new UsageError(`${origin === 'dbus' ? 'krb5Ccache' : 'krb5-ccache'} ${opts.krb5Ccache} needs Kerberos: set kerberos to required or desired (${origin} watch)`);
  }
  if (use === 'required' || use === 'desired') {
    const ccache = opts.krb5Ccache ?? (t.krb5 ? mountCcache(t.krb5) : undefined) ?? config.krb5Ccache;
    const fallback = use === 'desired' && credentials?.kind === 'user' ? credentials : undefined;
    credentials = { kind: 'kerberos', use, ...(ccache ? { ccache } : {}), ...(fallback ? { fallback } : {}) };
  }
  if (!credentials) {
    throw new UsageError(`no credentials for //${host}/${share} (${origin} watch): add "credentials = FILE" to the config, or a [credentials //${host}/${share}] section`);
  }
  const address = opts.ipAddress ?? t.address ?? (origin === 'command-line' ? r.defaultAddress : undefined);
  return { host, port, ...(address ? { address } : {}), share, path: sharePath, credentials };
}
