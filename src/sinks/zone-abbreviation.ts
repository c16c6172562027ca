/**
 * `%Z` of `--timefmt` as strftime(3) and date(1) print it: the abbreviation the system's time zone
 * data gives (CET, CEST, JST, IST, +04). It comes from the POSIX TZ rule that ends the zone's TZif
 * file (RFC 8536, section 3.3: the footer), or from TZ itself when that is a POSIX rule
 * (`TZ=EST5EDT`). ICU's short names, the fallback, know few zones outside the US in English
 * (Berlin is "GMT+1" there).
 */
import { readFileSync } from 'node:fs';

export interface PosixZoneRule {
  /** Standard time's abbreviation, `<+04>` without its brackets. */
  std: string;
  /** Standard time's offset east of UTC, in minutes (POSIX writes it west: CET-1 is UTC+1). */
  stdOffsetMinutes: number;
  /** Daylight saving time's abbreviation, when the zone has one. */
  dst?: string;
}

const NAME = '(<[^>]+>|[A-Za-z]{3,})';
const OFFSET = '([+-]?\\d{1,2}(?::\\d{1,2}){0,2})';
const RULE = new RegExp(`^${NAME}${OFFSET}${NAME}?`);

/** The names and standard offset of a POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`). */
export function parsePosixZone(text: string): PosixZoneRule | undefined {
  const m = RULE.exec(text.trim());
  if (!m) return undefined;
  const unbracket = (s: string) => s.replace(/^<(.*)>$/, '$1');
  const [hours = '0', minutes = '0'] = m[2]!.replace(/^[+-]/, '').split(':');
  const west = (m[2]!.startsWith('-') ? -1 : 1) * (Number(hours) * 60 + Number(minutes));
  return { std: unbracket(m[1]!), stdOffsetMinutes: west === 0 ? 0 : -west, ...(m[3] ? { dst: unbracket(m[3]) } : {}) };
}

/** The TZif file TZ names (`Europe/Berlin`, `:Europe/Berlin`, an absolute path), /etc/localtime when unset. */
function zoneFile(tz: string | undefined): string | undefined {
  if (tz === undefined) return '/etc/localtime';
  const name = tz.startsWith(':') ? tz.slice(1) : tz;
  if (name === '') return undefined;
  return name.startsWith('/') ? name : `/usr/share/zoneinfo/${name}`;
}

/** The footer of a TZif file of version 2 or later: the POSIX rule between its last two newlines. */
function footerRule(file: string): PosixZoneRule | undefined {
  let text: string;
  try {
    text = readFileSync(file).toString('latin1');
  } catch {
    return undefined;
  }
  if (!text.startsWith('TZif') || !text.endsWith('\n')) return undefined;
  const start = text.lastIndexOf('\n', text.length - 2);
  return start < 0 ? undefined : parsePosixZone(text.slice(start + 1, -1));
}

let cached: { tz: string | undefined; rule: PosixZoneRule | undefined } | undefined;

/** The rule of the process's time zone (read once per value of TZ). */
function localRule(): PosixZoneRule | undefined {
  const tz = process.env['TZ'];
  if (cached === undefined || cached.tz !== tz) {
    const file = zoneFile(tz);
    // An empty TZ is UTC, as glibc takes it.
    const rule = tz === '' ? { std: 'UTC', stdOffsetMinutes: 0 } : (file ? footerRule(file) : undefined) ?? (tz ? parsePosixZone(tz.replace(/^:/, '')) : undefined);
    cached = { tz, rule };
  }
  return cached.rule;
}

/** ICU's short name of the zone at `d` (`UTC`, `EST`, else `GMT+1`). */
function icuName(d: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
  return part?.value ?? 'UTC';
}

/** %Z: the local time zone's abbreviation at `d`, standard or daylight saving time as `d` is in. */
export function zoneAbbreviation(d: Date): string {
  const rule = localRule();
  if (!rule) return icuName(d);
  return rule.dst !== undefined && -d.getTimezoneOffset() !== rule.stdOffsetMinutes ? rule.dst : rule.std;
}
