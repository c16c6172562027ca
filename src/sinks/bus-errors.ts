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

/**
 * Another smbnotify daemon already owns the well-known name on this bus: a normal situation (one
 * daemon per bus), said as it is, not as an internal error.
 */
export class BusNameTaken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusNameTaken';
  }
}
