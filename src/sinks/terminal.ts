/**
 * Events as text: the default human line and inotifywait's `--format` and `--timefmt` (the JSON
 * line is the event's record, watch/events.ts). Every name from the server is escaped for the
 * terminal by the rule `ls` uses too (watch/safe-text.ts).
 */
import type { WatchEvent } from '../watch/events.js';
import { escapeForTerminal } from '../watch/safe-text.js';
import { zoneAbbreviation } from './zone-abbreviation.js';

/** `CREATE`, `CREATE,ISDIR` (inotifywait's spelling), `MOVED_TO,ISDIR` ... */
export function eventName(e: WatchEvent): string {
  return e.isDir ? `${e.event},ISDIR` : e.event;
}

/** A share-relative path of the event, relative to its watched folder (inotifywait's %f). */
function below(e: WatchEvent, p: string): string {
  const root = e.watch ?? '';
  if (!root) return p;
  if (p === root) return '';
  return p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p;
}

/** `path` relative to the watched folder, as inotifywait's %f. */
export function pathBelow(e: WatchEvent): string {
  return below(e, e.path);
}

/**
 * One human line, the file named as %f names it (relative to the watched TARGET, `.` for the
 * target itself): `CREATE          report.txt`; MOVED_FROM and MOVED_TO each get their line, as
 * in inotifywait, MOVED_TO as `old -> new`.
 */
export function humanLine(e: WatchEvent, label?: string): string {
  // At least one space after the event, also after the longest (`MOVED_FROM,ISDIR`, 16).
  const name = `${eventName(e)} `.padEnd(16);
  const where = label ? `${label} ` : '';
  if (e.event === 'STATE') return `${where}${e.state?.toUpperCase() ?? 'STATE'}: ${escapeForTerminal(e.message ?? '')}`;
  const path = escapeForTerminal(pathBelow(e) || '.');
  const shown = e.oldPath !== undefined ? `${escapeForTerminal(below(e, e.oldPath) || '.')} -> ${path}` : path;
  const note = e.event === 'OVERFLOW' && e.message ? ` (${escapeForTerminal(e.message)})` : e.source && e.source !== 'notify' ? ` [${e.source}]` : '';
  return `${where}${name}${shown}${note}`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const FULL_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const FULL_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The conversions strftime below knows (those of strftime(3) in the C locale, but the week numbers and E/O modifiers). */
export const TIME_CONVERSIONS = 'YCymdeHIpPMSjaAbhBkluwcxXrZFTDRsznt%';
/** The directives formatEvent knows. */
export const FORMAT_DIRECTIVES = 'wfeTolsn%';

/**
 * Why `fmt` is not a valid --format (known: the directives of formatEvent) or --timefmt (known:
 * TIME_CONVERSIONS), or undefined when it is. An unknown directive is refused rather than printed
 * as it is: a typo would otherwise reach every line a script reads.
 */
export function formatProblem(fmt: string, known: string): string | undefined {
  for (let i = 0; i < fmt.length; i++) {
    if (fmt[i] !== '%') continue;
    const c = fmt[i + 1];
    if (c === undefined) return 'it ends with a lone % (write %% for a percent sign)';
    if (!known.includes(c)) return `unknown directive %${escapeForTerminal(c)} (known: ${[...known].map((k) => `%${k}`).join(' ')})`;
    i++;
  }
  return undefined;
}

/** strftime(3), the conversions inotifywait users write in `--timefmt` (TIME_CONVERSIONS); local time. */
export function strftime(fmt: string, d: Date): string {
  return fmt.replace(/%([a-zA-Z%])/g, (m, c: string) => {
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'y': return pad(d.getFullYear() % 100);
      case 'm': return pad(d.getMonth() + 1);
      case 'd': return pad(d.getDate());
      case 'e': return String(d.getDate()).padStart(2, ' ');
      case 'H': return pad(d.getHours());
      case 'I': return pad(((d.getHours() + 11) % 12) + 1);
      case 'p': return d.getHours() < 12 ? 'AM' : 'PM';
      case 'M': return pad(d.getMinutes());
      case 'S': return pad(d.getSeconds());
      // Calendar days, not elapsed time: a local day after the switch to summer time is 23 hours.
      case 'j': return pad((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86_400_000 + 1, 3);
      case 'a': return DAYS[d.getDay()]!;
      case 'A': return FULL_DAYS[d.getDay()]!;
      case 'b': case 'h': return MONTHS[d.getMonth()]!;
      case 'B': return FULL_MONTHS[d.getMonth()]!;
      case 'k': return String(d.getHours()).padStart(2, ' ');
      case 'l': return String(((d.getHours() + 11) % 12) + 1).padStart(2, ' ');
      case 'u': return String(d.getDay() || 7);
      case 'w': return String(d.getDay());
      case 'C': return pad(Math.floor(d.getFullYear() / 100));
      case 'P': return d.getHours() < 12 ? 'am' : 'pm';
      case 'r': return `${pad(((d.getHours() + 11) % 12) + 1)}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${d.getHours() < 12 ? 'AM' : 'PM'}`;
      case 'x': return `${pad(d.getMonth() + 1)}/${pad(d.getDate())}/${pad(d.getFullYear() % 100)}`;
      case 'X': return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
      case 'c': return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${d.getFullYear()}`;
      case 'Z': return zoneAbbreviation(d);
      case 'F': return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
      case 'T': return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
      case 'D': return `${pad(d.getMonth() + 1)}/${pad(d.getDate())}/${pad(d.getFullYear() % 100)}`;
      case 'R': return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
      case 's': return String(Math.floor(d.getTime() / 1000));
      case 'z': {
        const off = -d.getTimezoneOffset();
        return `${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
      }
      case 'n': return '\n';
      case 't': return '\t';
      case '%': return '%';
      default: return m;
    }
  });
}

/**
 * inotifywait's `--format`: %w the watched target, %f the path below it, %e the event (with
 * ,ISDIR), %T the time formatted by `timefmt`, %o the old path of a move, %l the local path,
 * %s the source, %% a percent sign. Names are escaped for the terminal.
 */
export function formatEvent(fmt: string, e: WatchEvent, watched: string, timefmt: string): string {
  return fmt.replace(/%([wfeTolsn%])/g, (_m, c: string) => {
    switch (c) {
      case 'w': return escapeForTerminal(watched);
      case 'f': return escapeForTerminal(pathBelow(e));
      case 'e': return eventName(e);
      case 'T': return strftime(timefmt, new Date(e.time));
      case 'o': return escapeForTerminal(e.oldPath ?? '');
      case 'l': return escapeForTerminal(e.localPath ?? '');
      case 's': return e.source ?? '';
      case 'n': return '\n';
      default: return '%';
    }
  });
}

/** The folder an event's watch watches, as a UNC-style target: `//server/share/folder` (%w of monitor). */
export function watchedTarget(e: WatchEvent): string {
  return `//${e.server}/${e.share}${e.watch ? `/${e.watch}` : ''}`;
}
