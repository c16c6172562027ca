/**
 * Pure output formatting for `ls` and `info`. Everything that came from the server (names above
 * all) is escaped so that a hostile name cannot move the cursor, clear the screen or fake a line
 * (watch/safe-text.ts, the rule the event stream uses too).
 */
import type { FileStat, NotifyProbe, SessionInfo, ShareInfo } from '../smb/types.js';
import { escapeForTerminal, jsonLine } from '../watch/safe-text.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** GNU ls: "recent" means within the last half Gregorian year (31556952 s / 2). */
const SIX_MONTHS_MS = 15_778_476_000;
/** Tolerated clock skew before a future timestamp is shown with its year. */
const FUTURE_SLACK_MS = 5 * 60_000;

export interface LsLineOptions {
  /** "Now", for the six-months rule (default: the current time). */
  now?: Date;
  /** Width the size column is right-aligned to (see sizeColumnWidth). */
  sizeWidth?: number;
  /** Show times in UTC instead of the local time zone (tests, reproducible output). */
  utc?: boolean;
}

/** What an `ls -l` line shows of an entry (a FileStat has it; so has the compact listing, converted). */
export interface LsEntry {
  name: string;
  isDirectory: boolean;
  size: bigint | number;
  lastWriteTime: Date;
}

/** The width of the size column for a set of entries. */
export function sizeColumnWidth(stats: readonly Pick<LsEntry, 'size'>[]): number {
  return stats.reduce((w, s) => Math.max(w, s.size.toString().length), 1);
}

/** `ls -l` style time: `Nov 24 03:23` within six months, else `Nov 24  2025`. */
export function formatLsTime(t: Date, now: Date, utc = false): string {
  const ms = t.getTime();
  if (Number.isNaN(ms)) return '           ?'.slice(-12);
  const month = MONTHS[utc ? t.getUTCMonth() : t.getMonth()]!;
  const day = String(utc ? t.getUTCDate() : t.getDate()).padStart(2, ' ');
  const recent = ms > now.getTime() - SIX_MONTHS_MS && ms <= now.getTime() + FUTURE_SLACK_MS;
  if (recent) {
    const hh = String(utc ? t.getUTCHours() : t.getHours()).padStart(2, '0');
    const mm = String(utc ? t.getUTCMinutes() : t.getMinutes()).padStart(2, '0');
    return `${month} ${day} ${hh}:${mm}`;
  }
  const year = utc ? t.getUTCFullYear() : t.getFullYear();
  return `${month} ${day} ${String(year).padStart(5, ' ')}`;
}

/** One `ls -l`-like line: `d        4096 Nov 24 03:23 name`. */
export function formatLsLine(stat: LsEntry, opts: LsLineOptions = {}): string {
  const type = stat.isDirectory ? 'd' : '-';
  const size = stat.size.toString().padStart(opts.sizeWidth ?? 1, ' ');
  const time = formatLsTime(stat.lastWriteTime, opts.now ?? new Date(), opts.utc ?? false);
  return `${type} ${size} ${time} ${escapeForTerminal(stat.name)}`;
}

/** A bigint as a JSON number when it is a safe integer, else as a decimal string (no rounding). */
export function bigintJson(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
}

function iso(d: Date | null | undefined): string | null {
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : null;
}

export interface LsJson {
  name: string;
  type: 'file' | 'dir';
  size: number | string;
  mtime: string | null;
  ctime: string | null;
  atime: string | null;
  btime: string | null;
  attributes: number;
  allocationSize: number | string;
}

/**
 * The JSON object for one entry. Sizes above 2^53 (only a broken or hostile server sends them)
 * become decimal strings rather than silently rounded numbers; an unrepresentable time is null.
 */
export function lsJson(stat: FileStat): LsJson {
  return {
    name: stat.name,
    type: stat.isDirectory ? 'dir' : 'file',
    size: bigintJson(stat.size),
    mtime: iso(stat.lastWriteTime),
    ctime: iso(stat.changeTime),
    atime: iso(stat.lastAccessTime),
    btime: iso(stat.creationTime),
    attributes: stat.attributes,
    allocationSize: bigintJson(stat.allocationSize),
  };
}

/** lsJson serialised as one line, every control character escaped (see jsonLine). */
export function lsJsonLine(stat: FileStat): string {
  return jsonLine(lsJson(stat));
}

/** What `info` needs to know about where it connected. */
export interface InfoTarget {
  host: string;
  port?: number;
  share: string;
  path: string;
}

