/**
 * The command-line stream shared by `watch` and `monitor`: filters, then prints each event as a
 * human line (MOVED_FROM and MOVED_TO each on its line, as inotifywait prints them), a
 * `--format` line or a JSON line. STATE events
 * go to stderr in human form (stdout stays a clean event stream for `while read`), and into the
 * stream itself with --json.
 */
import { eventJson, type WatchEvent } from '../watch/events.js';
import { formatEvent, humanLine } from './terminal.js';

export interface PrinterOptions {
  json?: boolean;
  format?: string;
  timefmt?: string;
  quiet?: boolean;
  /** Event kinds to print (STATE included or not); all when unset. */
  event?: Set<string>;
  include?: RegExp;
  exclude?: RegExp;
}

export interface PrinterIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * Returns a function that prints an event and tells whether it passed the filters. `label`
 * prefixes the human line when several targets are watched (the TARGET, or the daemon's watch
 * id); `target` is what `%w` shows (the watched TARGET; default: the label). With `renumber`
 * (`watch`, one printer per watched TARGET), `seq` numbers only the events that pass the
 * filters, as the daemon numbers a filtered watch's events: no gap for what was asked not to be
 * shown. `monitor` keeps the daemon's numbers, which the journal has too.
 */
export function eventPrinter(
  opts: PrinterOptions,
  io: PrinterIO,
  labelled: boolean,
  renumber = false,
): (e: WatchEvent, label: string, target?: string) => boolean {
  const timefmt = opts.timefmt ?? '%F %T';
  let seq = 0;
  const numbered = (e: WatchEvent): WatchEvent => (renumber ? { ...e, seq: ++seq } : e);
  return (e, label, target = label) => {
    if (e.event === 'STATE') {
      const passes = !opts.event || opts.event.has('STATE');
      if (opts.json && passes) io.out(eventJson(numbered(e)));
      else if (!opts.quiet && !opts.json) io.err(humanLine(e, label));
      return true;
    }
    if (opts.event && !opts.event.has(e.event)) return false;
    if (opts.include && !opts.include.test(e.path)) return false;
    if (opts.exclude && opts.exclude.test(e.path)) return false;
    if (opts.json) io.out(eventJson(numbered(e)));
    else if (opts.format) io.out(formatEvent(opts.format, e, target, timefmt));
    else io.out(humanLine(e, labelled ? label : undefined));
    return true;
  };
}
