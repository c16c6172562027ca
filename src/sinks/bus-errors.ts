/**
 * A bus that cannot be reached is the user's environment, not a bug: its message says what is
 * wrong and what to do. Kept apart from bus.ts so that the CLI's error printer can name it
 * without loading dbus-next.
 */
export class BusUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusUnavailable';
  }
}
