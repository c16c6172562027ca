/**
 * The `[mqtt]` section of the daemon's config (and `--mqtt URL`): where events are published.
 * Keys: url, client-id, username, password-file, qos, topic-prefix, ca, cert, key, queue,
 * queue-max-size. The password comes from password-file (mode 600) or the environment variable
 * SMBNOTIFY_MQTT_PASSWORD, never from the URL or the command line (a long-running process keeps
 * its argv readable by every user in /proc).
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MqttSinkOptions } from '../sinks/mqtt.js';
import { UsageError } from './errors.js';
import { tooOpen } from './credentials.js';

export const MQTT_PASSWORD_ENV = 'SMBNOTIFY_MQTT_PASSWORD';

export interface MqttConfig {
  url?: string;
  clientId?: string;
  username?: string;
  passwordFile?: string;
  qos?: 0 | 1 | 2;
  topicPrefix?: string;
  ca?: string;
  cert?: string;
  key?: string;
  queueDir?: string;
  queueMaxBytes?: number;
}

/** What the MQTT sink needs, files read and defaults filled in (the sink's options but its log). */
export type ResolvedMqtt = Omit<MqttSinkOptions, 'log' | 'reconnectMs'>;

/**
 * A user's topic prefix: one or more levels, no wildcards, no NUL, no leading or trailing `/`
 * (an empty first level would make every topic start with `/`).
 */
export function checkTopicPrefix(prefix: string): string | null {
  if (prefix === '') return 'the topic prefix is empty';
  if (/[+#\u0000]/.test(prefix)) return `the topic prefix "${prefix}" contains a wildcard (+ or #) or NUL`;
  if (prefix.startsWith('/') || prefix.endsWith('/') || prefix.includes('//')) return `the topic prefix "${prefix}" has an empty level (a leading, trailing or double /)`;
  if (prefix.startsWith('$')) return `the topic prefix "${prefix}" starts with $, which brokers keep for themselves`;
  if (Buffer.byteLength(prefix) > 1024) return 'the topic prefix is longer than 1024 bytes';
  return null;
}

const SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

/** Checks an MQTT URL; the message says what is wrong in one line. */
export function checkMqttUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`MQTT URL "${url.replace(/:[^:@/]*@/, ':***@')}" is malformed: expected mqtt://HOST[:PORT], mqtts://, ws:// or wss://`);
  }
  if (u.password) throw new UsageError(`a password in the MQTT URL would be readable by others (command line, logs): put it in a file named by password-file in [mqtt] (mode 600), or in ${MQTT_PASSWORD_ENV}`);
  if (!SCHEMES.includes(u.protocol)) throw new UsageError(`MQTT URL ${u.protocol}//${u.host}: unsupported scheme, use mqtt://, mqtts://, ws:// or wss://`);
  if (!u.hostname) throw new UsageError(`MQTT URL "${url.replace(/:[^:@/]*@/, ':***@')}" names no host`);
  return u;
}

/** `$XDG_STATE_HOME/smbnotify/mqtt-queue` (~/.local/state/...), `/var/lib/smbnotify/mqtt-queue` for the system service. */
export function defaultMqttQueueDir(system: boolean, env: NodeJS.ProcessEnv = process.env): string {
  if (system) return '/var/lib/smbnotify/mqtt-queue';
  const base = env['XDG_STATE_HOME'] || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'smbnotify', 'mqtt-queue');
}

/** One client id per machine and user (two clients with one id push each other off the broker). */
export function defaultClientId(): string {
  return `smbnotify-${os.hostname()}-${process.getuid?.() ?? 0}`;
}

