/**
 * A failure that repeats on every retry is said at its 1st, 2nd, 4th, 8th… occurrence, and again
 * whenever its words change: a server down for a day costs a dozen STATE lines, not thousands,
 * and a new cause is never held back.
 */
export class RepeatedFailure {
  private words: string | null = null;
  private times = 0;

  /**
   * Counts one more failure in these words. Null: stay quiet; else what to add to the line ('' the
   * first time, then how often it failed and when it is said next).
   */
  next(words: string): string | null {
    this.times = words === this.words ? this.times + 1 : 1;
    this.words = words;
    if ((this.times & (this.times - 1)) !== 0) return null;
    return this.times === 1 ? '' : `; ${this.times} times in a row, said again at ${this.times * 2}`;
  }

  /** It stopped failing. */
  reset(): void {
    this.words = null;
    this.times = 0;
  }
}
