/**
 * The command-line stream shared by `watch` and `monitor`: filters, then prints each event as a
 * human line (a rename as one `old -> new` line), a `--format` line or a JSON line. STATE events
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

/** Returns a function that prints an event and tells whether it passed the filters. */
export function eventPrinter(opts: PrinterOptions, io: PrinterIO, labelled: boolean): (e: WatchEvent, label: string) => boolean {
  const timefmt = opts.timefmt ?? '%F %T';
  let heldFrom: { e: WatchEvent; label: string } | null = null;
  const print = (e: WatchEvent, label: string) => {
    if (opts.json) io.out(eventJson(e));
    else if (opts.format) io.out(formatEvent(opts.format, e, label, timefmt));
    else io.out(humanLine(e, labelled ? label : undefined));
  };
  const flushFrom = () => {
    if (heldFrom) print(heldFrom.e, heldFrom.label);
    heldFrom = null;
  };
  return (e, label) => {
    if (e.event === 'STATE') {
      if (opts.json && (!opts.event || opts.event.has('STATE'))) io.out(eventJson(e));
      else if (!opts.quiet && !opts.json) io.err(humanLine(e, label));
      return true;
    }
    if (opts.event && !opts.event.has(e.event)) return false;
    if (opts.include && !opts.include.test(e.path)) return false;
    if (opts.exclude && opts.exclude.test(e.path)) return false;
    // Human output shows a rename as one `old -> new` line: hold MOVED_FROM for its pair.
    if (!opts.json && !opts.format) {
      if (e.event === 'MOVED_TO' && heldFrom && heldFrom.e.path === e.oldPath) heldFrom = null;
      else flushFrom();
      if (e.event === 'MOVED_FROM' && (!opts.event || opts.event.has('MOVED_TO'))) {
        heldFrom = { e, label };
        queueMicrotask(flushFrom);
        return true;
      }
    }
    print(e, label);
    return true;
  };
}
