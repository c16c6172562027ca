/**
 * The daemon's configuration file: INI sections like smb.conf and systemd units, so it reads
 * naturally to the people who run Samba. The example in systemd/smbnotify.conf documents every
 * key. Passwords never live here: credentials are files in the smbclient / mount.cifs format.
 *
 *   [daemon]              bus, journal, journal-max-size, journal-keep, journal-group, mountinfo,
 *                         follow-desktop, watch-mounts, credentials, guest, poll-interval, safety-net
 *   [watch NAME]          target, recursive, credentials, guest, events, include, exclude,
 *                         poll-interval, safety-net, view, view-backing, view-allow-other
 *   [credentials //HOST[:PORT][/SHARE]]   file: credentials for watches, mounts and desktop folders there
 *   [mqtt]                url, client-id, username, password-file, qos, topic-prefix, ca, cert,
 *                         key, queue, queue-max-size (src/config/mqtt-config.ts)
 */
import { KERBEROS_USES, type KerberosUse } from './kerberos.js';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { CHANGE_KINDS, type ChangeKind } from '../watch/events.js';
import { applyMqttKey, type MqttConfig } from './mqtt-config.js';
import { UsageError } from './errors.js';
import { ipAddressOf, parseAuthority } from './target.js';
import { isBusSpec } from './bus-spec.js';
import { errnoWords } from '../platform/errno-words.js';

/** A mistake in the config file: the user's to fix, said in one line (file:line: what). */
export class ConfigError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface WatchConfig {
  name: string;
  target: string;
  recursive: boolean;
  credentialsFile?: string;
  guest: boolean;
  events?: ChangeKind[];
  include?: RegExp;
  exclude?: RegExp;
  pollIntervalSeconds?: number;
  /** Base interval of the safety net (watch/safety-net.ts); 0: off. */
  safetyNetSeconds?: number;
  /** A live view of the watch: 'yes' (under $XDG_RUNTIME_DIR/smbnotify/), 'over' (over the cifs mount point) or a folder. */
  view?: string;
  /** The folder the view passes through to (default: the target's cifs mount). */
  viewBacking?: string;
  viewAllowOther?: boolean;
  kerberos?: KerberosUse;
  krb5Ccache?: string;
  ipAddress?: string;
}

export interface DaemonConfig {
  bus: string;
  /** null: no journal. undefined: the default path. */
  journal?: string | null;
  journalMaxBytes?: number;
  journalKeep?: number;
  /** A group allowed to read the journal (mode 0640). */
  journalGroup?: string;
  mountinfo?: string;
  followDesktop: boolean;
  watchMounts: boolean;
  credentialsFile?: string;
  guest: boolean;
  pollIntervalSeconds?: number;
  /** Default for every watch: the safety net's base interval; 0: off. */
  safetyNetSeconds?: number;
  /** Default for every watch: Kerberos use and credential cache. */
  kerberos?: KerberosUse;
  krb5Ccache?: string;
  watches: WatchConfig[];
  /** `//host[:port][/share]` (credentialsSectionKey) -> credentials file. */
  credentials: Map<string, string>;
  /** Present when the config has an [mqtt] section. */
  mqtt?: MqttConfig;
}

export function defaultConfig(): DaemonConfig {
  return { bus: 'session', followDesktop: true, watchMounts: false, guest: false, watches: [], credentials: new Map() };
}

/** `~/` expands to the home directory, as users write it. */
function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? os.homedir() + p.slice(1) : p;
}

function parseBool(value: string, where: string): boolean {
  const v = value.toLowerCase();
  if (['yes', 'true', 'on', '1'].includes(v)) return true;
  if (['no', 'false', 'off', '0'].includes(v)) return false;
  throw new ConfigError(`${where}: expected yes or no, got "${value}"`);
}

function parseSeconds(value: string, where: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${where}: expected a number of seconds, got "${value}"`);
  return n;
}

/** A whole number, 0 or more (journal-keep: how many rotated files to keep). */
function parseCount(value: string, where: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${where}: expected a whole number of files (0 or more), got "${value}"`);
  return Number(value);
}

/** Seconds, or `off` (0). */
export function parseSecondsOrOff(value: string, where: string): number {
  return ['off', 'no', '0'].includes(value.trim().toLowerCase()) ? 0 : parseSeconds(value, where);
}

