/**
 * A config file's [watch] sections as the daemon makes them: the options a section gives a watch,
 * and what a reload compares to tell whether a running watch must restart.
 */
import type { DaemonConfig, WatchConfig } from '../config/daemon-config.js';
import type { AddWatchOptions } from '../sinks/types.js';

/** JSON of a section: regular expressions by their text, maps as their entries. */
function regexText(_key: string, value: unknown): unknown {
  return value instanceof RegExp ? value.source : value instanceof Map ? [...value] : value;
}

/** The AddWatch options a [watch] section gives. */
export function configWatchOptions(w: WatchConfig): AddWatchOptions {
  return {
    recursive: w.recursive,
    ...(w.credentialsFile ? { credentialsFile: w.credentialsFile } : {}),
    guest: w.guest,
    ...(w.pollIntervalSeconds ? { pollIntervalSeconds: w.pollIntervalSeconds } : {}),
    ...(w.kerberos ? { kerberos: w.kerberos } : {}),
    ...(w.krb5Ccache ? { krb5Ccache: w.krb5Ccache } : {}),
    ...(w.ipAddress ? { ipAddress: w.ipAddress } : {}),
  };
}

/**
 * What a config watch is made from: its section, and the [daemon] and [credentials] keys it falls
 * back to. A reload restarts a watch when any of them changed (a new password file in [daemon],
 * say), not only its own section.
 */
export function watchInputs(w: WatchConfig, c: DaemonConfig): string {
  const { credentialsFile, guest, pollIntervalSeconds, safetyNetSeconds, kerberos, krb5Ccache, credentials } = c;
  return JSON.stringify({ w, credentialsFile, guest, pollIntervalSeconds, safetyNetSeconds, kerberos, krb5Ccache, credentials }, regexText);
}