function list(items: readonly string[]): string {
  return items.length ? items.map(escapeForTerminal).join(' ') : 'none';
}

function dialectLabel(d: string): string {
  return `SMB ${d}`;
}

/** Human `info` output: aligned `Key: value` lines (no trailing newline). */
export function formatInfo(session: SessionInfo, share: ShareInfo, notify: NotifyProbe, target: InfoTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const required = session.signingRequired ? 'required by the server' : 'not required by the server';
  // An encrypted session carries no signatures: AES-GCM/CCM authenticate every message instead
  // (MS-SMB2 3.1.4.3), which meets a server's signing requirement.
  const signing = session.signing ? `${session.signing} (${required})`
    : session.encryption ? `not needed: every message is encrypted and authenticated with ${session.encryption} (signing ${required})`
      : `off (${required})`;
  let encryption: string;
  if (share.encrypted) encryption = `${session.encryption ?? 'yes'} (this share is encrypted)`;
  else if (session.encryption) encryption = `${session.encryption} (available; this share is not encrypted)`;
  else encryption = 'none';
  const notifyText = notify.supported ? 'supported'
    : notify.refused ? `refused here (${escapeForTerminal(notify.statusName)}): the server knows CHANGE_NOTIFY but would not watch this folder`
      : `not supported (${escapeForTerminal(notify.statusName)})`;
  const rows: Array<[string, string]> = [
    ['Server', `${escapeForTerminal(host)}:${target.port ?? 445}`],
    ['Share', `\\\\${escapeForTerminal(target.host)}\\${escapeForTerminal(target.share)}`],
    ['Dialect', dialectLabel(session.dialect)],
    ['Authentication', session.authentication],
    ['Signing', signing],
    ['Encryption', encryption],
    ['Capabilities', list(session.capabilities)],
    ['Max transact', String(session.maxTransactSize)],
    ['Max read', String(session.maxReadSize)],
    ['Max write', String(session.maxWriteSize)],
    ['Server GUID', escapeForTerminal(session.serverGuid)],
    ['Server time', iso(session.systemTime) ?? 'unknown'],
    ['Session flags', list(session.sessionFlags)],
    ['Share type', share.type],
    ['Share flags', list(share.flags)],
    ['Share capabilities', list(share.capabilities)],
    ['Maximal access', `0x${(share.maximalAccess >>> 0).toString(16).padStart(8, '0')}`],
    [target.path ? `Change notify (${escapeForTerminal(target.path)})` : 'Change notify', notifyText],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join('\n');
}

export interface InfoJson {
  server: { host: string; port: number };
  dialect: string;
  /** 'NTLMv2', 'Kerberos' or 'none'. */
  authentication: string;
  signing: string | null;
  signingRequired: boolean;
  encryption: string | null;
  capabilities: string[];
  maxTransactSize: number;
  maxReadSize: number;
  maxWriteSize: number;
  serverGuid: string;
  serverTime: string | null;
  sessionFlags: string[];
  share: {
    name: string;
    type: string;
    flags: string[];
    capabilities: string[];
    encrypted: boolean;
    maximalAccess: number;
  };
  path: string;
  changeNotify: { supported: boolean; refused?: boolean; status?: string; statusCode?: number };
}

/** The `info --json` object (print it with JSON.stringify: one line). */
export function infoJson(session: SessionInfo, share: ShareInfo, notify: NotifyProbe, target: InfoTarget): InfoJson {
  return {
    server: { host: target.host, port: target.port ?? 445 },
    dialect: session.dialect,
    authentication: session.authentication,
    signing: session.signing,
    signingRequired: session.signingRequired,
    encryption: session.encryption,
    capabilities: [...session.capabilities],
    maxTransactSize: session.maxTransactSize,
    maxReadSize: session.maxReadSize,
    maxWriteSize: session.maxWriteSize,
    serverGuid: session.serverGuid,
    serverTime: iso(session.systemTime),
    sessionFlags: [...session.sessionFlags],
    share: {
      name: share.name,
      type: share.type,
      flags: [...share.flags],
      capabilities: [...share.capabilities],
      encrypted: share.encrypted,
      maximalAccess: share.maximalAccess >>> 0,
    },
    path: target.path,
    changeNotify: notify.supported
      ? { supported: true }
      : { supported: false, ...(notify.refused ? { refused: true } : {}), status: notify.statusName, statusCode: notify.status >>> 0 },
  };
}
