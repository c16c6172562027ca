/**
 * Threads of stopped views still blocked in a call on their backing folder (a stalled mount).
 * Node joins every thread when the process exits, so with any left the process must end by a
 * signal instead (the CLI does), or it would hang as long as the backing mount does. A module of
 * its own so that the CLI can ask at exit without loading the view for every command.
 */
let leftBehind = 0;

export function threadsLeftBehind(): number {
  return leftBehind;
}

/** A view's thread did not stop: it stays blocked in a backing call. */
export function noteThreadLeftBehind(): void {
  leftBehind++;
}