async function readSecretFile(file: string, what: string): Promise<string> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    throw new UsageError(`${what} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!st.isFile()) throw new UsageError(`${what} ${file} is not a regular file`);
  const open = tooOpen(st.mode);
  if (open) throw new UsageError(`${what} ${file} ${open}: run chmod 600 ${file}`);
  return readFile(file, 'utf8');
}

async function readPem(file: string | undefined, what: string): Promise<Buffer | undefined> {
  if (!file) return undefined;
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`MQTT ${what} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** Reads the password and certificate files and fills in the defaults. */
export async function resolveMqtt(c: MqttConfig, system: boolean, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedMqtt> {
  if (!c.url) throw new UsageError('[mqtt] has no url: set url = mqtt://HOST in [mqtt], or give --mqtt URL');
  const u = checkMqttUrl(c.url);
  const prefix = c.topicPrefix ?? 'smbnotify';
  const bad = checkTopicPrefix(prefix);
  if (bad) throw new UsageError(`[mqtt] topic-prefix: ${bad}`);
  const username = c.username ?? (u.username ? decodeURIComponent(u.username) : undefined);
  let password: string | undefined;
  if (c.passwordFile) password = (await readSecretFile(c.passwordFile, 'MQTT password file')).replace(/\r?\n$/, '');
  else if (env[MQTT_PASSWORD_ENV] !== undefined) password = env[MQTT_PASSWORD_ENV];
  if (password !== undefined && username === undefined) throw new UsageError(`an MQTT password is given (${c.passwordFile ? 'password-file' : MQTT_PASSWORD_ENV}) but no username: set username in [mqtt]`);
  const secure = u.protocol === 'mqtts:' || u.protocol === 'wss:';
  if (!secure && (c.ca || c.cert || c.key)) throw new UsageError(`[mqtt] ca, cert and key need an mqtts:// or wss:// URL, not ${u.protocol}//`);
  if ((c.cert === undefined) !== (c.key === undefined)) throw new UsageError('[mqtt] cert and key go together: give both or neither');
  const ca = await readPem(c.ca, 'CA file');
  const cert = await readPem(c.cert, 'certificate');
  // A private key gets the same 0600 rule as a password.
  const key = c.key ? Buffer.from(await readSecretFile(c.key, 'MQTT key file')) : undefined;
  // The URL goes to MQTT.js without user information; the name goes as an option.
  u.username = '';
  return {
    url: u.toString(),
    clientId: c.clientId ?? defaultClientId(),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    qos: c.qos ?? 1,
    prefix,
    queueDir: c.queueDir ?? defaultMqttQueueDir(system, env),
    queueMaxBytes: c.queueMaxBytes ?? 64 * 1024 * 1024,
  };
}

/** One `key = value` of [mqtt]; `parse` helpers come from the config reader. */
export function applyMqttKey(
  c: MqttConfig,
  key: string,
  value: string,
  where: string,
  parse: { size: (v: string, w: string) => number; path: (v: string) => string; fail: (message: string) => Error },
): void {
  switch (key) {
    case 'url': c.url = value; break;
    case 'client-id':
      if (!value || Buffer.byteLength(value) > 65535) throw parse.fail(`${where}: client-id must be 1 to 65535 bytes`);
      c.clientId = value;
      break;
    case 'username': c.username = value; break;
    case 'password-file': c.passwordFile = parse.path(value); break;
    case 'qos':
      if (!['0', '1', '2'].includes(value)) throw parse.fail(`${where}: qos is 0, 1 or 2, got "${value}"`);
      c.qos = Number(value) as 0 | 1 | 2;
      break;
    case 'topic-prefix': {
      const bad = checkTopicPrefix(value);
      if (bad) throw parse.fail(`${where}: ${bad}`);
      c.topicPrefix = value;
      break;
    }
    case 'ca': c.ca = parse.path(value); break;
    case 'cert': c.cert = parse.path(value); break;
    case 'key': c.key = parse.path(value); break;
    case 'queue': c.queueDir = parse.path(value); break;
    case 'queue-max-size': c.queueMaxBytes = parse.size(value, where); break;
    case 'password': throw parse.fail(`${where}: passwords do not belong in the config; use password-file = FILE (mode 600) or ${MQTT_PASSWORD_ENV}`);
    default: throw parse.fail(`${where}: unknown key "${key}" in [mqtt]`);
  }
}
