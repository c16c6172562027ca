/** The user asked for something malformed: bad TARGET, bad option, unusable credentials file. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
