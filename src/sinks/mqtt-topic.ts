/**
 * MQTT topic names for events (MQTT 3.1.1 section 4.7, MQTT 5.0 section 4.7):
 *
 *   PREFIX/SERVER/SHARE/PATH...          one message per event (the journal line's JSON)
 *   PREFIX/$watch/SERVER/SHARE/PATH...   retained: the last STATE event of the watch of that folder
 *   PREFIX/$status/CLIENT-ID             retained: "online", or "offline" (also the last will)
 *
 * Every level that comes from a name (server, share, each path component, the client id) is
 * escaped so that no name can break the topic tree or act as a wildcard: `%` (the escape
 * character itself), `+` and `#` (wildcards), `/` (the level separator), the C0 controls
 * (NUL is forbidden in topics, newlines make `mosquitto_sub -v` ambiguous), DEL and the C1
 * controls become `%XX` (the UTF-8 bytes in upper-case hex, as in URLs); a leading `$` becomes
 * `%24` (topics whose level starts with `$` are the broker's own, and `$watch`/`$status` must not
 * be a server's name); an empty name is a lone `%`, which escaping never produces otherwise.
 * Unpaired UTF-16 surrogates (which a Windows server can hand out) cannot be UTF-8 and become
 * U+FFFD: the topic is for filtering, the payload carries the exact name.
 * Everything else, spaces, accents, `∕` (U+2215) and emoji included, stays as it is, so that
 * topics read naturally and a subscriber can filter on real names.
 */
import type { WatchEvent } from '../watch/events.js';

// eslint-disable-next-line no-control-regex
const ESCAPED = /[%+#/\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;

function percentBytes(c: string): string {
  return [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/** One topic level for a name (never contains `/`, `+`, `#` or NUL). */
export function escapeTopicLevel(name: string): string {
  if (name === '') return '%';
  const escaped = name.replace(ESCAPED, (c) => (c.length === 1 && c.charCodeAt(0) >= 0xd800 && c.charCodeAt(0) <= 0xdfff ? '\ufffd' : percentBytes(c)));
  return escaped.startsWith('$') ? `%24${escaped.slice(1)}` : escaped;
}

/** The name a topic level stands for (the inverse of escapeTopicLevel, surrogates aside). */
export function unescapeTopicLevel(level: string): string {
  if (level === '%') return '';
  const bytes: Buffer[] = [];
  for (const part of level.split(/(%[0-9A-Fa-f]{2})/)) {
    if (/^%[0-9A-Fa-f]{2}$/.test(part)) bytes.push(Buffer.from([parseInt(part.slice(1), 16)]));
    else if (part) bytes.push(Buffer.from(part, 'utf8'));
  }
  return Buffer.concat(bytes).toString('utf8');
}

/** The levels of a share-relative path ('' is the share itself: no level). */
function pathLevels(path: string): string[] {
  return path === '' ? [] : path.split('/').map(escapeTopicLevel);
}

/** A topic is at most 65,535 bytes of UTF-8 (MQTT 3.1.1 section 1.5.3). */
export const MAX_TOPIC_BYTES = 65_535;

/** The level that ends a topic whose path was too long: escaping never makes `%` + `…`. */
export const TRUNCATED_LEVEL = '%\u2026';

/**
 * Joins levels; when that would pass the limit (a deep path of long names can), keeps the leading
 * levels that fit and ends with TRUNCATED_LEVEL: still below the folder, the payload has the path.
 */
function joinLevels(fixed: string[], path: string[]): string {
  const topic = [...fixed, ...path].join('/');
  if (Buffer.byteLength(topic) <= MAX_TOPIC_BYTES) return topic;
  const out = [...fixed];
  let bytes = Buffer.byteLength(out.join('/')) + 1 + Buffer.byteLength(TRUNCATED_LEVEL);
  for (const level of path) {
    const n = Buffer.byteLength(level) + 1;
    if (bytes + n > MAX_TOPIC_BYTES) break;
    out.push(level);
    bytes += n;
  }
  return [...out, TRUNCATED_LEVEL].join('/');
}

/** `PREFIX/SERVER/SHARE/PATH...` of an event (STATE events: the watched folder). */
export function eventTopic(prefix: string, e: Pick<WatchEvent, 'server' | 'share' | 'path'>): string {
  return joinLevels([prefix, escapeTopicLevel(e.server), escapeTopicLevel(e.share)], pathLevels(e.path));
}

/** `PREFIX/$watch/SERVER/SHARE/PATH...`: where the retained state of the watch of a folder lives. */
export function watchStateTopic(prefix: string, e: Pick<WatchEvent, 'server' | 'share' | 'path' | 'watch'>): string {
  return joinLevels([prefix, '$watch', escapeTopicLevel(e.server), escapeTopicLevel(e.share)], pathLevels(e.watch ?? e.path));
}

/** `PREFIX/$status/CLIENT-ID`: "online" while connected, "offline" (the last will) otherwise. */
export function statusTopic(prefix: string, clientId: string): string {
  return `${prefix}/$status/${escapeTopicLevel(clientId)}`;
}
