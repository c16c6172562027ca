/**
 * smbclient's Kerberos options (--use-kerberos, -k, --use-krb5-ccache) turned into credentials:
 * 'required' uses only the ticket; 'desired' uses the ticket and falls back to the password
 * credentials when Kerberos cannot be had; 'off' (the default) is NTLM as before.
 */
import type { Credentials } from '../smb/types.js';
import { UsageError } from './errors.js';
import { defaultCcacheFor } from '../smb/auth/gssapi.js';

export type KerberosUse = 'required' | 'desired' | 'off';

export const KERBEROS_USES: readonly KerberosUse[] = ['required', 'desired', 'off'];

export interface KerberosOptions {
  /** -k */
  kerberos?: boolean;
  /** --use-kerberos */
  useKerberos?: string;
  /** --use-krb5-ccache */
  useKrb5Ccache?: string;
}

export function kerberosUse(opts: KerberosOptions): KerberosUse {
  if (opts.useKerberos !== undefined) {
    const use = opts.useKerberos.trim().toLowerCase();
    if (!(KERBEROS_USES as readonly string[]).includes(use)) throw new UsageError(`bad --use-kerberos ${opts.useKerberos}: expected required, desired or off`);
    if (opts.kerberos && use !== 'required') throw new UsageError(`-k means --use-kerberos=required, which contradicts --use-kerberos=${use}`);
    return use as KerberosUse;
  }
  return opts.kerberos ? 'required' : 'off';
}

/**
 * The credentials to log on with. `passwordCredentials` resolves the NTLM ones (and may prompt):
 * it is not called for 'required', and a failure of it only removes the fallback for 'desired'.
 */
export async function resolveLogon(opts: KerberosOptions, passwordCredentials: () => Promise<Credentials>): Promise<Credentials> {
  const use = kerberosUse(opts);
  if (use === 'off') {
    if (opts.useKrb5Ccache !== undefined) throw new UsageError('--use-krb5-ccache needs Kerberos: add -k or --use-kerberos=required|desired');
    return passwordCredentials();
  }
  const ccache = opts.useKrb5Ccache?.trim();
  if (ccache === '') throw new UsageError('--use-krb5-ccache needs a cache name, e.g. FILE:/tmp/krb5cc_1000 or KCM:');
  const base = { kind: 'kerberos' as const, use, ...(ccache ? { ccache } : {}) };
  if (use === 'required') return base;
  const fallback = await passwordCredentials().catch(() => undefined);
  return fallback && fallback.kind === 'user' ? { ...base, fallback } : base;
}

/**
 * The credential cache of a sec=krb5 mount's user: the library default when it is us; else that
 * uid's default cache as krb5.conf's default_ccache_name makes it (FILE:/tmp/krb5cc_UID when it
 * names none; KEYRING:persistent:UID, KCM:UID…), which cifs.upcall would find as that user. A
 * daemon running as root can open those (docs/kerberos.md says which were tried).
 */
export function mountCcache(krb5: { cruid?: number }, uid = process.getuid?.(), cacheOf: (uid: number) => string = defaultCcacheFor): string | undefined {
  if (krb5.cruid === undefined || krb5.cruid === uid) return undefined;
  return cacheOf(krb5.cruid);
}

/** Kerberos credentials for a target that names them (a sec=krb5 mount), or undefined. */
export function targetKerberos(target: { krb5?: { cruid?: number } }): Credentials | undefined {
  if (!target.krb5) return undefined;
  const ccache = mountCcache(target.krb5);
  return { kind: 'kerberos', use: 'required', ...(ccache ? { ccache } : {}) };
}