/** `8M`, `512K`, `1G` or bytes. */
function parseSize(value: string, where: string): number {
  const m = /^(\d+)\s*([KMG]?)i?B?$/i.exec(value.trim());
  if (!m) throw new ConfigError(`${where}: expected a size like 8M, got "${value}"`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  // 0 was taken as "the default" at start and refused by a reload: neither says what is wrong.
  if (Number(m[1]) === 0) throw new ConfigError(`${where}: expected a size above 0, got "${value}"`);
  return Number(m[1]) * unit;
}

function parseRegex(value: string, where: string): RegExp {
  try {
    return new RegExp(value);
  } catch (err) {
    throw new ConfigError(`${where}: bad regular expression: ${(err as Error).message}`);
  }
}

function parseEvents(value: string, where: string): ChangeKind[] {
  const out: ChangeKind[] = [];
  for (const raw of value.split(',')) {
    const name = raw.trim().toUpperCase();
    if (!name) continue;
    if (name === 'MOVE') out.push('MOVED_FROM', 'MOVED_TO');
    else if (CHANGE_KINDS.includes(name as ChangeKind)) out.push(name as ChangeKind);
    else throw new ConfigError(`${where}: unknown event "${raw.trim()}"`);
  }
  // An empty list would pass nothing, silently: leave the key out to pass every event.
  if (out.length === 0) throw new ConfigError(`${where}: events = names no event (leave it out for all of them)`);
  return out;
}

export function parseConfig(text: string, file = 'config'): DaemonConfig {
  const config = defaultConfig();
  let section = '';
  let watch: WatchConfig | null = null;
  let credentialsKey: string | null = null;
  // Where each [watch NAME] and [credentials ...] began: a second one would silently make two
  // watches of one name, or override the first credentials.
  const seen = new Map<string, number>();
  const once = (id: string, shown: string, line: number, where: string): void => {
    const first = seen.get(id);
    if (first !== undefined) throw new ConfigError(`${where}: a second ${shown} section (the first is at line ${first})`);
    seen.set(id, line);
  };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[\s*([a-z]+)(?:\s+(.+?))?\s*\]$/i.exec(line);
    if (header) {
      section = header[1]!.toLowerCase();
      const arg = header[2]?.trim();
      watch = null;
      credentialsKey = null;
      if (section === 'watch') {
        watch = { name: arg ?? `watch${config.watches.length + 1}`, target: '', recursive: false, guest: false };
        once(`watch ${watch.name}`, `[watch ${watch.name}]`, i + 1, where);
        config.watches.push(watch);
      } else if (section === 'credentials') {
        credentialsKey = parseCredentialsSection(arg, where);
        once(`credentials ${credentialsKey}`, `[credentials ${arg}]`, i + 1, where);
      } else if (section === 'mqtt') {
        config.mqtt ??= {};
      } else if (section !== 'daemon') throw new ConfigError(`${where}: unknown section [${header[1]}]`);
      return;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new ConfigError(`${where}: expected key = value`);
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (section === 'daemon') applyDaemonKey(config, key, value, where);
    else if (section === 'mqtt') applyMqttKey(config.mqtt!, key, value, where, { size: parseSize, path: expandHome, fail: (m) => new ConfigError(m) });
    else if (watch) applyWatchKey(watch, key, value, where);
    else if (credentialsKey !== null) {
      if (key !== 'file') throw new ConfigError(`${where}: [credentials] knows only file =`);
      config.credentials.set(credentialsKey, expandHome(value));
    } else throw new ConfigError(`${where}: key outside a section`);
  });
  for (const w of config.watches) {
    if (!w.target) throw new ConfigError(`${file}: [watch ${w.name}] has no target`);
    if (!w.view && (w.viewBacking !== undefined || w.viewAllowOther)) {
      throw new ConfigError(`${file}: [watch ${w.name}] has view-backing or view-allow-other but no view = yes, over or a folder`);
    }
    // The name becomes the view's folder under $XDG_RUNTIME_DIR/smbnotify.
    if (w.view === 'yes' && (w.name.includes('/') || w.name === '.' || w.name === '..')) {
      throw new ConfigError(`${file}: [watch ${w.name}] with view = yes needs a name without "/" (it names the view's folder), or give view = /a/folder`);
    }
  }
  return config;
}

/** `//HOST[:PORT][/SHARE]` (or with backslashes) -> the key credentialsSectionKey makes of it. */
function parseCredentialsSection(arg: string | undefined, where: string): string {
  const m = arg ? /^(?:\/\/|\\\\)([^/\\]+)(?:[/\\]([^/\\]+))?[/\\]?$/.exec(arg) : null;
  if (!m) throw new ConfigError(`${where}: [credentials] needs //HOST, //HOST:PORT, //HOST/SHARE or //HOST:PORT/SHARE`);
  let authority: { host: string; port?: number };
  try {
    authority = parseAuthority(m[1]!);
  } catch (err) {
    throw new ConfigError(`${where}: [credentials ${arg}]: ${(err as Error).message.replace(/^bad TARGET: /, '')}`);
  }
  return credentialsSectionKey(authority.host, authority.port, m[2]);
}

/**
 * The key of a [credentials] section in DaemonConfig.credentials: `//host[:port][/share]`, lower
 * case, an IPv6 host in brackets. Without a port the section is for every port of the host.
 */
export function credentialsSectionKey(host: string, port?: number, share?: string): string {
  const h = host.toLowerCase();
  return `//${h.includes(':') ? `[${h}]` : h}${port !== undefined ? `:${port}` : ''}${share !== undefined ? `/${share.toLowerCase()}` : ''}`;
}

/**
 * The credentials file of the [credentials] section for a share on host:port: the share's section
 * wins over the host's, and at each level a section naming the port over one naming none.
 */
