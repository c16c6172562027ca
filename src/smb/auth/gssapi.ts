/**
 * The system's MIT Kerberos through smbnotify's own optional native addon (src/native/gssapi):
 * loading it, and turning its GSSAPI and krb5 errors into one line that names the cause.
 * docs/kerberos.md describes the addon and how to build it.
 */
import { createRequire } from 'node:module';
import { PACKAGE_ROOT } from '../../platform/usocket.js';
import { SecurityError } from '../errors.js';

/** An opaque gss_ctx_id_t (with its credential and target name), freed by the garbage collector. */
export type GssContext = { readonly __gssContext: unique symbol };

/**
 * The addon's functions. Those that may wait on the KDC or on a cache daemon (KCM) run on a
 * thread of their own and return a Promise, so a KDC that does not answer never stalls the event
 * loop; one step at a time per context (a second one throws while the first runs).
 */
export interface GssapiBinding {
  /**
   * Local: imports the target name and remembers the cache (acquired by the first step).
   * minLifetime: seconds the service ticket must still be valid (time_req); a cached one that
   * ends sooner is not reused, a new one is asked for.
   */
  newContext(opts: { target: string; ccache?: string; minLifetime?: number }): GssContext;
  /** One gss_init_sec_context; lifetime: seconds the service ticket is still valid. */
  step(ctx: GssContext, input: Buffer | null): Promise<{ token: Buffer | null; complete: boolean; lifetime: number }>;
  sessionKey(ctx: GssContext): Buffer;
  getMic(ctx: GssContext, data: Buffer): Buffer;
  verifyMic(ctx: GssContext, data: Buffer, mic: Buffer): void;
  cacheInfo(name?: string): Promise<{ name: string; principal: string; tgtEnd: number }>;
  /** krb5.conf's default_ccache_name as written (%{uid} unexpanded), null when it sets none. Local. */
  defaultCcacheTemplate(): string | null;
  codes: Record<'TKT_EXPIRED' | 'SKEW' | 'C_PRINCIPAL_UNKNOWN' | 'S_PRINCIPAL_UNKNOWN' | 'PREAUTH_FAILED' | 'KDC_UNREACH'
    | 'REALM_UNKNOWN' | 'REALM_CANT_RESOLVE' | 'FCC_NOFILE' | 'CC_NOTFOUND' | 'CC_END', number>;
  majors: Record<'NO_CRED' | 'CREDENTIALS_EXPIRED', number>;
}

export type KerberosFailure =
  | 'unavailable'
  | 'no-ticket'
  | 'expired'
  | 'clock-skew'
  | 'unknown-principal'
  | 'server-not-in-realm'
  | 'kdc-unreachable'
  | 'rejected'
  | 'other';

/** Kerberos could not give us a security context; the message is one line naming the cause. */
export class KerberosError extends SecurityError {
  constructor(
    readonly reason: KerberosFailure,
    message: string,
  ) {
    super(message);
    this.name = 'KerberosError';
  }
}

const ADDON_RELATIVE = '../../../src/native/gssapi/build/Release/gssapi.node';

let loaded: GssapiBinding | Error | undefined;

/** The addon, or a KerberosError saying what is missing and how to get it. */
export function loadGssapi(): GssapiBinding {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)(ADDON_RELATIVE) as GssapiBinding;
    } catch (err) {
      loaded = err as Error;
    }
  }
  if (loaded instanceof Error) {
    const cause = (loaded as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'is not built' : `cannot be loaded (${loaded.message.split('\n')[0]})`;
    throw new KerberosError(
      'unavailable',
      `Kerberos needs smbnotify's GSSAPI addon, which ${cause}: apt-get install libkrb5-dev build-essential python3, then run "npm run build:kerberos" in ${PACKAGE_ROOT}`,
    );
  }
  return loaded;
}

/** Whether the addon is there (for `info`-style reports); never throws. */
export function gssapiAvailable(): boolean {
  try {
    loadGssapi();
    return true;
  } catch {
    return false;
  }
}

/**
 * The default credential cache of user `uid`, from krb5.conf's default_ccache_name: %{uid},
 * %{euid} and %{USERID} become the uid, %{TEMP} /tmp, and a bare "KCM:" becomes "KCM:UID" (the
 * name a KCM daemon gives that user's default cache). MIT's built-in FILE:/tmp/krb5cc_UID when
 * krb5.conf names none, or names one with another token (%{username}…) this cannot expand.
 */
