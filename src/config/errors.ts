/** The user asked for something malformed: bad TARGET, bad option, unusable credentials file. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Ctrl-C at a prompt: the terminal was in raw mode, so it came as a character, not as SIGINT.
 * The command ends as Ctrl-C ends it anywhere else (status 130, nothing more to say).
 */
export class Interrupted extends Error {
  constructor(where: string) {
    super(`interrupted at ${where}`);
    this.name = 'Interrupted';
  }
}
