/**
 * SIGHUP held from the daemon's first line of JavaScript. Until a process catches SIGHUP the
 * kernel's default action ends it, and `smbnotify daemon` installs its reload handler only once
 * its modules are loaded and its config read (a quarter of a second, longer when the config is
 * slow to read): a reload asked for then (`systemctl reload`, logrotate's postrotate) would kill
 * it. main.ts imports this module first, so the handler is in place before the rest loads; the
 * daemon takes the held request over and reloads once it has started.
 * Only for `daemon`: `watch`, `monitor` and `view` keep ending on a terminal's hangup.
 */

let held = false;
const hold = (): void => {
  held = true;
};

// commander's global options (-h, -V) take no value: the command is the first other word.
if (process.argv.slice(2).find((a) => !a.startsWith('-')) === 'daemon') process.on('SIGHUP', hold);

/** Stop holding SIGHUP (the daemon's own handler is in place); true if one arrived meanwhile. */
export function takeHeldHangup(): boolean {
  process.off('SIGHUP', hold);
  const was = held;
  held = false;
  return was;
}