export function expandCcacheTemplate(template: string | null, uid: number): string {
  const fallback = `FILE:/tmp/krb5cc_${uid}`;
  if (!template) return fallback;
  const expanded = template.replace(/%\{(uid|euid|USERID)\}/g, String(uid)).replace(/%\{TEMP\}/g, '/tmp');
  if (expanded.includes('%{')) return fallback;
  return /^KCM:$/i.test(expanded) ? `KCM:${uid}` : expanded;
}

/** expandCcacheTemplate with this machine's krb5.conf (the FILE default without the addon). */
export function defaultCcacheFor(uid: number): string {
  let template: string | null = null;
  try {
    template = loadGssapi().defaultCcacheTemplate();
  } catch {
    // No addon: Kerberos fails later in words; the name only has to be MIT's default.
  }
  return expandCcacheTemplate(template, uid);
}

interface GssFailure extends Error {
  major?: number;
  minor?: number;
}

/** The principal of the cache in use, for messages; undefined when there is no usable cache. */
export async function cachePrincipal(gss: GssapiBinding, ccache: string | undefined): Promise<string | undefined> {
  try {
    return (await gss.cacheInfo(ccache)).principal || undefined;
  } catch {
    return undefined;
  }
}

/**
 * One line for a failed gss_init_sec_context: the cause in words first (the five a user can act
 * on), then the library's own text.
 */
export async function describeGssFailure(gss: GssapiBinding, err: unknown, ccache: string | undefined, service: string): Promise<KerberosError> {
  const e = err as GssFailure;
  const text = (e.message ?? String(err))
    .replace(/\s+/g, ' ')
    .replace(/^: /, '')
    .replace(/^Unspecified GSS failure\. Minor code may provide more information: /, '')
    .trim();
  const { codes, majors } = gss;
  const routine = ((e.major ?? 0) >>> 16) << 16; // GSS routine error bits (RFC 2744 3.9.1)
  const expired = e.minor === codes.TKT_EXPIRED || routine === majors.CREDENTIALS_EXPIRED;
  const principal = expired ? await cachePrincipal(gss, ccache) : undefined;
  // A cache named by --use-krb5-ccache, krb5-ccache =, a mount's cruid or D-Bus is said by name,
  // and so is the kinit that fills it; a client keytab is never used for one (gssapi.c).
  const kinit = ccache ? `run kinit -c ${ccache}` : 'run kinit';
  const noTicket = () => new KerberosError('no-ticket', ccache
    ? `no Kerberos ticket in ${ccache}: ${text} (${kinit})`
    : `no Kerberos ticket: ${text} (${kinit}, or set KRB5_CLIENT_KTNAME to a keytab)`);
  const expiredTicket = () => new KerberosError('expired', `Kerberos ticket expired for ${principal ?? 'the user'}${ccache ? ` in ${ccache}` : ''}: ${kinit}`);
  switch (e.minor) {
    case codes.TKT_EXPIRED:
      return expiredTicket();
    case codes.SKEW:
      return new KerberosError('clock-skew', `Kerberos clock skew too great between this machine and the KDC (more than the 5 minutes allowed): set the clock right (NTP) (${text})`);
    case codes.C_PRINCIPAL_UNKNOWN:
      return new KerberosError('unknown-principal', `Kerberos unknown principal: the KDC does not know this user (check the keytab or the name given to kinit) (${text})`);
    case codes.S_PRINCIPAL_UNKNOWN:
      return new KerberosError('server-not-in-realm', `Kerberos server not in the realm: the KDC has no principal for ${service} (use the name the domain knows the server by, with -I ADDRESS if it does not resolve) (${text})`);
    case codes.REALM_UNKNOWN:
    case codes.REALM_CANT_RESOLVE:
      return new KerberosError('server-not-in-realm', `Kerberos server not in a known realm: ${service} maps to a realm krb5.conf has no KDC for (${text})`);
    case codes.KDC_UNREACH:
      return new KerberosError('kdc-unreachable', `Kerberos KDC unreachable: ${text} (check the kdc lines of krb5.conf and the network)`);
    case codes.FCC_NOFILE:
    case codes.CC_NOTFOUND:
    case codes.CC_END:
      return noTicket();
    default:
      break;
  }
  if (routine === majors.CREDENTIALS_EXPIRED) return expiredTicket();
  if (routine === majors.NO_CRED) return noTicket();
  return new KerberosError('other', `Kerberos failed: ${text}`);
}
