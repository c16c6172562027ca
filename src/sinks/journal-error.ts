/**
 * A journal that cannot be opened is the user's to fix (a path, a permission): said in one line,
 * not as an internal error. Kept apart from journal.ts so that the CLI's error printer can name it
 * without loading the journal.
 */
export class JournalError extends Error {
  override name = 'JournalError';
}