export function credentialsSectionFor(config: Pick<DaemonConfig, 'credentials'>, host: string, port: number, share: string): string | undefined {
  return config.credentials.get(credentialsSectionKey(host, port, share))
    ?? config.credentials.get(credentialsSectionKey(host, undefined, share))
    ?? config.credentials.get(credentialsSectionKey(host, port))
    ?? config.credentials.get(credentialsSectionKey(host));
}

function applyDaemonKey(c: DaemonConfig, key: string, value: string, where: string): void {
  switch (key) {
    case 'bus':
      if (!isBusSpec(value)) throw new ConfigError(`${where}: bus must be session, system, none or a D-Bus address such as unix:path=/run/user/1000/bus, got "${value}"`);
      c.bus = value;
      break;
    case 'journal': c.journal = ['off', 'no', 'none'].includes(value.toLowerCase()) ? null : expandHome(value); break;
    case 'journal-max-size': c.journalMaxBytes = parseSize(value, where); break;
    case 'journal-keep': c.journalKeep = parseCount(value, where); break;
    case 'journal-group': c.journalGroup = value; break;
    case 'mountinfo': c.mountinfo = expandHome(value); break;
    case 'follow-desktop': c.followDesktop = parseBool(value, where); break;
    case 'watch-mounts': c.watchMounts = parseBool(value, where); break;
    case 'credentials': c.credentialsFile = expandHome(value); break;
    case 'guest': c.guest = parseBool(value, where); break;
    case 'poll-interval': c.pollIntervalSeconds = parseSeconds(value, where); break;
    case 'safety-net': c.safetyNetSeconds = parseSecondsOrOff(value, where); break;
    case 'kerberos': c.kerberos = parseKerberosUse(value, where); break;
    case 'krb5-ccache': c.krb5Ccache = value; break;
    default: throw new ConfigError(`${where}: unknown key "${key}" in [daemon]`);
  }
}

function parseKerberosUse(value: string, where: string): KerberosUse {
  const use = value.trim().toLowerCase();
  if (!(KERBEROS_USES as readonly string[]).includes(use)) throw new ConfigError(`${where}: kerberos must be required, desired or off`);
  return use as KerberosUse;
}

function applyWatchKey(w: WatchConfig, key: string, value: string, where: string): void {
  switch (key) {
    case 'target':
      // As a password = key is: a secret does not belong in the config (status, logs, D-Bus).
      if (/^smb:\/\/[^/@]*:[^/@]*@/i.test(value)) throw new ConfigError(`${where}: a password in the target URL is not accepted here: use a credentials file (credentials = FILE or a [credentials //HOST/SHARE] section)`);
      w.target = value;
      break;
    case 'recursive': w.recursive = parseBool(value, where); break;
    case 'credentials': w.credentialsFile = expandHome(value); break;
    case 'guest': w.guest = parseBool(value, where); break;
    case 'events': w.events = parseEvents(value, where); break;
    case 'include': w.include = parseRegex(value, where); break;
    case 'exclude': w.exclude = parseRegex(value, where); break;
    case 'poll-interval': w.pollIntervalSeconds = parseSeconds(value, where); break;
    case 'safety-net': w.safetyNetSeconds = parseSecondsOrOff(value, where); break;
    case 'view': w.view = parseView(value, where); break;
    case 'view-backing': w.viewBacking = expandHome(value); break;
    case 'view-allow-other': w.viewAllowOther = parseBool(value, where); break;
    case 'kerberos': w.kerberos = parseKerberosUse(value, where); break;
    case 'krb5-ccache': w.krb5Ccache = value; break;
    case 'ip-address': {
      const address = ipAddressOf(value);
      if (address === null) throw new ConfigError(`${where}: ip-address takes an IPv4 or IPv6 address, got "${value}"`);
      w.ipAddress = address;
      break;
    }
    case 'password': throw new ConfigError(`${where}: passwords do not belong in the config; use credentials = FILE (mode 600)`);
    default: throw new ConfigError(`${where}: unknown key "${key}" in [watch ${w.name}]`);
  }
}

/** `yes`, `over`, `no` or an absolute folder (`~/` allowed). */
function parseView(value: string, where: string): string | undefined {
  const v = value.toLowerCase();
  if (['no', 'off', 'false', '0'].includes(v)) return undefined;
  if (['yes', 'on', 'true', '1'].includes(v)) return 'yes';
  if (v === 'over') return 'over';
  const p = expandHome(value);
  if (!p.startsWith('/')) throw new ConfigError(`${where}: view = yes, over, no or an absolute folder, got "${value}"`);
  return p;
}

export async function loadConfig(file: string): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${errnoWords(err, 'file')}`);
  }
  return parseConfig(text, file);
}

/** The default config file: $XDG_CONFIG_HOME/smbnotify/config, or /etc/smbnotify/config for root services. */
export function defaultConfigPath(system: boolean): string {
  if (system) return '/etc/smbnotify/config';
  const base = process.env['XDG_CONFIG_HOME'] || `${os.homedir()}/.config`;
  return `${base}/smbnotify/config`;
}
